// A stock tus client (tus-js-client, as a browser or phone app would use it) uploading one file
// to our `/files/`. Driven by tests/tests/e2e/media.rs; usable by hand too:
//
//   node tus-upload.mjs <http://HOST:PORT/files/> <access token> <file> <sha256 hex> \
//        <automerge:document> <media type> [chunk size in bytes]
//
// It retries after every failure (a cut connection among them), resuming from the offset the
// server reports. TIMEOUT_MS (default 120000) bounds the whole run.
//
// Output on stdout, one line: `UPLOADED <url> <retries>`. Any failure prints "ERROR: ..." on
// stderr and exits 1.

import { readFileSync } from "node:fs";
import { Upload } from "tus-js-client";

const [endpoint, token, path, sha256, document, filetype, chunk] = process.argv.slice(2);
const timeout = Number(process.env.TIMEOUT_MS ?? 120000);

setTimeout(() => {
  console.error(`ERROR: not done after ${timeout} ms`);
  process.exit(1);
}, timeout).unref();

const file = readFileSync(path);
let retries = 0;
const upload = new Upload(file, {
  endpoint,
  headers: { Authorization: `Bearer ${token}` },
  metadata: { sha256, filetype, document, filename: path.split("/").pop() },
  chunkSize: chunk ? Number(chunk) : Infinity,
  // A phone on bad data keeps trying: quickly at first, then every second.
  retryDelays: Array.from({ length: 40 }, (_, i) => Math.min(100 * i, 1000)),
  // As tus-js-client decides by default (a lost connection, a server fault, a conflict), and
  // a chunk that arrived damaged; counted.
  onShouldRetry: (error) => {
    const status = error.originalResponse ? error.originalResponse.getStatus() : 0;
    const retry = status === 0 || status >= 500 || [409, 423, 460].includes(status);
    if (retry) retries += 1;
    return retry;
  },
  onError: (error) => {
    console.error(`ERROR: ${error}`);
    process.exit(1);
  },
  onSuccess: () => {
    console.log(`UPLOADED ${upload.url} ${retries}`);
    process.exit(0);
  },
});
upload.start();
