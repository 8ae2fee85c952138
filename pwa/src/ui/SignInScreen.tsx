// Signing in: an invite code (scanned from its QR code with the camera, typed, or from the
// link the QR code holds), or a phone number and password. Records already on the phone stay
// whatever happens here.
import { useEffect, useState } from 'preact/hooks';
import type { App } from '../data/app';
import { explain, t } from './i18n';
import { go } from './hooks';
import { InviteScanner } from './InviteScanner';

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
  const [scanning, setScanning] = useState(false);
  const ended = app.sync.link.link === 'sign_in' && app.session.lastUser();

  const signIn = async (how: { code: string } | { phone: string; password: string }) => {
    setBusy(true);
    setError('');
    try {
      await app.signIn(how);
      go('');
    } catch (failure) {
      setError(explain(failure));
    } finally {
      setBusy(false);
    }
  };
  const submit = (event: Event) => {
    event.preventDefault();
    void signIn(mode === 'code' ? { code } : { phone, password });
  };

  const heading = (
    <h1>
      {words.app} <small>{words.tagline}</small>
    </h1>
  );
  // While the camera looks, nothing else is on the screen. A code read signs in at once; if
  // the server refuses it, it stays in the form below with the reason.
  if (scanning) {
    return (
      <main class="screen sign-in">
        {heading}
        <InviteScanner
          onCode={(read) => {
            setScanning(false);
            setMode('code');
            setCode(read);
            void signIn({ code: read });
          }}
          onFailed={(message) => {
            setScanning(false);
            setMode('code');
            setError(message);
          }}
          onCancel={() => setScanning(false)}
        />
      </main>
    );
  }

  return (
    <main class="screen sign-in">
      {heading}
      {ended && <p class="notice">{words.signInAgain}</p>}
      <button
        type="button"
        class="big primary"
        name="scan"
        disabled={busy}
        onClick={() => {
          setError('');
          setScanning(true);
        }}
      >
        {words.scanToSignIn}
      </button>
      {busy && <p class="notice">{words.signingIn}</p>}
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
