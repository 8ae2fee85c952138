// The forms as their people meet them, at 360 pixels.
//
// An old member (银发党员) records a complete lecture: the title, everyone on the roster there,
// sent for review, counted tap by tap from home. Every form and the branch's other screens,
// unfolded, in large type: nothing clipped, by element geometry. A migrant member's video lesson asks only what a remote lesson
// needs; with "video only on Wi-Fi" on and mobile data, the status line says the video waits
// for Wi-Fi, and the video goes once the phone is on Wi-Fi.
//
// Mobile data is the browser's own Network Information API (`navigator.connection`), which
// desktop Chromium does not fill: the test gives the page one that says "cellular" and later
// "wifi", as Android's Chrome does.
//
// usage: node short-paths.mjs ORIGIN SILVER_CODE MIGRANT_CODE SCREENSHOTS
// prints: {"silver": {"taps", "attendees", "roster", "title"}, "clipped": {form: […]}, "lesson": {…}}
import { launch, FAKE_CAMERA, report } from './chromium.mjs';
import { clippedFields, phone, screenshot, signIn, statusIs, story } from './app.mjs';

const [origin, silverCode, migrantCode, screenshots] = process.argv.slice(2);
const TITLE = '学习贯彻党的二十大精神';
const LESSON = '在外务工不忘党员身份';

const browser = await launch(FAKE_CAMERA);
try {
  const silver = await (await browser.newContext(phone)).newPage();
  const seen = {};
  await story(silver, screenshots, 'silver-lecture', async () => {
    await signIn(silver, origin, silverCode);
    await statusIs(silver, 'online', 0);
    await silver.evaluate(() => localStorage.setItem('largeText', '1'));
    await silver.reload();
    await silver.locator('main.home').waitFor();

    let taps = 0;
    const tap = async (locator) => {
      taps++;
      await locator.click();
    };
    await tap(silver.getByRole('button', { name: '记录党课', exact: true }));
    await silver.locator('input[name=title]').fill(TITLE);
    await tap(silver.getByRole('button', { name: /全体到场/ }));
    await screenshot(silver, screenshots, 'lecture-silver-large-360');
    await tap(silver.getByRole('button', { name: '提交审核' }));
    await silver.getByText('已保存在本机').waitFor();
    await statusIs(silver, 'online', 0);
    seen.silver = {
      taps,
      title: TITLE,
      roster: await silver.locator('input[name=attendee]').count(),
      attendees: await silver.locator('input[name=attendee]:checked').count(),
    };

    // Every form in large type, folds open: nothing clipped.
    seen.clipped = {};
    for (const [form, hash, ready] of [
      ['lecture', '#/lecture/new'],
      ['lesson', '#/lecture/new-remote'],
      ['service', '#/service/new'],
      ['visit', '#/visit/new'],
      ['settings', '#/settings'],
      ['home', '#/'],
      // And the secretary's screens, which she opens too as the branch's deputy.
      ['plan', '#/plan'],
      ['schedule', '#/schedule'],
      ['screenings', '#/screenings/new'],
      ['meetings', '#/meetings/new-theme-day'],
      ['problems', '#/rectifications'],
      ['review', '#/review'],
      ['feed', '#/feed'],
      ['pledges', '#/pledges'],
      ['elections', '#/elections'],
      ['roster', '#/roster'],
      ['ledger', '#/ledger'],
      // Measured once its figures are in, as a person reads it.
      ['statistics', '#/statistics', 'table.figures'],
    ]) {
      await silver.goto(`${origin}/${hash}`);
      await silver.locator(ready ?? 'main').first().waitFor();
      seen.clipped[form] = await clippedFields(silver);
      await screenshot(silver, screenshots, `${form}-large-unfolded-360`);
    }
  });

  const context = await browser.newContext(phone);
  await context.addInitScript(() => {
    const connection = new EventTarget();
    connection.type = 'cellular';
    connection.saveData = false;
    Object.defineProperty(Navigator.prototype, 'connection', { configurable: true, get: () => connection });
    window.__connection = connection;
  });
  const migrant = await context.newPage();
  await story(migrant, screenshots, 'lesson-on-wifi', async () => {
    await signIn(migrant, origin, migrantCode);
    await statusIs(migrant, 'online', 0);
    await migrant.goto(`${origin}/#/settings`);
    await migrant.locator('input[name=video-on-wifi]').check();

    await migrant.goto(`${origin}/#/`);
    await migrant.getByRole('button', { name: '录制微党课视频' }).click();
    await migrant.locator('input[name=title]').fill(LESSON);
    const lesson = { title: LESSON };
    // What a lesson recorded in a city far away is not asked: who was there, how many
    // villagers, where, the GPS, the venue, who spoke.
    lesson.asked = await migrant.locator('main input, main select, main textarea').evaluateAll((fields) =>
      fields.map((f) => f.name).filter((name) => name),
    );
    lesson.offered = await migrant.locator('main button[name^=record-]').evaluateAll((buttons) => buttons.map((b) => b.name));
    lesson.locate = await migrant.getByRole('button', { name: '获取定位' }).count();
    await screenshot(migrant, screenshots, 'lesson-form-360');
    await migrant.locator('button[name=record-video]').click();
    await migrant.locator('.recorder.recording').waitFor();
    await migrant.waitForTimeout(3_000);
    await migrant.locator('button[name=stop]').click();
    await migrant.locator('ul.media li').first().waitFor();
    await migrant.getByRole('button', { name: '提交审核' }).click();
    await migrant.getByText('已保存在本机').waitFor();

    // The record goes on mobile data; the video waits, and the status line says so.
    await migrant.locator('.status[data-wifi="1"]').waitFor({ timeout: 30_000 });
    lesson.status = (await migrant.locator('.status').textContent()).trim();
    lesson.mediaSays = (await migrant.locator('ul.media li .sent').first().textContent()).trim();
    await screenshot(migrant, screenshots, 'lesson-waiting-for-wifi-360');
    // It keeps waiting: a poll and more pass, nothing is sent.
    await migrant.waitForTimeout(7_000);
    lesson.stillWaiting = await migrant.locator('.status[data-wifi="1"]').count();

    // On Wi-Fi, it goes by itself.
    await migrant.evaluate(() => {
      window.__connection.type = 'wifi';
      window.__connection.dispatchEvent(new Event('change'));
    });
    await statusIs(migrant, 'online', 0, 60_000);
    lesson.statusOnWifi = (await migrant.locator('.status').textContent()).trim();
    seen.lesson = lesson;
  });
  report(seen);
} finally {
  await browser.close();
}
