// The secretary's phone with no connection: the statistics screen shows his own branch's
// figures for October and its plan standing, counted on the phone from the branch document
// it synced, by the rule the server counts by; what only the server can count shows as —.
//
// usage: node offline-figures.mjs ORIGIN INVITE_CODE SCREENSHOTS
// prints: {"plan": [4 cells], "figures": {name: text}, "notice": text}
import { launch, report } from './chromium.mjs';
import { phone, screenshot, signIn, story } from './app.mjs';

const [origin, code, screenshots] = process.argv.slice(2);
const FIGURES = ['lectures', 'lecturers', 'audience', 'volunteer_hours', 'households_visited', 'screenings', 'rectifications_overdue', 'problems_overdue'];

const browser = await launch();
try {
  const context = await browser.newContext(phone);
  const page = await context.newPage();
  const seen = await story(page, screenshots, 'offline-figures', async () => {
    await signIn(page, origin, code);
    // Everything synced (the branch document is on the phone once the plan's speaker list
    // names the roster), then no signal.
    await page.getByText('已同步').first().waitFor();
    await page.evaluate(() => (location.hash = '#/plan'));
    await page.waitForFunction(() => document.querySelectorAll('select[name=lecture_speaker] option').length > 1, null, { timeout: 60_000 });
    await context.setOffline(true);
    await page.evaluate(() => (location.hash = '#/'));
    await page.getByRole('button', { name: '统计' }).click();
    await page.locator('input[type=month]').fill('2026-10');
    const line = page.locator('table.figures[data-period="2026-10"] tr[data-branch="本支部"]');
    await line.waitFor();
    const figures = {};
    for (const figure of FIGURES) figures[figure] = (await line.locator(`[data-figure=${figure}]`).textContent()).trim();
    const plan = (await line.locator('td').allTextContents()).slice(0, 4);
    const notice = await page.locator('.notice').textContent();
    await screenshot(page, screenshots, 'statistics-offline-360');
    return { plan, figures, notice };
  });
  report(seen);
} finally {
  await browser.close();
}
