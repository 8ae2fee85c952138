// What the member's forms ask of an old hand on a 360-pixel phone, in normal and in large
// type: the taps from home to a complete record sent for review (typing the title and other
// words not counted as taps, but each typed field listed), how tall the form is when it opens
// (in screens of 740 pixels), how many fields it shows before anything is unfolded, and what
// is clipped. The same steps work on any version of the forms: where a form offers "everyone
// on the roster was there", the path takes it; otherwise it ticks each member.
//
// usage: node measure-forms.mjs ORIGIN INVITE_CODE
// prints: {"forms": [{"form", "type", "taps", "typed", "height", "screens", "fields", "clipped"}, …]}
import { launch, FAKE_CAMERA, report } from './chromium.mjs';
import { clippedFields, phone, signIn } from './app.mjs';

const [origin, code] = process.argv.slice(2);
const SCREEN = phone.viewport.height;

/** The steps of each form, from home to submitted, tapping through `tap`. */
const FORMS = {
  lecture: {
    open: '记录党课',
    async fill(page, tap, type) {
      await type('input[name=title]', '学习贯彻党的二十大精神');
      const everyone = page.locator('button[name=all-present]');
      if (await everyone.count()) {
        await tap(everyone);
      } else {
        for (const box of await page.locator('input[name=attendee]').all()) if (!(await box.isChecked())) await tap(box);
      }
    },
  },
  lesson: {
    open: '录制微党课视频',
    async fill(page, tap, type) {
      await type('input[name=title]', '在外务工不忘党员身份');
      await tap(page.locator('button[name=record-video]'));
      await page.locator('.recorder.recording').waitFor();
      await page.waitForTimeout(2_000);
      await tap(page.locator('button[name=stop]'));
      await page.locator('ul.media li').first().waitFor();
    },
  },
  service: {
    open: '记录志愿服务',
    async fill(page, tap, type) {
      await type('input[name=title]', '秸秆禁烧巡逻');
    },
  },
  visit: {
    open: '记录走访',
    async fill(page, tap, type) {
      await type('input[name=household]', '曾德福家');
      await type('textarea[name=needs]', '屋顶漏雨，需要帮助修缮。');
    },
  },
};

/** Fields a person sees on the form as it opens, before unfolding anything. */
async function visibleFields(page) {
  return page.locator('main').evaluate((main) =>
    [...main.querySelectorAll('input, select, textarea')].filter((e) => {
      const box = e.getBoundingClientRect();
      const shown = e.type === 'checkbox' || e.type === 'file' ? e.closest('label') : e;
      return box.width + box.height > 0 || (shown && shown.getBoundingClientRect().height > 0);
    }).length,
  );
}

const browser = await launch(FAKE_CAMERA);
try {
  const context = await browser.newContext(phone);
  const page = await context.newPage();
  await signIn(page, origin, code);
  const forms = [];
  for (const type of ['normal', 'large']) {
    await page.evaluate((large) => localStorage.setItem('largeText', large ? '1' : '0'), type === 'large');
    await page.reload();
    for (const [form, steps] of Object.entries(FORMS)) {
      await page.goto(`${origin}/#/`);
      await page.locator('main.home').waitFor();
      let taps = 0;
      const typed = [];
      const tap = async (locator) => {
        taps++;
        await locator.click();
      };
      const typeInto = async (selector, text) => {
        typed.push(selector);
        await page.locator(selector).fill(text);
      };
      await tap(page.getByRole('button', { name: steps.open, exact: true }));
      await page.locator('main.form button[name=submit]').waitFor();
      const height = await page.evaluate(() => document.documentElement.scrollHeight);
      const fields = await visibleFields(page);
      const clipped = await clippedFields(page);
      await page.evaluate(() => {
        for (const details of document.querySelectorAll('main details')) details.open = false;
      });
      await steps.fill(page, tap, typeInto);
      await tap(page.locator('main.form button[name=submit]'));
      await page.locator('.saved').waitFor();
      forms.push({ form, type, taps, typed: typed.length, height, screens: Math.round((10 * height) / SCREEN) / 10, fields, clipped });
    }
  }
  report({ forms });
} finally {
  await browser.close();
}
