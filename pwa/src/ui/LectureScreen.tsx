// Recording a lecture (微党课), new or edited, fully offline: the fields of a lecture, the
// attendance as a checklist from the roster, location, and photos, audio and video kept on
// the phone until they can be sent. "Saved" is shown only once the record is stored here.
import { useEffect, useState } from 'preact/hooks';
import type { App } from '../data/app';
import { keep } from '../data/media';
import {
  LECTURE_CATEGORIES,
  VENUES,
  type Keyed,
  type Lecture,
  type MediaRef,
  type RosterEntry,
} from '../data/model';
import { explain, t } from './i18n';
import { go } from './hooks';
import { fromLocalInput, toLocalInput } from './format';
import { MediaList } from './MediaList';
import { Recorder } from './Recorder';
import { ReviewNote } from './ReviewNote';

/** `id` is a lecture's id, `new`, or `new-remote` for a migrant member's recorded lesson. */
export function LectureScreen({ app, id }: { app: App; id: string }) {
  const words = t();
  const me = app.me;
  const notebook = me?.notebook ?? '';
  const branch = app.branchDocument();
  // A new lecture gets its id at the first save; the screen stays, showing "saved".
  const [recordId, setRecordId] = useState(id.startsWith('new') ? null : id);
  const existing =
    recordId === null
      ? undefined
      : (app.core.records(notebook, 'lectures') as Keyed<Lecture>[]).find((r) => r.id === recordId)?.record;
  const roster: Keyed<RosterEntry>[] =
    branch && app.core.holds(branch)
      ? (app.core.records(branch, 'roster') as Keyed<RosterEntry>[]).filter((r) => !r.record.left_at)
      : [];

  const [lecture, setLecture] = useState<Lecture>(
    () => existing ?? blank(me?.principal.user ?? '', id === 'new-remote' ? 'remote' : 'courtyard'),
  );
  const [status, setStatus] = useState<{ saved?: boolean; error?: string }>({});
  const [busy, setBusy] = useState(false);
  useEffect(() => setStatus({}), [lecture]);

  if (!me || !notebook) return <main class="screen">{words.signInAgain}</main>;
  const set = <K extends keyof Lecture>(key: K, value: Lecture[K]) => setLecture({ ...lecture, [key]: value });
  const toggle = (user: string) =>
    set('attendees', lecture.attendees.includes(user) ? lecture.attendees.filter((u) => u !== user) : [...lecture.attendees, user]);

  const addFiles = async (files: FileList | null) => {
    if (!files) return;
    const added: MediaRef[] = [];
    for (const file of Array.from(files)) added.push(await keep(app.storage, file));
    setLecture((current) => ({ ...current, media: [...current.media, ...added] }));
  };

  const locate = () =>
    navigator.geolocation.getCurrentPosition(
      (position) =>
        set('gps', {
          lat: position.coords.latitude,
          lon: position.coords.longitude,
          accuracy_m: position.coords.accuracy,
        }),
      () => setStatus({ error: words.noLocation }),
      { enableHighAccuracy: true, timeout: 20_000 },
    );

  const save = async (submit: boolean) => {
    setBusy(true);
    try {
      const by = me.principal;
      const now = Date.now();
      const record = await app.edit(notebook, (core) => {
        const key = recordId ?? core.add(notebook, by, now, 'lectures', lecture);
        if (recordId) core.updateRecord(notebook, by, now, 'lecture', key, lecture);
        if (submit) core.submit(notebook, by, now, 'lecture', key);
        return key;
      });
      if (recordId === null) {
        setRecordId(record);
        history.replaceState(null, '', `#/lecture/${record}`);
      }
      setStatus({ saved: true });
    } catch (error) {
      setStatus({ error: words.notSaved + explain(error) });
    } finally {
      setBusy(false);
    }
  };

  const speaker = lecture.speakers[0] ?? '';
  return (
    <main class="screen form lecture">
      <button class="link" onClick={() => go('')}>
        ← {words.back}
      </button>
      <h1>{lecture.venue === 'remote' ? words.recordLesson : words.recordLecture}</h1>
      {existing && <ReviewNote app={app} notebook={notebook} id={recordId ?? ''} />}
      <label>
        {words.title}
        <input name="title" value={lecture.title} onInput={(e) => set('title', e.currentTarget.value)} />
      </label>
      <label>
        {words.category}
        <select name="category" value={lecture.category} onChange={(e) => set('category', e.currentTarget.value as Lecture['category'])}>
          {LECTURE_CATEGORIES.map((c) => (
            <option value={c}>{words.categories[c]}</option>
          ))}
        </select>
      </label>
      <label>
        {words.venue}
        <select name="venue" value={lecture.venue} onChange={(e) => set('venue', e.currentTarget.value as Lecture['venue'])}>
          {VENUES.map((v) => (
            <option value={v}>{words.venues[v]}</option>
          ))}
        </select>
      </label>
      <label>
        {words.heldAt}
        <input
          name="held_at"
          type="datetime-local"
          value={toLocalInput(lecture.held_at)}
          onInput={(e) => e.currentTarget.value && set('held_at', fromLocalInput(e.currentTarget.value))}
        />
      </label>
      <label>
        {words.durationMin}
        <input
          name="duration_min"
          type="number"
          inputMode="numeric"
          min="1"
          value={lecture.duration_min}
          onInput={(e) => set('duration_min', Math.max(0, Math.trunc(Number(e.currentTarget.value) || 0)))}
        />
      </label>
      <label>
        {words.place}
        <input name="place" value={lecture.place} onInput={(e) => set('place', e.currentTarget.value)} />
      </label>
      <div class="row">
        <button type="button" onClick={locate}>
          {words.locate}
        </button>
        <span class="quiet">{lecture.gps ? words.located(lecture.gps.accuracy_m) : ''}</span>
      </div>
      <label>
        {words.speaker}
        <select
          name="speaker"
          value={speaker}
          onChange={(e) => set('speakers', e.currentTarget.value ? [e.currentTarget.value] : [])}
        >
          <option value={me.principal.user}>{words.myself}</option>
          {roster
            .filter((r) => r.id !== me.principal.user)
            .map((r) => (
              <option value={r.id}>{r.record.name}</option>
            ))}
          <option value="">{words.guestSpeaker}</option>
        </select>
      </label>
      {speaker === '' && (
        <label>
          {words.guestSpeaker}
          <input
            name="guest_speaker"
            value={lecture.guest_speaker ?? ''}
            onInput={(e) => set('guest_speaker', e.currentTarget.value || null)}
          />
        </label>
      )}
      <fieldset class="attendance">
        <legend>
          {words.attendance} ({lecture.attendees.length})
        </legend>
        {roster.map((r) => (
          <label class="check">
            <input type="checkbox" name="attendee" value={r.id} checked={lecture.attendees.includes(r.id)} onChange={() => toggle(r.id)} />
            {r.record.name}
          </label>
        ))}
      </fieldset>
      <label>
        {words.audience}
        <input
          name="audience"
          type="number"
          inputMode="numeric"
          min="0"
          value={lecture.audience}
          onInput={(e) => set('audience', Math.max(0, Math.trunc(Number(e.currentTarget.value) || 0)))}
        />
      </label>
      <label>
        {words.summary}
        <textarea name="summary" rows={4} value={lecture.summary} onInput={(e) => set('summary', e.currentTarget.value)} />
      </label>
      <fieldset>
        <legend>{words.media}</legend>
        <MediaList app={app} media={lecture.media} onRemove={(sha) => set('media', lecture.media.filter((m) => m.sha256 !== sha))} />
        <Recorder app={app} onRecorded={(media) => setLecture((current) => ({ ...current, media: [...current.media, media] }))} />
        <div class="row wrap">
          <label class="file">
            {words.addPhoto}
            <input name="photo" type="file" accept="image/*" capture="environment" multiple onChange={(e) => addFiles(e.currentTarget.files)} />
          </label>
          <label class="file">
            {words.addAudio}
            <input name="audio" type="file" accept="audio/*" onChange={(e) => addFiles(e.currentTarget.files)} />
          </label>
          <label class="file">
            {words.addVideo}
            <input name="video" type="file" accept="video/*" onChange={(e) => addFiles(e.currentTarget.files)} />
          </label>
        </div>
      </fieldset>
      {status.saved && (
        <p class="saved" role="status">
          {words.saved}
        </p>
      )}
      {status.error && <p class="error">{status.error}</p>}
      <div class="row actions">
        <button name="save" disabled={busy} onClick={() => save(false)}>
          {words.saveDraft}
        </button>
        <button name="submit" class="primary" disabled={busy} onClick={() => save(true)}>
          {words.submit}
        </button>
      </div>
    </main>
  );
}

function blank(user: string, venue: Lecture['venue']): Lecture {
  const now = Date.now();
  return {
    title: '',
    category: 'political_theory',
    venue,
    held_at: now,
    duration_min: 30,
    place: '',
    gps: null,
    speakers: user ? [user] : [],
    guest_speaker: null,
    recorded_by: user,
    attendees: [],
    audience: 0,
    summary: '',
    media: [],
    plan: null,
    submission: { state: 'draft', revision: 0, submitted_at: null },
    created_at: now,
    withdrawn: null,
  };
}
