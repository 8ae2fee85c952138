// Where a member's own record stands in review: the secretary's comment, whether approved
// (with 精品 when marked a fine example) or returned, and, for an approved record changed
// since, that the approved version still counts until the change is reviewed.
import type { App } from '../data/app';
import type { SubmissionView } from '../data/model';
import { t } from './i18n';

export function ReviewNote({ app, notebook, id }: { app: App; notebook: string; id: string }) {
  const words = t();
  const branch = app.branchDocument();
  if (!branch || !app.core.holds(branch)) return null;
  const mine = (app.core.mySubmissions(notebook, branch) as SubmissionView[]).find((s) => s.record.id === id);
  if (!mine) return null;
  return (
    <p class={`review-note ${mine.state}`} data-state={mine.state} data-counted={mine.counted}>
      <Standing view={mine} />
      {mine.published && <span> · {words.published}</span>}
    </p>
  );
}

/** A record's review state in words, its 精品 mark and the admin's comment, as lists and the
 * record's own form show them. */
export function Standing({ view }: { view: SubmissionView }) {
  const words = t();
  // Changed after an approval: the approved revision still counts until this one is reviewed.
  const edited = view.counted && (view.state === 'draft' || view.state === 'pending');
  return (
    <>
      <strong class={`state ${edited ? 'edited' : view.state}`}>
        {edited ? (view.state === 'pending' ? words.editedPending : words.editedDraft) : words.state[view.state]}
      </strong>
      {view.fine_example && <span class="fine"> {words.fineExample}</span>}
      {view.comment && <span class={`comment ${view.state}`}>{view.comment}</span>}
    </>
  );
}
