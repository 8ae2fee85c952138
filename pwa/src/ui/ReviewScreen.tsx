// The secretary's review queue (审核): what members submitted, oldest first, and one record
// at a time with its media, to approve, publish to the feed (展播), mark as a fine example
// (精品), or return with a comment.
import { useState } from 'preact/hooks';
import type { App } from '../data/app';
import type { Keyed, RecordRef, RosterEntry } from '../data/model';
import { formatDate } from './format';
import { go } from './hooks';
import { explain, t } from './i18n';
import { RecordDetails } from './RecordDetails';

interface QueueItem {
  record: RecordRef;
  title: string;
  author: string;
  at: number;
  revision: number;
}

export function ReviewQueueScreen({ app }: { app: App }) {
  const words = t();
  const branch = app.branchDocument();
  const queue = branch && app.core.holds(branch) ? (app.core.reviewQueue(branch) as QueueItem[]) : [];
  const names = rosterNames(app, branch);
  return (
    <main class="screen review-queue">
      <h1>{words.reviewQueue}</h1>
      {queue.length === 0 && <p class="quiet">{words.nothingToReview}</p>}
      <ul class="records">
        {queue.map((item) => (
          <li key={item.record.id}>
            <button class="record" onClick={() => go(`review/${item.record.notebook}/${item.record.kind}/${item.record.id}`)}>
              <span class="title">{item.title}</span>
              <span class="meta">
                {names.get(item.author) ?? ''} · {formatDate(item.at)}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </main>
  );
}

export function ReviewItemScreen({ app, notebook, kind, id }: { app: App; notebook: string; kind: string; id: string }) {
  const words = t();
  const branch = app.branchDocument();
  const [comment, setComment] = useState('');
  const [fine, setFine] = useState(false);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const me = app.me;
  if (!me || !branch || !app.core.holds(notebook)) return <main class="screen quiet">{words.notOnPhone}</main>;
  const queue = app.core.reviewQueue(branch) as QueueItem[];
  const item = queue.find((q) => q.record.id === id);
  const names = rosterNames(app, branch);

  const decide = async (decision: 'approved' | 'returned', publish: boolean) => {
    if (!item) return;
    if (decision === 'returned' && !comment.trim()) {
      setError(words.commentNeeded);
      return;
    }
    setBusy(true);
    try {
      const now = Date.now();
      await app.edit(branch, (core) => {
        core.review(branch, me.principal, now, {
          record: item.record,
          revision: item.revision,
          decision,
          comment: comment.trim(),
          publish,
          fine_example: fine,
        });
        if (publish) core.publish(branch, item.record.notebook, me.principal, now, item.record.kind, item.record.id, fine);
      });
      go('review');
    } catch (failure) {
      setError(explain(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="screen review-item">
      <button class="link" onClick={() => go('review')}>
        ← {words.back}
      </button>
      {!item && <p class="quiet">{words.alreadyReviewed}</p>}
      <RecordDetails app={app} notebook={notebook} kind={kind} id={id} names={names} />
      {item && (
        <div class="decision">
          <label>
            {words.comment}
            <textarea name="comment" rows={3} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
          </label>
          <label class="check">
            <input type="checkbox" name="fine" checked={fine} onChange={() => setFine(!fine)} />
            {words.fineExample}
          </label>
          {error && <p class="error">{error}</p>}
          <div class="row wrap actions">
            <button name="return" disabled={busy} onClick={() => decide('returned', false)}>
              {words.returnIt}
            </button>
            <button name="approve" disabled={busy} onClick={() => decide('approved', false)}>
              {words.approve}
            </button>
            <button name="publish" class="primary" disabled={busy} onClick={() => decide('approved', true)}>
              {words.approvePublish}
            </button>
          </div>
        </div>
      )}
    </main>
  );
}

/** Member names by user id, from the branch roster. */
export function rosterNames(app: App, branch: string | null): Map<string, string> {
  const names = new Map<string, string>();
  if (branch && app.core.holds(branch)) {
    for (const entry of app.core.records(branch, 'roster') as Keyed<RosterEntry>[]) names.set(entry.id, entry.record.name);
  }
  return names;
}
