// The one path of the problem list no other story walks: the secretary of 合益村 answers a
// problem the township raised for the branch (乡镇督查): he moves it to done with a photo of the
// work, and is offered no verify button, since only the township verifies its own problems.
//
// usage: node township-problem.mjs ORIGIN SECRETARY_CODE PHOTO SCREENSHOTS
// prints: {"before": [button names], "after": [button names], "status", "evidence", "shots"}
import { launch, report } from './chromium.mjs';
import { phone, screenshot, signIn, statusIs, story } from './app.mjs';

const [origin, secretaryCode, photo, screenshots] = process.argv.slice(2);
const shots = [];

async function shot(page, name) {
  await screenshot(page, screenshots, name);
  shots.push(name);
}

const browser = await launch();
try {
  const secretary = await (await browser.newContext(phone)).newPage();
  const result = {};
  await story(secretary, screenshots, 'township-problem', async () => {
    await signIn(secretary, origin, secretaryCode);
    await statusIs(secretary, 'online', 0);
    await secretary.getByRole('button', { name: '问题清单', exact: true }).click();
    const item = secretary.locator('li.rectification[data-source=township]');
    await item.waitFor({ timeout: 30_000 });
    result.before = await item.locator('.step-actions button').evaluateAll((buttons) => buttons.map((b) => b.name));
    await item.locator('button[name=done]').click();
    await item.locator('.done-form input[name=photo]').setInputFiles(photo);
    await item.locator('.done-form ul.media li').waitFor();
    await item.locator('textarea[name=note]').fill('已按月整理三会一课记录');
    await shot(secretary, 'township-problem-done-form-360');
    await item.locator('button[name=confirm-done]').click();
    await secretary.locator('li.rectification[data-source=township][data-status=done]').waitFor();
    result.status = await item.getAttribute('data-status');
    result.after = await item.locator('.step-actions button').evaluateAll((buttons) => buttons.map((b) => b.name));
    result.evidence = await item.locator('ul.media li').count();
    await statusIs(secretary, 'online', 0);
    await shot(secretary, 'township-problem-done-360');
  });
  report({ ...result, shots });
} finally {
  await browser.close();
}
