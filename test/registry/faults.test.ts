// Transient and permanent failures between the client and a real registry,
// injected per request by test/support/fault-proxy.ts: what is retried (and
// how often, how long), what is not, timeouts, the run deadline, the
// per-registry concurrency limit and the HEAD -> GET fallbacks.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { before, beforeEach, describe, test } from "node:test";
import { fromResponse } from "../../src/registry/errors.js";
import { DEFAULT_REGISTRY_CONCURRENCY } from "../../src/registry/defaults.js";
import { backoffMs, parseRetryAfter, retryableStatus } from "../../src/registry/retry.js";
import { elapsed, rejectsWith, resolve, useServer, withClient } from "../support/client-helpers.js";
import { startFaultProxy } from "../support/fault-proxy.js";
import type { FaultProxy } from "../support/fault-proxy.js";
import { startRegistry } from "../support/registry.js";
import { pushOciIndex, pushOciManifest } from "../support/seed.js";
import type { PushedManifest } from "../support/seed.js";
import { startTokenServer } from "../support/token-server.js";

const MANIFEST = /\/manifests\//;

/** Manifest requests the proxy saw, by method. */
function manifests(proxy: FaultProxy, method: "HEAD" | "GET"): number {
  return proxy.requests.filter((r) => r.method === method && MANIFEST.test(r.path)).length;
}

