// The lecture schedule and visits by kind, in the app: the secretary of 合益村 marks 曾德福 a
// silver-haired member (银发党员) in the ledger, schedules next month's lectures (李章桂 on the
// 10th, the guest expert 刘师傅 on the 20th, and one by mistake that he withdraws) and puts
// 李章桂 on the lecture team. 李章桂 sees his turn first on his home and records the lecture
// from it, the form filled in from the schedule; he records a 送学上门 visit to 曾德福, picked
// from the branch's older members. The secretary sees the visits' kind in the queue and
// approves both; 李章桂 opens his approved lecture, reads it, and is warned only when he
// chooses to change it. The secretary opens the guest's lecture from the schedule: the guest
// is its speaker.
//
// usage: node schedule-story.mjs ORIGIN SECRETARY_CODE SECRETARY_DESK_CODE LI_CODE SCREENSHOTS
// prints: {"month", "days": [li's, guest's], "topics": [...], "seen": {...}, "prefilled": {...}, "shots": [...]}
import { launch, report } from './chromium.mjs';
import { phone, screenshot, signIn, statusIs, story, unfold } from './app.mjs';

const [origin, secretaryCode, deskCode, liCode, screenshots] = process.argv.slice(2);
const TOPIC = '柑橘园里的党课：学习四中全会精神';
const GUEST_TOPIC = '柑橘冬季修剪与病虫害防治';
const GUEST = '刘师傅（柑橘种植能手）';
const MISTAKE = '录错的讲课';
const NEEDS = '送学上门：给曾德福读四中全会公报，他说腿脚不便，盼支部常来';
const desk = { viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' };
const today = new Date(Date.now() + 8 * 3_600_000);
const next = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() + 1, 1)).toISOString().slice(0, 7);
const [liDay, guestDay, mistakeDay] = [`${next}-10`, `${next}-20`, `${next}-25`];
const shots = [];

async function shot(page, name) {
  await screenshot(page, screenshots, name);
  shots.push(name);
}

/** Schedules a lecture on the schedule screen: a member by name, or a guest. */
async function schedule(page, { day, topic, member, guest, venue }) {
  await page.locator('button[name=new-schedule]').click();
  await page.locator('.new-schedule input[name=date]').fill(day);
  await page.locator('.new-schedule input[name=topic]').fill(topic);
  if (venue) await page.locator('.new-schedule select[name=venue]').selectOption(venue);
  if (member) await page.locator('.new-schedule select[name=speaker]').selectOption({ label: member });
  else {
    await page.locator('.new-schedule select[name=speaker]').selectOption('');
    await page.locator('.new-schedule input[name=guest_speaker]').fill(guest);
  }
  if (topic === GUEST_TOPIC) await shot(page, 'schedule-new-guest-360');
  await page.locator('.new-schedule button[name=save]').click();
  await page.locator('li.scheduled', { hasText: topic }).waitFor();
}

