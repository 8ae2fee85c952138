// What the app costs a phone: the bytes of its first visit (everything the page fetched, as
// sent over the wire), and how long it takes to start offline, from navigation to a home
// screen showing the person's records, against the time the service worker needs to hand
// over the page itself (DOMContentLoaded) in the same run.
//
// usage: node measure-app.mjs ORIGIN INVITE_CODE RUNS
// prints: {"firstVisit": {...}, "offline": [{"shell": ms, "home": ms}, …]}
import { launch, report } from './chromium.mjs';
import { phone, signIn } from './app.mjs';

const [origin, code, runs] = process.argv.slice(2);

const browser = await launch();
try {
  const context = await browser.newContext(phone);
  const page = await context.newPage();
  await page.goto(origin);
  await page.getByText('邀请码').first().waitFor();
  // Everything the first visit fetched: the page, its scripts and styles, and the WASM.
  const firstVisit = await page.evaluate(() => {
    const entries = [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')];
    const files = entries.map((e) => ({
      name: new URL(e.name).pathname,
      transferred: e.transferSize,
      encoded: e.encodedBodySize,
      decoded: e.decodedBodySize,
    }));
    return {
      files,
      encoded: files.reduce((n, f) => n + f.encoded, 0),
      decoded: files.reduce((n, f) => n + f.decoded, 0),
    };
  });
  await signIn(page, origin, code);
  await page.getByRole('heading', { name: '我的记录' }).waitFor();

  await context.setOffline(true);
  const offline = [];
  for (let run = 0; run < Number(runs); run++) {
    await page.reload();
    await page.locator('.records li').first().waitFor();
    offline.push(
      await page.evaluate(() => ({
        shell: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
        home: performance.now(),
      })),
    );
  }
  report({ firstVisit, offline });
} finally {
  await browser.close();
}
