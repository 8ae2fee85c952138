// Acceptance story 1, in the app: 李章桂 signs in with his invite, goes out of signal, records
// a lecture with attendance, a photo and an audio clip, reloads the app still offline, edits
// the summary, and comes back into signal; the app syncs by itself.
//
// usage: node offline-lecture.mjs ORIGIN INVITE_CODE PHOTO AUDIO SCREENSHOTS
// prints: {"title": …, "summary": …, "attendees": N, "offlineStart": true}
import { launch, report } from './chromium.mjs';
import { phone, screenshot, signIn, statusIs, story, unfold } from './app.mjs';

const [origin, code, photo, audio, screenshots] = process.argv.slice(2);
const TITLE = '忆扶贫故事、做合格党员、推乡村振兴';
const SUMMARY = '结合扶贫经历讲身份意识、宗旨意识、服务意识。群众提了三个问题。';

const browser = await launch();
try {
  const context = await browser.newContext({
    ...phone,
    permissions: ['geolocation'],
    geolocation: { latitude: 30.94, longitude: 113.52, accuracy: 12 },
  });
  const page = await context.newPage();
  await story(page, screenshots, 'offline-lecture', async () => {
    await signIn(page, origin, code);
    await statusIs(page, 'online', 0);
    await screenshot(page, screenshots, 'home');

    // At the 屋场坪: no signal.
    await context.setOffline(true);
    await statusIs(page, 'offline');
    await page.getByRole('button', { name: '记录党课' }).click();
    await page.locator('input[name=title]').fill(TITLE);
    await unfold(page);
    await page.locator('select[name=venue]').selectOption('courtyard');
    await page.locator('input[name=place]').fill('合益村屋场坪');
    await page.getByRole('button', { name: '获取定位' }).click();
    await page.getByText('已定位').waitFor();
    const attendees = page.locator('input[name=attendee]');
    const count = await attendees.count();
    for (let i = 0; i < count; i++) await attendees.nth(i).check();
    await page.locator('input[name=audience]').fill('30');
    await page.locator('textarea[name=summary]').fill('讲身份意识、宗旨意识、服务意识。');
    await page.locator('input[name=photo]').setInputFiles(photo);
    await page.locator('input[name=audio]').setInputFiles(audio);
    await page.locator('ul.media li').nth(1).waitFor();
    await page.getByRole('button', { name: '保存草稿' }).click();
    await page.getByText('已保存在本机').waitFor();
    await screenshot(page, screenshots, 'record-lecture');

    // He closes the app and opens it again, still offline: it starts from the service worker
    // and shows the record.
    await page.reload();
    const offlineStart = await page.evaluate(() => navigator.serviceWorker.controller !== null && !navigator.onLine);
    await page.waitForFunction((title) => document.querySelector('input[name=title]')?.value === title, TITLE);
    await statusIs(page, 'offline');
    await page.getByRole('button', { name: '返回' }).click();
    await page.getByText(TITLE).click();
    await unfold(page);
    await page.locator('textarea[name=summary]').fill(SUMMARY);
    await page.getByRole('button', { name: '提交审核' }).click();
    await page.getByText('已保存在本机').waitFor();

    // Two days later, in signal: everything goes by itself.
    await context.setOffline(false);
    await statusIs(page, 'online', 0, 60_000);
    await page.getByRole('button', { name: '返回' }).click();
    await page.getByText('待审核').waitFor();
    await page.locator('.files[data-sent="2"][data-files="2"]').waitFor();
    await screenshot(page, screenshots, 'my-records');
    report({ title: TITLE, summary: SUMMARY, attendees: count, offlineStart });
  });
} finally {
  await browser.close();
}
