// Where a member's own record stands in review, with the secretary's comment if it came back.
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
    <p class={`review-note ${mine.state}`} data-state={mine.state}>
      <strong>{words.state[mine.state]}</strong>
      {mine.comment && <span class="comment">：{mine.comment}</span>}
      {mine.published && <span> · {words.published}</span>}
    </p>
  );
}
