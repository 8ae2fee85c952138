// A stock automerge-repo 2.x sync server: the reference our Rust sync server is benchmarked against.
// It is set up the way @automerge/automerge-repo-sync-server does it (a `ws` WebSocketServer
// behind a Node HTTP server, a `WebSocketServerAdapter`, a `NodeFSStorageAdapter` and a share
// policy that announces nothing, so clients must ask for documents by id), minus Express.
//
//   node sync-server.mjs --dir DIR [--port 0] [--seed FILE]
//
// --dir   the storage directory (created if missing).
// --port  the TCP port on 127.0.0.1; 0 (the default) takes any free port.
// --seed  a JSON file [{"id": "<document id>", "file": "/path/to/doc.bin"}, ...]: each file holds
//         the bytes of `Automerge.save()` and is loaded under exactly that document id (a
//         base58check automerge-repo id; an "automerge:..." URL is accepted too). If the
//         directory already holds the document, both are merged. Every seeded document is on
//         disk before the server listens.
//
// WebSockets are accepted on the path /sync only (any query string, e.g. ?ticket=..., is
// ignored); other paths get HTTP 400, plain HTTP requests 426.
//
// Stdout carries exactly one line, `listening on 127.0.0.1:<port>`, once everything is ready; everything else
// (including what automerge-repo itself prints with console.log) goes to stderr. SIGTERM or
// SIGINT disconnects the clients, flushes every document to storage and exits 0.
//
// Durability: as in the stock server, the repo answers sync messages at once and writes a changed
// document afterwards (throttled to one write per document per 100 ms, `saveDebounceRate`), and
// NodeFSStorageAdapter writes with fs.writeFile, without fsync. A client's change is therefore
// acknowledged before it is on disk, and on disk is only in the page cache.

import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import { parseArgs } from "node:util";
import { Repo, interpretAsDocumentId, isValidDocumentId } from "@automerge/automerge-repo";
import { WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket";
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs";
import * as Automerge from "@automerge/automerge";
import { WebSocketServer } from "ws";

const { values: args } = parseArgs({
  options: {
    dir: { type: "string" },
    port: { type: "string", default: "0" },
    seed: { type: "string" },
  },
  strict: true,
});
const fatal = (message) => {
  console.error(`ERROR: ${message}`);
  process.exit(1);
};
if (!args.dir) fatal("usage: sync-server.mjs --dir DIR [--port 0] [--seed FILE]");
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fatal(`bad --port ${args.port}`);

// Stdout is reserved for the one `listening` line; automerge-repo reports some errors (e.g.
// "error receiving message") with console.log, so send all console output to stderr.
const printReady = (line) => process.stdout.write(`${line}\n`);
console.log = console.info = console.debug = console.error;

// A throttled save that fails, a socket error with no listener, a client vanishing mid-sync: log
// it and keep serving the other clients.
process.on("unhandledRejection", (reason) => console.error("unhandled rejection:", reason));
process.on("uncaughtException", (error) => console.error("uncaught exception:", error));

fs.mkdirSync(args.dir, { recursive: true });

const httpServer = http.createServer((req, res) => {
  res.writeHead(426, { "content-type": "text/plain" });
  res.end("this is a WebSocket endpoint: connect to /sync\n");
});
httpServer.on("clientError", (error, socket) => {
  console.error("http client error:", error.message);
  socket.destroy();
});

// `path` makes ws answer 400 to an upgrade on any other path (without it ws accepts every path);
// it compares the path without the query string.
const wss = new WebSocketServer({ server: httpServer, path: "/sync" });
wss.on("error", (error) => console.error("websocket server error:", error));
wss.on("connection", (socket, req) => {
  // Without an `error` listener, a malformed frame or a reset connection would throw.
  socket.on("error", (error) => console.error(`websocket error (${req.socket.remoteAddress}):`, error.message));
});

const repo = new Repo({
  network: [new WebSocketServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(args.dir),
  peerId: `storage-server-${os.hostname()}`,
  // A server does not share generously: it only syncs documents a client asks for by id.
  sharePolicy: async () => false,
});

async function seed(file) {
  const entries = JSON.parse(fs.readFileSync(file, "utf8"));
  if (!Array.isArray(entries)) throw new Error(`${file}: expected a JSON array`);
  for (const { id, file: docFile } of entries) {
    const documentId = interpretAsDocumentId(id);
    if (!isValidDocumentId(documentId)) throw new Error(`${file}: invalid document id ${JSON.stringify(id)}`);
    const binary = new Uint8Array(fs.readFileSync(docFile));
    // Whatever a previous run stored under this id is loaded first (which also tells the storage
    // subsystem which chunks exist, so the flush below writes only what is new), so that seeding
    // again never hides changes clients made since.
    const stored = await repo.storageSubsystem.loadDoc(documentId);
    if (stored) repo.import(Automerge.save(stored), { docId: documentId });
    // `import` with `docId` merges the bytes into the handle for that id (Automerge.loadIncremental)
    // and registers it with storage and sync; the handle is ready as soon as its heads change.
    const handle = repo.import(binary, { docId: documentId });
    if (!handle.isReady()) handle.doneLoading(); // a document without changes (no heads)
  }
  // `import` does not schedule a save; write every document now.
  await repo.flush();
  return entries.length;
}

try {
  if (args.seed) {
    const count = await seed(args.seed);
    console.error(`seeded ${count} document(s) into ${args.dir}`);
  }
  await new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(port, "127.0.0.1", () => {
      httpServer.off("error", reject);
      resolve();
    });
  });
} catch (error) {
  fatal(error?.stack ?? error);
}
httpServer.on("error", (error) => console.error("http server error:", error));
printReady(`listening on 127.0.0.1:${httpServer.address().port}`);

let stopping = false;
async function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.error(`${signal}: flushing and exiting`);
  const watchdog = setTimeout(() => {
    console.error("shutdown took more than 10 s; exiting anyway");
    process.exit(1);
  }, 10_000);
  let status = 0;
  try {
    httpServer.close(); // no new connections
    // What repo.shutdown() does, except that Repo.flush() with no argument throws ("DocHandle is
    // not ready") as soon as one handle is not ready, e.g. a document a client asked for and
    // nobody had: flush only the ready ones.
    for (const adapter of repo.networkSubsystem.adapters) adapter.disconnect();
    await repo.flush(Object.values(repo.handles).filter((h) => h.isReady()).map((h) => h.documentId));
  } catch (error) {
    console.error("shutdown failed:", error);
    status = 1;
  }
  clearTimeout(watchdog);
  process.exit(status);
}
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
