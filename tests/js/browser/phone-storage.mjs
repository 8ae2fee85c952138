// The phone's storage, in the app, on two phones of 李章桂. The browser's own storage API is
// wrapped by an init script (as a full phone's browser would answer), never switched in the
// app.
//
// On a full phone: persistent storage is asked for at sign-in, not before, and settings says
// the browser may clear the data and how little is free; a video recording is refused before
// the camera opens, with nothing stored; with room it records, and when the space runs low
// while recording it stops and keeps what it has, leaving no pieces behind.
//
// On a phone holding a version-1 database (an older app): the app upgrades it keeping what it
// held; persistent storage granted at sign-in shows in settings; a video lesson cut off by
// closing the page is offered back on the next start, kept into its form and submitted; a
// second one is dropped, and its pieces are gone.
//
// usage: node phone-storage.mjs ORIGIN FULL_PHONE_CODE PHONE_CODE SCREENSHOTS
// prints: {"title": …, "sha256": …, "upgraded": {…}}
import { launch, FAKE_CAMERA, blankPageAt, report } from './chromium.mjs';
import { phone, screenshot, statusIs, story } from './app.mjs';

const [origin, fullCode, code, screenshots] = process.argv.slice(2);
const TITLE = '在外务工也要过好组织生活';

// The browser's storage and camera as seen by the app, counted, with the space free set by
// the test (`__free`, bytes; the real figure when unset) and the answer to `persist()`.
function wrapBrowser({ granted, free }) {
  window.__calls = { persist: 0, getUserMedia: 0 };
  window.__free = free;
  const { storage, mediaDevices } = navigator;
  if (!storage || !mediaDevices) return;
  storage.persist = async () => {
    window.__calls.persist++;
    return granted;
  };
  const estimate = storage.estimate.bind(storage);
  storage.estimate = async () => {
    const real = await estimate();
    return window.__free === null ? real : { ...real, quota: real.usage + window.__free };
  };
  const getUserMedia = mediaDevices.getUserMedia.bind(mediaDevices);
  mediaDevices.getUserMedia = (constraints) => {
    window.__calls.getUserMedia++;
    return getUserMedia(constraints);
  };
}

const browser = await launch(FAKE_CAMERA);
try {
  const full = await browser.newContext(phone);
  await full.addInitScript(wrapBrowser, { granted: false, free: 12_000_000 });
  const fullPage = await full.newPage();
  await story(fullPage, screenshots, 'phone-storage-full', async () => {
    await signInCounted(fullPage, fullCode);
    await openSettings(fullPage);
    await fullPage.locator('.phone-storage[data-kept=false]').getByText('浏览器可能会清除本机的记录').waitFor();
    await fullPage.locator('.phone-storage .free').getByText('12.0 MB').waitFor();
    await screenshot(fullPage, screenshots, 'settings-storage-full');

    await fullPage.getByRole('button', { name: '返回' }).click();
    await fullPage.getByRole('button', { name: '录制微党课视频' }).click();
    await fullPage.getByRole('button', { name: '现场录像' }).click();
    const refusal = fullPage.locator('.recorder .error');
    await refusal.getByText('手机空间不够').waitFor();
    const said = (await refusal.textContent()).replace(/\s+/g, ' ');
    if (!said.includes('12.0 MB') || !said.includes('删掉')) throw new Error(`the refusal does not say what is free and what to do: ${said}`);
    await screenshot(fullPage, screenshots, 'recording-refused');
    if ((await fullPage.locator('.recorder.recording').count()) !== 0) throw new Error('a recording started');
    await expectCalls(fullPage, 'getUserMedia', 0);
    await expectStored(fullPage, { blobs: 0, pieces: 0, recordings: 0 });

    // With room it records; the space running low while recording stops and keeps it.
    await fullPage.evaluate(() => (window.__free = 10_000_000_000));
    await fullPage.getByRole('button', { name: '现场录像' }).click();
    await fullPage.locator('.recorder.recording video').waitFor();
    await fullPage.waitForTimeout(2_000);
    await fullPage.evaluate(() => (window.__free = 7_000_000));
    await fullPage.locator('.recorder .stopped-for-space').waitFor({ timeout: 15_000 });
    await fullPage.locator('ul.media li[data-sha256]').waitFor();
    await expectCalls(fullPage, 'getUserMedia', 1);
    await expectStored(fullPage, { blobs: 1, pieces: 0, recordings: 0 });
  });
  await full.close();

  const context = await browser.newContext(phone);
  await context.addInitScript(wrapBrowser, { granted: true, free: null });
  // An older app's database, with something in it.
  const older = await blankPageAt(context, origin, '/__test/version-1');
  await older.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('tianjian', 1);
    open.onupgradeneeded = () => {
      const db = open.result;
      db.createObjectStore('chunks', { autoIncrement: true }).createIndex('document', 'document');
      for (const name of ['syncStates', 'settings', 'pieces']) db.createObjectStore(name);
      db.createObjectStore('blobs', { keyPath: 'sha256' });
      open.transaction.objectStore('settings').put('kept from version 1', 'probe');
    };
    open.onsuccess = () => {
      open.result.close();
      resolve();
    };
    open.onerror = () => reject(open.error);
  }));
  await older.close();

  let page = await context.newPage();
  const result = await story(page, screenshots, 'phone-storage', async () => {
    await signInCounted(page, code);
    const upgraded = await page.evaluate(() => new Promise((resolve, reject) => {
      const open = indexedDB.open('tianjian');
      open.onsuccess = () => {
        const db = open.result;
        const probe = db.transaction('settings').objectStore('settings').get('probe');
        probe.onsuccess = () => {
          resolve({ version: db.version, stores: [...db.objectStoreNames], probe: probe.result });
          db.close();
        };
      };
      open.onerror = () => reject(open.error);
    }));
    await openSettings(page);
    await page.locator('.phone-storage[data-kept=true]').getByText('浏览器也会保留本机的记录').waitFor();
    await page.locator('.phone-storage .free').waitFor();
    await screenshot(page, screenshots, 'settings-storage');
    await page.getByRole('button', { name: '返回' }).click();

    // A lesson recorded until the page closes: kept from home, into its form, and submitted.
    page = await recordUntilClosed(page, 2);
    const card = page.locator('.card.interrupted');
    await card.getByText('上次录制中断了（视频，约').waitFor();
    await screenshot(page, screenshots, 'interrupted-recording');
    await card.getByRole('button', { name: '保留' }).click();
    const video = page.locator('ul.media li[data-sha256]');
    await video.locator('video').waitFor();
    if (!(await page.evaluate(() => location.hash)).startsWith('#/lecture/new-remote')) throw new Error('the lesson form did not open');
    await expectStored(page, { pieces: 0, recordings: 0 });
    const sha256 = await video.getAttribute('data-sha256');
    await page.locator('input[name=title]').fill(TITLE);
    await page.locator('textarea[name=summary]').fill('讲在外地也按时参加支部的线上组织生活。');
    await page.getByRole('button', { name: '提交审核' }).click();
    await page.getByText('已保存在本机').waitFor();
    await statusIs(page, 'online', 0, 60_000);
    await page.getByRole('button', { name: '返回' }).click();

    // A second one, dropped.
    page = await recordUntilClosed(page, 1);
    await page.locator('.card.interrupted').getByText('上次录制中断了').waitFor();
    page.once('dialog', (dialog) => dialog.accept());
    await page.locator('.card.interrupted').getByRole('button', { name: '丢弃' }).click();
    await page.locator('.card.interrupted').waitFor({ state: 'detached' });
    await expectStored(page, { pieces: 0, recordings: 0 });
    await page.reload();
    await page.locator('main.home').waitFor();
    if ((await page.locator('.card.interrupted').count()) !== 0) throw new Error('the dropped recording is offered again');
    return { title: TITLE, sha256, upgraded };
  });
  report(result);
} finally {
  await browser.close();
}

