// Steps the app tests share: a phone-sized page, signing in, reading the status line, and
// screenshots for people to look at.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

/** A cheap Android phone: 360×740 CSS pixels, touch. */
export const phone = {
  viewport: { width: 360, height: 740 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'zh-CN',
  timezoneId: 'Asia/Shanghai',
};

/** Opens the app from an invite link and signs in; resolves once the service worker holds
 * the app, so that it will start offline. */
export async function signIn(page, origin, code) {
  await page.goto(`${origin}/#enrol=${encodeURIComponent(code)}`);
  await page.getByRole('button', { name: '登录', exact: true }).click();
  await page.getByRole('heading', { name: '我的记录' }).waitFor();
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
}

/** Waits until the status line says `link` (and, if given, that `waiting` things wait). */
export async function statusIs(page, link, waiting, timeout = 30_000) {
  const selector = waiting === undefined ? `.status[data-link=${link}]` : `.status[data-link=${link}][data-waiting="${waiting}"]`;
  try {
    await page.locator(selector).waitFor({ timeout });
  } catch (error) {
    const now = await page.locator('.status').evaluate((e) => `${e.dataset.link}/${e.dataset.waiting}: ${e.textContent}`).catch(() => 'no status line');
    throw new Error(`status is not ${link}/${waiting ?? '*'} but ${now}`, { cause: error });
  }
}

export async function screenshot(page, dir, name) {
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

/** Keeps what the page logged, to print if the story fails. */
export function watch(page) {
  const lines = [];
  page.on('console', (message) => lines.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => lines.push(`pageerror: ${error.message}`));
  return lines;
}

/** Runs a story; if it fails, saves a screenshot and prints what the page logged. */
export async function story(page, dir, name, steps) {
  const lines = watch(page);
  try {
    return await steps();
  } catch (error) {
    await screenshot(page, dir, `failed-${name}`).catch(() => undefined);
    console.error(lines.join('\n'));
    throw error;
  }
}
