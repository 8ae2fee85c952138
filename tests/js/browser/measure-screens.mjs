// What the secretary's busiest screens cost on a phone holding a year of the branch's
// records: the time from asking for a screen to seeing it, for the month's plan checklist and
// the problem list, against home, in the same run. Measured offline, from what the phone
// holds, once everything has synced.
//
// usage: node measure-screens.mjs ORIGIN INVITE_CODE RUNS
// prints: {"home": [ms, …], "plan": [ms, …], "problems": [ms, …]}
import { launch, report } from './chromium.mjs';
import { phone, signIn } from './app.mjs';

const [origin, code, runs] = process.argv.slice(2);

/** Opens the screen at `hash` and returns the milliseconds until `ready` shows. */
async function open(page, hash, ready) {
  // Leave for a screen that holds nothing first, so that each run draws the screen anew.
  await page.evaluate(() => (location.hash = '#/settings'));
  await page.locator('main').first().waitFor();
  const started = await page.evaluate(() => performance.now());
  await page.evaluate((hash) => (location.hash = hash), hash);
  await page.locator(ready).first().waitFor();
  return (await page.evaluate(() => performance.now())) - started;
}

const browser = await launch();
try {
  const context = await browser.newContext(phone);
  const page = await context.newPage();
  await signIn(page, origin, code);
  await page.getByRole('heading', { name: '我的记录' }).waitFor();
  // The year arrives by sync: wait for the year's problems (four a month) on the list.
  await page.evaluate(() => (location.hash = '#/rectifications'));
  await page.waitForFunction(() => document.querySelectorAll('main.rectifications .records > li').length >= 48, null, {
    timeout: 300_000,
  });
  await context.setOffline(true);
  const times = { home: [], plan: [], problems: [] };
  for (let run = 0; run < Number(runs); run++) {
    times.home.push(await open(page, '#/', 'main.home'));
    times.plan.push(await open(page, '#/plan', '.checklist li[data-part]'));
    times.problems.push(await open(page, '#/rectifications', 'main.rectifications .records > li'));
  }
  report(times);
} finally {
  await browser.close();
}