/** Signs in from an invite link; the browser is asked to keep the data then, not before. */
async function signInCounted(page, invite) {
  await page.goto(`${origin}/#enrol=${encodeURIComponent(invite)}`);
  const signIn = page.getByRole('button', { name: '登录', exact: true });
  await signIn.waitFor();
  await expectCalls(page, 'persist', 0);
  await signIn.click();
  await page.locator('main.home').waitFor();
  await page.waitForFunction(() => window.__calls.persist === 1);
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
}

async function openSettings(page) {
  await page.getByRole('button', { name: '设置' }).click();
  await page.locator('.phone-storage').waitFor();
}

/**
 * Starts a video lesson on home's button, records until `pieces` pieces are stored, closes the
 * page and opens the app again in a new one, which it returns.
 */
async function recordUntilClosed(page, pieces) {
  await page.getByRole('button', { name: '录制微党课视频' }).click();
  await page.getByRole('button', { name: '现场录像' }).click();
  await page.locator('.recorder.recording video').waitFor();
  const deadline = Date.now() + 30_000;
  while ((await stored(page)).pieces < pieces) {
    if (Date.now() > deadline) throw new Error(`fewer than ${pieces} pieces stored while recording`);
    await page.waitForTimeout(500);
  }
  await page.close();
  const next = await page.context().newPage();
  await next.goto(origin);
  await next.locator('main.home').waitFor();
  return next;
}

async function expectCalls(page, what, count) {
  const calls = await page.evaluate((what) => window.__calls[what], what);
  if (calls !== count) throw new Error(`${what} was called ${calls} times, not ${count}`);
}

/** How many blobs, pieces and recording notes the app's IndexedDB holds. */
function stored(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('tianjian');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const names = ['blobs', 'pieces', 'recordings'];
      const tx = db.transaction(names);
      const counts = {};
      for (const name of names) {
        const request = tx.objectStore(name).count();
        request.onsuccess = () => (counts[name] = request.result);
      }
      tx.oncomplete = () => {
        db.close();
        resolve(counts);
      };
    };
  }));
}

async function expectStored(page, expected) {
  const counts = await stored(page);
  for (const [name, count] of Object.entries(expected)) {
    if (counts[name] !== count) throw new Error(`IndexedDB holds ${JSON.stringify(counts)}, not ${JSON.stringify(expected)}`);
  }
}
