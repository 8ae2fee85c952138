// The lecture schedule (讲课安排表) and the lecture team (微讲队): every member reads who
// lectures when, on what and where; the branch's admins schedule a lecture (a member from the
// roster, or a guest expert 土专家 by name and what he is known for), withdraw one after a
// confirmation, and put members on or off the team. The speaker of a coming lecture (or an
// admin) records it from here, the lecture form filled in from the entry.
import { useState } from 'preact/hooks';
import type { App } from '../data/app';
import { VENUES, type Keyed, type LectureTeam, type RosterEntry, type ScheduleEntry, type Scheduled, type Venue } from '../data/model';
import { chinaDay } from './format';
import { go } from './hooks';
import { explain, t } from './i18n';
import { currentRoster } from './RecordForm';

/** The branch's lectures from today on, soonest first (none if the phone lacks the branch). */
export function comingLectures(app: App): Scheduled[] {
  const branch = app.branchDocument();
  if (!branch || !app.core.holds(branch)) return [];
  return app.core.schedule(branch, chinaDay(Date.now())) as Scheduled[];
}

/** Whether this person records the scheduled lecture from the schedule: its member speaker,
 * or an admin (for a guest expert, or on an old member's behalf). */
export function mayRecord(app: App, entry: Scheduled): boolean {
  if (!app.me?.notebook) return false;
  return entry.speaker === app.me.principal.user || app.me.principal.role === 'branch_admin';
}

export function ScheduleScreen({ app }: { app: App }) {
  const words = t();
  const branch = app.branchDocument();
  const admin = app.me?.principal.role === 'branch_admin';
  const [adding, setAdding] = useState(false);
  const [error, setError] = useState('');
  if (!app.me || !branch || !app.core.holds(branch)) return <main class="screen">{words.notOnPhone}</main>;
  const me = app.me;
  const coming = comingLectures(app);
  const team = app.core.lectureTeam(branch) as LectureTeam;

  const withdraw = async (entry: Scheduled) => {
    if (!confirm(`${words.withdrawScheduleConfirm}\n${words.monthDay(entry.date)} · ${entry.topic}`)) return;
    try {
      await app.edit(branch, (core) => core.withdraw(branch, me.principal, Date.now(), 'schedule', entry.id, null));
      setError('');
    } catch (failure) {
      setError(explain(failure));
    }
  };

  return (
    <main class="screen schedule">
      <button class="link" onClick={() => go('')}>
        ← {words.back}
      </button>
      <h1>{words.lectureSchedule}</h1>
      {admin &&
        (adding ? (
          <ScheduleForm app={app} branch={branch} onDone={() => setAdding(false)} />
        ) : (
          <button name="new-schedule" class="primary" onClick={() => setAdding(true)}>
            {words.scheduleLecture}
          </button>
        ))}
      <h2>{words.comingLectures}</h2>
      {coming.length === 0 && <p class="quiet">{words.noSchedule}</p>}
      {error && <p class="error">{error}</p>}
      <ul class="records">
        {coming.map((entry) => (
          <li key={entry.id} class={`card scheduled ${entry.speaker === me.principal.user ? 'mine' : ''}`} data-id={entry.id} data-guest={entry.guest}>
            <span class="when">{words.monthDay(entry.date)}</span>
            <span class="title">{entry.topic}</span>
            <span class="meta">
              {entry.speaker_name}
              {entry.guest && <span class="tag">{words.guestExpert}</span>} · {words.venues[entry.venue]}
            </span>
            <div class="row wrap">
              {mayRecord(app, entry) && (
                <button name="record-scheduled" onClick={() => go(`lecture/new-schedule-${entry.id}`)}>
                  {words.recordThisLecture}
                </button>
              )}
              {admin && (
                <button name="withdraw-scheduled" class="link" onClick={() => withdraw(entry)}>
                  {words.withdraw}
                </button>
              )}
            </div>
          </li>
        ))}
      </ul>
      <Team app={app} branch={branch} team={team} admin={admin} />
    </main>
  );
}

