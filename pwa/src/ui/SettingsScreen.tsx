// The person's settings: large text, language, and whether video waits for Wi-Fi.
import { useState } from 'preact/hooks';
import type { App } from '../data/app';
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
    </main>
  );
}
