// A stock automerge-repo 2.x client, as a browser would run it, against our `GET /sync`.
// Driven by tests/tests/e2e/javascript.rs; usable by hand too:
//
//   node sync-client.mjs <ws://HOST:PORT/sync?ticket=JWT> <automerge:ID> read
//   node sync-client.mjs <ws://HOST:PORT/sync?ticket=JWT> <automerge:ID> write '<payload JSON>'
//
// Each argument may instead come from the environment: SYNC_URL, DOC_URL, MODE, PAYLOAD.
// TIMEOUT_MS (default 20000) bounds the whole run.
//
// The payload of "write" is {"collection": "lectures", "id": "<record id>", "record": {...}}.
// The record is JSON with two conventions, so that the Rust side decides every value's
// Automerge type: {"$time": <ms>} becomes a Date (an Automerge timestamp), and a JSON string
// becomes an ImmutableString (a scalar string, which is what the schema's strings are; a plain
// JS string would become a collaborative text object). Integers stay integers, null stays null.
//
// Output, one item per line on stdout:
//   LECTURE <id> <title>    every lecture of the document as first received
//   DOC <json>              the whole document as first received (times as {"$time": ms})
//   WROTE <collection> <id> the record was written locally ("write")
//   ACKNOWLEDGED <heads>    the server reported holding exactly our heads ("write")
//   UNAVAILABLE <url>       the server said it cannot give us the document (exit status 2)
// Any other failure, including the timeout, prints "ERROR: ..." on stderr and exits 1.

import { ImmutableString, Repo, cbor } from "@automerge/automerge-repo";
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";

const [
  syncUrl = process.env.SYNC_URL,
  docUrl = process.env.DOC_URL,
  mode = process.env.MODE ?? "read",
  payloadJson = process.env.PAYLOAD,
] = process.argv.slice(2);
const timeoutMs = Number(process.env.TIMEOUT_MS ?? 20_000);

const fail = (message) => {
  console.error(`ERROR: ${message}`);
  process.exit(1);
};

if (!syncUrl || !docUrl) fail("usage: sync-client.mjs <ws-url> <automerge-url> [read|write] [payload-json]");
if (mode !== "read" && mode !== "write") fail(`unknown mode ${JSON.stringify(mode)}`);
if (mode === "write" && !payloadJson) fail("write mode needs a payload");

// Whatever happens (a hung socket, a promise that never settles), the process ends.
const watchdog = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
const aborter = new AbortController();
setTimeout(() => aborter.abort(), Math.max(timeoutMs - 1_000, 1)).unref();

// Writes the JSON payload's `value` at `parent[key]` as the Automerge value it stands for.
///
// Maps and lists are created empty and filled one field at a time, as a form would write
// them. Assigning a whole object literal would be shorter, but @automerge/automerge 3.5's
// batch insert (`putObjectFromHydrate`) stores the number 0 inside such a literal as a float
// (f64), where a direct assignment stores an integer: `{revision: 0}` would then break the
// schema's integer fields.
function put(parent, key, value) {
  if (Array.isArray(value)) {
    parent[key] = [];
    const list = parent[key];
    value.forEach((item, index) => put(list, index, item));
  } else if (value !== null && typeof value === "object" && Object.keys(value).join() !== "$time") {
    parent[key] = {};
    const map = parent[key];
    for (const [field, item] of Object.entries(value)) put(map, field, item);
  } else {
    parent[key] = scalar(value);
  }
}

function scalar(value) {
  if (value === null || typeof value === "number" || typeof value === "boolean") return value;
  if (typeof value === "string") return new ImmutableString(value);
  if (typeof value === "object") return new Date(value.$time);
  throw new Error(`cannot write ${typeof value}`);
}

// A document (or part of one) as plain JSON, the inverse of `put`.
function toPlain(value) {
  if (value instanceof Date) return { $time: value.getTime() };
  if (value instanceof ImmutableString) return value.toString();
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return [...value].map(toPlain);
  return Object.fromEntries(Object.keys(value).map((k) => [k, toPlain(value[k])]));
}

