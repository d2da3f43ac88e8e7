// RegistryClient against a real registry (Debian's docker-registry,
// distribution 2.8.2) started per describe() by test/support/registry.ts.
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import type { Server as HttpServer } from "node:http";
import { createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import type { Credential, CredentialProvider } from "../../src/registry/credentials.js";
import { TIMEOUT_MS, rejectsWith, resolve, useServer, withClient } from "../support/client-helpers.js";
import { forward, startFaultProxy } from "../support/fault-proxy.js";
import type { FaultProxy } from "../support/fault-proxy.js";
import { Network } from "../../src/registry/network.js";
import { freePort, startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { IMAGE_KINDS, pushImage, pushOciIndex, pushOciManifest } from "../support/seed.js";
import type { PushedManifest, SeedTarget } from "../support/seed.js";
import { startTcpRelay } from "../support/tcp-relay.js";
import { startTokenServer } from "../support/token-server.js";
import type { TokenServer } from "../support/token-server.js";

const useRegistry = (start: () => Promise<Registry>): (() => Registry) => useServer(start);

const fixed = (credential: Credential): CredentialProvider => ({ lookup: () => Promise.resolve(credential) });

describe("anonymous HTTP registry on loopback", () => {
  const reg = useRegistry(() => startRegistry());
  const seeded = new Map<string, PushedManifest>();
  before(async () => {
    for (const kind of IMAGE_KINDS) seeded.set(kind, await pushImage(reg(), { repository: `kinds/${kind}`, tag: "v1", kind }));
  });

  test("each manifest kind resolves to the seeded digest (the index's for index and list) with one HEAD each", async () => {
    await withClient({}, async (client) => {
      for (const kind of IMAGE_KINDS) {
        const before = client.stats;
        const digest = await resolve(client, `${reg().host}/kinds/${kind}:v1`);
        assert.equal(digest, seeded.get(kind)?.digest, kind);
        assert.equal(client.stats.head - before.head, 1, `${kind}: exactly one HEAD`);
        assert.equal(client.stats.get - before.get, 0, `${kind}: no GET`);
      }
      assert.equal(client.stats.token, 0);
    });
  });

  test("HTTPS and plain HTTP are probed side by side, the one that answers is remembered", async () => {
    await withClient({}, async (client) => {
      await resolve(client, `${reg().host}/kinds/oci-index:v1`);
      assert.equal(client.stats.ping, 2, "one HTTPS probe that failed, one HTTP probe");
      await resolve(client, `${reg().host}/kinds/oci-manifest:v1`);
      await resolve(client, `${reg().host}/kinds/docker-manifest:v1`);
      assert.equal(client.stats.ping, 2, "no probe after the first");
      assert.equal(client.stats.head, 3);
    });
  });

  test("the two probes are in flight at once, not one after the other", async () => {
    // Every connection is held HOLD_MS before it is passed on: probes sent in turn would arrive
    // at least HOLD_MS apart (the second waits for the first's answer); side by side, at once.
    const HOLD_MS = 400;
    const relay = await startTcpRelay(reg().port, { holdMs: HOLD_MS });
    try {
      await withClient({}, async (client) => {
        assert.equal(await resolve(client, `127.0.0.1:${relay.port}/kinds/oci-manifest:v1`), seeded.get("oci-manifest")?.digest);
      });
      const [first, second] = relay.accepted;
      assert.ok(first !== undefined && second !== undefined, "two connections");
      assert.ok(second - first < HOLD_MS, `the second probe's connection came ${Math.round(second - first)} ms after the first`);
    } finally {
      await relay.stop();
    }
  });

  test("the same registry named 'localhost' works too", async () => {
    await withClient({}, async (client) => {
      const digest = await resolve(client, `localhost:${reg().port}/kinds/docker-manifest-list:v1`);
      assert.equal(digest, seeded.get("docker-manifest-list")?.digest);
    });
  });

  test("concurrent resolves share one probe and each make one HEAD", async () => {
    await withClient({}, async (client) => {
      const images = IMAGE_KINDS.flatMap((k) => [`${reg().host}/kinds/${k}:v1`, `${reg().host}/kinds/${k}:v1`]);
      const digests = await Promise.all(images.map((i) => resolve(client, i)));
      assert.deepEqual(digests, IMAGE_KINDS.flatMap((k) => [seeded.get(k)?.digest, seeded.get(k)?.digest]));
      assert.equal(client.stats.ping, 2);
      assert.equal(client.stats.head, images.length);
    });
  });

  test("an unknown tag is TAG_NOT_FOUND", async () => {
    await withClient({}, async (client) => {
      const err = await rejectsWith(resolve(client, `${reg().host}/kinds/oci-index:v9`), "TAG_NOT_FOUND");
      assert.equal(err.message, `tag "v9" not found in repository ${reg().host}/kinds/oci-index`);
      assert.equal(err.registry, reg().host);
      assert.equal(err.image, `${reg().host}/kinds/oci-index:v9`);
    });
  });

  test("an unknown repository is REPOSITORY_NOT_FOUND", async () => {
    await withClient({}, async (client) => {
      const err = await rejectsWith(resolve(client, `${reg().host}/no/such/repo:v1`), "REPOSITORY_NOT_FOUND");
      assert.match(err.message, new RegExp(`repository ${reg().host}/no/such/repo not found`));
    });
  });

  test("a reference without a tag resolves 'latest'", async () => {
    const pushed = await pushOciManifest(reg(), "defaults/app", "latest");
    await withClient({}, async (client) => {
      assert.equal(await resolve(client, `${reg().host}/defaults/app`), pushed.digest);
    });
  });
});

describe("a registry behind a proxy that hides HEAD", () => {
  const reg = useRegistry(() => startRegistry());
  let seeded: PushedManifest | undefined;
  let proxy: FaultProxy | undefined;
  before(async () => {
    seeded = await pushOciIndex(reg(), "app", "v1");
    proxy = await startFaultProxy(reg());
  });
  after(async () => proxy?.stop());

  test("HEAD without Docker-Content-Digest: GET and hash the exact bytes", async () => {
    assert.ok(proxy && seeded);
    proxy.reset();
    proxy.script({ method: "HEAD", path: /\/manifests\//, fault: { kind: "strip-digest" } });
    await withClient({}, async (client) => {
      assert.equal(await resolve(client, `${proxy?.host}/app:v1`), seeded?.digest);
      assert.deepEqual([client.stats.head, client.stats.get], [1, 1]);
    });
  });

  test("HEAD rejected with 405: GET", async () => {
    assert.ok(proxy && seeded);
    proxy.reset();
    proxy.script({ method: "HEAD", path: /\/manifests\//, fault: { kind: "status", status: 405 } });
    await withClient({}, async (client) => {
      assert.equal(await resolve(client, `${proxy?.host}/app:v1`), seeded?.digest);
      assert.deepEqual([client.stats.head, client.stats.get], [1, 1]);
      // A real 404 is still told apart after the HEAD was rejected.
      await rejectsWith(resolve(client, `${proxy?.host}/app:v9`), "TAG_NOT_FOUND");
      await rejectsWith(resolve(client, `${proxy?.host}/nope:v1`), "REPOSITORY_NOT_FOUND");
    });
  });
});

describe("registries that cannot be reached", () => {
  test("a port with nothing listening is UNREACHABLE, quickly", async () => {
    const port = await freePort();
    await withClient({}, async (client) => {
      const t0 = performance.now();
      const err = await rejectsWith(resolve(client, `127.0.0.1:${port}/app:v1`), "UNREACHABLE");
      assert.ok(performance.now() - t0 < 2000, "fails fast");
      assert.match(err.message, new RegExp(`^registry 127\\.0\\.0\\.1:${port} is unreachable: connection to 127\\.0\\.0\\.1:${port} refused`));
    });
  });

  test("a server that accepts and never answers is TIMEOUT within timeoutMs", async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => void sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const { port } = silent.address() as AddressInfo;
    try {
      await withClient({ timeoutMs: 700 }, async (client) => {
        const t0 = performance.now();
        await rejectsWith(resolve(client, `127.0.0.1:${port}/app:v1`), "TIMEOUT");
        const elapsed = performance.now() - t0;
        // Lower bound loose: Node starts timers from the loop's cached clock, which may lag wall time.
        assert.ok(elapsed >= 350 && elapsed < 700 + 300, `failed after ${Math.round(elapsed)} ms`);
      });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});

describe("TLS registry on loopback", () => {
  const reg = useRegistry(() => startRegistry({ tls: true }));
  let seeded: PushedManifest | undefined;
  before(async () => {
    seeded = await pushImage(reg(), { repository: "secure/app", tag: "v1", kind: "docker-manifest-list" });
  });

  test("resolves over verified HTTPS with the CA trusted", async () => {
    await withClient({ ca: reg().caPem ?? "" }, async (client) => {
      assert.equal(await resolve(client, `${reg().host}/secure/app:v1`), seeded?.digest);
      // Loopback: plain HTTP was asked too (and answered 400 by this TLS port); HTTPS is kept.
      assert.deepEqual([client.stats.ping, client.stats.head], [2, 1]);
    });
  });

  test("HTTP/2: one connection carries 40 lookups at once, past the HTTP/1.1 limit of 16", async () => {
    const tags = Array.from({ length: 40 }, (_, i) => `t${i}`);
    for (const tag of tags) await pushImage(reg(), { repository: "secure/many", tag, kind: "oci-manifest" });
    const relay = await startTcpRelay(reg().port);
    const network = new Network({ timeoutMs: TIMEOUT_MS, ca: reg().caPem ?? "", env: {} });
    try {
      const host = `127.0.0.1:${relay.port}`;
      await withClient({ network }, async (client) => {
        const digests = await Promise.all(tags.map((t) => resolve(client, `${host}/secure/many:${t}`)));
        assert.equal(new Set(digests).size, 40);
        assert.equal(client.stats.head, 40);
      });
      assert.deepEqual([...network.http2Hosts], [host]);
      assert.ok(network.limiter.peak(host) > 16, `at most ${network.limiter.peak(host)} in flight`);
      // The TLS connection, and the plain-HTTP probe loopback also gets (answered 400 by this TLS port).
      assert.equal(relay.accepted.length, 2);
    } finally {
      await network.close();
      await relay.stop();
    }
  });

  test("an untrusted certificate is TLS, not a confusing answer from a plain-HTTP retry", async () => {
    await withClient({}, async (client) => {
      const err = await rejectsWith(resolve(client, `${reg().host}/secure/app:v1`), "TLS");
      assert.match(err.message, /untrusted CA|not trusted/);
    });
  });
});

describe("token-auth registry", () => {
  let tokens: TokenServer | undefined;
  const ts = (): TokenServer => {
    assert.ok(tokens);
    return tokens;
  };
  before(async () => {
    tokens = await startTokenServer({ users: { alice: "secret" }, anonymous: true });
  });
  after(async () => tokens?.stop());
  const reg = useRegistry(() => startRegistry({ token: ts().registryConfig }));
  const pushAuth: Pick<SeedTarget, "authorization"> = {
    authorization: (repo: string) => ts().pushAuthorization(repo),
  };
  const seeded = new Map<string, PushedManifest>();
  before(async () => {
    for (const tag of ["a", "b", "c"]) seeded.set(tag, await pushOciManifest({ ...reg(), ...pushAuth }, "team/app", tag));
    seeded.set("other", await pushOciIndex({ ...reg(), ...pushAuth }, "team/other", "v1"));
  });

  test("anonymous pull: concurrent resolves of one repository share one token request, one HEAD each", async () => {
    ts().resetCounters();
    await withClient({}, async (client) => {
      const images = ["a", "b", "c", "a", "b", "c"].map((t) => `${reg().host}/team/app:${t}`);
      const digests = await Promise.all(images.map((i) => resolve(client, i)));
      assert.deepEqual(digests, ["a", "b", "c", "a", "b", "c"].map((t) => seeded.get(t)?.digest));
      assert.equal(ts().counters.requests, 1, "one token request for the repository");
      assert.deepEqual(ts().requests[0]?.scopes, ["repository:team/app:pull"]);
      assert.equal(ts().requests[0]?.service, ts().service);
      assert.equal(client.stats.token, 1);
      assert.equal(client.stats.head, images.length, "the probe's challenge lets the first HEAD carry the token");

      // Another repository needs its own scope, hence its own token; the cached one is reused later.
      assert.equal(await resolve(client, `${reg().host}/team/other:v1`), seeded.get("other")?.digest);
      assert.equal(await resolve(client, `${reg().host}/team/app:a`), seeded.get("a")?.digest);
      assert.equal(ts().counters.requests, 2);
    });
  });

  test("Basic credentials go to the token service", async () => {
    ts().resetCounters();
    await withClient({ credentials: fixed({ kind: "basic", username: "alice", password: "secret" }) }, async (client) => {
      assert.equal(await resolve(client, `${reg().host}/team/app:a`), seeded.get("a")?.digest);
      assert.equal(ts().requests[0]?.user, "alice");
    });
  });

  test("wrong credentials are UNAUTHORIZED", async () => {
    await withClient({ credentials: fixed({ kind: "basic", username: "alice", password: "wrong" }) }, async (client) => {
      const err = await rejectsWith(resolve(client, `${reg().host}/team/app:a`), "UNAUTHORIZED");
      assert.match(err.message, /token service 127\.0\.0\.1:\d+ .*rejected the credentials/);
    });
  });

  test("an identity token falls back from the OAuth2 POST (404 here) to GET", async () => {
    ts().resetCounters();
    await withClient({ credentials: fixed({ kind: "identityToken", token: "refresh-me" }) }, async (client) => {
      assert.equal(await resolve(client, `${reg().host}/team/app:b`), seeded.get("b")?.digest);
      assert.equal(client.stats.token, 2, "POST, then GET");
      assert.equal(ts().counters.issued, 1);
    });
  });

  test("an unknown tag or repository behind token auth is still TAG_NOT_FOUND / REPOSITORY_NOT_FOUND", async () => {
    await withClient({}, async (client) => {
      await rejectsWith(resolve(client, `${reg().host}/team/app:nope`), "TAG_NOT_FOUND");
      await rejectsWith(resolve(client, `${reg().host}/team/nope:v1`), "REPOSITORY_NOT_FOUND");
    });
  });

  test("a registry whose /v2/ is anonymous: the 401's challenge is remembered for later resolves", async () => {
    const proxy = await startFaultProxy(reg());
    proxy.script({ path: /^\/v2\/$/, fault: { kind: "anonymous-ping" } });
    try {
      await withClient({}, async (client) => {
        assert.equal(await resolve(client, `${proxy.host}/team/app:a`), seeded.get("a")?.digest);
        assert.deepEqual([client.stats.head, client.stats.token], [2, 1], "401, token, retry");
        assert.equal(await resolve(client, `${proxy.host}/team/app:b`), seeded.get("b")?.digest);
        assert.deepEqual([client.stats.head, client.stats.token], [3, 1], "token sent up front");
      });
    } finally {
      await proxy.stop();
    }
  });

  test("a failing credential provider is a RegistryError naming the image", async () => {
    const broken: CredentialProvider = { lookup: () => Promise.reject(new Error("helper exited 1")) };
    await withClient({ credentials: broken }, async (client) => {
      const err = await rejectsWith(resolve(client, `${reg().host}/team/app:a`), "UNAUTHORIZED");
      assert.match(err.message, /looking up credentials failed: helper exited 1/);
    });
  });
});

describe("token-auth registry whose token service answers access_token only, without expires_in", () => {
  let tokens: TokenServer | undefined;
  before(async () => {
    tokens = await startTokenServer({ tokenField: "access_token", omitExpiresIn: true });
  });
  after(async () => tokens?.stop());
  const reg = useRegistry(() => startRegistry({ token: tokens?.registryConfig }));

  test("resolves, and reuses the token", async () => {
    assert.ok(tokens);
    const ts = tokens;
    const pushed = await pushOciManifest(
      { ...reg(), authorization: (repo: string) => ts.pushAuthorization(repo) },
      "app",
      "v1",
    );
    await withClient({}, async (client) => {
      assert.equal(await resolve(client, `${reg().host}/app:v1`), pushed.digest);
      assert.equal(await resolve(client, `${reg().host}/app:v1`), pushed.digest);
      assert.deepEqual([client.stats.token, client.stats.head], [1, 2]);
    });
  });
});

describe("token-auth registry whose token service gives out a bad token first", () => {
  let real: TokenServer | undefined;
  let foreign: TokenServer | undefined;
  let realm: HttpServer | undefined;
  let realmRequests = 0;
  before(async () => {
    real = await startTokenServer();
    foreign = await startTokenServer(); // its signing cert is not the registry's: tokens are invalid
    realm = createHttpServer((req, res) => {
      const target = realmRequests++ === 0 ? foreign : real;
      void forward({ url: target?.url ?? "" }, req, res);
    });
    await new Promise<void>((r) => realm?.listen(0, "127.0.0.1", r));
  });
  after(async () => {
    await new Promise((r) => realm?.close(r));
    await real?.stop();
    await foreign?.stop();
  });
  const reg = useRegistry(() => {
    assert.ok(real && realm);
    const { port } = realm.address() as AddressInfo;
    return startRegistry({ token: { ...real.registryConfig, realm: `http://127.0.0.1:${port}/token` } });
  });

  test("a 401 invalid_token makes the client fetch a fresh token once and retry", async () => {
    assert.ok(real);
    const tokens = real;
    const pushed = await pushOciManifest(
      { ...reg(), authorization: (repo: string) => tokens.pushAuthorization(repo) },
      "app",
      "v1",
    );
    await withClient({}, async (client) => {
      assert.equal(await resolve(client, `${reg().host}/app:v1`), pushed.digest);
      assert.equal(client.stats.token, 2, "the invalid token, then a good one");
      assert.equal(client.stats.head, 2, "the rejected HEAD and its retry");
      assert.equal(realmRequests, 2);
    });
  });
});

describe("htpasswd registry", () => {
  const reg = useRegistry(() => startRegistry({ htpasswd: { user: "bob", password: "hunter2" } }));
  let seeded: PushedManifest | undefined;
  before(async () => {
    seeded = await pushOciManifest(reg(), "private/app", "v1");
  });

  test("Basic credentials are sent up front", async () => {
    await withClient({ credentials: fixed({ kind: "basic", username: "bob", password: "hunter2" }) }, async (client) => {
      assert.equal(await resolve(client, `${reg().host}/private/app:v1`), seeded?.digest);
      assert.equal(client.stats.head, 1);
    });
  });

  test("without credentials: UNAUTHORIZED", async () => {
    await withClient({}, async (client) => {
      await rejectsWith(resolve(client, `${reg().host}/private/app:v1`), "UNAUTHORIZED");
    });
  });

  test("with a wrong password: UNAUTHORIZED", async () => {
    await withClient({ credentials: fixed({ kind: "basic", username: "bob", password: "nope" }) }, async (client) => {
      await rejectsWith(resolve(client, `${reg().host}/private/app:v1`), "UNAUTHORIZED");
    });
  });
});
