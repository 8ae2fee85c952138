// Headless Chromium as the browser tests launch it: Debian's build (the path comes from the
// Rust side), with nothing that reaches out to the network on its own.
import { chromium } from 'playwright-core';

const FLAGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// A camera and a microphone that need no hardware and ask no permission: Chromium's test
// pattern (a moving picture and a beep).
export const FAKE_CAMERA = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

export async function launch(extra = []) {
  const executablePath = process.env.TIANJIAN_CHROMIUM;
  if (!executablePath) throw new Error('TIANJIAN_CHROMIUM is not set');
  return chromium.launch({ executablePath, args: [...FLAGS, ...extra] });
}

// Opens an empty page at `origin` + `path`, served by the test itself: the page then has the
// server's origin (so its requests are same-origin, and it is a secure context on loopback)
// without the server having to serve it.
export async function blankPageAt(context, origin, path) {
  const page = await context.newPage();
  const url = new URL(path, origin).href;
  await page.route(url, (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><meta charset="utf-8"><body></body>' }),
  );
  await page.goto(url);
  return page;
}

// Prints the result as the last line of output, for the Rust side to read.
export function report(value) {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
