// An old member's phone in the village office: on the sign-in screen he taps 扫码登录 and the
// camera (Chromium's fake one, playing a video of the secretary's screen) sees the invite QR
// code; the phone signs in with no more taps. A second phone is shown QR codes that are not
// invites (another website's link, a Wi-Fi password): it says so, signs nobody in and goes
// nowhere. A third has its camera refused, and says so above the typed-code form.
//
// usage: node scan-invite.mjs ORIGIN INVITE_Y4M OTHER_QR_Y4M SCREENSHOTS
// prints: {"invite": {...}, "others": {...}, "refused": {...}}
import { FAKE_CAMERA, launch, report } from './chromium.mjs';
import { phone, screenshot, statusIs, story } from './app.mjs';

const [origin, inviteVideo, othersVideo, screenshots] = process.argv.slice(2);

/** Keeps every camera stream the page opens, to check later that all of it is off again. */
function keepStreams() {
  window.__streams = [];
  const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const stream = await open(constraints);
    window.__streams.push(stream);
    return stream;
  };
}

const cameraOff = (page) =>
  page.evaluate(() => ({
    opened: window.__streams.length,
    live: window.__streams.flatMap((s) => s.getTracks()).filter((t) => t.readyState !== 'ended').length,
  }));

/** Every request the page makes, to show that nothing left for another site and that no
 * enrolment was tried. */
function requests(context) {
  const seen = [];
  context.on('request', (request) => seen.push({ method: request.method(), url: request.url() }));
  return seen;
}

/** A phone with this camera video, on the app's sign-in screen. */
async function phoneWith(video, grant) {
  const flags = video ? [...FAKE_CAMERA, `--use-file-for-fake-video-capture=${video}`] : ['--use-fake-device-for-media-stream'];
  const browser = await launch(flags);
  const context = await browser.newContext(phone);
  if (grant) await context.grantPermissions(['camera'], { origin });
  await context.addInitScript(keepStreams);
  const sent = requests(context);
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  await page.getByRole('button', { name: '扫码登录' }).waitFor();
  return { browser, page, sent };
}

const result = {};

// The invite: one tap, then signed in.
{
  const { browser, page, sent } = await phoneWith(inviteVideo, true);
  try {
    result.invite = await story(page, screenshots, 'scan-invite', async () => {
      await screenshot(page, screenshots, 'scan-sign-in-360');
      await page.getByRole('button', { name: '扫码登录' }).click();
      await page.getByRole('heading', { name: '我的记录' }).waitFor({ timeout: 30_000 });
      await statusIs(page, 'online');
      await screenshot(page, screenshots, 'scan-signed-in-360');
      // Which way the app read it: the browser's own detector if it has one for QR codes.
      const native = await page.evaluate(async () =>
        'BarcodeDetector' in window ? (await window.BarcodeDetector.getSupportedFormats()).includes('qr_code') : false,
      );
      return {
        decoder: native ? 'native' : 'jsqr',
        camera: await cameraOff(page),
        enrolments: sent.filter((r) => r.method === 'POST' && r.url === `${origin}/api/v1/enrol`).length,
      };
    });
  } finally {
    await browser.close();
  }
}

// QR codes that are not invites: named as such, while the camera keeps looking.
{
  const { browser, page, sent } = await phoneWith(othersVideo, true);
  try {
    result.others = await story(page, screenshots, 'scan-others', async () => {
      const before = page.url();
      await page.getByRole('button', { name: '扫码登录' }).click();
      const scanner = page.locator('section.scanner[data-decoder]');
      await scanner.waitFor();
      const otherSite = page.getByRole('alert').filter({ hasText: '别的网站' });
      await otherSite.waitFor({ timeout: 30_000 });
      await screenshot(page, screenshots, 'scan-other-site-360');
      const notInvite = page.getByRole('alert').filter({ hasText: '不是邀请码' });
      await notInvite.waitFor({ timeout: 30_000 });
      await screenshot(page, screenshots, 'scan-not-invite-360');
      const decoder = await scanner.getAttribute('data-decoder');
      const messages = [await otherSite.textContent(), await notInvite.textContent()];
      // Giving up turns the camera off and brings back the typed-code form.
      await page.getByRole('button', { name: '不扫了，返回' }).click();
      await page.locator('input[name=code]').waitFor();
      return {
        decoder,
        messages,
        camera: await cameraOff(page),
        sameAddress: page.url() === before,
        signedIn: await page.getByRole('heading', { name: '我的记录' }).isVisible(),
        enrolments: sent.filter((r) => r.url.includes('/api/v1/enrol')).length,
        elsewhere: sent.filter((r) => !r.url.startsWith(`${origin}/`)).map((r) => r.url),
      };
    });
  } finally {
    await browser.close();
  }
}

// The camera refused: said in plain words, and the code can still be typed.
{
  const { browser, page } = await phoneWith(null, false);
  try {
    result.refused = await story(page, screenshots, 'scan-refused', async () => {
      await page.getByRole('button', { name: '扫码登录' }).click();
      const error = page.locator('form .error');
      await error.waitFor({ timeout: 30_000 });
      await screenshot(page, screenshots, 'scan-camera-refused-360');
      return {
        message: await error.textContent(),
        typing: await page.locator('input[name=code]').isEditable(),
        camera: await cameraOff(page),
      };
    });
  } finally {
    await browser.close();
  }
}

report(result);
