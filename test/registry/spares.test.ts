// Spare connections (src/registry/spares.ts): when the run says how many
// lookups will follow the probe, and the probe's connection shows HTTP/1.1
// over TLS (or, on a registry probed both ways, the port answered the TLS
// attempt in plain bytes), the connections they need are opened while the
// probe is out.
// Against a real registry (distribution 2.8.2) behind a relay that ends TLS
// offering HTTP/1.1 only and records when each connection came and each
// request line went by; and the registry's own TLS, which speaks HTTP/2.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createCa } from "../support/certs.js";
import type { TestCa } from "../support/certs.js";
import { resolve, useServer, withClient } from "../support/client-helpers.js";
import { startRegistry } from "../support/registry.js";
import { seedImages } from "../support/seed.js";
import type { PushedManifest } from "../support/seed.js";
import { startTcpRelay } from "../support/tcp-relay.js";
import type { TcpRelay } from "../support/tcp-relay.js";

const LOOKUPS = 40;
const tags = Array.from({ length: LOOKUPS }, (_, i) => `v${i}`);

async function until(what: string, done: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Connections accepted before the first manifest request reached the relay. */
const beforeFirstHead = (relay: TcpRelay): number => {
  const first = relay.requests.find((r) => r.line.startsWith("HEAD "));
  assert.ok(first, "no HEAD reached the relay");
  return relay.accepted.filter((at) => at < first.at).length;
};

describe("spare connections: HTTPS over HTTP/1.1", () => {
  const reg = useServer(() => startRegistry());
  let ca: TestCa | undefined;
  let pushed: PushedManifest[] = [];
  let relay: TcpRelay | undefined;
  before(async () => {
    ca = await createCa("spares test CA");
    pushed = await seedImages(reg(), tags.map((tag) => ({ repository: "spare/app", tag, kind: "oci-manifest" as const })), { concurrency: 8 });
  });
  after(async () => {
    await relay?.stop();
    ca?.remove();
  });
  const fresh = async (holdMs = 0): Promise<TcpRelay> => {
    await relay?.stop();
    relay = await startTcpRelay(reg().port, { holdMs, tls: await ca!.issue(["127.0.0.1"]) });
    return relay;
  };
  const env = (): Record<string, string> => ({ SSL_CERT_FILE: ca!.caFile });
  const all = (client: Parameters<typeof resolve>[0], r: TcpRelay): Promise<string[]> => Promise.all(tags.map((t) => resolve(client, `127.0.0.1:${r.port}/spare/app:${t}`)));

  test("told 40 lookups will follow: the 16 connections they use are up before the first HEAD, one HEAD each, no retries", async () => {
    // The relay holds every connection 150 ms before passing it on: the probe is answered late, the spares are not.
    const r = await fresh(150);
    await withClient({ env: env() }, async (client) => {
      await client.warm(`127.0.0.1:${r.port}`, LOOKUPS).sent;
      assert.deepEqual(await all(client, r), pushed.map((p) => p.digest));
      assert.equal(client.stats.head, LOOKUPS);
      assert.equal(client.stats.retries, 0);
    });
    assert.equal(r.accepted.length, 16, "the probe's connection and 15 spares, none more (the plain-HTTP attempt is no TLS connection)");
    assert.equal(beforeFirstHead(r), 16);
    const used = new Set(r.requests.filter((q) => q.line.startsWith("HEAD ")).map((q) => q.connection));
    assert.equal(used.size, 16, "every spare carried lookups");
  });

  test("warmed without a count, the connections open after the probe, as the lookups ask for them", async () => {
    const r = await fresh(150);
    await withClient({ env: env() }, async (client) => {
      await client.warm(`127.0.0.1:${r.port}`).sent;
      assert.deepEqual(await all(client, r), pushed.map((p) => p.digest));
    });
    assert.equal(beforeFirstHead(r), 1, "only the probe's connection");
    assert.ok(r.accepted.length <= 16, `${r.accepted.length} connections`);
  });

  test("spares nobody used are closed with the client, and keep nothing open", async () => {
    const r = await fresh();
    await withClient({ env: env() }, async (client) => {
      await client.warm(`127.0.0.1:${r.port}`, LOOKUPS).sent;
      await until("16 connections", () => r.open >= 16);
    });
    await until("every connection closed", () => r.open === 0);
    assert.equal(r.requests.filter((q) => q.line.startsWith("HEAD ")).length, 0);
  });

  test("spares the server closed before their first request: the lookups connect anew, without retries", async () => {
    const r = await fresh();
    await withClient({ env: env() }, async (client) => {
      await client.warm(`127.0.0.1:${r.port}`, LOOKUPS).sent;
      await until("16 connections", () => r.open >= 16);
      assert.equal(r.dropIdle(), 15, "the 15 spares (the probe's connection has sent its request)");
      await until("the spares closed", () => r.open === 1);
      // The relay's sockets closed after this turn's poll: one more lets the client read their end.
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(await all(client, r), pushed.map((p) => p.digest));
      assert.equal(client.stats.head, LOOKUPS);
      assert.equal(client.stats.retries, 0);
    });
    assert.ok(r.accepted.length > 16, `new connections after the spares were dropped (${r.accepted.length})`);
  });
});

describe("spare connections: plain HTTP", () => {
  const reg = useServer(() => startRegistry());
  let pushed: PushedManifest[] = [];
  let relay: TcpRelay | undefined;
  before(async () => {
    pushed = await seedImages(reg(), tags.map((tag) => ({ repository: "spare/plain", tag, kind: "oci-manifest" as const })), { concurrency: 8 });
  });
  after(async () => {
    await relay?.stop();
  });
  const all = (client: Parameters<typeof resolve>[0], r: TcpRelay): Promise<string[]> => Promise.all(tags.map((t) => resolve(client, `127.0.0.1:${r.port}/spare/plain:${t}`)));

  for (const count of [LOOKUPS, undefined]) {
    test(count ? "told 40 lookups: once the TLS attempt got plain bytes, the 15 more they use open while the plain probe is out" : "without a count, no connection opens while the probe is out but the two probes'", async () => {
      await relay?.stop();
      // The plain probe (the first connection: it goes before the TLS attempt) is held 200 ms; the TLS attempt is not,
      // so the registry's plain answer to the ClientHello comes first, as when a server rejects TLS before it routes a request.
      relay = await startTcpRelay(reg().port, { holdMs: (connection) => (connection === 0 ? 200 : 0) });
      const r = relay;
      await withClient({}, async (client) => {
        await client.warm(`127.0.0.1:${r.port}`, count).sent;
        assert.deepEqual(await all(client, r), pushed.map((p) => p.digest));
        assert.equal(client.stats.head, LOOKUPS);
        assert.equal(client.stats.retries, 0);
      });
      // Connections accepted while the plain probe was held (it is answered 200 ms after its own).
      const whileHeld = r.accepted.filter((at) => at < r.accepted[0]! + 150).length;
      if (count) {
        assert.equal(r.accepted.length, 17, "the plain probe's connection, the TLS attempt's and 15 spares, none more");
        assert.equal(whileHeld, 17);
        assert.equal(beforeFirstHead(r), 17);
        const used = new Set(r.requests.filter((q) => q.line.startsWith("HEAD ")).map((q) => q.connection));
        assert.equal(used.size, 16, "the probe's connection and every spare carried lookups");
      } else {
        assert.equal(whileHeld, 2, "only the two probes' connections");
      }
    });
  }
});

describe("spare connections: not over HTTP/2", () => {
  const reg = useServer(() => startRegistry({ tls: true }));
  let relay: TcpRelay | undefined;
  after(async () => {
    await relay?.stop();
  });

  test("the registry's own TLS negotiates HTTP/2: one connection carries the probe and the 40 lookups", async () => {
    const seeded = await seedImages(reg(), tags.map((tag) => ({ repository: "spare/h2", tag, kind: "oci-manifest" as const })), { concurrency: 8 });
    // A TCP relay (TLS passes through it) only counts connections.
    relay = await startTcpRelay(reg().port);
    const r = relay;
    await withClient({ env: { SSL_CERT_FILE: reg().caFile ?? assert.fail("no CA") } }, async (client) => {
      await client.warm(`127.0.0.1:${r.port}`, LOOKUPS).sent;
      const digests = await Promise.all(tags.map((t) => resolve(client, `127.0.0.1:${r.port}/spare/h2:${t}`)));
      assert.deepEqual(digests, seeded.map((p) => p.digest));
      assert.equal(client.stats.head, LOOKUPS);
    });
    // HTTPS, and the plain-HTTP attempt of a loopback registry.
    assert.ok(r.accepted.length <= 2, `${r.accepted.length} connections`);
  });
});
