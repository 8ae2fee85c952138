// Acceptance story 2, in the app: a migrant member records a video lesson in the page and
// submits it; the secretary, on another phone, returns it with a comment; the member sees the
// comment and submits again; the secretary approves and publishes it; a third member finds
// it in the branch feed and plays it, and plays it again offline.
//
// usage: node video-lesson.mjs ORIGIN MIGRANT_CODE SECRETARY_CODE MEMBER_CODE SCREENSHOTS
// prints: {"title": …, "duration": …, "offlineDuration": …}
import { launch, FAKE_CAMERA, report } from './chromium.mjs';
import { phone, screenshot, signIn, statusIs, story } from './app.mjs';

const [origin, migrantCode, secretaryCode, memberCode, screenshots] = process.argv.slice(2);
const TITLE = '在外务工不忘党员身份';
const COMMENT = '请再结合党的二十大精神谈一谈。';

const browser = await launch([...FAKE_CAMERA, '--autoplay-policy=no-user-gesture-required']);
try {
  const [migrant, secretary, member] = await Promise.all(
    [0, 1, 2].map(() => browser.newContext(phone).then((context) => context.newPage())),
  );
  await story(migrant, screenshots, 'video-lesson', async () => {
    await signIn(migrant, origin, migrantCode);
    await migrant.getByRole('button', { name: '录制微党课视频' }).click();
    await migrant.locator('input[name=title]').fill(TITLE);
    await migrant.locator('textarea[name=summary]').fill('讲在工厂里带头遵守纪律、帮助同乡的体会。');
    await migrant.getByRole('button', { name: '现场录像' }).click();
    await migrant.locator('.recorder.recording video').waitFor();
    await migrant.waitForTimeout(4_000);
    await screenshot(migrant, screenshots, 'recording-video');
    await migrant.getByRole('button', { name: '停止并保存' }).click();
    await migrant.locator('ul.media li video').waitFor();
    await migrant.getByRole('button', { name: '提交审核' }).click();
    await migrant.getByText('已保存在本机').waitFor();
    await statusIs(migrant, 'online', 0, 60_000);
  });

  await story(secretary, screenshots, 'video-lesson-review', async () => {
    await signIn(secretary, origin, secretaryCode);
    await secretary.goto(`${origin}/#/review`);
    await secretary.getByText(TITLE).click();
    await secretary.locator('textarea[name=comment]').fill(COMMENT);
    await screenshot(secretary, screenshots, 'review');
    await secretary.getByRole('button', { name: '退回' }).click();
    await secretary.getByText('没有待审核的记录').waitFor();
    await statusIs(secretary, 'online', 0);
  });

  await story(migrant, screenshots, 'video-lesson-returned', async () => {
    await migrant.locator('.review-note[data-state=returned]').getByText(COMMENT).waitFor({ timeout: 30_000 });
    await migrant.locator('textarea[name=summary]').fill('讲在工厂里带头遵守纪律、帮助同乡的体会，结合党的二十大精神谈感悟。');
    await migrant.getByRole('button', { name: '提交审核' }).click();
    await migrant.getByText('已保存在本机').waitFor();
    await statusIs(migrant, 'online', 0);
    await migrant.getByRole('button', { name: '返回' }).click();
    await migrant.getByText('待审核').waitFor();
  });

  await story(secretary, screenshots, 'video-lesson-publish', async () => {
    await secretary.getByText(TITLE).click({ timeout: 30_000 });
    await secretary.locator('ul.media li video').waitFor();
    await secretary.getByRole('button', { name: '通过并展播' }).click();
    await secretary.getByText('没有待审核的记录').waitFor();
    await statusIs(secretary, 'online', 0);
  });

  const played = await story(member, screenshots, 'video-lesson-feed', async () => {
    await signIn(member, origin, memberCode);
    await member.goto(`${origin}/#/feed`);
    await member.getByRole('heading', { name: TITLE }).waitFor({ timeout: 30_000 });
    const online = await play(member);
    await screenshot(member, screenshots, 'feed');
    // Kept on the phone after that sync: once the app holds the video itself, it plays with
    // no signal, after a restart.
    for (let attempt = 0; ; attempt++) {
      const src = await member.locator('.feed-item video').first().getAttribute('src');
      if (src?.startsWith('blob:')) break;
      if (attempt === 30) throw new Error(`the feed's video was not kept on the phone: ${src}`);
      await member.waitForTimeout(1_000);
      await member.reload();
      await member.getByRole('heading', { name: TITLE }).waitFor();
    }
    await member.context().setOffline(true);
    await member.reload();
    await member.getByRole('heading', { name: TITLE }).waitFor();
    const offline = await play(member);
    return { duration: online, offlineDuration: offline };
  });
  report({ title: TITLE, ...played });
} finally {
  await browser.close();
}

/** Plays the first video of the feed for a second; returns its duration. */
async function play(page) {
  return page.locator('.feed-item video').first().evaluate(async (video) => {
    video.muted = true;
    if (video.readyState < 1) await new Promise((resolve, reject) => {
      video.addEventListener('loadedmetadata', resolve, { once: true });
      video.addEventListener('error', () => reject(new Error(`video error ${video.error?.message}`)), { once: true });
    });
    await video.play();
    const deadline = performance.now() + 10_000;
    while (video.currentTime < 1 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    video.pause();
    if (video.currentTime < 1) throw new Error(`the video did not play: ${video.currentTime}`);
    return video.duration;
  });
}
