// The pledge wall (承诺墙) in the app: 李章桂 writes his pledge for the year on his phone with
// no signal; once it has synced, the secretary, at the office computer, sees it among the
// pledges to collect and puts it on the wall, and 李章桂's phone shows it there. He then
// changes it; the secretary sees it marked changed and republishes it: the wall shows the
// new text, once.
//
// usage: node pledge-wall.mjs ORIGIN SECRETARY_CODE LI_CODE YEAR SCREENSHOTS
// prints: {"first": [commitments on li's wall], "second": [...], "pledged": "N", "states": [...]}
import { launch, report } from './chromium.mjs';
import { phone, screenshot, signIn, statusIs, story } from './app.mjs';

const [origin, secretaryCode, liCode, year, screenshots] = process.argv.slice(2);
const desk = { viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' };

/** The commitments the wall on `page` shows for `name`, once it shows `expected` of them. */
async function onWall(page, name, first) {
  const card = page.locator(`.wall .pledge[data-member="${name}"]`);
  await card.locator('li', { hasText: first }).waitFor({ timeout: 60_000 });
  return card.locator('li').allTextContents();
}

const browser = await launch();
try {
  const liContext = await browser.newContext(phone);
  const li = await liContext.newPage();
  const secretary = await (await browser.newContext(desk)).newPage();
  const states = [];

  await story(li, screenshots, 'pledge-write', async () => {
    await signIn(li, origin, liCode);
    await li.getByRole('button', { name: '承诺' }).click();
    await li.getByRole('heading', { name: `${year} 年承诺墙` }).waitFor();
    await liContext.setOffline(true);
    await li.getByLabel('承诺事项').fill('带头学习宣传党的政策\n带头遵守村规民约');
    await li.getByRole('button', { name: '作出承诺' }).click();
    await li.getByText('已保存在本机').waitFor();
    await statusIs(li, 'offline');
    await screenshot(li, screenshots, 'pledge-mine-360');
    await liContext.setOffline(false);
    await statusIs(li, 'online', 0, 60_000);
  });

  await story(secretary, screenshots, 'pledge-publish', async () => {
    await signIn(secretary, origin, secretaryCode);
    await secretary.getByRole('button', { name: '承诺' }).click();
    const mine = secretary.locator('.pledge-collection li[data-member="李章桂"]');
    await mine.waitFor({ timeout: 60_000 });
    states.push(await mine.getAttribute('data-wall'));
    await mine.getByRole('button', { name: '上墙' }).click();
    await secretary.locator('.pledge-collection li[data-member="李章桂"][data-wall="published"]').waitFor();
    states.push('published');
    await statusIs(secretary, 'online', 0);
  });

  const first = await story(li, screenshots, 'pledge-wall', async () => {
    const shown = await onWall(li, '李章桂', '带头学习宣传党的政策');
    await screenshot(li, screenshots, 'pledge-wall-360');
    // He sharpens his pledge.
    await li.getByLabel('承诺事项').fill('带头学习宣传党的政策，每月讲一次微党课\n带头遵守村规民约');
    await li.getByRole('button', { name: '保存' }).click();
    await li.getByText('已保存在本机').waitFor();
    await statusIs(li, 'online', 0);
    return shown;
  });

  await story(secretary, screenshots, 'pledge-republish', async () => {
    const changed = secretary.locator('.pledge-collection li[data-member="李章桂"][data-wall="changed"]');
    await changed.waitFor({ timeout: 60_000 });
    states.push('changed');
    await screenshot(secretary, screenshots, 'pledge-collect-1280');
    await changed.getByRole('button', { name: '重新上墙' }).click();
    await secretary.locator('.pledge-collection li[data-member="李章桂"][data-wall="published"]').waitFor();
    await statusIs(secretary, 'online', 0);
  });

  const second = await story(li, screenshots, 'pledge-wall-again', async () => {
    return onWall(li, '李章桂', '每月讲一次微党课');
  });
  const pledged = await li.locator('.wall [data-on-wall]').getAttribute('data-on-wall');
  report({ first, second, pledged, states });
} finally {
  await browser.close();
}
