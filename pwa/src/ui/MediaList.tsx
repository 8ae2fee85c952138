// The media of a record: what each file is, how big, whether it has reached the server, and
// a preview when this phone holds its bytes.
import { useEffect, useState } from 'preact/hooks';
import type { App } from '../data/app';
import { mediaUrl } from '../data/media';
import type { MediaRef } from '../data/model';
import { formatSize } from './format';
import { waitsForWifi } from '../data/network';
import { t } from './i18n';

export function MediaList({ app, media, onRemove }: { app: App; media: MediaRef[]; onRemove?: (sha256: string) => void }) {
  const progress = app.uploads.progress();
  return (
    <ul class="media">
      {media.map((item) => {
        const file = progress.files.find((f) => f.sha256 === item.sha256);
        const sent = file ? (file.done ? 100 : Math.floor((100 * file.sent) / Math.max(1, file.size))) : null;
        return (
          <li key={item.sha256} data-sha256={item.sha256}>
            <Preview app={app} item={item} />
            <span class="meta">
              {formatSize(item.size)}
              {sent !== null && <span class="sent"> · {file?.refused ? file.refused : file && waitsForWifi(file) ? t().waitsForWifi : `${sent}%`}</span>}
            </span>
            {onRemove && (
              <button class="link" aria-label="remove" onClick={() => onRemove(item.sha256)}>
                ✕
              </button>
            )}
          </li>
        );
      })}
    </ul>
  );
}

function Preview({ app, item }: { app: App; item: MediaRef }) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    let made: string | null = null;
    void mediaUrl(app.storage, app.session, item.sha256).then((u) => setUrl((made = u)));
    return () => {
      if (made?.startsWith('blob:')) URL.revokeObjectURL(made);
    };
  }, [item.sha256]);
  const kind = item.media_type.split('/')[0];
  if (url && kind === 'image') return <img src={url} alt="" />;
  if (url && kind === 'audio') return <audio src={url} controls preload="metadata" />;
  if (url && kind === 'video') return <video src={url} controls preload="metadata" />;
  return <span class="kind">{kind === 'image' ? '🖼' : kind === 'audio' ? '🎙' : '🎬'}</span>;
}
