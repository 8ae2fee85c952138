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
 * the app, so that it will start offline. A member lands on home, the township on the
 * overview of its branches. */
export async function signIn(page, origin, code) {
  await page.goto(`${origin}/#enrol=${encodeURIComponent(code)}`);
  await page.getByRole('button', { name: '登录', exact: true }).click();
  await page.locator('main.home, main.statistics').waitFor();
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

/** What on the screen cannot be read whole at this width, by element geometry: anything
 * that reaches past the screen's edges, a date, time or choice field narrower than what it
 * shows (Chromium draws them clipped, and their scroll width does not say so), a button or
 * heading whose words run out of its box. Folded sections are opened first. Returns one line
 * per clipped element; empty when nothing is. */
export async function clippedFields(page) {
  return page.evaluate(() => {
    for (const details of document.querySelectorAll('main details')) details.open = true;
    const width = document.documentElement.clientWidth;
    const clipped = [];
    const name = (e) => `${e.tagName.toLowerCase()}${e.name ? `[name=${e.name}]` : ''} "${(e.textContent || e.value || '').trim().slice(0, 24)}"`;
    // What scrolls sideways by design (the statistics' table in its frame) is reached by
    // scrolling, not clipped: the frame itself must fit, what it holds may not.
    const scrolls = (e) => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
    const inScroller = (e) => {
      for (let up = e.parentElement; up && up.tagName !== 'MAIN'; up = up.parentElement) {
        if (scrolls(up)) return true;
      }
      return false;
    };
    for (const e of document.querySelectorAll('main *')) {
      const box = e.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || inScroller(e)) continue;
      if (box.left < -1 || box.right > width + 1) {
        clipped.push(`${name(e)} reaches ${Math.round(box.left)}..${Math.round(box.right)} of ${width}`);
        continue;
      }
      const drawn = e.tagName === 'SELECT' || (e.tagName === 'INPUT' && ['date', 'time', 'datetime-local', 'month'].includes(e.type));
      if (drawn) {
        // The width the field asks for when free to choose: its whole value (for a choice,
        // the chosen option only).
        const free = e.cloneNode(true);
        if (e.tagName === 'SELECT') free.replaceChildren(e.options[e.selectedIndex]?.cloneNode(true) ?? '');
        free.style.cssText += ';width:auto;min-width:0;max-width:none;position:absolute;visibility:hidden';
        e.parentElement.append(free);
        const needs = free.offsetWidth;
        free.remove();
        if (needs > e.offsetWidth + 1) clipped.push(`${name(e)} needs ${needs}px, has ${e.offsetWidth}px`);
      } else if (['BUTTON', 'LABEL', 'LEGEND', 'H1', 'H2', 'H3', 'SUMMARY'].includes(e.tagName) && e.scrollWidth > e.clientWidth + 1) {
        clipped.push(`${name(e)} needs ${e.scrollWidth}px, has ${e.clientWidth}px`);
      }
    }
    return clipped;
  });
}

/** Opens every folded part of the form on screen, as a person taps 更多 to reach a field
 * with a good default. */
export async function unfold(page) {
  // The form may still be on its way from the screen tapped before it.
  await page.locator('main details.more').first().waitFor({ state: 'attached' });
  await page.locator('main details').evaluateAll((folds) => folds.forEach((fold) => (fold.open = true)));
}
