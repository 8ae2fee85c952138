// The secretary's review queue (审核): what members submitted, oldest first, and one record
// at a time with its media, to approve, publish to the feed (展播), mark as a fine example
// (精品), or return with a comment. A record its member withdrew after it was approved waits
// here too (成员已撤回): it counts until an admin takes the approval back. A household visit
// can put the problem it found on the branch's problem list.
import { useState } from 'preact/hooks';
import type { App } from '../data/app';
import type { Keyed, QueueItem, RosterEntry } from '../data/model';
import { formatDate } from './format';
import { go } from './hooks';
import { explain, t } from './i18n';
import { RecordDetails } from './RecordDetails';

export function ReviewQueueScreen({ app }: { app: App }) {
  const words = t();
  const branch = app.branchDocument();
  const [error, setError] = useState('');
  const queue = branch && app.core.holds(branch) ? (app.core.reviewQueue(branch) as QueueItem[]) : [];
  const names = rosterNames(app, branch);
  const confirmWithdrawal = async (item: QueueItem) => {
    if (!branch) return;
    try {
      await takeBack(app, branch, item, words.withdrawnComment);
    } catch (failure) {
      setError(explain(failure));
    }
  };
  return (
    <main class="screen review-queue">
      <button class="link" onClick={() => go('')}>
        ← {words.back}
      </button>
      <h1>{words.reviewQueue}</h1>
      {queue.length === 0 && <p class="quiet">{words.nothingToReview}</p>}
      {error && <p class="error">{error}</p>}
      <ul class="records">
        {queue.map((item) => (
          <li key={item.record.id} class={item.withdrawn ? 'withdrawn' : ''} data-withdrawn={item.withdrawn}>
            <button class="record" onClick={() => go(`review/${item.record.notebook}/${item.record.kind}/${item.record.id}`)}>
              <span class="title">{item.title}</span>
              <span class="meta">
                {item.withdrawn && <strong class="state withdrawn">{words.withdrawnByMember} · </strong>}
                {item.record.kind === 'visit' && `${words.visitKinds[visitKind(app, item) ?? 'walk']} · `}
                {names.get(item.author) ?? ''} · {formatDate(item.at)}
              </span>
            </button>
            {item.withdrawn && (
              <button name="confirm-withdrawal" class="confirm-withdrawal" onClick={() => confirmWithdrawal(item)}>
                {words.confirmWithdrawal}
              </button>
            )}
          </li>
        ))}
      </ul>
    </main>
  );
}

/** How a visit in the queue was made, read in its member's notebook when this phone holds it. */
function visitKind(app: App, item: QueueItem): string | undefined {
  const notebook = item.record.notebook;
  if (!app.core.holds(notebook)) return undefined;
  return (app.core.records(notebook, 'visits') as Keyed<{ kind?: string }>[]).find((v) => v.id === item.record.id)?.record.kind;
}

/** Takes back the approval of a record its member withdrew: a return of the approved
 * revision, with `comment` saying why (a return needs one). */
function takeBack(app: App, branch: string, item: QueueItem, comment: string): Promise<void> {
  const me = app.me;
  if (!me) return Promise.resolve();
  const decision = { record: item.record, revision: item.revision, decision: 'returned', comment, publish: false, fine_example: false };
  return app.edit(branch, (core) => {
    core.review(branch, me.principal, Date.now(), decision);
  });
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
  const ownBranch = me.principal.branch;

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
      {kind === 'visit' && ownBranch && me.principal.role === 'branch_admin' && (
        <button name="to-problem-list" onClick={() => go(`rectifications/${ownBranch}/visit/${notebook}/${id}`)}>
          {words.raiseProblem}
        </button>
      )}
      {item?.withdrawn && <WithdrawnDecision app={app} branch={branch} item={item} />}
      {item && !item.withdrawn && (
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

/** A record withdrawn after its approval: the admin confirms, with a comment offered. */
function WithdrawnDecision({ app, branch, item }: { app: App; branch: string; item: QueueItem }) {
  const words = t();
  const [comment, setComment] = useState(words.withdrawnComment);
  const [error, setError] = useState('');
  const confirmIt = async () => {
    if (!comment.trim()) {
      setError(words.commentNeeded);
      return;
    }
    try {
      await takeBack(app, branch, item, comment.trim());
      go('review');
    } catch (failure) {
      setError(explain(failure));
    }
  };
  return (
    <div class="decision notice">
      <p>{words.withdrawnNotice}</p>
      <label>
        {words.comment}
        <textarea name="comment" rows={2} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
      </label>
      {error && <p class="error">{error}</p>}
      <button name="confirm-withdrawal" class="primary" onClick={confirmIt}>
        {words.confirmWithdrawal}
      </button>
    </div>
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
