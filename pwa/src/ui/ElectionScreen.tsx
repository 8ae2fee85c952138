// Elections (评选, such as 发展之星 or 十佳党课): the secretary sets one up with candidates
// from the roster and a closing time; members vote from their own notebooks, offline too,
// and may change their vote until it closes; the server counts once it has closed and the
// result appears here for everyone in the branch.
import { useState } from 'preact/hooks';
import type { App } from '../data/app';
import type { Ballot, Election, Keyed, Principal } from '../data/model';
import { formatDate, fromLocalInput, toLocalInput } from './format';
import { go } from './hooks';
import { explain, t } from './i18n';
import { currentRoster } from './RecordForm';

const DAY = 86_400_000;

export function ElectionScreen({ app }: { app: App }) {
  const words = t();
  const branch = app.branchDocument();
  const admin = app.me?.principal.role === 'branch_admin';
  const [creating, setCreating] = useState(false);
  if (!branch || !app.core.holds(branch)) return <main class="screen">{words.notOnPhone}</main>;
  const elections = (app.core.records(branch, 'elections') as Keyed<Election>[])
    .filter((e) => !e.record.withdrawn)
    .sort((a, b) => b.record.opens_at - a.record.opens_at);
  return (
    <main class="screen elections">
      <button class="link" onClick={() => go('')}>
        ← {words.back}
      </button>
      <h1>{words.elections}</h1>
      {admin && !creating && <button onClick={() => setCreating(true)}>{words.newElection}</button>}
      {admin && creating && <NewElection app={app} branch={branch} onDone={() => setCreating(false)} />}
      {elections.length === 0 && <p class="quiet">{words.noElections}</p>}
      {elections.map((election) => (
        <ElectionCard key={election.id} app={app} branch={branch} election={election} />
      ))}
    </main>
  );
}

function ElectionCard({ app, branch, election }: { app: App; branch: string; election: Keyed<Election> }) {
  const words = t();
  const { record } = election;
  const now = Date.now();
  const notebook = app.me?.notebook ?? null;
  const mine =
    notebook && app.core.holds(notebook)
      ? (app.core.records(notebook, 'ballots') as Keyed<Ballot>[]).find((b) => b.id === election.id)?.record
      : undefined;
  const open = record.opens_at <= now && now < record.closes_at;
  const [choices, setChoices] = useState<string[]>(mine?.choices ?? []);
  const [message, setMessage] = useState('');
  const toggle = (id: string) => {
    if (choices.includes(id)) setChoices(choices.filter((c) => c !== id));
    else if (record.max_choices === 1) setChoices([id]);
    else if (choices.length < record.max_choices) setChoices([...choices, id]);
  };
  const vote = async () => {
    const me = app.me;
    if (!me || !notebook) return;
    try {
      await app.edit(notebook, (core) => core.castBallot(notebook, branch, me.principal, Date.now(), election.id, choices));
      setMessage(words.voted);
    } catch (failure) {
      setMessage(explain(failure));
    }
  };
  const result = record.result;
  const highest = result ? Math.max(1, ...result.tallies.map((t) => t.votes)) : 1;
  return (
    <section class="card election" data-election={election.id}>
      <h2>{record.title}</h2>
      <p class="meta">
        {formatDate(record.opens_at)} – {formatDate(record.closes_at)} · {words.choose(record.max_choices)}
      </p>
      {result ? (
        <div class="result">
          <p>{words.ballotsCounted(result.ballots)}</p>
          <ul>
            {record.candidates.map((candidate) => {
              const votes = result.tallies.find((t) => t.candidate === candidate.id)?.votes ?? 0;
              return (
                <li key={candidate.id} data-candidate={candidate.label} data-votes={votes}>
                  <span class="label">{candidate.label}</span>
                  <span class="bar" style={{ width: `${(votes / highest) * 60}%` }} />
                  <span class="votes">{words.votes(votes)}</span>
                </li>
              );
            })}
          </ul>
        </div>
      ) : open && notebook ? (
        <div class="ballot">
          {record.candidates.map((candidate) => (
            <label key={candidate.id} class="check">
              <input
                type={record.max_choices === 1 ? 'radio' : 'checkbox'}
                name={election.id}
                checked={choices.includes(candidate.id)}
                onChange={() => toggle(candidate.id)}
              />
              {candidate.label}
            </label>
          ))}
          <button class="primary" disabled={choices.length === 0} onClick={vote}>
            {mine ? words.changeVote : words.vote}
          </button>
          {mine && !message && <p class="saved">{words.voted}</p>}
          {message && <p class="saved">{message}</p>}
        </div>
      ) : (
        <p class="quiet">{now < record.opens_at ? words.notOpenYet : words.awaitingCount}</p>
      )}
    </section>
  );
}

function NewElection({ app, branch, onDone }: { app: App; branch: string; onDone: () => void }) {
  const words = t();
  const roster = currentRoster(app);
  const [title, setTitle] = useState('');
  const [picked, setPicked] = useState<string[]>([]);
  const [maxChoices, setMaxChoices] = useState(1);
  const [closes, setCloses] = useState(toLocalInput(Date.now() + 7 * DAY));
  const [error, setError] = useState('');
  const create = async () => {
    const election = (me: Principal, now: number): Election => ({
      title: title.trim(),
      candidates: picked.map((user) => ({
        id: crypto.randomUUID(),
        label: roster.find((r) => r.id === user)?.record.name ?? '',
        member: user,
      })),
      max_choices: maxChoices,
      opens_at: now,
      closes_at: fromLocalInput(closes),
      created_by: me.user,
      created_at: now,
      result: null,
      withdrawn: null,
    });
    try {
      await app.add(branch, 'elections', election);
      onDone();
    } catch (failure) {
      setError(explain(failure));
    }
  };
  return (
    <section class="card new-election">
      <label>
        {words.electionTitle}
        <input value={title} placeholder="发展之星" onInput={(e) => setTitle(e.currentTarget.value)} />
      </label>
      <fieldset>
        <legend>{words.candidates}</legend>
        {roster.map((person) => (
          <label key={person.id} class="check">
            <input
              type="checkbox"
              checked={picked.includes(person.id)}
              onChange={() => setPicked(picked.includes(person.id) ? picked.filter((p) => p !== person.id) : [...picked, person.id])}
            />
            {person.record.name}
          </label>
        ))}
      </fieldset>
      <label>
        {words.maxChoices}
        <input type="number" min={1} max={Math.max(1, picked.length)} value={maxChoices} onInput={(e) => setMaxChoices(Number(e.currentTarget.value) || 1)} />
      </label>
      <label>
        {words.closesAt}
        <input type="datetime-local" value={closes} onInput={(e) => setCloses(e.currentTarget.value)} />
      </label>
      {error && <p class="notice">{error}</p>}
      <div class="row">
        <button class="primary" disabled={!title.trim() || picked.length === 0} onClick={create}>
          {words.createElection}
        </button>
        <button class="link" onClick={onDone}>
          {words.cancel}
        </button>
      </div>
    </section>
  );
}