/** The lecture team: its members and guest experts; an admin ticks who is on it. */
function Team({ app, branch, team, admin }: { app: App; branch: string; team: LectureTeam; admin: boolean }) {
  const words = t();
  const [error, setError] = useState('');
  const onTeam = new Set(team.members.map(([id]) => id));
  // Written onto the roster entry as it is now, so that a change synced in meanwhile is kept.
  const toggle = async (member: string, lecturer: boolean) => {
    const me = app.me;
    if (!me) return;
    try {
      await app.edit(branch, (core) => {
        const entry = (core.records(branch, 'roster') as Keyed<RosterEntry>[]).find((r) => r.id === member)?.record;
        if (entry) core.enrolMember(branch, me.principal, Date.now(), member, { ...entry, lecturer });
      });
      setError('');
    } catch (failure) {
      setError(explain(failure));
    }
  };
  return (
    <section class="card team">
      <h2>{words.lectureTeam}</h2>
      {admin ? (
        <fieldset class="attendance">
          <legend>{words.teamChoose}</legend>
          {currentRoster(app).map((r) => (
            <label key={r.id} class="check">
              <input type="checkbox" name="lecturer" value={r.id} checked={onTeam.has(r.id)} onChange={(e) => toggle(r.id, e.currentTarget.checked)} />
              {r.record.name}
            </label>
          ))}
        </fieldset>
      ) : (
        <p class="members">
          {words.teamMembers}：{team.members.length === 0 ? words.noTeam : team.members.map(([, name]) => name).join('、')}
        </p>
      )}
      {team.guests.length > 0 && (
        <p class="guests">
          {words.guestExpert}：{team.guests.join('、')}
        </p>
      )}
      {error && <p class="error">{error}</p>}
    </section>
  );
}

/** Schedules a lecture: the day, the topic, where, and who speaks. */
function ScheduleForm({ app, branch, onDone }: { app: App; branch: string; onDone: () => void }) {
  const words = t();
  const roster = currentRoster(app);
  const [draft, setDraft] = useState({ date: chinaDay(Date.now() + 7 * 86_400_000), topic: '', venue: 'courtyard' as Venue, speaker: roster[0]?.id ?? '', guest: '' });
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const set = (change: Partial<typeof draft>) => {
    setDraft({ ...draft, ...change });
    setError('');
  };
  const save = async () => {
    const guest = draft.guest.trim();
    if (!draft.speaker && !guest) {
      setError(words.speakerNeeded);
      return;
    }
    setBusy(true);
    try {
      await app.add(
        branch,
        'schedule',
        (me, _now): ScheduleEntry => ({
          date: draft.date,
          speaker: draft.speaker || null,
          guest_speaker: draft.speaker ? null : guest,
          topic: draft.topic.trim(),
          venue: draft.venue,
          created_by: me.user,
          withdrawn: null,
        }),
      );
      onDone();
    } catch (failure) {
      setError(words.notSaved + explain(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card new-schedule">
      <label>
        {words.lectureDay}
        <input name="date" type="date" value={draft.date} onInput={(e) => e.currentTarget.value && set({ date: e.currentTarget.value })} />
      </label>
      <label>
        {words.topic}
        <input name="topic" value={draft.topic} onInput={(e) => set({ topic: e.currentTarget.value })} />
      </label>
      <label>
        {words.venue}
        <select name="venue" value={draft.venue} onChange={(e) => set({ venue: e.currentTarget.value as Venue })}>
          {VENUES.filter((v) => v !== 'remote').map((v) => (
            <option key={v} value={v}>
              {words.venues[v]}
            </option>
          ))}
        </select>
      </label>
      <label>
        {words.speaker}
        <select name="speaker" value={draft.speaker} onChange={(e) => set({ speaker: e.currentTarget.value })}>
          {roster.map((r) => (
            <option key={r.id} value={r.id}>
              {r.record.name}
            </option>
          ))}
          <option value="">{words.guestSpeaker}</option>
        </select>
      </label>
      {draft.speaker === '' && (
        <label>
          {words.guestName}
          <input name="guest_speaker" value={draft.guest} placeholder={words.guestHint} onInput={(e) => set({ guest: e.currentTarget.value })} />
        </label>
      )}
      {error && <p class="error">{error}</p>}
      <div class="row actions">
        <button disabled={busy} onClick={onDone}>
          {words.cancel}
        </button>
        <button name="save" class="primary" disabled={busy || !draft.topic.trim()} onClick={save}>
          {words.save}
        </button>
      </div>
    </section>
  );
}
