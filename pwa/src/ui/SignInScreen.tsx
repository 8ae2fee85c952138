// Signing in: an invite code (typed, or from the link its QR code holds), or a phone number
// and password. Records already on the phone stay whatever happens here.
import { useEffect, useState } from 'preact/hooks';
import type { App } from '../data/app';
import { explain, t } from './i18n';
import { go } from './hooks';

export function SignInScreen({ app }: { app: App }) {
  const words = t();
  const [mode, setMode] = useState<'code' | 'password'>('code');
  const [code, setCode] = useState(codeInLink() ?? '');
  // An invite link opened while the app is already open changes only the fragment.
  useEffect(() => {
    const opened = () => {
      const linked = codeInLink();
      if (linked) {
        setMode('code');
        setCode(linked);
      }
    };
    addEventListener('hashchange', opened);
    return () => removeEventListener('hashchange', opened);
  }, []);
  const [phone, setPhone] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const ended = app.sync.link.link === 'sign_in' && app.session.lastUser();

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      await app.signIn(mode === 'code' ? { code } : { phone, password });
      go('');
    } catch (failure) {
      setError(explain(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="screen sign-in">
      <h1>
        {words.app} <small>{words.tagline}</small>
      </h1>
      {ended && <p class="notice">{words.signInAgain}</p>}
      <div class="tabs" role="tablist">
        <button role="tab" aria-selected={mode === 'code'} onClick={() => setMode('code')}>
          {words.withCode}
        </button>
        <button role="tab" aria-selected={mode === 'password'} onClick={() => setMode('password')}>
          {words.withPassword}
        </button>
      </div>
      <form onSubmit={submit}>
        {mode === 'code' ? (
          <label>
            {words.inviteCode}
            <input
              name="code"
              value={code}
              autoComplete="one-time-code"
              autoCapitalize="characters"
              placeholder="7KQ4-MZ2P-XW9D"
              onInput={(e) => setCode(e.currentTarget.value)}
            />
            <small>{words.inviteHint}</small>
          </label>
        ) : (
          <>
            <label>
              {words.phone}
              <input name="phone" type="tel" inputMode="tel" value={phone} onInput={(e) => setPhone(e.currentTarget.value)} />
            </label>
            <label>
              {words.password}
              <input
                name="password"
                type="password"
                value={password}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
            </label>
          </>
        )}
        {error && <p class="error">{error}</p>}
        <button class="primary" type="submit" disabled={busy}>
          {words.signIn}
        </button>
      </form>
    </main>
  );
}

/** The invite code in the address (`#enrol=CODE`), as the QR code's link carries it. */
function codeInLink(): string | null {
  const linked = /enrol=([^&]+)/.exec(location.hash)?.[1];
  return linked ? decodeURIComponent(linked) : null;
}
