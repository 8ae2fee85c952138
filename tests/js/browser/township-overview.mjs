// Acceptance story 4, in the app: the township's organisation officer opens the statistics
// for October on a desk and on a phone, sees every branch with its plan and figures and the
// overdue rectification marked, drills into a number, charts the year, and opens a branch's
// year-end material, and writes the township's supervision of it.
//
// usage: node township-overview.mjs ORIGIN DESK_CODE PHONE_CODE SCREENSHOTS
// prints: {"heyi": {...}, "shuangqiao": {...}, "total": {...}, "drill": [titles], "october": n, "yearEnd": {...}}
import { launch, report } from './chromium.mjs';
import { phone, screenshot, signIn, story } from './app.mjs';

const [origin, deskCode, phoneCode, screenshots] = process.argv.slice(2);
const desk = { viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' };

/** Opens the statistics of October 2026. */
async function october(page) {
  // The township lands on its overview: no button to find first.
  await page.locator('main.statistics').waitFor();
  await page.locator('input[type=month]').fill('2026-10');
  await page.locator('table.figures[data-period="2026-10"] tr[data-branch="合益村"]').waitFor();
}

/** What a branch's row of the table says. */
async function row(page, name) {
  const line = page.locator(`table.figures tr[data-branch="${name}"]`);
  const cells = await line.locator('td').allTextContents();
  const figure = async (f) => Number(await line.locator(`button[data-figure=${f}]`).textContent());
  return {
    plan: cells.slice(0, 4),
    lectures: await figure('lectures'),
    audience: await figure('audience'),
    overdue: await figure('rectifications_overdue'),
    overdueMarked: await line.locator('td.overdue').count(),
  };
}

const browser = await launch();
try {
  const page = await (await browser.newContext(desk)).newPage();
  const seen = await story(page, screenshots, 'township-overview', async () => {
    await signIn(page, origin, deskCode);
    await october(page);
    const heyi = await row(page, '合益村');
    const shuangqiao = await row(page, '双桥村');
    const total = Number(await page.locator('tfoot button.number').first().textContent());
    await screenshot(page, screenshots, 'overview-1280');

    // The records behind 合益村's audience.
    await page.locator('tr[data-branch="合益村"] button[data-figure=audience]').click();
    await page.locator('.drill .records.behind li').first().waitFor();
    const drill = await page.locator('.drill .records.behind .title').allTextContents();
    await screenshot(page, screenshots, 'drilldown-1280');

    // Lectures month by month: October's bar.
    await page.getByRole('tab', { name: '微党课' }).click();
    const octoberBar = Number(await page.locator('svg.chart g[data-month="2026-10"]').getAttribute('data-value'));

    // 合益村's year-end material, ready to print.
    await page.getByRole('button', { name: '合益村' }).click();
    await page.getByRole('heading', { name: /合益村 2026 年度/ }).waitFor();
    const yearLectures = Number(await page.locator('dd[data-figure=lectures]').textContent());
    const tables = await page.locator('.year-end h2').allTextContents();
    await screenshot(page, screenshots, 'year-end-1280');

    // The township's supervision of 合益村: a note from a forum, and a problem already past
    // its deadline, marked overdue until it is moved on.
    await page.getByRole('button', { name: '督查', exact: true }).click();
    await page.getByRole('heading', { name: '问题清单' }).waitFor();
    await page.locator('select[name=method]').selectOption('forum');
    await page.locator('textarea[name=body]').fill('党群座谈：群众反映路灯不亮。');
    await page.getByRole('button', { name: '记下督查情况' }).click();
    await page.locator('li.note', { hasText: '路灯不亮' }).waitFor();
    await page.locator('.new-problem input[name=problem]').fill('三会一课记录不全');
    await page.locator('.new-problem input[name=measure]').fill('按月整理会议记录');
    await page.locator('.new-problem input[name=deadline]').fill('2026-01-31');
    await page.locator('.new-problem input[name=standard]').fill('资料齐全');
    await page.locator('.new-problem input[name=owner]').fill('赵杰辉');
    await page.getByRole('button', { name: '列入问题清单' }).click();
    const problem = page.locator('li.problem', { hasText: '三会一课记录不全' });
    await problem.waitFor();
    const overdueMarked = (await problem.getAttribute('class')).includes('overdue');
    await screenshot(page, screenshots, 'supervision-1280');
    await problem.getByRole('button', { name: '标为整改中' }).click();
    await page.locator('li.problem[data-status=in_progress]').waitFor();
    const supervision = { overdueMarked, status: await problem.getAttribute('data-status') };
    return { heyi, shuangqiao, total, drill, october: octoberBar, yearEnd: { lectures: yearLectures, tables }, supervision };
  });

  // The same overview on a phone: the table scrolls, the branch names stay in view.
  const small = await (await browser.newContext(phone)).newPage();
  await story(small, screenshots, 'township-overview-phone', async () => {
    await signIn(small, origin, phoneCode);
    await october(small);
    await screenshot(small, screenshots, 'overview-360');
    await small.locator('tr[data-branch="双桥村"] button[data-figure=lectures]').click();
    await small.locator('.drill .records.behind li').first().waitFor();
    await screenshot(small, screenshots, 'drilldown-360');
  });
  report(seen);
} finally {
  await browser.close();
}
