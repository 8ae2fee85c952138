// Meetings (三会一课: the members' assembly, the committee, the party group, the party lecture,
// and the monthly themed party day): what the secretary records in the village office, often
// offline, with who came from the roster, the agenda, the minutes and the decisions. A themed
// party day held in the month is the plan's 主题党日 (a party lecture meeting is not its 一课:
// that is a member's approved lecture).
import { useState } from 'preact/hooks';
import type { App } from '../data/app';
import type { Keyed, Meeting, MeetingKind, Principal } from '../data/model';
import { chinaMonth, formatDate } from './format';
import { go } from './hooks';
import { explain, t } from './i18n';
import { PeopleChecklist, PlanLink, TimeField, currentRoster, isPlanned } from './RecordForm';

const KINDS: MeetingKind[] = ['theme_day', 'members_assembly', 'committee', 'group', 'party_lecture'];

/** `themeDay` opens the form for the month's themed party day, as the plan's checklist asks. */
export function MeetingScreen({ app, themeDay = false }: { app: App; themeDay?: boolean }) {
  const words = t();
  const branch = app.branchDocument();
  const [writing, setWriting] = useState(themeDay);
  if (!branch || !app.core.holds(branch)) return <main class="screen">{words.notOnPhone}</main>;
  const roster = new Map(currentRoster(app).map((r) => [r.id, r.record.name]));
  const meetings = (app.core.records(branch, 'meetings') as Keyed<Meeting>[])
    .filter((m) => !m.record.withdrawn)
    .sort((a, b) => b.record.held_at - a.record.held_at);
  return (
    <main class="screen meetings">
      <button class="link" onClick={() => go('')}>
        ← {words.back}
      </button>
      <h1>{words.meetings}</h1>
      {writing ? (
        <NewMeeting
          app={app}
          branch={branch}
          onDone={() => {
            setWriting(false);
            if (themeDay) location.replace('#/meetings');
          }}
        />
      ) : (
        <button class="primary" onClick={() => setWriting(true)}>
          {words.recordMeeting}
        </button>
      )}
      {meetings.length === 0 && <p class="quiet">{words.noMeetings}</p>}
      <ul class="records">
        {meetings.map(({ id, record }) => (
          <li key={id} id={`meeting-${id}`} class="card meeting" data-kind={record.kind}>
            <h2>
              {words.meetingKinds[record.kind]} · {formatDate(record.held_at)}
            </h2>
            {record.agenda && <p>{record.agenda}</p>}
            <p class="meta">
              {words.attended(record.attendees.length)}: {record.attendees.map((a) => roster.get(a) ?? '').join('、')}
            </p>
            {record.minutes && <p class="minutes">{record.minutes}</p>}
            {record.decisions.length > 0 && (
              <ol class="decisions">
                {record.decisions.map((d, index) => (
                  <li key={index}>{d}</li>
                ))}
              </ol>
            )}
          </li>
        ))}
      </ul>
    </main>
  );
}

function NewMeeting({ app, branch, onDone }: { app: App; branch: string; onDone: () => void }) {
  const words = t();
  const roster = currentRoster(app);
  const [kind, setKind] = useState<MeetingKind>('theme_day');
  const [at, setAt] = useState(Date.now());
  const [attendees, setAttendees] = useState<string[]>([]);
  const [agenda, setAgenda] = useState('');
  const [minutes, setMinutes] = useState('');
  const [decisions, setDecisions] = useState('');
  // A themed party day is linked to the month's plan when there is one.
  const [plan, setPlan] = useState<string | null>(() => (isPlanned(app, chinaMonth(at)) ? chinaMonth(at) : null));
  const [error, setError] = useState('');
  const save = async () => {
    const meeting = (me: Principal, now: number): Meeting => ({
      kind,
      held_at: at,
      attendees,
      agenda: agenda.trim(),
      minutes,
      decisions: decisions
        .split('\n')
        .map((d) => d.trim())
        .filter(Boolean),
      plan: kind === 'theme_day' ? plan : null,
      recorded_by: me.user,
      created_at: now,
      withdrawn: null,
    });
    try {
      await app.add(branch, 'meetings', meeting);
      onDone();
    } catch (failure) {
      setError(explain(failure));
    }
  };
  return (
    <section class="card new-meeting">
      <label>
        {words.meetingKind}
        <select name="kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as MeetingKind)}>
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {words.meetingKinds[k]}
            </option>
          ))}
        </select>
      </label>
      <TimeField name="held_at" value={at} onChange={setAt} />
      <PeopleChecklist legend={words.attendance} roster={roster} chosen={attendees} onChange={setAttendees} />
      <label>
        {words.agenda}
        <input name="agenda" value={agenda} onInput={(e) => setAgenda(e.currentTarget.value)} />
      </label>
      <label>
        {words.minutes}
        <textarea name="minutes" rows={5} value={minutes} onInput={(e) => setMinutes(e.currentTarget.value)} />
      </label>
      <label>
        {words.decisions}
        <textarea name="decisions" rows={3} value={decisions} onInput={(e) => setDecisions(e.currentTarget.value)} />
      </label>
      {kind === 'theme_day' && <PlanLink app={app} at={at} value={plan} label={words.countsForPlanMeeting} onChange={setPlan} />}
      {error && <p class="notice">{error}</p>}
      <div class="row">
        <button class="primary" onClick={save}>
          {words.save}
        </button>
        <button class="link" onClick={onDone}>
          {words.cancel}
        </button>
      </div>
    </section>
  );
}
