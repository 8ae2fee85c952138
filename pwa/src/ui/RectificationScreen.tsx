// A branch's problem list (问题清单 / 整改): the branch's own rectifications and, in the same
// list, the problems the township raised for it (乡镇督查), each with its measure, deadline,
// standard, who answers for it, evidence photos and every step taken (who, when), overdue ones
// marked. The branch's admins list problems (directly, or from a household visit) and move
// them on; moving one to done asks for evidence. Only the township verifies its own problems,
// and a township admin may only verify here: the branch's list is the branch's to write.
import { useState } from 'preact/hooks';
import type { App } from '../data/app';
import type { Keyed, MediaRef, Principal, Problem, Rectification } from '../data/model';
import type { Tianjian } from '../wasm/client_core.js';
import { chinaDay, formatDate } from './format';
import { go } from './hooks';
import { explain, t } from './i18n';
import { MediaList } from './MediaList';
import { MediaField, MemberSelect, currentRoster } from './RecordForm';
import { rosterNames } from './ReviewScreen';
import { reached } from './SupervisionScreen';
import type { Visit } from './VisitScreen';

type Item = { source: 'branch'; id: string; record: Rectification } | { source: 'township'; id: string; record: Problem };
type Step = 'in_progress' | 'done' | 'verified';

/** The visit a new rectification comes from, as the review screen names it. */
export interface FromVisit {
  notebook: string;
  id: string;
}

export function RectificationScreen({ app, branch, visit }: { app: App; branch: string; visit: FromVisit | null }) {
  const words = t();
  const me = app.me;
  const document = (kind: 'branch' | 'supervision') => me?.documents.find((d) => d.kind === kind && d.branch === branch)?.url ?? null;
  const [branchDoc, supervisionDoc] = [document('branch'), document('supervision')];
  const role = me?.principal.role;
  const branchAdmin = role === 'branch_admin' && me?.principal.branch === branch;
  const township = role === 'township_admin' || role === 'system_admin';
  const [adding, setAdding] = useState(false);
  if (!me || !branchDoc || !app.core.holds(branchDoc)) return <main class="screen">{words.notOnPhone}</main>;

  const items: Item[] = [
    ...(app.core.records(branchDoc, 'rectifications') as Keyed<Rectification>[]).map((r) => ({ source: 'branch' as const, ...r })),
    ...(supervisionDoc && app.core.holds(supervisionDoc) ? (app.core.records(supervisionDoc, 'problems') as Keyed<Problem>[]) : []).map((p) => ({
      source: 'township' as const,
      ...p,
    })),
  ].filter((item) => !item.record.withdrawn);
  // What is still to do first, the nearest deadline first.
  const order = ['open', 'in_progress', 'done', 'verified'];
  items.sort((a, b) => order.indexOf(reached(a.record.progress)) - order.indexOf(reached(b.record.progress)) || a.record.deadline.localeCompare(b.record.deadline));
  const names = rosterNames(app, branchDoc);
  const today = chinaDay(Date.now());

  return (
    <main class="screen rectifications">
      <button class="link" onClick={() => go(branchAdmin ? '' : `supervision/${branch}`)}>
        ← {words.back}
      </button>
      <h1>{words.problemList}</h1>
      {branchAdmin &&
        (adding || visit ? (
          <NewRectification
            app={app}
            document={branchDoc}
            visit={visit}
            onDone={() => (visit ? location.replace(`#/rectifications/${branch}`) : setAdding(false))}
          />
        ) : (
          <button name="new-rectification" class="primary" onClick={() => setAdding(true)}>
            {words.newRectification}
          </button>
        ))}
      {items.length === 0 && <p class="quiet">{words.noRecords}</p>}
      <ul class="records">
        {items.map((item) => (
          <ItemCard
            key={item.id}
            app={app}
            item={item}
            document={item.source === 'branch' ? branchDoc : (supervisionDoc ?? '')}
            names={names}
            today={today}
            branchAdmin={branchAdmin}
            township={township}
          />
        ))}
      </ul>
    </main>
  );
}

