// An election (评选) in the app, from creation to published result: the secretary sets up
// 发展之星 with two candidates from the roster; three members vote on their phones; the
// server counts once it closes; every phone shows the result.
//
// usage: node election.mjs ORIGIN SECRETARY_CODE LI_CODE DEPUTY_CODE SCREENSHOTS
// prints: {"results": [{李章桂: votes, 贺俊爱: votes, ballots}, ...]}
import { launch, report } from './chromium.mjs';
import { phone, screenshot, signIn, statusIs, story } from './app.mjs';

const [origin, secretaryCode, liCode, deputyCode, screenshots] = process.argv.slice(2);
const desk = { viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' };

const browser = await launch();
try {
  const secretary = await (await browser.newContext(phone)).newPage();
  const li = await (await browser.newContext(phone)).newPage();
  const deputy = await (await browser.newContext(desk)).newPage();

  await story(secretary, screenshots, 'election-create', async () => {
    await signIn(secretary, origin, secretaryCode);
    await secretary.getByRole('button', { name: '评选' }).click();
    await secretary.getByRole('button', { name: '发起评选' }).click();
    await secretary.getByLabel('评选名称').fill('发展之星');
    await secretary.getByRole('checkbox', { name: '李章桂' }).check();
    await secretary.getByRole('checkbox', { name: '贺俊爱' }).check();
    await screenshot(secretary, screenshots, 'election-new-360');
    await secretary.getByRole('button', { name: '发起', exact: true }).click();
    await secretary.locator('.election h2', { hasText: '发展之星' }).waitFor();
    await statusIs(secretary, 'online', 0);
  });

  // Each votes: li and the secretary for 贺俊爱, the deputy for 李章桂.
  for (const [page, code, choice, name] of [
    [li, liCode, '贺俊爱', 'li'],
    [deputy, deputyCode, '李章桂', 'deputy'],
    [secretary, null, '贺俊爱', 'secretary'],
  ]) {
    await story(page, screenshots, `election-vote-${name}`, async () => {
      if (code) {
        await signIn(page, origin, code);
        await page.getByRole('button', { name: '评选' }).click();
      }
      await page.locator('.election h2', { hasText: '发展之星' }).waitFor({ timeout: 30_000 });
      await page.getByRole('radio', { name: choice }).check();
      await page.getByRole('button', { name: '投票', exact: true }).click();
      await page.getByText('已投票').first().waitFor();
      await statusIs(page, 'online', 0);
    });
  }
  await screenshot(deputy, screenshots, 'election-ballot-1280');

  // The test closes and counts the election on the server; the result reaches every phone.
  const results = [];
  for (const [page, name, size] of [
    [secretary, 'secretary', 360],
    [li, 'li', 360],
    [deputy, 'deputy', 1280],
  ]) {
    await story(page, screenshots, `election-result-${name}`, async () => {
      await page.locator('.election .result').waitFor({ timeout: 120_000 });
      const votes = {};
      for (const item of await page.locator('.election .result li').all()) {
        votes[await item.getAttribute('data-candidate')] = Number(await item.getAttribute('data-votes'));
      }
      results.push(votes);
      if (name !== 'li') await screenshot(page, screenshots, `election-result-${size}`);
    });
  }
  report({ results });
} finally {
  await browser.close();
}
