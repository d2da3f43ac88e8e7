// Where credentials go: only to the registry they are for and to the token
// realm it names; never to another host a redirect points at (the header is
// dropped, as go-containerregistry and docker do, and a body holding a
// refresh token is not sent on at all); never in the clear to a plain-HTTP
// realm unless the registry is one allowed plain HTTP; and never back out
// in a message when a registry or token service echoes them. Real registries
// (distribution 2.8.2) and our token server, with our fault proxy in front
// where a registry would not misbehave by itself.
import assert from "node:assert/strict";
import { before, beforeEach, describe, test } from "node:test";
import type { Credential, CredentialProvider } from "../../src/registry/credentials.js";
import { rejectsWith, resolve, useServer, withClient } from "../support/client-helpers.js";
import { createCa } from "../support/certs.js";
import { startFaultProxy } from "../support/fault-proxy.js";
import { startForwardProxy } from "../support/forward-proxy.js";
import { startRegistry } from "../support/registry.js";
import { pushOciManifest } from "../support/seed.js";
import type { PushedManifest } from "../support/seed.js";
import { startTokenServer } from "../support/token-server.js";

const USER = "sec-user";
const PASSWORD = "sec-password-3f9a1c";
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
const MANIFEST = /\/manifests\//;

const fixed = (credential: Credential): CredentialProvider => ({ lookup: () => Promise.resolve(credential) });
const basic = fixed({ kind: "basic", username: USER, password: PASSWORD });

describe("redirects to other hosts never carry credentials", () => {
  const registry = useServer(() => startRegistry({ htpasswd: { user: USER, password: PASSWORD } }));
  // The registry's own front door, and a "storage" host in front of the same registry that has access of its own.
  const front = useServer(() => startFaultProxy(registry()));
  const storage = useServer(() => startFaultProxy({ ...registry(), injectAuthorization: BASIC }));
  let pushed: PushedManifest;
  before(async () => {
    pushed = await pushOciManifest(registry(), "app", "v1");
  });
  beforeEach(() => {
    front().reset();
    storage().reset();
  });
  const image = (): string => `${front().host}/app:v1`;

  for (const method of ["HEAD", "GET"] as const) {
    test(`a manifest ${method} redirected to storage elsewhere: followed without Authorization`, async () => {
      front().script({ method, path: MANIFEST, fault: { kind: "redirect", location: (path) => `${storage().url}${path}` } });
      if (method === "GET") front().script({ method: "HEAD", path: MANIFEST, fault: { kind: "status", status: 405 } });
      await withClient({ credentials: basic }, async (client) => {
        assert.equal(await resolve(client, image()), pushed.digest);
      });
      const sent = front().requests.filter((r) => r.method === method && MANIFEST.test(r.path));
      assert.equal(sent.length, 1);
      assert.equal(sent[0]?.authorization, BASIC, "the registry itself gets the credentials");
      assert.ok(storage().requests.length > 0, "storage was asked");
      for (const r of storage().requests) assert.equal(r.authorization, undefined, `${r.method} ${r.path} reached storage with credentials`);
    });
  }

  test("a redirect within the registry's own origin keeps them", async () => {
    front().script({ method: "HEAD", path: /manifests\/v1$/, times: 1, fault: { kind: "redirect", location: "/v2/app/manifests/v1?moved=1" } });
    await withClient({ credentials: basic }, async (client) => {
      assert.equal(await resolve(client, image()), pushed.digest);
    });
    const heads = front().requests.filter((r) => r.method === "HEAD");
    assert.deepEqual(
      heads.map((r) => [r.path, r.authorization]),
      [
        ["/v2/app/manifests/v1", BASIC],
        ["/v2/app/manifests/v1?moved=1", BASIC],
      ],
    );
  });

  test("a registry that echoes the Authorization header in its error: the secret is not in our message", async () => {
    front().script({ method: "HEAD", path: MANIFEST, fault: { kind: "status", status: 404 } }, { method: "GET", path: MANIFEST, fault: { kind: "echo-auth", status: 403 } });
    await withClient({ credentials: basic }, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "DENIED");
      assert.match(err.message, /credentials Basic \[redacted\] were refused/);
      assert.ok(!err.message.includes(BASIC.slice(6)) && !err.message.includes(PASSWORD), err.message);
    });
  });
});