function ItemCard({
  app,
  item,
  document,
  names,
  today,
  branchAdmin,
  township,
}: {
  app: App;
  item: Item;
  document: string;
  names: Map<string, string>;
  today: string;
  branchAdmin: boolean;
  township: boolean;
}) {
  const words = t();
  const { record } = item;
  const status = reached(record.progress);
  const overdue = (status === 'open' || status === 'in_progress') && record.deadline < today;
  // Who took a step: a member of the branch by name, anyone else is the township.
  const who = (user: string) => names.get(user) ?? words.township;
  const responsible = item.source === 'branch' ? (item.record.responsible ? who(item.record.responsible) : '—') : item.record.owner || '—';
  const steps: [string, { at: number; by: string; note?: string | null }][] = [
    [words.listedStep, { at: record.created_at, by: record.created_by }],
    ...(['in_progress', 'done', 'verified'] as const).flatMap((step) => {
      const taken = record.progress[step];
      return taken ? [[words.progressSteps[step], taken] as [string, typeof taken]] : [];
    }),
  ];
  return (
    <li class={`card problem rectification ${overdue ? 'overdue' : ''}`} data-status={status} data-source={item.source} data-id={item.id}>
      <span class="tags">
        {item.source === 'township' && <span class="tag township">{words.fromTownship}</span>}
        {item.source === 'branch' && item.record.from_visit && <span class="tag">{words.fromVisit}</span>}
        <strong class={`step ${status}`}>{words.progressSteps[status]}</strong>
        {overdue && <strong class="late">{words.overdue}</strong>}
      </span>
      <span class="title">{record.problem}</span>
      <dl class="facts">
        <dt>{words.measure}</dt>
        <dd>{record.measure || '—'}</dd>
        <dt>{words.deadlineFull}</dt>
        <dd>{record.deadline}</dd>
        <dt>{words.standard}</dt>
        <dd>{record.standard || '—'}</dd>
        <dt>{words.owner}</dt>
        <dd>{responsible}</dd>
      </dl>
      {(record.evidence ?? []).length > 0 && <MediaList app={app} media={record.evidence ?? []} />}
      <ol class="steps">
        {steps.map(([name, step]) => (
          <li key={name}>
            {name} · {who(step.by)} · {formatDate(step.at)}
            {step.note && <span class="note">：{step.note}</span>}
          </li>
        ))}
      </ol>
      <Actions app={app} item={item} document={document} status={status} branchAdmin={branchAdmin} township={township} />
    </li>
  );
}

/** The steps this person may take: the branch's admins every step of the branch's own items
 * and all but verifying of the township's; the township only verifying, once done. */
function Actions({ app, item, document, status, branchAdmin, township }: { app: App; item: Item; document: string; status: string; branchAdmin: boolean; township: boolean }) {
  const words = t();
  const [finishing, setFinishing] = useState(false);
  const [error, setError] = useState('');
  const me = app.me;
  if (!me) return null;
  const unfinished = status === 'open' || status === 'in_progress';
  const mayVerify = status === 'done' && (township || (branchAdmin && item.source === 'branch'));
  if (!(branchAdmin && unfinished) && !mayVerify) return null;

  const take = async (step: Step, note: string | null, evidence: MediaRef[] = []) => {
    try {
      await app.edit(document, (core) => {
        if (evidence.length > 0) addEvidence(core, document, me.principal, item, evidence);
        advance(core, document, me.principal, item, step, note);
      });
      setFinishing(false);
      setError('');
    } catch (failure) {
      setError(explain(failure));
    }
  };
  const verify = () => {
    if (confirm(words.verifyConfirm)) void take('verified', null);
  };

  return (
    <div class="step-actions">
      {finishing ? (
        <DoneForm app={app} existing={(item.record.evidence ?? []).length} onCancel={() => setFinishing(false)} onDone={(note, evidence) => take('done', note, evidence)} />
      ) : (
        <div class="row wrap">
          {branchAdmin && status === 'open' && (
            <button name="in_progress" onClick={() => take('in_progress', null)}>
              {words.markAs(words.progressSteps.in_progress)}
            </button>
          )}
          {branchAdmin && unfinished && (
            <button name="done" onClick={() => setFinishing(true)}>
              {words.markAs(words.progressSteps.done)}
            </button>
          )}
          {mayVerify && (
            <button name="verified" class="primary" onClick={verify}>
              {words.markAs(words.progressSteps.verified)}
            </button>
          )}
        </div>
      )}
      {error && <p class="error">{error}</p>}
    </div>
  );
}