describe("faults in front of a real registry", () => {
  const registry = useServer(() => startRegistry());
  const proxy = useServer(() => startFaultProxy(registry()));
  const seeded = new Map<string, PushedManifest>();
  const image = (tag = "v1"): string => `${proxy().host}/app:${tag}`;
  const digest = (tag = "v1"): string | undefined => seeded.get(tag)?.digest;

  before(async () => {
    seeded.set("v1", await pushOciIndex(registry(), "app", "v1"));
    for (const tag of ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]) seeded.set(tag, await pushOciManifest(registry(), "app", tag));
  });
  beforeEach(() => proxy().reset());

  for (const status of [500, 502, 503, 504, 408]) {
    test(`HTTP ${status} is retried until the registry answers`, async () => {
      proxy().script({ method: "HEAD", path: MANIFEST, times: 2, fault: { kind: "status", status } });
      await withClient({}, async (client) => {
        assert.equal(await resolve(client, image()), digest());
        assert.equal(manifests(proxy(), "HEAD"), 3, "two failures, then the answer");
        assert.equal(client.stats.retries, 2);
      });
    });
  }

  test("500, 502 and 503 in a row: three retries, then the answer", async () => {
    for (const status of [500, 502, 503]) proxy().script({ method: "HEAD", path: MANIFEST, times: 1, fault: { kind: "status", status } });
    await withClient({}, async (client) => {
      assert.equal(await resolve(client, image()), digest());
      assert.equal(manifests(proxy(), "HEAD"), 4);
    });
  });

  test("a 503 that persists is SERVER after 3 retries, 4 requests in all", async () => {
    proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "status", status: 503 } });
    await withClient({}, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "SERVER");
      assert.match(err.message, /^registry 127\.0\.0\.1:\d+ failed: HTTP 503, after 3 retries \(image 127\.0\.0\.1:\d+\/app:v1\)$/);
      assert.equal(manifests(proxy(), "HEAD"), 4);
      assert.equal(manifests(proxy(), "GET"), 0, "a 5xx HEAD is not a reason to GET");
    });
  });

  test("the retry count is configurable; 0 sends once", async () => {
    proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "status", status: 502 } });
    await withClient({ retry: { retries: 0 } }, async (client) => {
      await rejectsWith(resolve(client, image()), "SERVER");
      assert.equal(manifests(proxy(), "HEAD"), 1);
    });
  });

  test("501 is permanent: not retried, and HEAD falls back to GET", async () => {
    proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "status", status: 501 } });
    await withClient({}, async (client) => {
      assert.equal(await resolve(client, image()), digest());
      assert.deepEqual([manifests(proxy(), "HEAD"), manifests(proxy(), "GET")], [1, 1]);
    });
  });

  test("4xx other than 408 and 429 is never retried", async () => {
    proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "status", status: 403 } });
    await withClient({}, async (client) => {
      await rejectsWith(resolve(client, image()), "DENIED");
      assert.equal(manifests(proxy(), "HEAD"), 1);
    });
    proxy().reset();
    await withClient({}, async (client) => {
      await rejectsWith(resolve(client, image("nope")), "TAG_NOT_FOUND");
      assert.deepEqual([manifests(proxy(), "HEAD"), manifests(proxy(), "GET")], [1, 1], "HEAD 404, GET 404, no repeats");
    });
  });

  test("429 with Retry-After: 1 waits a second, then succeeds", async () => {
    proxy().script({ method: "HEAD", path: MANIFEST, times: 1, fault: { kind: "rate-limit", retryAfter: "1" } });
    await withClient({}, async (client) => {
      const { value, ms } = await elapsed(() => resolve(client, image()));
      assert.equal(value, digest());
      assert.ok(ms >= 950, `waited only ${Math.round(ms)} ms`);
      assert.ok(ms < 2500, `waited ${Math.round(ms)} ms`);
      const heads = proxy().requests.filter((r) => r.method === "HEAD");
      assert.equal(heads.length, 2);
      assert.ok((heads[1]?.at ?? 0) - (heads[0]?.at ?? 0) >= 950, "the second HEAD came after Retry-After");
    });
  });

  test("Retry-After as an HTTP date is honoured too", async () => {
    const at = new Date(Date.now() + 1500).toUTCString(); // one-second resolution: 0.5 to 1.5 s from now
    proxy().script({ method: "HEAD", path: MANIFEST, times: 1, fault: { kind: "rate-limit", retryAfter: at } });
    await withClient({}, async (client) => {
      const { value, ms } = await elapsed(() => resolve(client, image()));
      assert.equal(value, digest());
      assert.ok(ms >= 300 && ms < 2500, `waited ${Math.round(ms)} ms`);
    });
  });

  test("a Retry-After beyond the retry budget ends retrying at once: RATE_LIMITED naming the wait", async () => {
    proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "rate-limit", retryAfter: "3600" } });
    await withClient({}, async (client) => {
      const { ms } = await elapsed(() => rejectsWith(resolve(client, image()), "RATE_LIMITED"));
      assert.ok(ms < 1000, `took ${Math.round(ms)} ms`);
      assert.equal(manifests(proxy(), "HEAD"), 1);
      const err = await rejectsWith(resolve(client, image()), "RATE_LIMITED");
      // A HEAD answer has no body, hence no registry error code.
      assert.match(err.message, /rate-limited the request: HTTP 429 \(Retry-After: 1h\) \(image /);
      assert.match(err.hint, /^Wait 1h and run again/);
    });
  });

  test("a 429 that persists is RATE_LIMITED after 3 retries", async () => {
    proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "rate-limit", retryAfter: "0" } });
    await withClient({}, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "RATE_LIMITED");
      assert.match(err.message, /after 3 retries/);
      assert.equal(manifests(proxy(), "HEAD"), 4);
    });
  });

  test("a connection reset is retried on a new connection", async () => {
    proxy().script({ method: "HEAD", path: MANIFEST, times: 2, fault: { kind: "reset" } });
    await withClient({}, async (client) => {
      assert.equal(await resolve(client, image()), digest());
      assert.equal(manifests(proxy(), "HEAD"), 3);
    });
  });

  test("resets that persist: UNREACHABLE after 3 retries", async () => {
    proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "reset" } });
    await withClient({}, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "UNREACHABLE");
      assert.match(err.message, /is unreachable: connection (reset|closed by the other side), after 3 retries/);
      assert.equal(manifests(proxy(), "HEAD"), 4);
    });
  });

  test("a token service answering 503 is retried too", async () => {
    const tokens = await startTokenServer();
    const front = await startFaultProxy({ url: tokens.url });
    const reg = await startRegistry({ token: { ...tokens.registryConfig, realm: `${front.url}/token` } });
    try {
      const pushed = await pushOciManifest({ ...reg, authorization: (repo: string) => tokens.pushAuthorization(repo) }, "app", "v1");
      front.script({ path: /^\/token/, times: 2, fault: { kind: "status", status: 503 } });
      await withClient({}, async (client) => {
        assert.equal(await resolve(client, `${reg.host}/app:v1`), pushed.digest);
        assert.equal(front.counts.GET, 3);
        assert.equal(client.stats.token, 3);
      });
    } finally {
      await reg.stop();
      await front.stop();
      await tokens.stop();
    }
  });

  test("a stalled response is TIMEOUT within the timeout, and not retried", async () => {
    proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "stall" } });
    await withClient({ timeoutMs: 500 }, async (client) => {
      const { value: err, ms } = await elapsed(() => rejectsWith(resolve(client, image()), "TIMEOUT"));
      assert.ok(ms >= 400 && ms < 1500, `failed after ${Math.round(ms)} ms`);
      assert.match(err.message, /did not answer in time: no response within 500ms/);
      assert.match(err.hint, /timeout \(now 500ms\)/);
      assert.equal(manifests(proxy(), "HEAD"), 1);
    });
  });

  test("a body that stalls is TIMEOUT naming the body", async () => {
    proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "strip-digest" } }, { method: "GET", path: MANIFEST, fault: { kind: "stall-body" } });
    await withClient({ timeoutMs: 500 }, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "TIMEOUT");
      assert.match(err.message, /the response body stalled and was not complete within 500ms/);
    });
  });

  for (const status of [404, 405, 400]) {
    test(`HEAD answered ${status}: GET and hash the body`, async () => {
      proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "status", status } });
      await withClient({}, async (client) => {
        assert.equal(await resolve(client, image()), digest());
        assert.deepEqual([manifests(proxy(), "HEAD"), manifests(proxy(), "GET")], [1, 1]);
      });
    });
  }

  test("HEAD without Docker-Content-Digest: GET and hash the exact bytes", async () => {
    proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "strip-digest" } });
    await withClient({}, async (client) => {
      assert.equal(await resolve(client, image()), digest());
      assert.deepEqual([manifests(proxy(), "HEAD"), manifests(proxy(), "GET")], [1, 1]);
    });
  });

  test("GET without Docker-Content-Digest either: the body's sha256", async () => {
    proxy().script({ path: MANIFEST, fault: { kind: "strip-digest" } });
    await withClient({}, async (client) => {
      assert.equal(await resolve(client, image()), digest());
    });
  });

  test("a Docker-Content-Digest on GET that disagrees with the body is PROTOCOL naming both digests", async () => {
    const wrong = `sha256:${"e".repeat(64)}`;
    proxy().script(
      { method: "HEAD", path: MANIFEST, fault: { kind: "strip-digest" } },
      { method: "GET", path: MANIFEST, fault: { kind: "wrong-digest", digest: wrong } },
    );
    await withClient({}, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "PROTOCOL");
      assert.ok(err.message.includes(`manifest body hashes to ${digest() ?? "?"}, but Docker-Content-Digest says ${wrong}`), err.message);
      assert.equal(manifests(proxy(), "GET"), 1, "a wrong digest is not retried");
    });
  });

  test("per-registry concurrency: at most registryConcurrency requests in flight to one host", async () => {
    proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "delay", ms: 60 } });
    const tags = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
    await withClient({ registryConcurrency: 3 }, async (client) => {
      await resolve(client, image("a")); // the probe, out of the way
      proxy().reset();
      proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "delay", ms: 60 } });
      const digests = await Promise.all(tags.map((t) => resolve(client, image(t))));
      assert.deepEqual(digests, tags.map(digest));
      assert.equal(proxy().maxInFlight, 3);
    });
    proxy().reset();
    proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "delay", ms: 60 } });
    await withClient({}, async (client) => {
      // More lookups at once than the default allows (repeats are not deduplicated by the client).
      await Promise.all([...tags, ...tags, ...tags].map((t) => resolve(client, image(t))));
      const limit = DEFAULT_REGISTRY_CONCURRENCY;
      assert.ok(proxy().maxInFlight <= limit, `default limit ${limit}, saw ${proxy().maxInFlight}`);
    });
  });

  test("the run deadline ends outstanding lookups with TIMEOUT, and later ones at once", async () => {
    proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "stall" } });
    await withClient({ runTimeoutMs: 400, timeoutMs: 10_000 }, async (client) => {
      const { value: errors, ms } = await elapsed(() =>
        Promise.all(["a", "b", "c"].map((t) => rejectsWith(resolve(client, image(t)), "TIMEOUT"))),
      );
      assert.ok(ms >= 300 && ms < 1500, `ended after ${Math.round(ms)} ms`);
      for (const err of errors) {
        assert.match(err.message, /the run's deadline \(runTimeout 400ms\) passed before it answered/);
        assert.match(err.hint, /Raise runTimeout/);
      }
      const before = proxy().requests.length;
      const late = await elapsed(() => rejectsWith(resolve(client, image("d")), "TIMEOUT"));
      assert.ok(late.ms < 100);
      assert.equal(proxy().requests.length, before, "no request after the deadline");
    });
  });

  test("no retry waits past the run deadline: the real failure is reported", async () => {
    proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "status", status: 503, headers: { "retry-after": "5" } } });
    await withClient({ runTimeoutMs: 2000 }, async (client) => {
      const { value: err, ms } = await elapsed(() => rejectsWith(resolve(client, image()), "SERVER"));
      assert.ok(ms < 1000, `took ${Math.round(ms)} ms`);
      assert.match(err.message, /HTTP 503/);
    });
  });
});

