// HTTPS_PROXY / HTTP_PROXY / NO_PROXY with a forward proxy of ours in front of
// a real registry. Loopback is never proxied (as in Go), so the registry is
// reached under test names ("registry.test") that only the proxy resolves:
// a request that bypasses the proxy fails its DNS lookup, which proves it.
import assert from "node:assert/strict";
import { before, beforeEach, describe, test } from "node:test";
import { proxyFor, proxySettings } from "../../src/registry/proxy.js";
import { rejectsWith, resolve, useServer, withClient } from "../support/client-helpers.js";
import { createCa } from "../support/certs.js";
import { startFaultProxy } from "../support/fault-proxy.js";
import { startForwardProxy } from "../support/forward-proxy.js";
import { freePort, startRegistry } from "../support/registry.js";
import { pushOciIndex } from "../support/seed.js";
import type { PushedManifest } from "../support/seed.js";

const HOSTS = { "registry.test": "127.0.0.1", "dead.test": "127.0.0.1" };

describe("a registry behind a forward proxy", () => {
  const ca = useServer(async () => {
    const made = await createCa();
    return { ...made, stop: () => made.remove() };
  });
  const registry = useServer(() => startRegistry());
  // HTTPS in front of the registry, with a certificate for the test name.
  const front = useServer(async () => startFaultProxy(registry(), { tls: await ca().issue(["registry.test"]) }));
  const proxy = useServer(() => startForwardProxy({ hosts: HOSTS }));
  const locked = useServer(() => startForwardProxy({ hosts: HOSTS, auth: { user: "alice", password: "p@ss word" } }));
  let seeded: PushedManifest | undefined;
  const image = (): string => `registry.test:${front().port}/app:v1`;
  const env = (extra: Record<string, string>): Record<string, string> => ({ SSL_CERT_FILE: ca().caFile, ...extra });
  before(async () => {
    seeded = await pushOciIndex(registry(), "app", "v1");
  });
  beforeEach(() => {
    proxy().reset();
    locked().reset();
  });

  test("HTTPS_PROXY: the lookup goes through a CONNECT tunnel", async () => {
    await withClient({ env: env({ HTTPS_PROXY: proxy().url }) }, async (client) => {
      assert.equal(await resolve(client, image()), seeded?.digest);
      assert.ok(proxy().connects.length >= 1);
      assert.ok(proxy().connects.every((c) => c === `registry.test:${front().port}`), proxy().connects.join());
      assert.deepEqual(proxy().requests, []);
    });
  });

  test("https_proxy in lower case works too; an empty HTTPS_PROXY does not hide it", async () => {
    await withClient({ env: env({ HTTPS_PROXY: "", https_proxy: proxy().url }) }, async (client) => {
      assert.equal(await resolve(client, image()), seeded?.digest);
      assert.ok(proxy().connects.length >= 1);
    });
  });

  test("with both spellings set, upper case wins (as in Go)", async () => {
    const dead = await freePort();
    await withClient({ env: env({ HTTPS_PROXY: proxy().url, https_proxy: `http://127.0.0.1:${dead}` }) }, async (client) => {
      assert.equal(await resolve(client, image()), seeded?.digest);
    });
  });

  test("a proxy address without a scheme means http://", async () => {
    await withClient({ env: env({ HTTPS_PROXY: `127.0.0.1:${proxy().port}` }) }, async (client) => {
      assert.equal(await resolve(client, image()), seeded?.digest);
      assert.ok(proxy().connects.length >= 1);
    });
  });

  for (const noProxy of ["registry.test", ".test", "*.test", "other.example, registry.test", "REGISTRY.TEST", "*"]) {
    test(`NO_PROXY=${JSON.stringify(noProxy)} bypasses the proxy`, async () => {
      await withClient({ env: env({ HTTPS_PROXY: proxy().url, NO_PROXY: noProxy }) }, async (client) => {
        const err = await rejectsWith(resolve(client, image()), "UNREACHABLE");
        assert.match(err.message, /DNS lookup of registry\.test failed/, "resolved here, not by the proxy");
        assert.deepEqual(proxy().connects, []);
      });
    });
  }

  test("NO_PROXY entries for another port, or in no_proxy while NO_PROXY is set, do not bypass", async () => {
    await withClient({ env: env({ HTTPS_PROXY: proxy().url, NO_PROXY: "registry.test:1", no_proxy: "registry.test" }) }, async (client) => {
      assert.equal(await resolve(client, image()), seeded?.digest);
      assert.ok(proxy().connects.length >= 1);
    });
  });

  test("HTTP_PROXY alone is not used for https registries (as in Go)", async () => {
    await withClient({ env: env({ HTTP_PROXY: proxy().url }) }, async (client) => {
      await rejectsWith(resolve(client, image()), "UNREACHABLE");
      assert.deepEqual(proxy().connects, []);
    });
  });

  test("loopback registries are never proxied", async () => {
    const dead = await freePort();
    await withClient({ env: env({ HTTPS_PROXY: `http://127.0.0.1:${dead}`, HTTP_PROXY: `http://127.0.0.1:${dead}` }) }, async (client) => {
      assert.equal(await resolve(client, `${registry().host}/app:v1`), seeded?.digest);
    });
  });

  test("a proxy that refuses connections: PROXY naming the proxy, not retried", async () => {
    const dead = await freePort();
    await withClient({ env: env({ HTTPS_PROXY: `http://127.0.0.1:${dead}` }) }, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "PROXY");
      assert.equal(
        err.message,
        `cannot reach registry registry.test:${front().port} through proxy http://127.0.0.1:${dead}: connection refused (ECONNREFUSED) connecting to the proxy (image ${image()})`,
      );
      assert.match(err.hint, new RegExp(`HTTPS_PROXY \\(now http://127\\.0\\.0\\.1:${dead}\\)`));
      assert.deepEqual([client.stats.ping, client.stats.retries], [1, 0]);
    });
  });

  test("a proxy whose host name does not resolve: PROXY", async () => {
    await withClient({ env: env({ HTTPS_PROXY: "http://no-such-proxy.invalid:3128" }) }, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "PROXY");
      assert.match(err.message, /through proxy http:\/\/no-such-proxy\.invalid:3128: host name not found \(DNS\) \(ENOTFOUND\) connecting to the proxy/);
    });
  });

  test("a proxy that wants credentials (407): PROXY saying so; the right ones in the URL work", async () => {
    await withClient({ env: env({ HTTPS_PROXY: locked().url }) }, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "PROXY");
      assert.match(err.message, /: the proxy requires authentication \(HTTP 407\)/);
      assert.match(err.hint, /user:password@host:port/);
    });
    const wrong = locked().url.replace("//", "//alice:wrong-secret@");
    await withClient({ env: env({ HTTPS_PROXY: wrong }) }, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "PROXY");
      assert.match(err.message, new RegExp(`through proxy http://127\\.0\\.0\\.1:${locked().port}: the proxy rejected the credentials in HTTPS_PROXY \\(HTTP 407\\)`));
      assert.ok(!err.message.includes("wrong-secret") && !err.hint.includes("wrong-secret"), "no password in the error");
    });
    const right = locked().url.replace("//", "//alice:p%40ss%20word@");
    await withClient({ env: env({ HTTPS_PROXY: right }) }, async (client) => {
      assert.equal(await resolve(client, image()), seeded?.digest);
    });
  });

  test("a proxy that cannot reach the registry (CONNECT 502): PROXY after retries", async () => {
    const dead = await freePort();
    await withClient({ env: env({ HTTPS_PROXY: proxy().url }) }, async (client) => {
      const err = await rejectsWith(resolve(client, `dead.test:${dead}/app:v1`), "PROXY");
      assert.match(err.message, new RegExp(`the proxy could not connect to dead\\.test:${dead} \\(HTTP 502\\), after 3 retries`));
      assert.match(err.hint, /NO_PROXY/);
      assert.equal(proxy().connects.length, 4);
    });
  });

  test("a proxy variable that is not a URL fails instead of connecting directly", async () => {
    await withClient({ env: env({ HTTPS_PROXY: "http://" }) }, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "PROXY");
      assert.match(err.message, /HTTPS_PROXY is not a URL/);
    });
  });
});

