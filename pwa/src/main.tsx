// Starts the app: the service worker first (so that the next start works offline), then the
// UI, which starts client-core.
import { render } from 'preact';
import { registerSW } from 'virtual:pwa-register';
import { Root } from './ui/Root';
import './styles.css';

registerSW({ immediate: true });
// Asking the browser to keep the app's data when the disk fills is the app's, at sign-in
// (App.keepData), not before there is anything to keep.
render(<Root />, document.getElementById('root')!);
