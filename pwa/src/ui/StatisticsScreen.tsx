// The figures a branch reports and a township follows (统计): for a month or a year, every
// branch of the township (or the secretary's own branch) in one table with its monthly plan
// done or not and its overdue rectifications marked; a twelve-month trend of a chosen figure;
// the records behind any number; and the ledgers to download. The server counts (from the
// records it holds, approved only). Without a connection, a branch's secretary still sees his
// own branch's figures and plan, counted on the phone from the branch document by the same
// rule (client-core's `figures` and `planProgress`); what only the server can count (the
// township's problems, migrant members' records, pledges) shows as —. No person is ranked.
import { useEffect, useState } from 'preact/hooks';
import type { App } from '../data/app';
import { Unreachable } from '../data/api';
import { chinaDay, chinaMonth, chinaMonthStart, formatDate, formatFigure } from './format';
import { go } from './hooks';
import { explain, t } from './i18n';
import { TrendChart } from './TrendChart';

export interface Figures {
  lectures: number;
  lecturers: number;
  member_attendances: number;
  villagers: number;
  audience: number;
  services: number;
  volunteer_participants: number;
  volunteer_hours: number;
  households_visited: number;
  screenings: number;
  rectifications_open: number;
  rectifications_overdue: number;
  rectifications_done: number;
  rectifications_verified: number;
  migrant_submissions: number;
  problems_open: number;
  problems_overdue: number;
  members_pledged: number;
  lectures_by_category: Record<string, number>;
  lectures_by_venue: Record<string, number>;
}

interface BranchLine extends Figures {
  branch: string;
  name: string;
}

/** The figures only the server counts: a phone offline shows them as unknown. */
const SERVER_ONLY: readonly string[] = ['migrant_submissions', 'problems_open', 'problems_overdue', 'members_pledged'];

interface FiguresAnswer {
  period: string;
  today: string;
  branches: BranchLine[];
  total: Figures;
}

interface Standing {
  branch: string;
  name: string;
  planned: boolean;
  lecture_done: boolean;
  film_done: boolean;
  practice_done: boolean;
  theme_day_held: boolean;
}

export interface MonthFigures extends Figures {
  month: string;
}

interface RecordLine {
  branch: string;
  collection: string;
  key: string;
  at: number | null;
  title: string;
  person_name: string | null;
  deadline: string | null;
  status: string;
}

/** The figures the table shows, in its order; each can be drilled into and charted. */
export const SHOWN = [
  'lectures',
  'lecturers',
  'audience',
  'volunteer_hours',
  'households_visited',
  'screenings',
  'rectifications_overdue',
  'problems_overdue',
] as const;
export type Shown = (typeof SHOWN)[number];

/** The figures marked when not zero: overdue work escalates to the township. */
const OVERDUE: readonly string[] = ['rectifications_overdue', 'problems_overdue'];

/** What one drill-down shows: a figure, of one branch or all. */
interface Drill {
  figure: string;
  branch: string | null;
  label: string;
}

const LEDGERS = ['lectures', 'services', 'visits', 'meetings', 'rectifications', 'members'] as const;