describe("token realms", () => {
  const tokens = useServer(() => startTokenServer({ users: { [USER]: PASSWORD } }));
  const realm = useServer(() => startFaultProxy({ url: tokens().url }));
  const elsewhere = useServer(() => startFaultProxy({ url: tokens().url }));
  const registry = useServer(() => startRegistry({ token: { ...tokens().registryConfig, realm: `${realm().url}/token` } }));
  let pushed: PushedManifest;
  before(async () => {
    pushed = await pushOciManifest({ ...registry(), authorization: (repo: string) => tokens().pushAuthorization(repo) }, "app", "v1");
  });
  beforeEach(() => {
    realm().reset();
    elsewhere().reset();
    tokens().resetCounters();
  });
  const image = (): string => `${registry().host}/app:v1`;

  test("the realm the registry names gets the credentials", async () => {
    await withClient({ credentials: basic }, async (client) => assert.equal(await resolve(client, image()), pushed.digest));
    assert.equal(realm().requests[0]?.authorization, BASIC);
  });

  test("a realm redirecting the token GET to another host: followed without the credentials", async () => {
    realm().script({ path: /^\/token/, fault: { kind: "redirect", location: (path) => `${elsewhere().url}${path}`, status: 302 } });
    await withClient({ credentials: basic }, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "UNAUTHORIZED");
      assert.match(err.message, /refused an anonymous token|rejected the credentials/);
    });
    assert.ok(elsewhere().requests.length > 0);
    for (const r of elsewhere().requests) assert.equal(r.authorization, undefined);
    assert.ok(tokens().requests.every((r) => r.user === undefined), "the token server never saw the user");
  });

  test("a refresh-token POST redirected (307) to another host is refused: the body holds the token", async () => {
    const refresh = "refresh-token-7c1e55aa";
    realm().script({ method: "POST", path: /^\/token/, fault: { kind: "redirect", location: `${elsewhere().url}/token`, status: 307 } });
    await withClient({ credentials: fixed({ kind: "identityToken", token: refresh }) }, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "PROTOCOL");
      assert.match(err.message, new RegExp(`redirected a POST with credentials in its body to ${elsewhere().url.replace(/\./g, "\\.")}, which was refused`));
      assert.ok(!err.message.includes(refresh));
    });
    assert.equal(elsewhere().requests.length, 0, "nothing was sent to the other host");
  });

  test("a refresh-token POST redirected with 302 becomes a GET without body or credentials", async () => {
    realm().script({ method: "POST", path: /^\/token/, fault: { kind: "redirect", location: `${elsewhere().url}/token?service=${tokens().service}`, status: 302 } });
    await withClient({ credentials: fixed({ kind: "identityToken", token: "refresh-token-0d0d0d" }) }, async (client) => {
      await rejectsWith(resolve(client, image()), "UNAUTHORIZED");
    });
    assert.deepEqual(
      elsewhere().requests.map((r) => [r.method, r.authorization]),
      [["GET", undefined]],
    );
  });

  test("a token service echoing the credentials in its error: the secret is not in our message", async () => {
    realm().script({ path: /^\/token/, fault: { kind: "echo-auth", status: 400, code: "BAD_REQUEST" } });
    await withClient({ credentials: basic }, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "PROTOCOL");
      assert.match(err.message, /\[redacted\]/);
      assert.ok(!err.message.includes(BASIC.slice(6)) && !err.message.includes(PASSWORD), err.message);
    });
  });

  test("a registry echoing the bearer token it got: the token is not in our message", async () => {
    const front = await startFaultProxy(registry());
    try {
      front.script({ method: "HEAD", path: MANIFEST, fault: { kind: "status", status: 404 } }, { method: "GET", path: MANIFEST, fault: { kind: "echo-auth", status: 403 } });
      await withClient({ credentials: basic }, async (client) => {
        const err = await rejectsWith(resolve(client, `${front.host}/app:v1`), "DENIED");
        const token = tokens().issuedTokens.at(-1) ?? assert.fail("no token issued");
        assert.ok(!err.message.includes(token), err.message);
        assert.match(err.message, /credentials Bearer \[redacted\] were refused/);
      });
    } finally {
      await front.stop();
    }
  });
});

describe("plain-HTTP token realms of a registry that is not loopback", () => {
  // registry.test (HTTPS, our CA) and tokens.test (plain HTTP) reach loopback servers through a forward proxy.
  const ca = useServer(async () => {
    const made = await createCa();
    return { ...made, stop: () => made.remove() };
  });
  const tokens = useServer(() => startTokenServer({ users: { [USER]: PASSWORD } }));
  const registry = useServer(() => startRegistry({ token: { ...tokens().registryConfig, realm: `http://tokens.test:${new URL(tokens().url).port}/token` } }));
  const front = useServer(async () => startFaultProxy(registry(), { tls: await ca().issue(["registry.test"]) }));
  const proxy = useServer(() => startForwardProxy({ hosts: { "registry.test": "127.0.0.1", "tokens.test": "127.0.0.1" } }));
  let pushed: PushedManifest;
  before(async () => {
    pushed = await pushOciManifest({ ...registry(), authorization: (repo: string) => tokens().pushAuthorization(repo) }, "app", "v1");
  });
  beforeEach(() => tokens().resetCounters());
  const env = (): Record<string, string> => ({ HTTPS_PROXY: proxy().url, HTTP_PROXY: proxy().url, SSL_CERT_FILE: ca().caFile });
  const image = (): string => `registry.test:${front().port}/app:v1`;

  test("credentials are not sent in the clear: anonymous is tried, and the error says why they were withheld", async () => {
    await withClient({ env: env(), credentials: basic }, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "UNAUTHORIZED");
      assert.match(err.message, /the credentials were not sent: the token service http:\/\/tokens\.test:\d+ is plain HTTP and the registry is not in insecureRegistries/);
    });
    assert.ok(tokens().requests.length > 0);
    assert.ok(tokens().requests.every((r) => r.user === undefined), "no credentials reached the plain-HTTP realm");
  });

  test("with the registry in insecureRegistries they are", async () => {
    await withClient({ env: env(), credentials: basic, insecureRegistries: ["registry.test"] }, async (client) => {
      assert.equal(await resolve(client, image()), pushed.digest);
    });
    assert.ok(tokens().requests.some((r) => r.user === USER && r.status === 200));
  });
});
