// Every main screen of the app at 360×740, for people to look at, as a secretary with a
// demo-sized branch sees it; each screen is checked for what it must show. Also the sign-in
// screen, English, and large text; and the office screens (ledger, meetings, pledges) again
// at 1280×800, as the secretary's computer in the village office shows them.
//
// usage: node screens.mjs ORIGIN SECRETARY_CODE DESK_CODE SCREENSHOTS
// prints: {"screens": [names…], "desk": [names…]}
import { launch, report } from './chromium.mjs';
import { phone, screenshot, signIn, statusIs, story } from './app.mjs';

const [origin, code, deskCode, screenshots] = process.argv.slice(2);
const shown = [];

const browser = await launch();
try {
  const page = await (await browser.newContext(phone)).newPage();
  await story(page, screenshots, 'screens', async () => {
    const shot = async (name, mustShow) => {
      await page.getByText(mustShow, { exact: false }).first().waitFor();
      await screenshot(page, screenshots, name);
      shown.push(name);
    };
    await page.goto(`${origin}/#enrol=${encodeURIComponent(code)}`);
    await shot('sign-in', '邀请码');
    await signIn(page, origin, code);
    await statusIs(page, 'online', 0);
    await shot('home-secretary', '本月计划');

    await page.getByRole('button', { name: '记录志愿服务' }).click();
    await page.locator('select[name=kind]').selectOption('elderly_care');
    await shot('record-service', '服务群众人数');
    await page.goto(`${origin}/#/`);
    await page.getByRole('button', { name: '记录走访' }).click();
    await shot('record-visit', '群众需求和发现的问题');

    await page.goto(`${origin}/#/roster`);
    await page.locator('li.person').first().waitFor();
    await page.locator('li.person button.record').filter({ hasText: '李章桂' }).click();
    await page.getByRole('button', { name: '邀请码' }).click();
    await page.locator('.invite .qr svg').waitFor();
    await shot('roster-invite', '只能用一次');
    await page.locator('ul.devices li').first().waitFor();

    // The member ledger: 李章桂 marked as a migrant member is reminded of until a call is logged.
    await page.goto(`${origin}/#/ledger`);
    await page.locator('li.person button.record').filter({ hasText: '李章桂' }).click();
    await page.locator('input[name=migrant]').check();
    await page.locator('input[name=city]').fill('广东东莞');
    await page.getByRole('button', { name: '保存', exact: true }).click();
    await page.locator('.reminders li[data-member="李章桂"]').waitFor();
    await shot('ledger-reminder', '还没有联系过');
    await page.getByLabel('备注').fill('电话联系，在厂里一切都好');
    await page.getByRole('button', { name: '记一次联系' }).click();
    await page.getByText('流动党员都联系过了').waitFor();
    await shot('ledger-contacted', '电话联系，在厂里一切都好');

    // A themed party day with its attendance, minutes and decisions.
    await page.goto(`${origin}/#/meetings`);
    await page.getByRole('button', { name: '记录会议' }).click();
    await page.locator('label.check', { hasText: '李章桂' }).locator('input').check();
    await page.locator('input[name=agenda]').fill('学习党的二十届四中全会精神');
    await page.locator('textarea[name=minutes]').fill('书记领学，党员交流心得。');
    await page.locator('textarea[name=decisions]').fill('下月开展秸秆禁烧巡逻\n走访独居老人');
    await shot('meeting-new', '会议类型');
    await page.getByRole('button', { name: '保存', exact: true }).click();
    await page.locator('li.meeting[data-kind=theme_day]').waitFor();
    await shot('meetings', '走访独居老人');

    await page.goto(`${origin}/#/pledges`);
    await page.getByLabel('承诺事项').fill('带头做好自家环境卫生\n带头顾大局谋长远');
    await page.getByRole('button', { name: '作出承诺' }).click();
    await page.locator('.pledge-collection li[data-wall=unpublished]').getByRole('button', { name: '上墙' }).click();
    await page.locator('.wall .pledge').first().waitFor();
    await shot('pledges', '名党员公开承诺');

    await page.goto(`${origin}/#/plan`);
    await shot('plan-editor', '一片：观看影片');
    await page.goto(`${origin}/#/review`);
    await shot('review-queue', '审核');
    await page.goto(`${origin}/#/feed`);
    await shot('feed-empty', '支部展播');
    await page.goto(`${origin}/#/settings`);
    await shot('settings', '视频只在 Wi-Fi 下上传');

    // Large text, then English.
    await page.locator('input[name=large-text]').check();
    await page.goto(`${origin}/#/`);
    await shot('home-large-text', '记录党课');
    await page.goto(`${origin}/#/settings`);
    await page.locator('input[name=large-text]').uncheck();
    await page.locator('button[name=language]').click();
    await page.goto(`${origin}/#/`);
    await shot('home-english', 'Record a lecture');
  });

  const desk = await (await browser.newContext({ ...phone, viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, isMobile: false, hasTouch: false })).newPage();
  const wide = [];
  await story(desk, screenshots, 'screens-desk', async () => {
    await signIn(desk, origin, deskCode);
    await statusIs(desk, 'online', 0);
    for (const [route, name, mustShow, open] of [
      ['ledger', 'ledger-1280', '电话联系，在厂里一切都好', '李章桂'],
      ['meetings', 'meetings-1280', '走访独居老人'],
      ['pledges', 'pledges-1280', '带头顾大局谋长远'],
    ]) {
      await desk.goto(`${origin}/#/${route}`);
      if (open) await desk.locator('li.person button.record').filter({ hasText: open }).click();
      await desk.getByText(mustShow, { exact: false }).first().waitFor({ timeout: 30_000 });
      await screenshot(desk, screenshots, name);
      wide.push(name);
    }
  });
  report({ screens: shown, desk: wide });
} finally {
  await browser.close();
}
