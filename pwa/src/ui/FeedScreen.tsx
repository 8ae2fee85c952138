// The branch feed (展播): published lectures and lessons, their video and sound playable, and
// kept on the phone after one sync so they play with no signal.
import type { App } from '../data/app';
import type { MediaRef } from '../data/model';
import { formatDate } from './format';
import { go } from './hooks';
import { t } from './i18n';
import { MediaList } from './MediaList';

interface FeedItem {
  title: string;
  body: string;
  speakers: string[];
  held_at: number;
  media: MediaRef[];
  fine_example: boolean;
}

export function FeedScreen({ app }: { app: App }) {
  const words = t();
  const branch = app.branchDocument();
  const feed = branch && app.core.holds(branch) ? (app.core.feed(branch) as [string, FeedItem][]) : [];
  return (
    <main class="screen feed">
      <button class="link" onClick={() => go('')}>
        ← {words.back}
      </button>
      <h1>{words.feed}</h1>
      {feed.length === 0 && <p class="quiet">{words.nothingYet}</p>}
      {feed.map(([id, item]) => (
        <article class="card feed-item" key={id} data-id={id}>
          <h2>
            {item.fine_example && <span class="badge">{words.fineExample}</span>} {item.title}
          </h2>
          <p class="meta">
            {item.speakers.join('、')} · {formatDate(item.held_at)}
          </p>
          <p>{item.body}</p>
          <MediaList app={app} media={item.media} />
        </article>
      ))}
    </main>
  );
}
