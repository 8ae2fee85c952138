// The township's supervision of one branch (督查): its notes (平时调度, 听取汇报, 党群座谈,
// 查阅资料, 实地查看) and its problem list, each problem with measure, deadline, standard and
// who answers for it, moved forward by the township to verified; an overdue problem is
// marked, and counts in the overview. The branch's admins read it; the township writes it.
import { useState } from 'preact/hooks';
import type { App } from '../data/app';
import type { Keyed, Principal, Problem, Progress, SupervisionMethod, SupervisionNote } from '../data/model';
import { chinaDay, formatDate } from './format';
import { go } from './hooks';
import { explain, t } from './i18n';
import { MediaList } from './MediaList';

const METHODS: SupervisionMethod[] = ['dispatch', 'report', 'forum', 'documents', 'on_site'];
const STEPS = ['in_progress', 'done', 'verified'] as const;

/** The furthest step a problem or rectification has reached. */
export function reached(progress: Progress): 'open' | (typeof STEPS)[number] {
  return [...STEPS].reverse().find((step) => progress[step]) ?? 'open';
}

export function SupervisionScreen({ app, branch }: { app: App; branch: string }) {
  const words = t();
  const document = app.me?.documents.find((d) => d.kind === 'supervision' && d.branch === branch)?.url ?? null;
  const township = app.me?.principal.role === 'township_admin' || app.me?.principal.role === 'system_admin';
  const [message, setMessage] = useState('');
  if (!document || !app.core.holds(document)) return <main class="screen">{words.notOnPhone}</main>;
  const notes = (app.core.records(document, 'notes') as Keyed<SupervisionNote>[])
    .filter((n) => !n.record.withdrawn)
    .sort((a, b) => b.record.at - a.record.at);
  const problems = (app.core.records(document, 'problems') as Keyed<Problem>[])
    .filter((p) => !p.record.withdrawn)
    .sort((a, b) => a.record.deadline.localeCompare(b.record.deadline));
  const today = chinaDay(Date.now());
  const advance = async (id: string, step: string) => {
    const me = app.me;
    if (!me) return;
    try {
      await app.edit(document, (core) => core.advanceProblem(document, me.principal, Date.now(), id, step, null));
      setMessage(words.saved);
    } catch (failure) {
      setMessage(explain(failure));
    }
  };
  return (
    <main class="screen supervision">
      <button class="link" onClick={() => go('statistics')}>
        ← {words.back}
      </button>
      <h1>{words.supervision}</h1>
      {/* The branch's own list, beside the township's problems, for the township to verify. */}
      <button name="branch-rectifications" onClick={() => go(`rectifications/${branch}`)}>
        {words.branchRectifications}
      </button>
      {message && <p class="saved">{message}</p>}
      <section>
        <h2>{words.problemList}</h2>
        {township && <NewProblem app={app} document={document} />}
        {problems.length === 0 && <p class="quiet">{words.noRecords}</p>}
        <ul class="records">
          {problems.map(({ id, record }) => {
            const status = reached(record.progress);
            const overdue = (status === 'open' || status === 'in_progress') && record.deadline < today;
            const next = STEPS[STEPS.indexOf(status as (typeof STEPS)[number]) + 1] ?? (status === 'open' ? 'in_progress' : null);
            return (
              <li key={id} class={`card problem ${overdue ? 'overdue' : ''}`} data-status={status}>
                <span class="title">{record.problem}</span>
                <span class="meta">
                  {words.measure}：{record.measure} · {words.standard}：{record.standard}
                </span>
                <span class="meta">
                  {words.deadline} {record.deadline} · {record.owner} · <strong>{words.progressSteps[status]}</strong>
                  {overdue && <strong class="late"> · {words.overdue}</strong>}
                </span>
                {(record.evidence ?? []).length > 0 && <MediaList app={app} media={record.evidence ?? []} />}
                {township && next && <button onClick={() => advance(id, next)}>{words.markAs(words.progressSteps[next])}</button>}
              </li>
            );
          })}
        </ul>
      </section>
      <section>
        <h2>{words.supervisionNotes}</h2>
        {township && <NewNote app={app} document={document} />}
        {notes.length === 0 && <p class="quiet">{words.noRecords}</p>}
        <ul class="records">
          {notes.map(({ id, record }) => (
            <li key={id} class="card note">
              <span class="meta">
                {formatDate(record.at)} · {words.methods[record.method]}
              </span>
              <span>{record.body}</span>
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}

function NewNote({ app, document }: { app: App; document: string }) {
  const words = t();
  const [method, setMethod] = useState<SupervisionMethod>('dispatch');
  const [body, setBody] = useState('');
  const [error, setError] = useState('');
  const save = async () => {
    if (!body.trim()) return;
    const note = (me: Principal, now: number): SupervisionNote => ({ method, at: now, by: me.user, body: body.trim(), withdrawn: null });
    try {
      await app.add(document, 'notes', note);
      setBody('');
      setError('');
    } catch (failure) {
      setError(explain(failure));
    }
  };
  return (
    <div class="card new-note">
      <select name="method" value={method} onChange={(e) => setMethod(e.currentTarget.value as SupervisionMethod)} aria-label={words.method}>
        {METHODS.map((m) => (
          <option key={m} value={m}>
            {words.methods[m]}
          </option>
        ))}
      </select>
      <textarea name="body" rows={3} value={body} placeholder={words.noteBody} onInput={(e) => setBody(e.currentTarget.value)} />
      {error && <p class="notice">{error}</p>}
      <button onClick={save} disabled={!body.trim()}>
        {words.addNote}
      </button>
    </div>
  );
}

function NewProblem({ app, document }: { app: App; document: string }) {
  const words = t();
  const [draft, setDraft] = useState({ problem: '', measure: '', deadline: chinaDay(Date.now() + 30 * 86_400_000), standard: '', owner: '' });
  const [error, setError] = useState('');
  const field = (name: keyof typeof draft, label: string) => (
    <label>
      {label}
      <input name={name} value={draft[name]} onInput={(e) => setDraft({ ...draft, [name]: e.currentTarget.value })} />
    </label>
  );
  const save = async () => {
    const problem = (me: Principal, now: number): Problem => ({ ...draft, problem: draft.problem.trim(), progress: {}, created_by: me.user, created_at: now, withdrawn: null });
    try {
      await app.add(document, 'problems', problem);
      setDraft({ ...draft, problem: '', measure: '', standard: '' });
      setError('');
    } catch (failure) {
      setError(explain(failure));
    }
  };
  return (
    <div class="card new-problem">
      {field('problem', words.problem)}
      {field('measure', words.measure)}
      <label>
        {words.deadline}
        <input name="deadline" type="date" value={draft.deadline} onInput={(e) => e.currentTarget.value && setDraft({ ...draft, deadline: e.currentTarget.value })} />
      </label>
      {field('standard', words.standard)}
      {field('owner', words.owner)}
      {error && <p class="notice">{error}</p>}
      <button onClick={save} disabled={!draft.problem.trim()}>
        {words.raiseProblem}
      </button>
    </div>
  );
}
