// Acceptance story 3, in the app: the secretary and his deputy both edit the monthly plan
// offline, on two phones; back online, both edits are kept on both phones.
//
// usage: node plan-offline.mjs ORIGIN SECRETARY_CODE DEPUTY_CODE SCREENSHOTS
// prints: {"secretary": {film, practice}, "deputy": {film, practice}}
import { launch, report } from './chromium.mjs';
import { phone, screenshot, signIn, statusIs, story } from './app.mjs';

const [origin, secretaryCode, deputyCode, screenshots] = process.argv.slice(2);
const FILM = '《榜样9》';
const PRACTICE = '秸秆禁烧巡逻';

const browser = await launch();
try {
  const pages = await Promise.all([0, 1].map(() => browser.newContext(phone).then((c) => c.newPage())));
  const [secretary, deputy] = pages;
  await story(secretary, screenshots, 'plan-offline', async () => {
    await signIn(secretary, origin, secretaryCode);
    await secretary.getByRole('button', { name: '本月计划' }).click();
    await secretary.locator('input[name=lecture_topic]').fill('学习贯彻党的二十届四中全会精神');
    await secretary.getByRole('button', { name: '保存', exact: true }).click();
    await secretary.getByText('已保存在本机').waitFor();
    await statusIs(secretary, 'online', 0);

    await signIn(deputy, origin, deputyCode);
    await statusIs(deputy, 'online', 0);
    await deputy.getByRole('button', { name: '本月计划' }).click();
    await deputy.waitForFunction(() => document.querySelector('input[name=lecture_topic]')?.value !== '');

    // Both out of signal; each fills in a different part.
    for (const page of pages) await page.context().setOffline(true);
    await secretary.locator('input[name=film_title]').fill(FILM);
    await secretary.getByRole('button', { name: '保存', exact: true }).click();
    await secretary.getByText('已保存在本机').waitFor();
    await deputy.locator('input[name=practice]').fill(PRACTICE);
    await deputy.getByRole('button', { name: '保存', exact: true }).click();
    await deputy.getByText('已保存在本机').waitFor();
    await screenshot(deputy, screenshots, 'plan');

    for (const page of pages) await page.context().setOffline(false);
    for (const page of pages) await statusIs(page, 'online', 0);
  });
  // Each phone reads the plan again; wait until both parts have arrived.
  const seen = {};
  for (const [name, page] of [['secretary', secretary], ['deputy', deputy]]) {
    await story(page, screenshots, `plan-${name}`, async () => {
      for (let attempt = 0; ; attempt++) {
        await page.reload();
        const film = await page.locator('input[name=film_title]').inputValue();
        const practice = await page.locator('input[name=practice]').inputValue();
        if ((film && practice) || attempt === 20) {
          seen[name] = { film, practice };
          break;
        }
        await page.waitForTimeout(1_000);
      }
    });
  }
  report(seen);
} finally {
  await browser.close();
}
