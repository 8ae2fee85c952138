// What the person needs to know about sync, in one line: synced; or what waits; or uploading;
// or that videos wait for Wi-Fi, as the person chose; or that records came back from the
// server; or that only signing in again lets it go on.
import type { App } from '../data/app';
import { t } from './i18n';
import { go } from './hooks';
import { formatSize } from './format';
import { waitsForWifi } from '../data/network';

export function StatusBar({ app }: { app: App }) {
  const words = t();
  const link = app.sync.link;
  const documents = app.me?.documents ?? [];
  const records = documents.reduce((n, d) => n + (app.core.holds(d.url) ? app.core.waiting(d.url) : 0), 0);
  const uploads = app.uploads.progress();
  const files = uploads.files.filter((f) => !f.done && !f.refused);
  const left = formatSize(files.reduce((n, f) => n + f.size - f.sent, 0));
  // On mobile data, what the person chose to send only on Wi-Fi is not "uploading".
  const held = link.link === 'online' ? files.filter(waitsForWifi) : [];
  let text: string;
  let tone: 'ok' | 'wait' | 'act';
  if (link.link === 'sign_in') {
    text = words.link.sign_in;
    tone = 'act';
  } else if (app.returned.length > 0) {
    text = words.returnedStatus(app.returned.length);
    tone = 'act';
  } else if (app.sync.refusal) {
    text = `${words.link.refused}：${app.sync.refusal}`;
    tone = 'act';
  } else if (held.length > 0 && held.length === files.length) {
    text = words.waitingForWifi(held.length, formatSize(held.reduce((n, f) => n + f.size - f.sent, 0)));
    tone = 'wait';
  } else if (link.link === 'online' && files.length > 0) {
    const percent = uploads.total_bytes ? Math.floor((100 * uploads.sent_bytes) / uploads.total_bytes) : 0;
    text = words.uploading(percent);
    tone = 'wait';
  } else if (records === 0 && files.length === 0 && link.link === 'online') {
    text = words.synced;
    tone = 'ok';
  } else if (records === 0 && files.length === 0) {
    text = words.link[link.link];
    tone = 'wait';
  } else {
    text = `${words.link[link.link]} · ${words.waiting(records, files.length, left)}`;
    tone = 'wait';
  }
  return (
    <div
      class={`status ${tone}`}
      role="status"
      data-link={app.sync.refusal ? 'refused' : link.link}
      data-waiting={records + files.length}
      data-wifi={held.length}
      data-returned={app.returned.length}
    >
      {tone === 'act' ? (
        // Records that came back are on home; everything else needs a new sign-in.
        <button class="link" onClick={() => go(app.returned.length > 0 && link.link !== 'sign_in' ? '' : 'sign-in')}>
          {text}
        </button>
      ) : (
        text
      )}
    </div>
  );
}