/** `home`: the screen is the person's home (the township's), with nowhere to go back to. */
export function StatisticsScreen({ app, home = false }: { app: App; home?: boolean }) {
  const words = t();
  const [month, setMonth] = useState(chinaMonth(Date.now()));
  const [wholeYear, setWholeYear] = useState(false);
  const [answer, setAnswer] = useState<FiguresAnswer | null>(null);
  const [plans, setPlans] = useState<Standing[]>([]);
  const [trend, setTrend] = useState<MonthFigures[]>([]);
  const [charted, setCharted] = useState<Shown>('lectures');
  const [drill, setDrill] = useState<Drill | null>(null);
  const [error, setError] = useState('');
  const period = wholeYear ? month.slice(0, 4) : month;

  useEffect(() => {
    let current = true;
    setDrill(null);
    Promise.all([
      app.api<FiguresAnswer>('GET', `/api/v1/statistics?period=${period}`),
      app.api<Standing[]>('GET', `/api/v1/statistics/plans?month=${month}`),
      app.api<MonthFigures[]>('GET', `/api/v1/statistics/trend?until=${month}`),
    ]).then(
      ([figures, standing, months]) => {
        if (!current) return;
        setAnswer(figures);
        setPlans(standing);
        setTrend(months);
        setError('');
      },
      (failure) => {
        if (!current) return;
        const own = failure instanceof Unreachable ? onThisPhone(app, month, wholeYear) : null;
        if (own) {
          setAnswer(own.figures);
          setPlans(own.plans);
          setTrend([]);
          setError(words.countedOnPhone);
        } else {
          setError(explain(failure));
        }
      },
    );
    return () => {
      current = false;
    };
  }, [period, month]);

  const township = (answer?.branches.length ?? 0) > 1 || app.me?.principal.role === 'township_admin';
  const download = (path: string) => app.download(path).catch((failure) => setError(explain(failure)));
  return (
    <main class="screen statistics">
      {!home && (
        <button class="link" onClick={() => go('')}>
          ← {words.back}
        </button>
      )}
      <h1>{words.statistics}</h1>
      <div class="row wrap period">
        <label>
          {words.month}
          <input type="month" value={month} onInput={(e) => e.currentTarget.value && setMonth(e.currentTarget.value)} />
        </label>
        <div class="tabs" role="tablist">
          <button role="tab" aria-selected={!wholeYear} onClick={() => setWholeYear(false)}>
            {words.thatMonth}
          </button>
          <button role="tab" aria-selected={wholeYear} onClick={() => setWholeYear(true)}>
            {words.thatYear}
          </button>
        </div>
      </div>
      {error && <p class="notice">{error}</p>}
      {answer && (
        <div class="table-frame">
          <table class="figures" data-period={answer.period}>
            <thead>
              <tr>
                <th>{words.branch}</th>
                <th title={words.planLecture}>课</th>
                <th title={words.planFilm}>片</th>
                <th title={words.planPractice}>实践</th>
                <th title={words.themeDay}>{words.themeDayShort}</th>
                {SHOWN.map((figure) => (
                  <th key={figure}>{words.figures[figure]}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {answer.branches.map((line) => {
                const plan = plans.find((p) => p.branch === line.branch);
                return (
                  <tr key={line.branch} data-branch={line.name} class={plan && !plan.planned ? 'unplanned' : ''}>
                    <th>
                      <button class="link" onClick={() => go(`year-end/${line.branch}/${month.slice(0, 4)}`)}>
                        {line.name}
                      </button>
                    </th>
                    <Done value={plan?.lecture_done} planned={plan?.planned} />
                    <Done value={plan?.film_done} planned={plan?.planned} />
                    <Done value={plan?.practice_done} planned={plan?.planned} />
                    <Done value={plan?.theme_day_held} planned={plan?.planned} />
                    {SHOWN.map((figure) => (
                      <td key={figure} class={OVERDUE.includes(figure) && line[figure] > 0 ? 'overdue' : ''}>
                        {Number.isNaN(line[figure]) ? (
                          <span class="number" data-figure={figure}>
                            —
                          </span>
                        ) : (
                          <button
                            class="number"
                            data-figure={figure}
                            onClick={() => setDrill({ figure, branch: line.branch, label: `${line.name} · ${words.figures[figure]}` })}
                          >
                            {formatFigure(line[figure])}
                          </button>
                        )}
                      </td>
                    ))}
                  </tr>
                );
              })}
            </tbody>
            {township && (
              <tfoot>
                <tr>
                  <th>{words.total}</th>
                  <td colSpan={4}>{plannedSummary(plans, words.plansDone)}</td>
                  {SHOWN.map((figure) => (
                    <td key={figure} class={OVERDUE.includes(figure) && answer.total[figure] > 0 ? 'overdue' : ''}>
                      <button class="number" onClick={() => setDrill({ figure, branch: null, label: `${words.total} · ${words.figures[figure]}` })}>
                        {formatFigure(answer.total[figure])}
                      </button>
                    </td>
                  ))}
                </tr>
              </tfoot>
            )}
          </table>
        </div>
      )}
      {drill && answer && (
        <DrillDown
          app={app}
          drill={drill}
          period={period}
          names={new Map(answer.branches.map((b) => [b.branch, b.name]))}
          onClose={() => setDrill(null)}
        />
      )}
      {trend.length > 0 && (
        <section class="card trend">
          <h2>{words.trend}</h2>
          <div class="tabs" role="tablist">
            {SHOWN.map((figure) => (
              <button key={figure} role="tab" aria-selected={charted === figure} onClick={() => setCharted(figure)}>
                {words.figures[figure]}
              </button>
            ))}
          </div>
          <TrendChart months={trend} figure={charted} label={words.figures[charted]} />
        </section>
      )}
      <section class="card downloads">
        <h2>{words.ledgers}</h2>
        <div class="row wrap">
          {LEDGERS.map((ledger) => (
            <button key={ledger} onClick={() => download(`/api/v1/exports/${ledger}?period=${period}`)}>
              {words.ledgerNames[ledger]}
            </button>
          ))}
          <button onClick={() => download(`/api/v1/exports/media?period=${period}`)}>{words.mediaArchive}</button>
        </div>
        <p class="quiet">{words.ledgersHint}</p>
      </section>
    </main>
  );
}

/** A branch admin's own branch, counted on this phone from the branch document it holds:
 * the month's (or the year's) figures and the month's plan. */
function onThisPhone(app: App, month: string, wholeYear: boolean): { figures: FiguresAnswer; plans: Standing[] } | null {
  const me = app.me;
  const branch = app.branchDocument();
  if (me?.principal.role !== 'branch_admin' || !me.principal.branch || !branch || !app.core.holds(branch)) return null;
  const year = Number(month.slice(0, 4));
  const [from, until] = wholeYear
    ? [chinaMonthStart(`${year}-01`), chinaMonthStart(`${year + 1}-01`)]
    : [chinaMonthStart(month), chinaMonthStart(nextMonth(month))];
  const counted = app.core.figures(branch, from, until, chinaDay(Date.now())) as Figures;
  for (const figure of SERVER_ONLY) (counted as unknown as Record<string, number>)[figure] = Number.NaN;
  const name = t().ownBranch;
  const line: BranchLine = { ...counted, branch: me.principal.branch, name };
  const progress = app.core.planProgress(branch, month) as
    | { lecture_done: boolean; film_done: boolean; practice_done: boolean; theme_day_held: boolean }
    | undefined;
  const plan: Standing = {
    branch: me.principal.branch,
    name,
    planned: progress !== undefined,
    lecture_done: progress?.lecture_done ?? false,
    film_done: progress?.film_done ?? false,
    practice_done: progress?.practice_done ?? false,
    theme_day_held: progress?.theme_day_held ?? false,
  };
  return { figures: { period: wholeYear ? String(year) : month, today: chinaDay(Date.now()), branches: [line], total: counted }, plans: [plan] };
}

function nextMonth(month: string): string {
  const [year, number] = month.split('-').map(Number);
  return number === 12 ? `${year + 1}-01` : `${year}-${String(number + 1).padStart(2, '0')}`;
}

function Done({ value, planned }: { value: boolean | undefined; planned: boolean | undefined }) {
  if (planned === false) return <td class="not-planned">—</td>;
  return <td class={value ? 'done' : 'not-done'}>{value ? '✓' : '✗'}</td>;
}

/** "15 of 17 branches held their plan". */
function plannedSummary(plans: Standing[], phrase: (done: number, all: number) => string): string {
  const done = plans.filter((p) => p.planned && p.lecture_done && p.film_done && p.practice_done).length;
  return phrase(done, plans.length);
}


/** The records behind one number. */
function DrillDown({
  app,
  drill,
  period,
  names,
  onClose,
}: {
  app: App;
  drill: Drill;
  period: string;
  names: Map<string, string>;
  onClose: () => void;
}) {
  const words = t();
  const [lines, setLines] = useState<RecordLine[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    const whose = drill.branch ? `&branch=${drill.branch}` : '';
    app.api<RecordLine[]>('GET', `/api/v1/statistics/records?figure=${drill.figure}&period=${period}${whose}`).then(
      (found) => {
        setLines(found);
        setError('');
      },
      (failure) => setError(explain(failure)),
    );
  }, [drill.figure, drill.branch, period]);
  return (
    <section class="card drill" aria-live="polite">
      <div class="row">
        <h2>{drill.label}</h2>
        <button class="link" onClick={onClose}>
          {words.close}
        </button>
      </div>
      {error && <p class="notice">{error}</p>}
      {lines && lines.length === 0 && <p class="quiet">{words.noRecords}</p>}
      {lines && (
        <ul class="records behind">
          {lines.map((line) => (
            <li key={line.key} data-key={line.key}>
              <span class="title">{line.title || '—'}</span>
              <span class="meta">
                {line.at !== null && formatDate(line.at)}
                {line.person_name && ` · ${line.person_name}`}
                {drill.branch === null && ` · ${names.get(line.branch) ?? ''}`}
                {line.deadline && ` · ${words.deadline} ${line.deadline}`}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
