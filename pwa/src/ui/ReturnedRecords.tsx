// Records the server refused that could not be put back (client-core's `recovery`), first on
// home: what each was, why it came back in plain words, and what the person can do: put a
// lecture, service or visit into the notebook they write in now (a moved member's go to his
// new branch, dated and attributed as they were) and check it in its form before sending, or
// discard it. Nothing goes unless they say so.
import { useState } from 'preact/hooks';
import type { App } from '../data/app';
import type { ReturnedItem } from '../data/returns';
import { formatDate } from './format';
import { go } from './hooks';
import { explain, t } from './i18n';

/** The records a member writes in their own notebook, by collection: their form's address. */
const FORMS: Record<string, string> = { lectures: 'lecture', services: 'service', visits: 'visit' };

export function ReturnedRecords({ app }: { app: App }) {
  const words = t();
  const [error, setError] = useState('');
  if (app.returned.length === 0) return null;
  const discard = (item: ReturnedItem) => {
    if (confirm(words.discardReturnedConfirm)) void app.discard(item);
  };
  const notebook = app.me?.notebook ?? null;
  // A new draft in the notebook the person writes in now, as they wrote it; the item goes
  // only once the draft is stored. The notebook is read when he taps: a move may have given
  // him a new one since the list was drawn.
  const rewrite = async (item: ReturnedItem) => {
    const me = app.me;
    const notebook = me?.notebook;
    if (!me || !notebook) return;
    setError('');
    try {
      const record = { ...item.record, submission: { state: 'draft', revision: 0, submitted_at: null }, withdrawn: null };
      const kind = FORMS[item.collection];
      // A change to a record the server keeps is made to that record; anything else is new.
      const kept = item.document === notebook && (app.core.records(notebook, item.collection) as { id: string }[]).some((r) => r.id === item.key);
      const id = await app.edit(notebook, (core) => {
        if (!kept) return core.add(notebook, me.principal, Date.now(), item.collection, record);
        core.updateRecord(notebook, me.principal, Date.now(), kind, item.key, record);
        return item.key;
      });
      await app.discard(item);
      go(`${kind}/${id}`);
    } catch (failure) {
      setError(explain(failure));
    }
  };
  return (
    <section class="card returned" data-returned={app.returned.length}>
      <h2>{words.returnedTitle(app.returned.length)}</h2>
      <ul class="records">
        {app.returned.map((item) => (
          <li key={`${item.document}/${item.collection}/${item.key}`} data-collection={item.collection} data-rule={item.rule}>
            <span class="title">{titleOf(item)}</span>
            <span class="meta">
              {words.collectionNames[item.collection] ?? item.collection}
              {typeof item.record.held_at === 'number' && ` · ${formatDate(item.record.held_at)}`}
            </span>
            <p class="why">{words.returnedBecause[item.rule] ?? words.returnedBecauseOther}</p>
            <div class="row wrap">
              {FORMS[item.collection] && notebook && (
                <button name="rewrite-returned" class="primary" onClick={() => void rewrite(item)}>
                  {item.document === notebook ? words.fixReturned : words.moveReturned}
                </button>
              )}
              <button name="discard-returned" class="link" onClick={() => discard(item)}>
                {words.discardReturned}
              </button>
            </div>
          </li>
        ))}
      </ul>
      {error && <p class="error">{error}</p>}
    </section>
  );
}

/** What the person called the record, whatever its kind. */
function titleOf(item: ReturnedItem): string {
  const record = item.record;
  for (const field of ['title', 'household', 'film', 'agenda', 'lecture_topic', 'topic', 'name']) {
    if (typeof record[field] === 'string' && record[field]) return record[field] as string;
  }
  return item.key;
}
