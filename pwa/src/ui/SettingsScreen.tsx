// The person's settings: large text, language, and whether video waits for Wi-Fi; and the
// phone's storage: how much the app takes, how much is free, and whether the browser keeps
// the app's data when space runs out.
import { useEffect, useState } from 'preact/hooks';
import type { App } from '../data/app';
import { space, type Space } from '../data/space';
import { formatSize } from './format';
import { go } from './hooks';
import { language, setLanguage, t } from './i18n';
import { largeText } from './settings';

export function SettingsScreen({ app }: { app: App }) {
  const words = t();
  const [policy, setPolicy] = useState(app.uploads.policy());
  const wifiOnly = async (on: boolean) => {
    const next = { ...policy, large_only_unmetered: on };
    await app.uploads.setPolicy(next);
    setPolicy(next);
  };
  return (
    <main class="screen settings">
      <button class="link" onClick={() => go('')}>
        ← {words.back}
      </button>
      <h1>{words.settings}</h1>
      <label class="check">
        <input type="checkbox" name="large-text" checked={largeText.get()} onChange={(e) => largeText.set(e.currentTarget.checked)} />
        {words.largeText}
      </label>
      <label class="check">
        <input type="checkbox" name="video-on-wifi" checked={policy.large_only_unmetered} onChange={(e) => wifiOnly(e.currentTarget.checked)} />
        {words.videoOnWifi}
      </label>
      <button name="language" onClick={() => setLanguage(language.get() === 'zh' ? 'en' : 'zh')}>
        {words.language}
      </button>
      <PhoneStorage app={app} />
    </main>
  );
}

/** How much the app takes and how much is free, and whether the browser keeps the app's data. */
function PhoneStorage({ app }: { app: App }) {
  const words = t();
  // Undefined while the browser is asked; null if it does not say.
  const [room, setRoom] = useState<Space | null | undefined>(undefined);
  useEffect(() => {
    void space().then(setRoom);
  }, []);
  const kept = app.dataKept === true;
  return (
    <section class="phone-storage" data-kept={String(app.dataKept)}>
      <h2>{words.phoneStorage}</h2>
      {room && (
        <ul class="space">
          <li class="used">{words.spaceUsed(unbroken(room.used))}</li>
          <li class="free">{words.spaceFree(unbroken(room.free))}</li>
        </ul>
      )}
      {room === null && <p class="quiet">{words.spaceUnknown}</p>}
      <p class={kept ? 'kept' : 'notice'}>{kept ? words.dataKept : words.dataMayBeCleared}</p>
    </section>
  );
}

/** A size that never wraps between its figure and its unit. */
function unbroken(bytes: number): string {
  return formatSize(bytes).replace(' ', '\u00a0');
}
