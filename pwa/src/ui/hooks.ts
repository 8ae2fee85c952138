// Hooks that tie screens to the app's state and the address bar.
import { useEffect, useState } from 'preact/hooks';
import type { App } from '../data/app';
import type { Signal } from './signal';

/** Re-renders whenever the app's documents, sync or uploads change. */
export function useApp(app: App): number {
  const [version, setVersion] = useState(app.version);
  useEffect(() => app.subscribe(() => setVersion(app.version)), [app]);
  return version;
}

export function useSignal<T>(signal: Signal<T>): T {
  const [value, setValue] = useState(signal.get());
  useEffect(() => signal.subscribe(() => setValue(signal.get())), [signal]);
  return value;
}

/** The screen named in the address's fragment: `#/lecture/new` is `['lecture', 'new']`. */
export function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

export function go(path: string): void {
  location.hash = `#/${path}`;
}