describe("failures before any answer", () => {
  test("a host name that does not resolve is UNREACHABLE naming the host, not retried", async () => {
    await withClient({}, async (client) => {
      const err = await rejectsWith(resolve(client, "no-such-registry.invalid/app:v1"), "UNREACHABLE");
      assert.match(err.message, /^registry no-such-registry\.invalid is unreachable: DNS lookup of no-such-registry\.invalid failed \(ENOTFOUND\)/);
      assert.match(err.hint, /DNS/);
      assert.equal(client.stats.ping, 1, "one HTTPS probe; no plain HTTP for a non-loopback registry, no retry");
    });
  });

  test("a connection refused is not retried (nothing listens: waiting will not help)", async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    await withClient({}, async (client) => {
      const err = await rejectsWith(resolve(client, `127.0.0.1:${port}/app:v1`), "UNREACHABLE");
      assert.match(err.message, new RegExp(`connection to 127\\.0\\.0\\.1:${port} refused`));
      assert.deepEqual([client.stats.ping, client.stats.retries], [2, 0], "HTTPS then HTTP, once each");
    });
  });

  test("a TLS handshake that never completes is TIMEOUT after connectTimeout, naming the phase", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((s) => void sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const { port } = silent.address() as AddressInfo;
    try {
      await withClient({ timeoutMs: 5000, connectTimeoutMs: 300 }, async (client) => {
        const { value: err, ms } = await elapsed(() => rejectsWith(resolve(client, `127.0.0.1:${port}/app:v1`), "TIMEOUT"));
        assert.ok(ms < 1500, `took ${Math.round(ms)} ms`);
        assert.match(err.message, new RegExp(`could not connect to 127\\.0\\.0\\.1:${port} within 300ms`));
        assert.match(err.hint, /connectTimeout/);
      });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});

describe("retry rules", () => {
  test("retryable statuses: 408, 429 and 5xx except 501, 505, 511", () => {
    for (const s of [408, 429, 500, 502, 503, 504, 520]) assert.ok(retryableStatus(s), String(s));
    for (const s of [200, 301, 400, 401, 403, 404, 405, 409, 501, 505, 511]) assert.ok(!retryableStatus(s), String(s));
  });

  test("backoff is full jitter under an exponential ceiling", () => {
    const policy = { retries: 3, baseDelayMs: 100, maxDelayMs: 350, budgetMs: 1000 };
    assert.deepEqual([0, 1, 2, 3].map((r) => backoffMs(r, policy, () => 0.999_999)), [99, 199, 349, 349]);
    assert.equal(backoffMs(2, policy, () => 0), 0);
  });

  test("Retry-After: seconds or an HTTP date; junk is ignored", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    assert.equal(parseRetryAfter("7", now), 7000);
    assert.equal(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now), 30_000);
    assert.equal(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now), 0);
    assert.equal(parseRetryAfter("soon", now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });

  test("a 429 from Docker Hub says how to get a higher limit", () => {
    const err = fromResponse(429, undefined, { registry: "docker.io", repository: "library/nginx", tag: "1", image: "nginx:1" }, { retryAfter: "30" });
    assert.equal(err.code, "RATE_LIMITED");
    assert.match(err.message, /^registry docker\.io rate-limited the request: HTTP 429 \(Retry-After: 30s\) \(image nginx:1\)$/);
    assert.match(err.hint, /Docker Hub .* log in \(docker login, or a pull secret\).* registryMirrors.* wait 30s/);
  });
});
