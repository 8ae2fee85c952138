// A stock tus server (@tus/server with @tus/file-store, as its README sets it up): the second
// baseline our uploads are benchmarked against (tests/benches/media.rs).
//
//   node tus-server.mjs --dir DIR [--port 0]
//
// It takes uploads at /files/ on 127.0.0.1 and writes them under DIR. Stdout carries exactly
// one line, `listening on 127.0.0.1:<port>`, once it is ready. It checks nothing: no
// authentication, no hashes, no limits; our server does all three, so the comparison is kind
// to it.

import http from "node:http";
import { parseArgs } from "node:util";
import { Server } from "@tus/server";
import { FileStore } from "@tus/file-store";

const { values: args } = parseArgs({
  options: {
    dir: { type: "string" },
    port: { type: "string", default: "0" },
  },
});
if (!args.dir) {
  console.error("usage: node tus-server.mjs --dir DIR [--port 0]");
  process.exit(2);
}

const tus = new Server({
  path: "/files",
  datastore: new FileStore({ directory: args.dir }),
});
const server = http.createServer((req, res) => tus.handle(req, res));
server.listen(Number(args.port), "127.0.0.1", () => {
  console.log(`listening on 127.0.0.1:${server.address().port}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