const browser = await launch();
try {
  const secretary = await (await browser.newContext(phone)).newPage();
  const li = await (await browser.newContext(phone)).newPage();
  const seen = {};
  const prefilled = {};

  await story(secretary, screenshots, 'schedule-secretary', async () => {
    await signIn(secretary, origin, secretaryCode);
    await statusIs(secretary, 'online', 0);
    // 曾德福 is a silver-haired member: ticked in the ledger, kept on his roster entry.
    await secretary.getByRole('button', { name: '党员台账' }).click();
    const zeng = secretary.locator('li.person[data-member=曾德福]');
    await zeng.locator('button.record').click();
    await zeng.locator('input[name=elderly]').check();
    await zeng.locator('input[name=silver]').check();
    await zeng.locator('select[name=study_partner]').selectOption({ label: '李章桂' });
    await zeng.locator('button[name=save-entry]').click();
    await zeng.getByText('已保存在本机').waitFor();
    await zeng.locator('.meta', { hasText: '银发党员' }).waitFor();
    seen.ledgerLabels = await zeng.locator('.entry label').evaluateAll((labels) => labels.map((l) => [...l.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join('').trim()).filter(Boolean));
    await shot(secretary, 'ledger-entry-360');

    // Next month's lectures, from home.
    await secretary.goto(`${origin}/#/`);
    await secretary.locator('button[name=open-schedule]').click();
    await secretary.getByRole('heading', { name: '讲课安排表' }).waitFor();
    await schedule(secretary, { day: liDay, topic: TOPIC, member: '李章桂', venue: 'field' });
    await schedule(secretary, { day: guestDay, topic: GUEST_TOPIC, guest: GUEST, venue: 'field' });
    await schedule(secretary, { day: mistakeDay, topic: MISTAKE, member: '贺俊爱' });
    // The mistake, withdrawn after a confirmation.
    secretary.once('dialog', (dialog) => dialog.accept());
    await secretary.locator('li.scheduled', { hasText: MISTAKE }).locator('button[name=withdraw-scheduled]').click();
    await secretary.locator('li.scheduled', { hasText: MISTAKE }).waitFor({ state: 'detached' });
    // 李章桂 on the lecture team.
    await secretary.locator('.team label.check', { hasText: '李章桂' }).locator('input').check();
    await secretary.locator('.team .guests', { hasText: GUEST }).waitFor();
    seen.scheduled = await secretary.locator('li.scheduled .title').allTextContents();
    await shot(secretary, 'schedule-secretary-360');
    await statusIs(secretary, 'online', 0);
  });

  await story(li, screenshots, 'schedule-li', async () => {
    await signIn(li, origin, liCode);
    await statusIs(li, 'online', 0);
    // His turn, first on his home.
    const turn = li.locator('.home .my-turn');
    await turn.waitFor({ timeout: 30_000 });
    seen.myTurn = (await turn.locator('h2').textContent()).trim();
    seen.myTurnFirst = await li.locator('.home > *').first().evaluate((e) => e.classList.contains('my-turn'));
    await shot(li, 'home-my-turn-360');
    await turn.locator('button[name=record-my-turn]').click();
    prefilled.title = await li.locator('input[name=title]').inputValue();
    prefilled.heldAt = await li.locator('input[name=held_at]').inputValue();
    prefilled.venue = await li.locator('select[name=venue]').inputValue();
    prefilled.speaker = await li.locator('select[name=speaker]').evaluate((s) => s.selectedOptions[0]?.textContent ?? '');
    await unfold(li);
    await li.locator('input[name=place]').fill('柑橘园');
    await li.locator('input[name=audience]').fill('15');
    await li.locator('button[name=submit]').click();
    await li.getByText('已保存在本机').waitFor();

    // A 送学上门 visit to 曾德福, picked from the branch's older members.
    await li.goto(`${origin}/#/`);
    await li.getByRole('button', { name: '记录走访' }).click();
    await li.locator('button[name=kind-study_delivery]').click();
    await li.locator('button[name=pick-household]', { hasText: '曾德福' }).click();
    prefilled.household = await li.locator('input[name=household]').inputValue();
    await li.locator('textarea[name=needs]').fill(NEEDS);
    await shot(li, 'visit-study-delivery-360');
    await li.locator('button[name=submit]').click();
    await li.getByText('已保存在本机').waitFor();
    await li.goto(`${origin}/#/`);
    seen.homeVisitMeta = (await li.locator('ul.records button.record', { hasText: '曾德福' }).locator('.meta').textContent()).trim();
    await statusIs(li, 'online', 0);
  });

  await story(secretary, screenshots, 'schedule-review', async () => {
    await secretary.goto(`${origin}/#/review`);
    const visit = secretary.locator('.review-queue button.record', { hasText: '曾德福' });
    await visit.waitFor({ timeout: 30_000 });
    await secretary.locator('.review-queue button.record', { hasText: TOPIC }).waitFor({ timeout: 30_000 });
    seen.queueVisitMeta = (await visit.locator('.meta').textContent()).trim();
    await shot(secretary, 'review-queue-kinds-360');
    await visit.click();
    seen.itemKind = (await secretary.locator('.visit-kind').textContent()).trim();
    await shot(secretary, 'review-visit-360');
    await secretary.locator('button[name=approve]').click();
    await secretary.locator('.review-queue button.record', { hasText: TOPIC }).click();
    await secretary.locator('button[name=approve]').click();
    await secretary.getByText('没有待审核的记录').waitFor();
    await statusIs(secretary, 'online', 0);

    // The guest's lecture, from the schedule: the guest is its speaker.
    await secretary.goto(`${origin}/#/schedule`);
    await secretary.locator('li.scheduled', { hasText: GUEST_TOPIC }).locator('button[name=record-scheduled]').click();
    prefilled.guestTitle = await secretary.locator('input[name=title]').inputValue();
    prefilled.guestSpeakerChoice = await secretary.locator('select[name=speaker]').inputValue();
    prefilled.guest = await secretary.locator('input[name=guest_speaker]').inputValue();
    prefilled.guestHeldAt = await secretary.locator('input[name=held_at]').inputValue();
    await shot(secretary, 'lecture-from-schedule-guest-360');
  });

  await story(li, screenshots, 'schedule-approved', async () => {
    // His approved lecture opens to be read; the warning comes when he chooses to change it.
    await li.goto(`${origin}/#/`);
    const lecture = li.locator('ul.records button.record', { hasText: TOPIC });
    await lecture.locator('.state.approved').waitFor({ timeout: 30_000 });
    await lecture.click();
    await li.locator('.read-only').waitFor();
    seen.readOnlyTitle = (await li.locator('.read-only h1').textContent()).trim();
    seen.warnedBeforeReading = (await li.locator('.approved-warning').count()) > 0;
    seen.formBeforeEdit = (await li.locator('input[name=title]').count()) > 0;
    await shot(li, 'lecture-approved-read-360');
    await li.locator('.read-only button[name=edit]').click();
    await li.locator('.approved-warning').waitFor();
    await shot(li, 'lecture-approved-warning-360');
    await li.locator('button[name=edit-anyway]').click();
    seen.formAfterEdit = await li.locator('input[name=title]').inputValue();

    // In large type, as an old member reads it.
    await li.goto(`${origin}/#/settings`);
    await li.locator('input[name=large-text]').check();
    await li.goto(`${origin}/#/`);
    await li.locator('.home .my-turn').waitFor();
    await shot(li, 'home-my-turn-large-360');
    await li.goto(`${origin}/#/schedule`);
    await li.locator('li.scheduled').first().waitFor();
    seen.memberMaySchedule = (await li.locator('button[name=new-schedule]').count()) > 0;
    seen.memberTeam = (await li.locator('.team .members').textContent()).trim();
    await shot(li, 'schedule-member-large-360');
    await li.goto(`${origin}/#/visit/new`);
    await li.locator('button[name=kind-study_delivery]').click();
    await li.locator('button[name=pick-household]').first().waitFor();
    await shot(li, 'visit-kinds-large-360');
    await li.goto(`${origin}/#/`);
    await li.locator('ul.records button.record', { hasText: TOPIC }).click();
    await li.locator('.read-only').waitFor();
    await shot(li, 'lecture-approved-read-large-360');
  });

  await story(secretary, screenshots, 'schedule-large', async () => {
    await secretary.goto(`${origin}/#/settings`);
    await secretary.locator('input[name=large-text]').check();
    await secretary.goto(`${origin}/#/schedule`);
    await secretary.locator('li.scheduled').first().waitFor();
    await shot(secretary, 'schedule-secretary-large-360');
    await secretary.goto(`${origin}/#/ledger`);
    await secretary.locator('li.person[data-member=曾德福] button.record').click();
    await secretary.locator('li.person[data-member=曾德福] input[name=silver]').waitFor();
    await shot(secretary, 'ledger-entry-large-360');
  });

  // The secretary's office computer.
  const office = await (await browser.newContext(desk)).newPage();
  await story(office, screenshots, 'schedule-desk', async () => {
    await signIn(office, origin, deskCode);
    await statusIs(office, 'online', 0);
    await office.goto(`${origin}/#/schedule`);
    await office.locator('li.scheduled').first().waitFor({ timeout: 30_000 });
    await shot(office, 'schedule-1280');
    await office.goto(`${origin}/#/ledger`);
    await office.locator('li.person[data-member=曾德福] button.record').click();
    await office.locator('li.person[data-member=曾德福] input[name=silver]').waitFor();
    await shot(office, 'ledger-1280');
    await office.goto(`${origin}/#/visit/new`);
    await office.locator('button[name=kind-home_visit]').click();
    await office.locator('button[name=pick-household]').first().waitFor();
    seen.adminOffered = await office.locator('button[name=pick-household]').allTextContents();
    await shot(office, 'visit-home-visit-1280');
  });

  report({ month: today.toISOString().slice(0, 7), days: [liDay, guestDay], topics: [TOPIC, GUEST_TOPIC, MISTAKE], guest: GUEST, household: '曾德福', seen, prefilled, shots });
} finally {
  await browser.close();
}
