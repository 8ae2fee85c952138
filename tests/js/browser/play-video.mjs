// Plays a video from a URL in a <video> element and seeks in it, as the branch feed does.
//
// usage: node play-video.mjs ORIGIN URL SEEK_SECONDS
// prints: {"duration": …, "seeked": true, "currentTime": …, "playedTo": …, "statuses": [206, …]}
import { launch, blankPageAt, report } from './chromium.mjs';

const [origin, url, seekTo] = process.argv.slice(2);

const browser = await launch(['--autoplay-policy=no-user-gesture-required']);
try {
  const context = await browser.newContext();
  const statuses = [];
  context.on('response', (response) => {
    if (response.url().includes('/blobs/')) statuses.push(response.status());
  });
  const page = await blankPageAt(context, origin, '/__test/play');
  const played = await page.evaluate(
    async ({ url, seekTo }) => {
      const video = document.createElement('video');
      video.muted = true;
      video.preload = 'metadata';
      document.body.append(video);
      const once = (name, ms) =>
        new Promise((resolve) => {
          const timer = setTimeout(() => resolve(false), ms);
          video.addEventListener(name, () => {
            clearTimeout(timer);
            resolve(true);
          }, { once: true });
        });
      const loaded = once('loadedmetadata', 10_000);
      video.src = url;
      if (!(await loaded)) return { error: `no metadata: ${video.error?.message ?? 'timed out'}` };
      const duration = video.duration;
      const seeked = once('seeked', 10_000);
      video.currentTime = seekTo;
      const didSeek = await seeked;
      const currentTime = video.currentTime;
      // Half a second of playing on from there.
      await video.play();
      const deadline = performance.now() + 10_000;
      while (video.currentTime < seekTo + 0.5 && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      video.pause();
      return { duration, seeked: didSeek, currentTime, playedTo: video.currentTime };
    },
    { url: new URL(url, origin).href, seekTo: Number(seekTo) },
  );
  report({ ...played, statuses });
} finally {
  await browser.close();
}
