// Acceptance story 6, in the app: the secretary of 合益村 runs the month. He sets the plan; 李章桂,
// on his own phone, records the planned lecture, the planned patrol and a household visit from
// the plan's checklist; the secretary approves them (the lecture with a comment, as a fine
// example), puts the visit's problem on the problem list, records the screening and the
// themed party day, and moves the problem to done with a photo; the township verifies it on
// its desk. Along the way 李章桂 sees the comment, edits his approved lecture (the approved
// version still counts) and withdraws his approved visit, which the secretary confirms. Both
// phones read the plan's checklist before the screening and at the end.
//
// usage: node month-story.mjs ORIGIN SECRETARY_CODE SECRETARY_DESK_CODE LI_CODE TOWNSHIP_CODE PHOTO SCREENSHOTS
// prints: {"month", "before": {secretary, li}, "after": {secretary, li}, "prefilled": {...}, "seen": {...}, "shots": [...]}
import { launch, report } from './chromium.mjs';
import { phone, screenshot, signIn, statusIs, story, unfold } from './app.mjs';

const [origin, secretaryCode, deskCode, liCode, townshipCode, photo, screenshots] = process.argv.slice(2);
const TOPIC = '学习贯彻党的二十届四中全会精神';
const FILM = '《榜样9》';
const PRACTICE = '秸秆禁烧巡逻';
const NEEDS = '独居老人李大爷家屋顶漏雨';
const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
const PARTS = ['lecture', 'film', 'practice', 'theme_day'];
const desk = { viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' };
const shots = [];

async function shot(page, name) {
  await screenshot(page, screenshots, name);
  shots.push(name);
}

/** The checklist's parts on the page, done or not, in order. */
async function checklist(page) {
  const list = page.locator('ul.checklist').first();
  await list.waitFor();
  return Promise.all(PARTS.map(async (part) => (await list.locator(`li[data-part=${part}]`).getAttribute('data-done')) === 'true'));
}

/** Waits until the checklist shows `parts` done (synced from the other phone), then reads it. */
async function checklistOnceDone(page, parts) {
  const list = page.locator('ul.checklist').first();
  for (const part of parts) await list.locator(`li[data-part=${part}][data-done=true]`).waitFor({ timeout: 30_000 });
  return checklist(page);
}

const browser = await launch();
try {
  const secretary = await (await browser.newContext(phone)).newPage();
  const li = await (await browser.newContext(phone)).newPage();
  const township = await (await browser.newContext(desk)).newPage();
  const prefilled = {};
  const seen = {};
  const before = {};
  const after = {};

  await story(secretary, screenshots, 'month-plan', async () => {
    await signIn(secretary, origin, secretaryCode);
    await statusIs(secretary, 'online', 0);
    await secretary.getByRole('button', { name: '本月计划' }).click();
    await secretary.locator('input[name=lecture_topic]').fill(TOPIC);
    await secretary.locator('input[name=film_title]').fill(FILM);
    await secretary.locator('input[name=practice]').fill(PRACTICE);
    await secretary.locator('input[name=theme_day]').fill(today);
    await secretary.getByRole('button', { name: '保存', exact: true }).click();
    await secretary.getByText('已保存在本机').waitFor();
    seen.planned = await checklist(secretary);
    await shot(secretary, 'plan-checklist-empty-360');
    await statusIs(secretary, 'online', 0);
  });

  await story(li, screenshots, 'month-member', async () => {
    await signIn(li, origin, liCode);
    await statusIs(li, 'online', 0);
    await li.locator('.home ul.checklist li[data-part=lecture]').waitFor();
    await shot(li, 'home-plan-member-360');

    // The planned lecture, from the checklist: its topic is the title, linked to the plan.
    await li.locator('button[name=open-plan]').click();
    await li.locator('button[name=record-lecture]').click();
    prefilled.lectureTitle = await li.locator('input[name=title]').inputValue();
    prefilled.lecturePlan = await li.locator('input[name=plan]').isChecked();
    await unfold(li);
    await li.locator('fieldset.attendance input[name=attendee]').nth(0).check();
    await li.locator('fieldset.attendance input[name=attendee]').nth(1).check();
    await li.locator('input[name=audience]').fill('20');
    await li.locator('input[name=place]').fill('屋场坪');
    await li.locator('button[name=submit]').click();
    await li.getByText('已保存在本机').waitFor();

    // The planned patrol.
    await li.goto(`${origin}/#/plan`);
    await li.locator('button[name=record-practice]').click();
    prefilled.serviceTitle = await li.locator('input[name=title]').inputValue();
    await unfold(li);
    await li.locator('input[name=place]').fill('后山林区');
    await li.locator('button[name=submit]').click();
    await li.getByText('已保存在本机').waitFor();

    // A household visit that found a problem.
    await li.goto(`${origin}/#/`);
    await li.getByRole('button', { name: '记录走访' }).click();
    await li.locator('input[name=household]').fill('李大爷家');
    await li.locator('textarea[name=needs]').fill(NEEDS);
    await li.locator('button[name=submit]').click();
    await li.getByText('已保存在本机').waitFor();
    await statusIs(li, 'online', 0);
  });

  await story(secretary, screenshots, 'month-review', async () => {
    await secretary.goto(`${origin}/#/review`);
    const queue = secretary.locator('.review-queue ul.records > li');
    await queue.nth(2).waitFor({ timeout: 30_000 });
    await shot(secretary, 'review-queue-360');
    // The lecture: approved with a comment, a fine example.
    await secretary.locator('button.record', { hasText: TOPIC }).click();
    await secretary.locator('textarea[name=comment]').fill('联系实际，讲得好');
    await secretary.locator('input[name=fine]').check();
    await secretary.locator('button[name=approve]').click();
    await secretary.locator('button.record', { hasText: PRACTICE }).click();
    await secretary.locator('button[name=approve]').click();
    // The visit: its problem onto the list, and the visit approved.
    await secretary.locator('button.record', { hasText: '李大爷家' }).click();
    await secretary.locator('button[name=to-problem-list]').click();
    prefilled.problem = await secretary.locator('textarea[name=problem]').inputValue();
    await secretary.locator('input[name=measure]').fill('联系施工队修缮屋顶');
    await secretary.locator('input[name=standard]').fill('屋顶不再漏雨');
    await secretary.locator('select[name=responsible]').selectOption({ label: '李章桂' });
    await shot(secretary, 'rectification-new-360');
    await secretary.getByRole('button', { name: '列入问题清单' }).click();
    await secretary.locator('li.rectification[data-source=branch][data-status=open]').waitFor();
    // The form closes by replacing its address with the list's; going back before it has
    // would be undone by it.
    await secretary.waitForFunction(() => !location.hash.includes('/visit/'));
    await secretary.goBack();
    await secretary.locator('button[name=approve]').click();
    await secretary.getByText('没有待审核的记录').waitFor();
    await statusIs(secretary, 'online', 0);
  });

  // Before the screening: the lecture and the practice are done on both phones, the film not.
  await story(secretary, screenshots, 'month-before', async () => {
    await secretary.goto(`${origin}/#/plan`);
    before.secretary = await checklistOnceDone(secretary, ['lecture', 'practice']);
    await shot(secretary, 'plan-checklist-partial-360');
  });
  await story(li, screenshots, 'month-before-li', async () => {
    await li.goto(`${origin}/#/`);
    before.li = await checklistOnceDone(li, ['lecture', 'practice']);
    // The secretary's word on his lecture, and its 精品 mark.
    const lecture = li.locator('ul.records button.record', { hasText: TOPIC });
    await lecture.locator('.comment.approved', { hasText: '联系实际，讲得好' }).waitFor();
    seen.fine = (await lecture.locator('.fine').count()) === 1;
    await shot(li, 'home-plan-member-partial-360');

    // He changes the approved lecture: it opens to read, warned once he asks to change it;
    // the approved version still counts.
    await lecture.click();
    await li.locator('.read-only button[name=edit]').click();
    await li.locator('.approved-warning').waitFor();
    await shot(li, 'lecture-approved-warning-360');
    await li.locator('button[name=edit-anyway]').click();
    await unfold(li);
    await li.locator('textarea[name=summary]').fill('补充了群众提问的内容');
    await li.locator('button[name=submit]').click();
    await li.getByText('已保存在本机').waitFor();
    await li.goto(`${origin}/#/`);
    seen.edited = await li.locator('ul.records button.record', { hasText: TOPIC }).locator('.state').textContent();
    seen.lectureStillDone = (await checklist(li))[0];

    // And withdraws the approved visit.
    await li.locator('ul.records button.record', { hasText: '李大爷家' }).click();
    await li.locator('.read-only button[name=edit]').click();
    await li.locator('button[name=edit-anyway]').click();
    li.once('dialog', (dialog) => dialog.accept());
    await li.locator('button[name=withdraw]').click();
    await li.getByRole('heading', { name: '我的记录' }).waitFor();
    await statusIs(li, 'online', 0);
  });

  await story(secretary, screenshots, 'month-screening', async () => {
    // The withdrawn visit waits in the queue until the secretary confirms.
    await secretary.goto(`${origin}/#/review`);
    const withdrawn = secretary.locator('.review-queue li[data-withdrawn=true]', { hasText: '李大爷家' });
    await withdrawn.waitFor({ timeout: 30_000 });
    await shot(secretary, 'review-queue-withdrawn-360');
    await withdrawn.locator('button[name=confirm-withdrawal]').click();
    await withdrawn.waitFor({ state: 'detached' });

    // The film, from the checklist.
    await secretary.goto(`${origin}/#/plan`);
    await secretary.locator('button[name=record-film]').click();
    prefilled.film = await secretary.locator('input[name=film]').inputValue();
    prefilled.filmPlan = await secretary.locator('input[name=plan]').isChecked();
    await secretary.locator('input[name=place]').fill('村党员活动室');
    await secretary.locator('fieldset.attendance input[name=attendee]').nth(0).check();
    await secretary.locator('fieldset.attendance input[name=attendee]').nth(1).check();
    await secretary.locator('input[name=audience]').fill('25');
    await secretary.locator('textarea[name=discussion]').fill('大家结合身边的榜样谈了观后感。');
    await secretary.locator('input[name=photo]').setInputFiles(photo);
    await secretary.locator('ul.media li').first().waitFor();
    await shot(secretary, 'screening-new-360');
    await secretary.locator('button[name=save]').click();
    await secretary.getByRole('heading', { name: FILM }).waitFor();
    // Changed: 30 villagers came, not 25.
    await secretary.locator('button[name=edit]').click();
    await secretary.locator('input[name=audience]').fill('30');
    await secretary.locator('button[name=save]').click();
    await secretary.getByText('群众人数 30').waitFor();
    await shot(secretary, 'screening-360');

    // A screening recorded by mistake, withdrawn after a confirmation.
    await secretary.goto(`${origin}/#/screenings/new`);
    await secretary.locator('input[name=film]').fill('《误录》');
    await secretary.locator('input[name=plan]').uncheck();
    await secretary.locator('button[name=save]').click();
    await secretary.getByRole('heading', { name: '《误录》' }).waitFor();
    secretary.once('dialog', (dialog) => dialog.accept());
    await secretary.locator('button[name=withdraw]').click();
    await secretary.locator('.screenings li', { hasText: FILM }).waitFor();
    seen.screeningsListed = await secretary.locator('.screenings ul.records > li').count();
    await shot(secretary, 'screenings-360');

    // The themed party day, from the checklist.
    await secretary.goto(`${origin}/#/plan`);
    await secretary.locator('button[name=record-theme_day]').click();
    seen.meetingKind = await secretary.locator('select[name=kind]').inputValue();
    await secretary.locator('fieldset.attendance input[name=attendee]').nth(0).check();
    await secretary.locator('input[name=agenda]').fill('重温入党誓词，学习四中全会精神');
    await secretary.getByRole('button', { name: '保存', exact: true }).click();
    await secretary.locator('li.meeting[data-kind=theme_day]').waitFor();
    await secretary.waitForFunction(() => location.hash === '#/meetings');

    // The problem fixed: done, with a photo.
    await secretary.goto(`${origin}/#/`);
    await secretary.getByRole('button', { name: '问题清单', exact: true }).click();
    const item = secretary.locator('li.rectification[data-source=branch]');
    await item.locator('button[name=done]').click();
    await item.locator('.done-form input[name=photo]').setInputFiles(photo);
    await item.locator('.done-form ul.media li').waitFor();
    await item.locator('textarea[name=note]').fill('屋顶已修好');
    await shot(secretary, 'rectification-done-360');
    await item.locator('button[name=confirm-done]').click();
    await secretary.locator('li.rectification[data-status=done]').waitFor();
    await statusIs(secretary, 'online', 0);
  });

  // The township verifies it on its desk, from its overview of the branch.
  await story(township, screenshots, 'month-township', async () => {
    await signIn(township, origin, townshipCode);
    await township.getByRole('button', { name: '合益村' }).click();
    await township.getByRole('button', { name: '督查', exact: true }).click();
    await township.locator('button[name=branch-rectifications]').click();
    const item = township.locator('li.rectification[data-source=branch]');
    await item.locator('button[name=verified]').waitFor({ timeout: 30_000 });
    seen.townshipButtons = await item.locator('.step-actions button').count();
    township.once('dialog', (dialog) => dialog.accept());
    await item.locator('button[name=verified]').click();
    await township.locator('li.rectification[data-status=verified]').waitFor();
    await statusIs(township, 'online', 0);
    await shot(township, 'rectifications-township-1280');
  });

  await story(secretary, screenshots, 'month-after', async () => {
    await secretary.goto(`${origin}/#/plan`);
    after.secretary = await checklistOnceDone(secretary, PARTS);
    await shot(secretary, 'plan-checklist-done-360');
    await secretary.goto(`${origin}/#/`);
    await secretary.getByRole('button', { name: '问题清单', exact: true }).click();
    await secretary.locator('li.rectification[data-status=verified]').waitFor({ timeout: 30_000 });
    await shot(secretary, 'rectifications-360');
  });
  await story(li, screenshots, 'month-after-li', async () => {
    await li.goto(`${origin}/#/`);
    after.li = await checklistOnceDone(li, PARTS);
    await shot(li, 'home-plan-member-done-360');
    await li.goto(`${origin}/#/plan`);
    await checklistOnceDone(li, PARTS);
    await shot(li, 'plan-checklist-member-360');
    await li.goto(`${origin}/#/screenings`);
    await li.locator('.screenings li', { hasText: FILM }).click();
    await li.getByRole('heading', { name: FILM }).waitFor();
    seen.memberMayEdit = (await li.locator('button[name=edit]').count()) > 0;
    await shot(li, 'screening-member-360');
    // In large type, as an old member reads it.
    await li.goto(`${origin}/#/settings`);
    await li.locator('input[name=large-text]').check();
    await li.goto(`${origin}/#/`);
    await li.locator('ul.checklist').waitFor();
    await shot(li, 'home-plan-member-large-360');
    await li.goto(`${origin}/#/plan`);
    await li.locator('ul.checklist').waitFor();
    await shot(li, 'plan-checklist-member-large-360');
    await li.goto(`${origin}/#/screenings`);
    await li.locator('.screenings li', { hasText: FILM }).click();
    await li.getByRole('heading', { name: FILM }).waitFor();
    await shot(li, 'screening-member-large-360');
  });

  // The secretary's office computer: the same screens at 1280 pixels.
  const office = await (await browser.newContext(desk)).newPage();
  await story(office, screenshots, 'month-desk', async () => {
    await signIn(office, origin, deskCode);
    await statusIs(office, 'online', 0);
    await shot(office, 'home-secretary-1280');
    for (const [route, name, ready] of [
      ['plan', 'plan-checklist-1280', 'ul.checklist li[data-part=theme_day][data-done=true]'],
      ['screenings', 'screenings-1280', '.screenings ul.records li'],
      ['rectifications', 'rectifications-1280', 'li.rectification[data-status=verified]'],
      ['review', 'review-queue-1280', '.review-queue'],
    ]) {
      if (route === 'rectifications') {
        await office.goto(`${origin}/#/`);
        await office.getByRole('button', { name: '问题清单', exact: true }).click();
      } else {
        await office.goto(`${origin}/#/${route}`);
      }
      await office.locator(ready).first().waitFor({ timeout: 30_000 });
      await shot(office, name);
    }
    await office.goto(`${origin}/#/screenings`);
    await office.locator('.screenings li', { hasText: FILM }).click();
    await office.getByRole('heading', { name: FILM }).waitFor();
    await shot(office, 'screening-1280');
  });

  report({ month: today.slice(0, 7), before, after, prefilled, seen, shots });
} finally {
  await browser.close();
}
