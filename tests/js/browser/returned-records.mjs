// A member moved to another branch (组织关系转接) while his phone, offline, held two new
// lectures in his old notebook: on reconnect the server refuses them, the phone keeps what he
// saw, starts again from what the server keeps, and the lectures come back to him first on
// home, with why in plain words; the status line says so. He puts one into the notebook he
// writes in now (its form opens as he wrote it, and he sends it) and discards the other.
//
// usage: node returned-records.mjs ORIGIN LI_CODE ADMIN_TOKEN LI_USER TARGET_BRANCH SCREENSHOTS
// prints: {"title", "heldAt", "discarded", "first", "why", "status", "afterDiscard"}
import { launch, report } from './chromium.mjs';
import { phone, screenshot, signIn, statusIs, story, unfold } from './app.mjs';

const [origin, code, adminToken, liUser, targetBranch, screenshots] = process.argv.slice(2);
const TITLE = '在外务工也要过好组织生活';
const DISCARDED = '录错了的一条';

const browser = await launch();
try {
  const context = await browser.newContext(phone);
  const page = await context.newPage();
  const seen = await story(page, screenshots, 'returned-records', async () => {
    await signIn(page, origin, code);
    await statusIs(page, 'online', 0);

    // Offline, in his old branch's notebook.
    await context.setOffline(true);
    await statusIs(page, 'offline');
    let heldAt = '';
    for (const title of [TITLE, DISCARDED]) {
      await page.goto(`${origin}/#/`);
      await page.getByRole('button', { name: '记录党课', exact: true }).click();
      await page.locator('input[name=title]').fill(title);
      if (title === TITLE) {
        await unfold(page);
        await page.locator('input[name=held_at]').fill('2026-11-28');
        await page.locator('input[name=held_at-time]').fill('09:30');
        heldAt = '2026-11-28T09:30';
      }
      await page.getByRole('button', { name: '提交审核' }).click();
      await page.getByText('已保存在本机').waitFor();
      await page.waitForFunction(() => !location.hash.includes('/new'));
    }

    // Meanwhile the township moves him to another branch.
    const moved = await fetch(`${origin}/api/v1/users/${liUser}/move`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ branch: targetBranch }),
    });
    if (!moved.ok) throw new Error(`move: ${moved.status} ${await moved.text()}`);

    // In signal again: the lecture comes back to him, first on home.
    await context.setOffline(false);
    await page.goto(`${origin}/#/`);
    const card = page.locator('section.returned');
    await card.waitFor({ timeout: 60_000 });
    const item = card.locator('li', { hasText: TITLE });
    await item.waitFor();
    const first = await page.locator('main.home > *').first().evaluate((e) => e.classList.contains('returned'));
    const status = (await page.locator('.status').textContent()).trim();
    const why = (await item.locator('.why').textContent()).trim();
    await screenshot(page, screenshots, 'returned-records-360');

    // The one he discards goes; the other goes into his new notebook, as he wrote it.
    page.once('dialog', (dialog) => dialog.accept());
    await card.locator('li', { hasText: DISCARDED }).locator('button[name=discard-returned]').click();
    await card.locator('li', { hasText: DISCARDED }).waitFor({ state: 'detached' });
    await item.locator('button[name=rewrite-returned]').click();
    await page.waitForFunction((title) => document.querySelector('input[name=title]')?.value === title, TITLE);
    await screenshot(page, screenshots, 'returned-record-rewritten-360');
    await page.getByRole('button', { name: '提交审核' }).click();
    await page.getByText('已保存在本机').waitFor();
    await statusIs(page, 'online', 0);
    await page.goto(`${origin}/#/`);
    await page.locator('main.home').waitFor();
    return {
      title: TITLE,
      heldAt,
      discarded: DISCARDED,
      first,
      status,
      why,
      afterDiscard: await page.locator('section.returned').count(),
    };
  });
  report(seen);
} finally {
  await browser.close();
}
