// Proves the real-registry harness: seeding, every auth mode, TLS and the
// pull-through proxy, against Debian's docker-registry (distribution 2.8.2).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, describe, test } from "node:test";
import { Agent, request } from "undici";
import type { Dispatcher } from "undici";
import { startRegistry } from "./registry.js";
import type { Registry } from "./registry.js";
import {
  ACCEPT_ALL_MANIFESTS,
  IMAGE_KINDS,
  MediaType,
  pushDockerManifest,
  pushDockerManifestList,
  pushImage,
  pushOciIndex,
  seedImages,
  sha256,
} from "./seed.js";
import type { SeedSpec } from "./seed.js";
import { startTokenServer } from "./token-server.js";
import { useServer } from "./client-helpers.js";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

async function call(
  url: string,
  dispatcher: Dispatcher,
  headers: Record<string, string> = {},
  method: "GET" | "HEAD" = "HEAD",
): Promise<Answer> {
  const res = await request(url, { method, headers, dispatcher });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

const manifestUrl = (r: Registry, repo: string, ref: string): string => `${r.url}/v2/${repo}/manifests/${ref}`;

/** Starts a registry for the enclosing describe() and stops it after. */
const useRegistry = (start: () => Promise<Registry>): (() => Registry) => useServer(start);

describe("anonymous HTTP registry", () => {
  const reg = useRegistry(() => startRegistry());

  for (const kind of IMAGE_KINDS) {
    test(`${kind}: HEAD with the four-type Accept returns the seeded digest`, async () => {
      const r = reg();
      const image = await pushImage(r, { repository: `kinds/${kind}`, tag: "v1", kind });
      assert.equal(image.digest, sha256(image.body));
      const head = await call(manifestUrl(r, `kinds/${kind}`, "v1"), r.dispatcher, { accept: ACCEPT_ALL_MANIFESTS });
      assert.equal(head.status, 200);
      assert.equal(head.headers["docker-content-digest"], image.digest);
      assert.equal(head.headers["content-type"], image.mediaType);
      const get = await call(manifestUrl(r, `kinds/${kind}`, image.digest), r.dispatcher, { accept: ACCEPT_ALL_MANIFESTS }, "GET");
      assert.ok(get.body.equals(image.body), "GET by digest returns the exact bytes pushed");
      if (kind.endsWith("index") || kind.endsWith("list")) {
        assert.deepEqual(
          image.children?.map((c) => `${c.platform?.os}/${c.platform?.architecture}`),
          ["linux/amd64", "linux/arm64"],
        );
      }
    });
  }

  test("pitfall: a manifest list HEAD'ed with only the manifest v2 type answers its amd64 child", async () => {
    const r = reg();
    const list = await pushDockerManifestList(r, "pitfall/list", "v1");
    const head = await call(manifestUrl(r, "pitfall/list", "v1"), r.dispatcher, { accept: MediaType.dockerManifest });
    assert.equal(head.status, 200);
    assert.equal(head.headers["docker-content-digest"], list.children?.[0]?.digest);
    assert.notEqual(head.headers["docker-content-digest"], list.digest);
  });

  test("pitfall: an OCI index without an index type in Accept is 404", async () => {
    const r = reg();
    await pushOciIndex(r, "pitfall/index", "v1");
    const head = await call(manifestUrl(r, "pitfall/index", "v1"), r.dispatcher, { accept: MediaType.ociManifest });
    assert.equal(head.status, 404);
  });

  test("seedImages pushes many distinct images in parallel", async () => {
    const r = reg();
    const specs: SeedSpec[] = Array.from({ length: 40 }, (_, i) => ({
      repository: `many/app${i % 5}`,
      tag: `t${i}`,
      kind: IMAGE_KINDS[i % IMAGE_KINDS.length]!,
    }));
    const images = await seedImages(r, specs, { concurrency: 8 });
    assert.equal(new Set(images.map((i) => i.digest)).size, specs.length, "every image has its own digest");
    await Promise.all(
      specs.map(async (spec, i) => {
        const head = await call(manifestUrl(r, spec.repository, spec.tag), r.dispatcher, { accept: ACCEPT_ALL_MANIFESTS });
        assert.equal(head.headers["docker-content-digest"], images[i]?.digest);
      }),
    );
  });
});

test("stop() kills the registry and removes its dir", async () => {
  const r = await startRegistry();
  await r.stop();
  assert.throws(() => process.kill(r.pid, 0), /ESRCH/);
  assert.equal(existsSync(r.dir), false);
  await r.stop(); // idempotent
});

describe("TLS registry with a throwaway CA", () => {
  const reg = useRegistry(() => startRegistry({ tls: true }));

  test("trusted with the CA, refused without it", async (t) => {
    const r = reg();
    assert.match(r.url, /^https:/);
    assert.ok(r.caFile && r.caPem?.includes("BEGIN CERTIFICATE"));
    const image = await pushDockerManifest(r, "secure/app", "v1");
    for (const host of [r.host, `localhost:${r.port}`]) {
      const agent = new Agent({ connect: { ca: r.caPem } });
      t.after(() => agent.close());
      const head = await call(`https://${host}/v2/secure/app/manifests/v1`, agent, { accept: ACCEPT_ALL_MANIFESTS });
      assert.equal(head.headers["docker-content-digest"], image.digest);
    }
    const untrusting = new Agent();
    t.after(() => untrusting.close());
    await assert.rejects(call(`${r.url}/v2/`, untrusting), /self[- ]signed|unable to verify|certificate/i);
  });
});

describe("htpasswd registry", () => {
  const reg = useRegistry(() => startRegistry({ htpasswd: { user: "alice", password: "s3cret" } }));

  test("401 Basic without credentials, 200 with them", async () => {
    const r = reg();
    const anon = await call(`${r.url}/v2/`, r.dispatcher, {}, "GET");
    assert.equal(anon.status, 401);
    assert.match(String(anon.headers["www-authenticate"]), /^Basic realm="test-realm"/);
    const wrong = await call(`${r.url}/v2/`, r.dispatcher, { authorization: "Basic " + Buffer.from("alice:nope").toString("base64") });
    assert.equal(wrong.status, 401);
    assert.ok(r.authorization);
    const authed = await call(`${r.url}/v2/`, r.dispatcher, { authorization: r.authorization });
    assert.equal(authed.status, 200);

    const image = await pushImage(r, { repository: "private/app", tag: "v1", kind: "oci-index" }); // r carries its Basic auth
    const head = await call(manifestUrl(r, "private/app", "v1"), r.dispatcher, {
      accept: ACCEPT_ALL_MANIFESTS,
      authorization: r.authorization,
    });
    assert.equal(head.headers["docker-content-digest"], image.digest);
  });
});

describe("token auth registry", () => {
  let tokens: Awaited<ReturnType<typeof startTokenServer>> | undefined;
  const reg = useRegistry(async () => {
    tokens = await startTokenServer({ users: { bob: "hunter2" } });
    return startRegistry({ token: tokens.registryConfig });
  });
  after(async () => {
    await tokens?.stop();
  });

  test("401 Bearer challenge, token from our server, then 200", async () => {
    const r = reg();
    assert.ok(tokens);
    const ts = tokens;
    // Seeding mints push tokens directly, so the server's counters only see the client below.
    const image = await pushImage(
      { url: r.url, dispatcher: r.dispatcher, authorization: (repo: string) => ts.pushAuthorization(repo) },
      { repository: "team/app", tag: "v1", kind: "docker-manifest-list" },
    );
    const url = manifestUrl(r, "team/app", "v1");

    const challenge = await call(url, r.dispatcher, { accept: ACCEPT_ALL_MANIFESTS }, "GET");
    assert.equal(challenge.status, 401);
    const header = String(challenge.headers["www-authenticate"]);
    assert.match(header, /^Bearer /);
    const params: Record<string, string | undefined> = {};
    for (const [, key = "", value] of header.matchAll(/(\w+)="([^"]*)"/g)) params[key] = value;
    assert.deepEqual(params, { realm: ts.realm, service: ts.service, scope: "repository:team/app:pull" });

    const tokenUrl = `${params.realm ?? ""}?service=${encodeURIComponent(params.service ?? "")}&scope=${encodeURIComponent(params.scope ?? "")}`;
    const refused = await call(tokenUrl, r.dispatcher, {}, "GET");
    assert.equal(refused.status, 401, "this token server wants credentials");
    const basic = "Basic " + Buffer.from("bob:hunter2").toString("base64");
    const got = await call(tokenUrl, r.dispatcher, { authorization: basic }, "GET");
    assert.equal(got.status, 200);
    const { token, access_token, expires_in } = JSON.parse(got.body.toString()) as Record<string, unknown>;
    assert.equal(typeof token, "string");
    assert.equal(access_token, token);
    assert.equal(expires_in, 300);

    const head = await call(url, r.dispatcher, { accept: ACCEPT_ALL_MANIFESTS, authorization: `Bearer ${String(token)}` });
    assert.equal(head.status, 200);
    assert.equal(head.headers["docker-content-digest"], image.digest);
    assert.equal(ts.counters.issued, 1);
    assert.equal(ts.counters.refused, 1);
    assert.equal(ts.counters.byScope.get("repository:team/app:pull"), 1);
    assert.equal(ts.requests.at(-1)?.user, "bob");

    const otherRepo = `Bearer ${ts.issueToken(["repository:other/app:pull"])}`;
    const wrongScope = await call(url, r.dispatcher, { accept: ACCEPT_ALL_MANIFESTS, authorization: otherRepo }, "GET");
    assert.equal(wrongScope.status, 401);
    assert.match(String(wrongScope.headers["www-authenticate"]), /error="insufficient_scope"/);

    const expired = `Bearer ${ts.issueToken(["repository:team/app:pull"], { expiresIn: -120 })}`;
    const stale = await call(url, r.dispatcher, { accept: ACCEPT_ALL_MANIFESTS, authorization: expired }, "GET");
    assert.equal(stale.status, 401);
    assert.match(String(stale.headers["www-authenticate"]), /error="invalid_token"/);
  });
});

describe("pull-through proxy (mirror) registry", () => {
  const upstream = useRegistry(() => startRegistry());
  let proxy: Registry | undefined;
  after(async () => {
    await proxy?.stop();
  });

  test("serves a tag seeded only upstream, with the upstream digest", async () => {
    const up = upstream();
    const single = await pushDockerManifest(up, "library/app", "v1");
    const index = await pushOciIndex(up, "library/app", "v2");
    proxy = await startRegistry({ proxyRemoteUrl: up.url });
    for (const [tag, image] of [["v1", single], ["v2", index]] as const) {
      const head = await call(manifestUrl(proxy, "library/app", tag), proxy.dispatcher, { accept: ACCEPT_ALL_MANIFESTS });
      assert.equal(head.status, 200);
      assert.equal(head.headers["docker-content-digest"], image.digest);
    }
  });
});
