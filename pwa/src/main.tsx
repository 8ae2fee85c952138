// Starts the app: the service worker first (so that the next start works offline), then the
// UI, which starts client-core.
import { render } from 'preact';
import { registerSW } from 'virtual:pwa-register';
import { Root } from './ui/Root';
import './styles.css';

registerSW({ immediate: true });
// Ask the browser not to evict what was recorded here when the disk fills; it may say no,
// and everything still works (the server has what was synced).
void navigator.storage?.persist?.();
render(<Root />, document.getElementById('root')!);
