// The month's plan as a checklist: 一课, 一片, 一实践 and 主题党日, each ✓ with the records that
// carried it out or ○. The standing is client-core's `planProgress`, computed from the branch
// document alone, so a member's phone shows what the secretary's shows. On the plan screen
// each record opens and each part not done can be recorded at once, filled in from the plan.
import type { App } from '../data/app';
import type { PlanPart, PlanProgress, PlanRecord } from '../data/model';
import { formatDate } from './format';
import { go } from './hooks';
import { t } from './i18n';

const PARTS: PlanPart[] = ['lecture', 'film', 'practice', 'theme_day'];

/** This month's progress, or undefined when the branch has no plan for it (or this phone
 * does not hold the branch yet). */
export function planProgress(app: App, month: string): PlanProgress | undefined {
  const branch = app.branchDocument();
  if (!branch || !app.core.holds(branch)) return undefined;
  return app.core.planProgress(branch, month) as PlanProgress | undefined;
}

export function PlanChecklist({ app, progress, actions }: { app: App; progress: PlanProgress; actions: boolean }) {
  const words = t();
  const plan = progress.plan;
  const planned: Record<PlanPart, string> = {
    lecture: plan.lecture_topic,
    film: plan.film_title,
    practice: plan.practice,
    theme_day: plan.theme_day ?? '',
  };
  return (
    <ul class="checklist">
      {PARTS.map((part) => {
        // A part is done by the records that carried it out (client-core's rule), so it
        // always has one to show.
        const records = progress.carried_out[part];
        const done = records.length > 0;
        const record = actions && !done ? recordRoute(app, part) : null;
        return (
          <li key={part} class={done ? 'done' : ''} data-part={part} data-done={done}>
            <span class="mark" aria-hidden="true">
              {done ? '✓' : '○'}
            </span>
            <div class="part">
              <span class="name">
                {words.planParts[part]} · {planned[part] || '—'}
              </span>
              {records.map((r) => (
                <Carried key={r.id} app={app} record={r} link={actions} />
              ))}
              {!done && <span class="quiet">{words.notDoneYet}</span>}
              {record && (
                <button name={`record-${part}`} onClick={() => go(record)}>
                  {words.recordNow}
                </button>
              )}
            </div>
          </li>
        );
      })}
    </ul>
  );
}

/** A record that carried out a part; on the plan screen it opens where it can be read. */
function Carried({ app, record, link }: { app: App; record: PlanRecord; link: boolean }) {
  const words = t();
  const title = record.title || (record.collection === 'meetings' ? words.meetingKinds.theme_day : '');
  const text = `${title} · ${formatDate(record.at).slice(0, 10)}`;
  const route = link ? openRoute(app, record) : null;
  if (!route) return <span class="carried">{text}</span>;
  return (
    <button class="link carried" onClick={() => go(route)}>
      {text}
    </button>
  );
}

/** Where a record is read: a member's lecture or service in review for an admin, or in the
 * member's own form when it is theirs (members read no one else's notebook); a screening on
 * its own page; a meeting among the meetings. */
function openRoute(app: App, record: PlanRecord): string | null {
  if (record.collection === 'screenings') return `screenings/${record.id}`;
  if (record.collection === 'meetings') return 'meetings';
  const kind = record.collection === 'lectures' ? 'lecture' : 'service';
  const mine = app.me?.notebook?.replace(/^automerge:/, '');
  if (record.notebook && record.notebook === mine) return `${kind}/${record.id}`;
  if (app.me?.principal.role === 'branch_admin' && record.notebook) return `review/${record.notebook}/${kind}/${record.id}`;
  return null;
}

/** The form that records a part now, filled in from the plan, if this person may record it:
 * anyone with a notebook the lecture and the practice, an admin the film and the themed day. */
function recordRoute(app: App, part: PlanPart): string | null {
  const admin = app.me?.principal.role === 'branch_admin';
  if (part === 'lecture') return app.me?.notebook ? 'lecture/new-plan' : null;
  if (part === 'practice') return app.me?.notebook ? 'service/new-plan' : null;
  if (part === 'film') return admin ? 'screenings/new' : null;
  return admin ? 'meetings/new-theme-day' : null;
}