describe("which requests are proxied", () => {
  const settings = (env: Record<string, string>): ReturnType<typeof proxySettings> => proxySettings({ HTTPS_PROXY: "http://proxy:3128", HTTP_PROXY: "http://proxy:3128", ...env });
  const proxied = (url: string, env: Record<string, string> = {}): boolean => proxyFor(new URL(url), settings(env)) !== undefined;

  test("CIDR ranges and IP addresses in NO_PROXY", () => {
    assert.equal(proxied("https://10.1.2.3:5000/v2/", { NO_PROXY: "10.0.0.0/8" }), false);
    assert.equal(proxied("https://11.1.2.3/v2/", { NO_PROXY: "10.0.0.0/8" }), true);
    assert.equal(proxied("https://[fd00::5]/v2/", { NO_PROXY: "fd00::/8" }), false);
    assert.equal(proxied("https://[fe80::5]/v2/", { NO_PROXY: "fd00::/8" }), true);
    assert.equal(proxied("https://192.168.1.10/v2/", { NO_PROXY: "192.168.1.10" }), false);
    assert.equal(proxied("https://192.168.1.10:5000/v2/", { NO_PROXY: "192.168.1.10:443" }), true);
  });

  test("names: exact, subdomains, leading dot or star, default ports", () => {
    assert.equal(proxied("https://registry.corp.example/v2/", { NO_PROXY: "corp.example" }), false);
    assert.equal(proxied("https://corp.example/v2/", { NO_PROXY: ".corp.example" }), false);
    assert.equal(proxied("https://notcorp.example/v2/", { NO_PROXY: "corp.example" }), true);
    assert.equal(proxied("https://registry.corp.example/v2/", { NO_PROXY: "registry.corp.example:443" }), false);
    assert.equal(proxied("http://registry.corp.example/v2/", { NO_PROXY: "registry.corp.example:443" }), true);
  });

  test("loopback never, other schemes never; each scheme its own variable", () => {
    assert.equal(proxied("https://localhost:5000/v2/"), false);
    assert.equal(proxied("https://127.0.0.2/v2/"), false);
    assert.equal(proxied("https://[::1]:5000/v2/"), false);
    assert.equal(proxyFor(new URL("https://ghcr.io/v2/"), proxySettings({ HTTP_PROXY: "http://p:1" })), undefined);
    assert.equal(proxyFor(new URL("http://ghcr.io/v2/"), proxySettings({ HTTP_PROXY: "http://p:1" }))?.display, "http://p:1");
  });

  test("credentials never show in the proxy's display form", () => {
    const p = proxyFor(new URL("https://ghcr.io/v2/"), proxySettings({ https_proxy: "http://user:secret@proxy.corp:8080" }));
    assert.equal(p?.display, "http://proxy.corp:8080");
    assert.equal(p?.variable, "https_proxy");
  });
});
