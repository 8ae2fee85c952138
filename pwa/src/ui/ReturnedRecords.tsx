// Records the server refused that could not be put back (client-core's `recovery`), first on
// home: what each was, why it came back in plain words, and what the person can do. Nothing
// goes unless they say so.
import type { App } from '../data/app';
import type { ReturnedItem } from '../data/returns';
import { formatDate } from './format';
import { t } from './i18n';

export function ReturnedRecords({ app }: { app: App }) {
  const words = t();
  if (app.returned.length === 0) return null;
  const discard = (item: ReturnedItem) => {
    if (confirm(words.discardReturnedConfirm)) void app.discard(item);
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
            <button name="discard-returned" class="link" onClick={() => discard(item)}>
              {words.discardReturned}
            </button>
          </li>
        ))}
      </ul>
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
