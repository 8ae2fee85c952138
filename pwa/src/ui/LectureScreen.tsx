// Recording a lecture (微党课), new or edited, fully offline. An old member sees the title,
// who was there (the whole roster in one tap), how many villagers came and the photos; the
// rest (when, where, who spoke, how long, the plan, the summary) has good defaults and is
// folded away, its values shown on the fold. A migrant's recorded lesson asks only what a
// remote lesson needs: the title, the video and what it says. Media stay on the phone until
// they can be sent; "saved" is shown only once the record is stored here.
import { useEffect, useState } from 'preact/hooks';
import type { App } from '../data/app';
import { LECTURE_CATEGORIES, VENUES, type Keyed, type Lecture, type ScheduleEntry } from '../data/model';
import { chinaDay, chinaMonth, fromLocalInput } from './format';
import { t } from './i18n';
import { ApprovedGuard, CountField, FormActions, FormHeader, MediaField, MoreFields, PeopleChecklist, PlanLink, TimeField, currentRoster, monthPlan, useRecord, whenShown } from './RecordForm';

/** `id` is a lecture's id, `new`, `new-remote` for a migrant member's recorded lesson,
 * `new-plan` for the month's planned lecture (its topic, speaker and plan filled in), or
 * `new-schedule-<entry>` for a lecture on the schedule (its topic, venue, day and speaker). */
export function LectureScreen({ app, id }: { app: App; id: string }) {
  const words = t();
  const me = app.me;
  const roster = currentRoster(app);
  const { notebook, recordId, stored, status, busy, save, withdraw, clearStatus } = useRecord<Lecture>(app, 'lecture', id);
  const [lecture, setLecture] = useState<Lecture>(() => stored ?? fresh(app, id));
  const [located, setLocated] = useState('');
  useEffect(clearStatus, [lecture]);

  if (!me || !notebook) return <main class="screen">{words.signInAgain}</main>;
  const set = <K extends keyof Lecture>(key: K, value: Lecture[K]) => setLecture({ ...lecture, [key]: value });

  const locate = () =>
    navigator.geolocation.getCurrentPosition(
      (position) =>
        set('gps', {
          lat: position.coords.latitude,
          lon: position.coords.longitude,
          accuracy_m: position.coords.accuracy,
        }),
      () => setLocated(words.noLocation),
      { enableHighAccuracy: true, timeout: 20_000 },
    );

  const speaker = lecture.speakers[0] ?? '';
  const remote = lecture.venue === 'remote';
  const speakerName = speaker === me.principal.user ? words.myself : speaker ? roster.find((r) => r.id === speaker)?.record.name ?? '' : lecture.guest_speaker ?? words.guestSpeaker;
  const planned = lecture.plan ? words.inPlan : '';
  const when = (
    <>
      <TimeField name="held_at" value={lecture.held_at} onChange={(at) => set('held_at', at)} />
      <CountField name="duration_min" label={words.durationMin} min={1} value={lecture.duration_min} onChange={(n) => set('duration_min', n)} />
    </>
  );
  const about = (
    <>
      <label>
        {words.category}
        <select name="category" value={lecture.category} onChange={(e) => set('category', e.currentTarget.value as Lecture['category'])}>
          {LECTURE_CATEGORIES.map((c) => (
            <option value={c}>{words.categories[c]}</option>
          ))}
        </select>
      </label>
      <PlanLink app={app} at={lecture.held_at} value={lecture.plan ?? null} label={words.countsForPlanLecture} onChange={(month) => set('plan', month)} />
    </>
  );
  const summary = (
    <label>
      {words.summary}
      <textarea name="summary" rows={remote ? 3 : 4} value={lecture.summary} onInput={(e) => set('summary', e.currentTarget.value)} />
    </label>
  );
  const media = (
    <MediaField app={app} media={lecture.media} video={remote} onChange={(change) => setLecture((current) => ({ ...current, media: change(current.media) }))} />
  );
  const title = (
    <label>
      {words.title}
      <input name="title" value={lecture.title} onInput={(e) => set('title', e.currentTarget.value)} />
    </label>
  );
  return (
    <main class="screen form lecture">
      <FormHeader app={app} title={remote ? words.recordLesson : words.recordLecture} notebook={notebook} recordId={recordId} />
      <ApprovedGuard app={app} notebook={notebook} recordId={recordId} kind="lecture">
        {remote ? (
          // A lesson recorded far from the branch: what it is about and the video. Nobody
          // attended in person, and where it was filmed is nobody's business.
          <>
            {title}
            {media}
            {summary}
            <MoreFields shown={[whenShown(lecture.held_at), words.minutesLong(lecture.duration_min), words.categories[lecture.category], planned]}>
              {when}
              {about}
            </MoreFields>
          </>
        ) : (
          <>
            {title}
            <PeopleChecklist legend={words.attendance} roster={roster} chosen={lecture.attendees} everyone={words.allPresent} onChange={(chosen) => set('attendees', chosen)} />
            <CountField name="audience" label={words.audience} value={lecture.audience} onChange={(n) => set('audience', n)} />
            {media}
            <MoreFields shown={[whenShown(lecture.held_at), words.venues[lecture.venue], speakerName, words.minutesLong(lecture.duration_min), planned]}>
              {when}
              <label>
                {words.venue}
                <select name="venue" value={lecture.venue} onChange={(e) => set('venue', e.currentTarget.value as Lecture['venue'])}>
                  {VENUES.filter((v) => v !== 'remote').map((v) => (
                    <option value={v}>{words.venues[v]}</option>
                  ))}
                </select>
              </label>
              <label>
                {words.place}
                <input name="place" value={lecture.place} onInput={(e) => set('place', e.currentTarget.value)} />
              </label>
              <div class="row">
                <button type="button" onClick={locate}>
                  {words.locate}
                </button>
                <span class="quiet">{lecture.gps ? words.located(lecture.gps.accuracy_m) : located}</span>
              </div>
              <label>
                {words.speaker}
                <select name="speaker" value={speaker} onChange={(e) => set('speakers', e.currentTarget.value ? [e.currentTarget.value] : [])}>
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
                  <input name="guest_speaker" value={lecture.guest_speaker ?? ''} onInput={(e) => set('guest_speaker', e.currentTarget.value || null)} />
                </label>
              )}
              {about}
              {summary}
            </MoreFields>
          </>
        )}
        <FormActions status={status} busy={busy} onSave={(submit) => save(lecture, submit)} onWithdraw={withdraw} />
      </ApprovedGuard>
    </main>
  );
}

