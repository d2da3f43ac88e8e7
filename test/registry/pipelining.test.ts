// Connections and HTTP/1.1 pipelining against a real registry (distribution
// 2.8.2, plain HTTP on loopback) behind a TCP relay that counts connections
// and sees how many requests each had outstanding at once.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { resolve, useServer, withClient } from "../support/client-helpers.js";
import { startRegistry } from "../support/registry.js";
import { seedImages } from "../support/seed.js";
import type { PushedManifest } from "../support/seed.js";
import { startTcpRelay } from "../support/tcp-relay.js";
import type { TcpRelay } from "../support/tcp-relay.js";

const IMAGES = 48;

describe("HTTP/1.1: connections per registry and pipelining", () => {
  const reg = useServer(() => startRegistry());
  let pushed: PushedManifest[] = [];
  let relay: TcpRelay | undefined;
  const tags = Array.from({ length: IMAGES }, (_, i) => `v${i}`);
  before(async () => {
    pushed = await seedImages(reg(), tags.map((tag) => ({ repository: "pipe/app", tag, kind: "oci-manifest" as const })), { concurrency: 8 });
  });
  const fresh = async (): Promise<TcpRelay> => {
    await relay?.stop();
    relay = await startTcpRelay(reg().port);
    return relay;
  };
  after(async () => {
    await relay?.stop();
  });

  test("the default (128 in flight): 48 lookups at once on at most 16 connections, pipelined, one HEAD each, every digest right", async () => {
    const r = await fresh();
    await withClient({}, async (client) => {
      const digests = await Promise.all(tags.map((t) => resolve(client, `127.0.0.1:${r.port}/pipe/app:${t}`)));
      assert.deepEqual(digests, pushed.map((p) => p.digest));
      assert.equal(client.stats.head, IMAGES, "one HEAD per reference");
      assert.equal(client.stats.get, 0);
      assert.equal(client.stats.retries, 0);
    });
    // The loopback probe's HTTPS attempt is one connection of its own; plain HTTP carries the rest.
    assert.ok(r.accepted.length <= 17, `${r.accepted.length} connections`);
    assert.ok(r.maxPipelined >= 2, `requests were pipelined (at most ${r.maxPipelined} outstanding on one connection)`);
    assert.ok(r.maxPipelined <= 8, `no deeper than 128 / 16 (saw ${r.maxPipelined})`);
  });

  test("registryConcurrency 16: one request per connection, never pipelined", async () => {
    const r = await fresh();
    await withClient({ registryConcurrency: 16 }, async (client) => {
      const digests = await Promise.all(tags.map((t) => resolve(client, `127.0.0.1:${r.port}/pipe/app:${t}`)));
      assert.deepEqual(digests, pushed.map((p) => p.digest));
      assert.equal(client.stats.head, IMAGES);
    });
    assert.ok(r.accepted.length <= 17, `${r.accepted.length} connections`);
    assert.equal(r.maxPipelined, 1);
  });

  test("registryConcurrency 32: 2 deep at most on 16 connections", async () => {
    const r = await fresh();
    await withClient({ registryConcurrency: 32 }, async (client) => {
      const digests = await Promise.all(tags.map((t) => resolve(client, `127.0.0.1:${r.port}/pipe/app:${t}`)));
      assert.deepEqual(digests, pushed.map((p) => p.digest));
    });
    assert.ok(r.accepted.length <= 17, `${r.accepted.length} connections`);
    assert.ok(r.maxPipelined <= 2, `saw ${r.maxPipelined}`);
  });

  test("after a pipelined burst, a few lookups go one per connection again", async () => {
    const r = await fresh();
    await withClient({}, async (client) => {
      await Promise.all(tags.map((t) => resolve(client, `127.0.0.1:${r.port}/pipe/app:${t}`)));
      // Idle now: undici's depth is back to one, and a lowered depth mid-pipeline would have failed the burst.
      const again = await Promise.all(tags.slice(0, 4).map((t) => resolve(client, `127.0.0.1:${r.port}/pipe/app:${t}`)));
      assert.deepEqual(again, pushed.slice(0, 4).map((p) => p.digest));
      assert.equal(client.stats.head, IMAGES + 4);
    });
  });
});
