// Records a video from Chromium's fake camera with the app's own recorder options
// (pwa/src/capture/formats.js) and writes it to a file.
//
// usage: node record-video.mjs ORIGIN OUTPUT SECONDS
// prints: {"mimeType": …, "bytes": …}
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { launch, FAKE_CAMERA, blankPageAt, report } from './chromium.mjs';

const [origin, output, seconds] = process.argv.slice(2);
const formats = await readFile(fileURLToPath(new URL('../../../pwa/src/capture/formats.js', import.meta.url)), 'utf8');

const browser = await launch(FAKE_CAMERA);
try {
  const context = await browser.newContext();
  await context.route(`${origin}/__test/formats.js`, (route) =>
    route.fulfill({ contentType: 'text/javascript', body: formats }),
  );
  const page = await blankPageAt(context, origin, '/__test/record');
  const recorded = await page.evaluate(async (seconds) => {
    const { recorderOptions, VIDEO_CONSTRAINTS } = await import('/__test/formats.js');
    const options = recorderOptions('video');
    const stream = await navigator.mediaDevices.getUserMedia({ video: VIDEO_CONSTRAINTS, audio: true });
    const recorder = new MediaRecorder(stream, options);
    const parts = [];
    recorder.ondataavailable = (event) => parts.push(event.data);
    // Pieces every second, as the app saves them while recording.
    recorder.start(1000);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    await new Promise((resolve) => {
      recorder.onstop = resolve;
      recorder.stop();
    });
    stream.getTracks().forEach((track) => track.stop());
    const blob = new Blob(parts, { type: recorder.mimeType });
    const bytes = new Uint8Array(await blob.arrayBuffer());
    // Base64 in pieces: a spread of a few megabytes overflows the call stack.
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return { mimeType: recorder.mimeType, base64: btoa(binary) };
  }, Number(seconds));
  const bytes = Buffer.from(recorded.base64, 'base64');
  await writeFile(output, bytes);
  report({ mimeType: recorded.mimeType, bytes: bytes.length });
} finally {
  await browser.close();
}