/** A new lecture: linked to this month's plan if there is one (unless unticked), for
 * `new-plan` the planned topic and speaker, and for `new-schedule-<entry>` the entry's. */
function fresh(app: App, id: string): Lecture {
  const user = app.me?.principal.user ?? '';
  if (id.startsWith('new-schedule-')) {
    const scheduled = fromSchedule(app, user, id.slice('new-schedule-'.length));
    if (scheduled) return scheduled;
  }
  const month = chinaMonth(Date.now());
  const plan = monthPlan(app, month);
  const lecture = blank(user, id === 'new-remote' ? 'remote' : 'courtyard', plan ? month : null);
  if (id !== 'new-plan' || !plan) return lecture;
  const speaker = plan.lecture_speaker;
  return { ...lecture, title: plan.lecture_topic, speakers: speaker && currentRoster(app).some((r) => r.id === speaker) ? [speaker] : lecture.speakers };
}

/** The lecture a schedule entry announced: its topic as the title, its venue, held on its day
 * (now if that is today, else at 9 in the morning), its member or guest expert as speaker, and
 * the plan of its month when that month has one. */
function fromSchedule(app: App, user: string, entryId: string): Lecture | undefined {
  const branch = app.branchDocument();
  if (!branch || !app.core.holds(branch)) return undefined;
  const entry = (app.core.records(branch, 'schedule') as Keyed<ScheduleEntry>[]).find((e) => e.id === entryId)?.record;
  if (!entry) return undefined;
  const now = Date.now();
  const at = entry.date === chinaDay(now) ? now : fromLocalInput(`${entry.date}T09:00`);
  const month = chinaMonth(at);
  const lecture = blank(user, entry.venue, monthPlan(app, month) ? month : null);
  return {
    ...lecture,
    title: entry.topic,
    held_at: at,
    speakers: entry.speaker ? [entry.speaker] : [],
    guest_speaker: entry.speaker ? null : entry.guest_speaker,
  };
}

function blank(user: string, venue: Lecture['venue'], plan: string | null): Lecture {
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
    plan,
    submission: { state: 'draft', revision: 0, submitted_at: null },
    created_at: now,
    withdrawn: null,
  };
}
