// RegistryClient.warm: the `/v2/` probe started before the first lookup (the
// function does it while it parses), against real registries. The lookups
// that follow share it, authenticate as they would have, and a probe that
// failed is not sent again.
import assert from "node:assert/strict";
import diagnostics from "node:diagnostics_channel";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { startAhead } from "../../src/core/ahead.js";
import { lookupsAhead } from "../../src/function.js";
import type { Credential, CredentialProvider } from "../../src/registry/credentials.js";
import { rejectsWith, resolve, useServer, withClient } from "../support/client-helpers.js";
import { startFaultProxy } from "../support/fault-proxy.js";
import type { FaultProxy } from "../support/fault-proxy.js";
import { startRegistry } from "../support/registry.js";
import { startTcpRelay } from "../support/tcp-relay.js";
import { pushOciManifest } from "../support/seed.js";
import type { PushedManifest } from "../support/seed.js";
import { startTokenServer } from "../support/token-server.js";
import type { TokenServer } from "../support/token-server.js";

const fixed = (credential: Credential): CredentialProvider => ({ lookup: () => Promise.resolve(credential) });

describe("warm: an anonymous registry", () => {
  const reg = useServer(() => startRegistry());
  let seeded: PushedManifest[] = [];
  before(async () => {
    seeded = [await pushOciManifest(reg(), "warm/app", "a"), await pushOciManifest(reg(), "warm/app", "b")];
  });

  test("the lookups after it share its probe (HTTPS and plain HTTP side by side on loopback, as without it)", async () => {
    await withClient({}, async (client) => {
      await client.warm(reg().host).sent;
      const digests = await Promise.all(["a", "b", "a"].map((t) => resolve(client, `${reg().host}/warm/app:${t}`)));
      assert.deepEqual(digests, [seeded[0]?.digest, seeded[1]?.digest, seeded[0]?.digest]);
      assert.equal(client.stats.ping, 2, "one HTTPS attempt, one plain-HTTP probe, none again");
      assert.equal(client.stats.head, 3);
    });
  });

  test("warming twice, or after a lookup, probes nothing more", async () => {
    await withClient({}, async (client) => {
      await resolve(client, `${reg().host}/warm/app:a`);
      await client.warm(reg().host).sent;
      await client.warm(reg().host).sent;
      assert.equal(client.stats.ping, 2);
    });
  });
});

describe("startAhead: a run's probes before its parse", () => {
  const reg = useServer(() => startRegistry());

  test("it resolves once the probe's attempts are being connected, not waiting for an answer", async () => {
    // The relay holds the connection 300 ms: no answer can come before then.
    const relay = await startTcpRelay(reg().port, { holdMs: 300 });
    const connects: string[] = [];
    const seen = (message: unknown): void => {
      const { protocol, port } = (message as { connectParams: { protocol: string; port: string } }).connectParams;
      connects.push(`${protocol}//:${port}`);
    };
    diagnostics.subscribe("undici:client:beforeConnect", seen);
    try {
      const input =
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n" +
        `  spec:\n    containers:\n    - name: c\n      image: 127.0.0.1:${relay.port}/warm/app:a\n`;
      const ahead = lookupsAhead(input) ?? assert.fail("nothing read ahead");
      const started = await startAhead(ahead);
      // Both of a loopback registry's attempts: plain HTTP first, HTTPS once that is connected (20 ms at most).
      assert.deepEqual(connects, [`http://:${relay.port}`, `https://:${relay.port}`]);
      assert.equal(relay.requests.length, 0, "no request has reached the registry yet");
      assert.equal(started.prefetched?.count, 1, "the image's lookup is queued behind the probe");
      await started.stack.close();
    } finally {
      diagnostics.unsubscribe("undici:client:beforeConnect", seen);
      await relay.stop();
    }
  });
});

describe("warm: a registry that cannot be reached", () => {
  test("its failure is what the lookups report, naming their image, without a second probe", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    await withClient({}, async (client) => {
      await client.warm(`127.0.0.1:${port}`).sent;
      // Let the probe fail before the lookups ask: without warm's keeping it, they would probe again.
      await new Promise((r) => setTimeout(r, 50));
      const probes = client.stats.ping;
      const err = await rejectsWith(resolve(client, `127.0.0.1:${port}/app:v1`), "UNREACHABLE");
      assert.match(err.message, new RegExp(`image 127\\.0\\.0\\.1:${port}/app:v1`));
      assert.equal(client.stats.ping, probes, "the failed probe is not sent again");
      assert.equal(client.stats.head, 0);
    });
  });
});

describe("warm: an htpasswd registry behind a recording proxy", () => {
  const reg = useServer(() => startRegistry({ htpasswd: { user: "bob", password: "hunter2" } }));
  let proxy: FaultProxy | undefined;
  let seeded: PushedManifest | undefined;
  before(async () => {
    seeded = await pushOciManifest(reg(), "private/app", "v1");
    proxy = await startFaultProxy(reg());
  });
  after(async () => proxy?.stop());

  test("the probe carries no credentials; the HEAD carries Basic, sent up front from the probe's challenge", async () => {
    assert.ok(proxy);
    proxy.reset();
    await withClient({ credentials: fixed({ kind: "basic", username: "bob", password: "hunter2" }) }, async (client) => {
      await client.warm(proxy!.host).sent;
      assert.equal(await resolve(client, `${proxy!.host}/private/app:v1`), seeded?.digest);
      assert.equal(client.stats.head, 1, "no 401 first: the challenge was known");
    });
    const probes = proxy.requests.filter((r) => r.path === "/v2/");
    assert.ok(probes.length >= 1);
    assert.ok(probes.every((r) => r.authorization === undefined), "no credentials before the challenge");
    const heads = proxy.requests.filter((r) => r.method === "HEAD");
    assert.equal(heads.length, 1);
    assert.match(heads[0]?.authorization ?? "", /^Basic /);
  });
});

describe("warm: a token-auth registry", () => {
  let tokens: TokenServer | undefined;
  before(async () => {
    tokens = await startTokenServer({ users: { alice: "secret" }, anonymous: true });
  });
  after(async () => tokens?.stop());
  const reg = useServer(() => {
    assert.ok(tokens);
    return startRegistry({ token: tokens.registryConfig });
  });
  let seeded: PushedManifest | undefined;
  before(async () => {
    assert.ok(tokens);
    const t = tokens;
    seeded = await pushOciManifest({ ...reg(), authorization: (repo: string) => t.pushAuthorization(repo) }, "team/app", "a");
  });

  test("Basic credentials go to the token service named by the warm probe's challenge; one token, one HEAD", async () => {
    assert.ok(tokens);
    tokens.resetCounters();
    await withClient({ credentials: fixed({ kind: "basic", username: "alice", password: "secret" }) }, async (client) => {
      await client.warm(reg().host).sent;
      const digests = await Promise.all([1, 2, 3].map(() => resolve(client, `${reg().host}/team/app:a`)));
      assert.deepEqual(digests, [seeded?.digest, seeded?.digest, seeded?.digest]);
      assert.equal(client.stats.token, 1);
      assert.equal(client.stats.head, 3);
    });
    assert.equal(tokens.counters.requests, 1);
  });
});