/** Moving to done: photos of the work, or a note of what was done (at least one of them). */
function DoneForm({ app, existing, onCancel, onDone }: { app: App; existing: number; onCancel: () => void; onDone: (note: string | null, evidence: MediaRef[]) => void }) {
  const words = t();
  const [media, setMedia] = useState<MediaRef[]>([]);
  const [note, setNote] = useState('');
  const [error, setError] = useState('');
  const finish = () => {
    if (media.length + existing === 0 && !note.trim()) {
      setError(words.evidenceNeeded);
      return;
    }
    onDone(note.trim() || null, media);
  };
  return (
    <div class="done-form">
      <p>{words.evidenceAsk}</p>
      <MediaField app={app} media={media} onChange={(change) => setMedia(change)} />
      <label>
        {words.stepNote}
        <textarea name="note" rows={2} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
      </label>
      {error && <p class="error">{error}</p>}
      <div class="row actions">
        <button onClick={onCancel}>{words.cancel}</button>
        <button name="confirm-done" class="primary" onClick={finish}>
          {words.markAs(words.progressSteps.done)}
        </button>
      </div>
    </div>
  );
}

/** Adds photos to an item's evidence, onto the record as it is now. */
function addEvidence(core: Tianjian, document: string, by: Principal, item: Item, evidence: MediaRef[]) {
  const collection = item.source === 'branch' ? 'rectifications' : 'problems';
  const now = (core.records(document, collection) as Keyed<Rectification | Problem>[]).find((r) => r.id === item.id)?.record ?? item.record;
  core.update(document, by, Date.now(), collection, item.id, { ...now, evidence: [...(now.evidence ?? []), ...evidence] });
}

function advance(core: Tianjian, document: string, by: Principal, item: Item, step: Step, note: string | null) {
  if (item.source === 'branch') core.advanceRectification(document, by, Date.now(), item.id, step, note);
  else core.advanceProblem(document, by, Date.now(), item.id, step, note);
}

/** A new item of the list, filled in from the visit it comes from, if any. */
function NewRectification({ app, document, visit, onDone }: { app: App; document: string; visit: FromVisit | null; onDone: () => void }) {
  const words = t();
  const roster = currentRoster(app);
  const found =
    visit && app.core.holds(visit.notebook) ? (app.core.records(visit.notebook, 'visits') as Keyed<Visit>[]).find((v) => v.id === visit.id)?.record : undefined;
  const [draft, setDraft] = useState({
    problem: found?.needs ?? '',
    measure: '',
    deadline: chinaDay(Date.now() + 30 * 86_400_000),
    standard: '',
    responsible: null as string | null,
  });
  const [error, setError] = useState('');
  const text = (name: 'measure' | 'standard', label: string) => (
    <label>
      {label}
      <input name={name} value={draft[name]} onInput={(e) => setDraft({ ...draft, [name]: e.currentTarget.value })} />
    </label>
  );
  const save = async () => {
    const rectification = (me: Principal, now: number): Rectification => ({
      ...draft,
      problem: draft.problem.trim(),
      from_visit: visit ? { notebook: visit.notebook, kind: 'visit', id: visit.id } : null,
      from_supervision: null,
      progress: {},
      evidence: [],
      created_by: me.user,
      created_at: now,
      withdrawn: null,
    });
    try {
      await app.add(document, 'rectifications', rectification);
      onDone();
    } catch (failure) {
      setError(words.notSaved + explain(failure));
    }
  };
  return (
    <section class="card new-problem">
      {found && (
        <p class="meta">
          {words.fromVisit} · {found.household} · {formatDate(found.visited_at)}
        </p>
      )}
      <label>
        {words.problem}
        <textarea name="problem" rows={3} value={draft.problem} onInput={(e) => setDraft({ ...draft, problem: e.currentTarget.value })} />
      </label>
      {text('measure', words.measure)}
      <label>
        {words.deadlineFull}
        <input name="deadline" type="date" value={draft.deadline} onInput={(e) => e.currentTarget.value && setDraft({ ...draft, deadline: e.currentTarget.value })} />
      </label>
      {text('standard', words.standard)}
      <MemberSelect name="responsible" label={words.owner} roster={roster} value={draft.responsible ?? null} onChange={(member) => setDraft({ ...draft, responsible: member })} />
      {error && <p class="error">{error}</p>}
      <div class="row actions">
        <button onClick={onDone}>{words.cancel}</button>
        <button name="save" class="primary" onClick={save} disabled={!draft.problem.trim()}>
          {words.raiseProblem}
        </button>
      </div>
    </section>
  );
}
