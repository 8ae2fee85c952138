// The app's frame: starts the app (WASM, storage, sync), then shows the screen the address
// names, with the sync status always in view.
import { useEffect, useState } from 'preact/hooks';
import { App } from '../data/app';
import { ElectionScreen } from './ElectionScreen';
import { FeedScreen } from './FeedScreen';
import { HomeScreen } from './HomeScreen';
import { PlanScreen } from './PlanScreen';
import { PledgeScreen } from './PledgeScreen';
import { RectificationScreen } from './RectificationScreen';
import { ScheduleScreen } from './ScheduleScreen';
import { ScreeningScreen } from './ScreeningScreen';
import { RosterScreen } from './RosterScreen';
import { ServiceScreen } from './ServiceScreen';
import { SettingsScreen } from './SettingsScreen';
import { VisitScreen } from './VisitScreen';
import { ReviewItemScreen, ReviewQueueScreen } from './ReviewScreen';
import { LectureScreen } from './LectureScreen';
import { LedgerScreen } from './LedgerScreen';
import { MeetingScreen } from './MeetingScreen';
import { SignInScreen } from './SignInScreen';
import { StatisticsScreen } from './StatisticsScreen';
import { StatusBar } from './StatusBar';
import { SupervisionScreen } from './SupervisionScreen';
import { YearEndScreen } from './YearEndScreen';
import { chinaDay } from './format';
import { go, useApp, useRoute, useSignal } from './hooks';
import { language, setLanguage, t } from './i18n';
import { largeText } from './settings';

export function Root() {
  const [app, setApp] = useState<App | null>(null);
  const [failure, setFailure] = useState('');
  useEffect(() => {
    App.start().then(setApp, (error) => setFailure(String(error)));
  }, []);
  useSignal(language);
  useSignal(largeText);
  if (failure) return <main class="screen error">{failure}</main>;
  if (!app) return <main class="screen splash">{t().app}</main>;
  return <Shell app={app} />;
}

function Shell({ app }: { app: App }) {
  useApp(app);
  const route = useRoute();
  const words = t();
  const signedIn = app.me !== null;
  let screen;
  if (!signedIn || route[0] === 'sign-in' || route[0]?.startsWith('enrol=')) {
    screen = <SignInScreen app={app} />;
  } else if (route[0] === 'lecture' && route[1]) {
    screen = <LectureScreen key={route[1]} app={app} id={route[1]} />;
  } else if (route[0] === 'service' && route[1]) {
    screen = <ServiceScreen key={route[1]} app={app} id={route[1]} />;
  } else if (route[0] === 'visit' && route[1]) {
    screen = <VisitScreen key={route[1]} app={app} id={route[1]} />;
  } else if (route[0] === 'review' && route.length === 4) {
    screen = <ReviewItemScreen key={route[3]} app={app} notebook={route[1]} kind={route[2]} id={route[3]} />;
  } else if (route[0] === 'review') {
    screen = <ReviewQueueScreen app={app} />;
  } else if (route[0] === 'schedule') {
    screen = <ScheduleScreen app={app} />;
  } else if (route[0] === 'plan') {
    screen = <PlanScreen app={app} />;
  } else if (route[0] === 'roster') {
    screen = <RosterScreen app={app} />;
  } else if (route[0] === 'settings') {
    screen = <SettingsScreen app={app} />;
  } else if (route[0] === 'statistics') {
    screen = <StatisticsScreen app={app} />;
  } else if (route[0] === 'year-end' && route[1] && route[2]) {
    screen = <YearEndScreen key={route.join('/')} app={app} branch={route[1]} year={route[2]} />;
  } else if (route[0] === 'supervision' && route[1]) {
    screen = <SupervisionScreen key={route[1]} app={app} branch={route[1]} />;
  } else if (route[0] === 'meetings') {
    screen = <MeetingScreen key={route[1] ?? ''} app={app} themeDay={route[1] === 'new-theme-day'} />;
  } else if (route[0] === 'screenings') {
    screen = <ScreeningScreen key={route[1] ?? ''} app={app} id={route[1] ?? null} />;
  } else if (route[0] === 'rectifications' && (route[1] ?? app.me?.principal.branch)) {
    // `rectifications/<branch>` (one's own branch if none), or `…/visit/<notebook>/<id>` to
    // list what a visit found.
    const visit = route[2] === 'visit' && route[3] && route[4] ? { notebook: route[3], id: route[4] } : null;
    const branch = route[1] ?? app.me?.principal.branch ?? '';
    screen = <RectificationScreen key={route.join('/')} app={app} branch={branch} visit={visit} />;
  } else if (route[0] === 'ledger') {
    screen = <LedgerScreen app={app} />;
  } else if (route[0] === 'pledges') {
    // Pledges are for the years 2000 to 2099; anything else in the address means this year.
    const asked = Number(route[1]);
    const year = Number.isInteger(asked) && asked >= 2000 && asked <= 2099 ? asked : Number(chinaDay(Date.now()).slice(0, 4));
    screen = <PledgeScreen key={year} app={app} year={year} />;
  } else if (route[0] === 'elections') {
    screen = <ElectionScreen app={app} />;
  } else if (route[0] === 'feed') {
    screen = <FeedScreen app={app} />;
  } else if (overseesBranches(app)) {
    // The township's and the province's people keep no notebook: their home is the overview
    // of every branch.
    screen = <StatisticsScreen app={app} home />;
  } else {
    screen = <HomeScreen app={app} />;
  }
  return (
    <div class="shell">
      <header>
        <button class="link brand" onClick={() => go('')}>
          {words.app}
        </button>
        {app.me && <span class="who">{app.me.name}</span>}
        {signedIn ? (
          <button class="link" onClick={() => go('settings')} aria-label={words.settings}>
            ⚙ {words.settings}
          </button>
        ) : (
          <>
            <button class="link" onClick={() => largeText.set(!largeText.get())} aria-pressed={largeText.get()}>
              {words.largeText}
            </button>
            <button class="link" onClick={() => setLanguage(language.get() === 'zh' ? 'en' : 'zh')}>
              {words.language}
            </button>
          </>
        )}
      </header>
      {signedIn && <StatusBar app={app} />}
      {screen}
    </div>
  );
}

/** Whether the signed-in person supervises branches from above rather than belonging to one. */
function overseesBranches(app: App): boolean {
  const role = app.me?.principal.role;
  return role === 'township_admin' || role === 'system_admin';
}