const sameHeads = (a = [], b = []) => a.length === b.length && [...a].sort().join(",") === [...b].sort().join(",");

// The stock adapter only logs an `error` frame (sent by the server when it refuses something,
// just before it closes the socket) and then reconnects forever. This subclass changes nothing
// but also reports those errors, so a refusal fails the run at once and says why.
class ObservedAdapter extends WebSocketClientAdapter {
  onServerError = () => {};
  receiveMessage(bytes) {
    let message;
    try {
      message = cbor.decode(new Uint8Array(bytes));
    } catch {
      // The stock adapter logs and drops it.
    }
    if (message?.type === "error") {
      console.error(`server error: ${message.message}`);
      this.onServerError(String(message.message));
    }
    return super.receiveMessage(bytes);
  }
}

// No storage: the client is ephemeral, like a first visit in a browser before IndexedDB holds
// anything, so everything it shows came over the network.
const adapter = new ObservedAdapter(syncUrl, 1_000);
const repo = new Repo({ network: [adapter] });

// `find` waits for the adapter to be ready, which it also is after 1 s without a `peer`; on a
// loaded machine it could then give up before the server answered. Wait for the server.
async function connected() {
  while (repo.peers.length === 0) {
    if (aborter.signal.aborted) throw new Error(`the server sent no \`peer\` within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function main() {
  await connected();
  let handle;
  try {
    handle = await repo.find(docUrl, { signal: aborter.signal });
  } catch (error) {
    if (String(error?.message ?? error).includes("is unavailable")) {
      console.log(`UNAVAILABLE ${docUrl}`);
      return 2;
    }
    if (aborter.signal.aborted) throw new Error(`find(${docUrl}) did not complete within ${timeoutMs} ms`);
    throw error;
  }

  const doc = toPlain(handle.doc());
  for (const [id, lecture] of Object.entries(doc.lectures ?? {})) {
    console.log(`LECTURE ${id} ${lecture.title}`);
  }
  console.log(`DOC ${JSON.stringify(doc)}`);
  if (mode === "read") return 0;

  const { collection, id, record } = JSON.parse(payloadJson);
  handle.change((d) => put(d[collection], id, record));
  console.log(`WROTE ${collection} ${id}`);
  const target = handle.heads();

  // The server names its storage in its `peer` message; the repo then records, per document,
  // the heads the server says it has (from the server's sync messages). The server only says
  // so once the changes are durable.
  const server = repo.peers[0];
  const serverStorageId = server && repo.getStorageIdOfPeer(server);
  if (!serverStorageId) throw new Error(`the server (${server}) did not announce a storageId`);
  await new Promise((resolve, reject) => {
    const check = () => {
      if (sameHeads(handle.getSyncInfo(serverStorageId)?.lastHeads, target)) {
        handle.off("remote-heads", check);
        resolve();
      }
    };
    handle.on("remote-heads", check);
    adapter.onServerError = (message) => reject(new Error(`the server refused our change: ${message}`));
    aborter.signal.addEventListener("abort", () =>
      reject(
        new Error(
          `the server never acknowledged heads ${target.join(",")} ` +
            `(last reported: ${JSON.stringify(handle.getSyncInfo(serverStorageId)?.lastHeads ?? null)}); ` +
            "was the change refused? see the server log",
        ),
      ),
    );
    check();
  });
  console.log(`ACKNOWLEDGED ${target.join(",")}`);
  return 0;
}

let status;
try {
  status = await main();
} catch (error) {
  console.error(`ERROR: ${error?.stack ?? error}`);
  status = 1;
}
clearTimeout(watchdog);
// Shutting down flushes nothing we need (no storage) and must not hang the exit.
await Promise.race([repo.shutdown().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1_000))]);
process.exit(status);
