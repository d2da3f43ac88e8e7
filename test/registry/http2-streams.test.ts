// HTTP/2: how many lookups go out at once on a registry's one connection.
// As many as the server's SETTINGS_MAX_CONCURRENT_STREAMS allows, up to
// registryStreams (250): 150 lookups are one round trip, not two, on a server
// that allows them, and a server that allows 20 never sees a 21st (a stream
// over its limit would be refused). Servers of ours, since the point is the
// limit they announce; the real registry's case is in client.test.ts.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createSecureServer } from "node:http2";
import type { Http2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { Network } from "../../src/registry/network.js";
import { TIMEOUT_MS, resolve, useServer, withClient } from "../support/client-helpers.js";
import { createCa } from "../support/certs.js";
import { MediaType } from "../support/seed.js";

interface StreamServer {
  readonly port: number;
  /** Manifest requests in flight at once on one connection, at most. */
  peak: number;
  /** Connections that carried manifest requests. */
  connections: number;
  stop(): Promise<void>;
}

const digestOf = (path: string): string => `sha256:${createHash("sha256").update(path).digest("hex")}`;

async function startStreamServer(caPem: { issue(names: readonly string[]): Promise<{ key: string; cert: string }> }, maxConcurrentStreams?: number): Promise<StreamServer> {
  const tls = await caPem.issue(["127.0.0.1"]);
  const sessions = new Set<Http2Session>();
  const server = createSecureServer({ key: tls.key, cert: tls.cert, ...(maxConcurrentStreams ? { settings: { maxConcurrentStreams } } : {}) });
  const active = new Map<Http2Session, number>();
  const state: StreamServer = { port: 0, peak: 0, connections: 0, stop: () => Promise.resolve() };
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  server.on("stream", (stream, headers) => {
    stream.on("error", () => undefined);
    const path = String(headers[":path"]);
    if (path === "/v2/") {
      stream.respond({ ":status": 200, "content-type": "application/json" });
      stream.end("{}");
      return;
    }
    const session = stream.session!;
    if (!active.has(session)) state.connections++;
    const now = (active.get(session) ?? 0) + 1;
    active.set(session, now);
    state.peak = Math.max(state.peak, now);
    // Long enough that the lookups overlap: the peak counts what was in flight together.
    setTimeout(() => {
      active.set(session, (active.get(session) ?? 1) - 1);
      stream.respond({ ":status": 200, "content-type": MediaType.ociManifest, "docker-content-digest": digestOf(path), "content-length": "2" });
      stream.end();
    }, 40);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.stop = () =>
    new Promise<void>((r) => {
      for (const session of sessions) session.destroy();
      server.close(() => r());
    });
  return Object.assign(state, { port: (server.address() as AddressInfo).port });
}

describe("HTTP/2 streams per registry connection", () => {
  const ca = useServer(async () => {
    const made = await createCa();
    return { ...made, stop: () => made.remove() };
  });

  async function lookups(server: StreamServer, count: number): Promise<Network> {
    const network = new Network({ timeoutMs: TIMEOUT_MS, ca: ca().caPem, env: {} });
    const host = `127.0.0.1:${server.port}`;
    try {
      await withClient({ network }, async (client) => {
        const refs = Array.from({ length: count }, (_, i) => `${host}/many/app:t${i}`);
        const digests = await Promise.all(refs.map((r) => resolve(client, r)));
        assert.deepEqual(digests, refs.map((r) => digestOf(`/v2/many/app/manifests/${r.slice(r.lastIndexOf(":") + 1)}`)));
        assert.equal(client.stats.head, count);
      });
      assert.deepEqual([...network.http2Hosts], [host]);
    } finally {
      await network.close();
    }
    return network;
  }

  test("a server that announces no lower limit gets 150 lookups at once (past the 100 of a first flight)", async () => {
    const server = await startStreamServer(ca());
    try {
      await lookups(server, 150);
      assert.equal(server.peak, 150);
      assert.equal(server.connections, 1);
    } finally {
      await server.stop();
    }
  });

  test("a server that allows 20 streams per connection sees at most 20 on each, and every lookup succeeds (more connections carry the rest)", async () => {
    const server = await startStreamServer(ca(), 20);
    try {
      await lookups(server, 150);
      assert.ok(server.peak <= 20, `${server.peak} streams at once on one connection`);
      assert.ok(server.connections > 1, `${server.connections} connections`);
    } finally {
      await server.stop();
    }
  });
});
