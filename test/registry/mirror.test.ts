// registryMirrors against real registries: a pull-through cache
// (docker-registry with proxy.remoteurl) in front of an upstream, plain
// registries standing in for mirrors that lack a tag or hold Docker Hub
// paths, and dead mirrors. Fault proxies in front count who was asked.
// Ends with the built function configured through a ConfigMap.
import assert from "node:assert/strict";
import { before, beforeEach, describe, test } from "node:test";
import { parseDocument, parse } from "yaml";
import type { Node } from "yaml";
import { parseConfig } from "../../src/config.js";
import type { Result } from "../../src/results.js";
import { rejectsWith, resolve, resolveFull, useServer, withClient } from "../support/client-helpers.js";
import { startFaultProxy } from "../support/fault-proxy.js";
import type { FaultProxy } from "../support/fault-proxy.js";
import { freePort, startRegistry } from "../support/registry.js";
import { pushOciIndex, pushOciManifest } from "../support/seed.js";
import type { PushedManifest } from "../support/seed.js";
import { runFn } from "../support/run-fn.js";

const MANIFEST = /\/manifests\//;
const heads = (proxy: FaultProxy): number => proxy.requests.filter((r) => r.method === "HEAD" && MANIFEST.test(r.path)).length;

describe("registry mirrors", () => {
  const upstream = useServer(() => startRegistry());
  const cache = useServer(() => startRegistry({ proxyRemoteUrl: upstream().url }));
  const empty = useServer(() => startRegistry());
  // Fronts so the test sees (and can break) every request the client sends.
  const up = useServer(() => startFaultProxy(upstream()));
  const mirror = useServer(() => startFaultProxy(cache()));
  const seeded = new Map<string, PushedManifest>();
  before(async () => {
    seeded.set("v1", await pushOciIndex(upstream(), "team/app", "v1"));
    seeded.set("v2", await pushOciManifest(upstream(), "team/app", "v2"));
  });
  beforeEach(() => {
    up().reset();
    mirror().reset();
  });
  const image = (tag = "v1"): string => `${up().host}/team/app:${tag}`;

  test("a pull-through cache answers; the registry itself is not asked; the result says which mirror", async () => {
    await withClient({ mirrors: { [up().host]: [mirror().host] } }, async (client) => {
      const found = await resolveFull(client, image());
      assert.equal(found.digest, seeded.get("v1")?.digest);
      assert.equal(found.mirror, mirror().host);
      assert.equal(found.note, `resolved through mirror ${mirror().host}`);
      assert.equal(heads(mirror()), 1);
      assert.deepEqual(up().requests, [], "upstream untouched by the client");
      assert.equal(client.stats.mirrored, 1);
    });
  });

  test("a mirror that lacks the tag: the registry answers, and the note says why", async () => {
    await withClient({ mirrors: { [up().host]: [empty().host] } }, async (client) => {
      const found = await resolveFull(client, image("v2"));
      assert.equal(found.digest, seeded.get("v2")?.digest);
      assert.equal(found.mirror, undefined);
      assert.equal(found.note, `resolved from ${up().host} after mirror ${empty().host}: repository not found`);
      assert.equal(heads(up()), 1);
    });
  });

  test("a dead mirror falls back to the registry and is skipped for later lookups", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    await withClient({ mirrors: { [up().host]: [dead] } }, async (client) => {
      const first = await resolveFull(client, image("v1"));
      assert.equal(first.digest, seeded.get("v1")?.digest);
      assert.match(first.note ?? "", new RegExp(`after mirror ${dead}: UNREACHABLE connection to ${dead} refused`));
      const pings = client.stats.ping;
      const second = await resolveFull(client, image("v2"));
      assert.equal(second.digest, seeded.get("v2")?.digest);
      assert.match(second.note ?? "", new RegExp(`mirror ${dead} skipped \\(failed earlier: UNREACHABLE`));
      assert.equal(client.stats.ping, pings, "the dead mirror was not probed again");
    });
  });

  test("a mirror failing with 503 falls back after its retries", async () => {
    mirror().script({ method: "HEAD", path: MANIFEST, fault: { kind: "status", status: 503 } });
    await withClient({ mirrors: { [up().host]: [mirror().host] } }, async (client) => {
      const found = await resolveFull(client, image());
      assert.equal(found.digest, seeded.get("v1")?.digest);
      assert.equal(heads(mirror()), 4);
      assert.match(found.note ?? "", /SERVER HTTP 503, after 3 retries/);
    });
  });

  test("mirrors are asked in order: the first that answers wins", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    await withClient({ mirrors: { [up().host]: [dead, empty().host, mirror().host] } }, async (client) => {
      const found = await resolveFull(client, image("v2"));
      assert.equal(found.mirror, mirror().host);
      assert.deepEqual(up().requests, []);
    });
  });

  test("when every mirror and the registry fail, the registry's error is reported, with what the mirrors said", async () => {
    await withClient({ mirrors: { [up().host]: [empty().host, mirror().host] } }, async (client) => {
      const err = await rejectsWith(resolve(client, image("v9")), "TAG_NOT_FOUND");
      assert.equal(
        err.message,
        `tag "v9" not found in repository ${up().host}/team/app; asked first: mirror ${empty().host}: repository not found; mirror ${mirror().host}: tag not found`,
      );
    });
  });

  test("other registries are not mirrored", async () => {
    await withClient({ mirrors: { "ghcr.io": [mirror().host] } }, async (client) => {
      assert.equal((await resolveFull(client, image())).mirror, undefined);
      assert.equal(heads(mirror()), 0);
    });
  });
});

describe("Docker Hub mirrors", () => {
  // A plain registry holding Docker Hub paths stands in for a docker.io mirror (no network needed).
  const hub = useServer(() => startRegistry());
  let busybox: PushedManifest | undefined;
  let prefixed: PushedManifest | undefined;
  before(async () => {
    busybox = await pushOciIndex(hub(), "library/busybox", "1.36");
    prefixed = await pushOciIndex(hub(), "dockerhub/library/busybox", "1.36");
  });

  test("docker.io images keep library/ on the mirror; index.docker.io is the same registry", async () => {
    for (const key of ["docker.io", "index.docker.io", "registry-1.docker.io"]) {
      await withClient({ mirrors: { [key]: [hub().host] } }, async (client) => {
        for (const ref of ["busybox:1.36", "docker.io/library/busybox:1.36", "index.docker.io/busybox:1.36"]) {
          const found = await resolveFull(client, ref);
          assert.equal(found.digest, busybox?.digest, `${key}: ${ref}`);
          assert.equal(found.mirror, hub().host);
        }
      });
    }
  });

  test("a mirror with a path prefix (Harbor / Artifactory proxy projects)", async () => {
    await withClient({ mirrors: { "docker.io": [`${hub().host}/dockerhub`] } }, async (client) => {
      const found = await resolveFull(client, "busybox:1.36");
      assert.equal(found.digest, prefixed?.digest);
      assert.equal(found.mirror, `${hub().host}/dockerhub`);
    });
  });
});

describe("registryMirrors in the function config", () => {
  const config = (yaml: string): ReturnType<typeof parseConfig> => {
    const doc = parseDocument(yaml);
    return parseConfig(doc.contents as Node, doc);
  };

  test("ConfigMap data: registry=mirror pairs; a repeated registry adds mirrors in order", () => {
    const { options, problems } = config(
      "apiVersion: v1\nkind: ConfigMap\ndata:\n  registryMirrors: docker.io=mirror.local:5000,quay.io=q.local docker.io=https://m2.local/hub, index.docker.io=mirror.local:5000\n",
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(options.registryMirrors, { "docker.io": ["mirror.local:5000", "m2.local/hub"], "quay.io": ["q.local"] });
  });

  test("typed kind: a map of registry to a list (or one string)", () => {
    const { options, problems } = config(
      "apiVersion: fn.krm-digester.dev/v1alpha1\nkind: DigesterConfig\nregistryMirrors:\n  docker.io: [mirror.local:5000, m2.local]\n  ghcr.io: ghcr-cache.local:443\n",
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(options.registryMirrors, { "docker.io": ["mirror.local:5000", "m2.local"], "ghcr.io": ["ghcr-cache.local:443"] });
  });

  test("bad values are reported on the key, never ignored", () => {
    const cases: [string, RegExp][] = [
      ["docker.io", /expected registry=mirror pairs/],
      ["docker.io=http://mirror.local", /without http:\/\/ and list its host in insecureRegistries/],
      ["docker.io=mirror.local/UPPER", /lower-case repository path/],
      ["docker.io=bad_host!", /expected host\[:port\]\[\/path\]/],
    ];
    for (const [value, message] of cases) {
      const { problems } = config(`apiVersion: v1\nkind: ConfigMap\ndata:\n  registryMirrors: ${JSON.stringify(value)}\n`);
      assert.equal(problems.length, 1, value);
      assert.equal(problems[0]?.field, "data.registryMirrors");
      assert.match(problems[0]?.message ?? "", message);
    }
  });

  test("defaults of the other new keys, and their parsing", () => {
    assert.deepEqual(
      (({ concurrency, connectTimeoutMs, runTimeoutMs, registryConcurrency, registryStreams, registryMirrors }) => ({
        concurrency,
        connectTimeoutMs,
        runTimeoutMs,
        registryConcurrency,
        registryStreams,
        registryMirrors,
      }))(config("apiVersion: v1\nkind: ConfigMap\ndata: {}\n").options),
      { concurrency: 128, connectTimeoutMs: 10_000, runTimeoutMs: 300_000, registryConcurrency: 128, registryStreams: 250, registryMirrors: {} },
    );
    const { options, problems } = config(
      'apiVersion: v1\nkind: ConfigMap\ndata:\n  connectTimeout: 2s\n  runTimeout: 1m30s\n  registryConcurrency: "3"\n  registryStreams: "20"\n',
    );
    assert.deepEqual(problems, []);
    assert.deepEqual([options.connectTimeoutMs, options.runTimeoutMs, options.registryConcurrency, options.registryStreams], [2000, 90_000, 3, 20]);
    const bad = config('apiVersion: v1\nkind: ConfigMap\ndata:\n  registryStreams: "0"\n').problems;
    assert.deepEqual(bad.map((p) => p.field), ["data.registryStreams"]);
  });
});

describe("the built function with registryMirrors", () => {
  const upstream = useServer(() => startRegistry());
  const cache = useServer(() => startRegistry({ proxyRemoteUrl: upstream().url }));
  const up = useServer(() => startFaultProxy(upstream()));
  let seeded: PushedManifest | undefined;
  before(async () => {
    seeded = await pushOciIndex(upstream(), "team/app", "v1");
  });
  const input = (mirrors: string): string =>
    `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec:\n    containers:\n    - name: c\n      image: ${up().host}/team/app:v1\n` +
    `functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: digester}\n  data:\n    registryMirrors: ${mirrors}\n`;

  test("pins through the mirror and says so in the result; a dead mirror falls back", async () => {
    up().reset();
    const run = await runFn(input(`${up().host}=${cache().host}`));
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.includes(`image: ${up().host}/team/app:v1@${seeded?.digest ?? "?"}`));
    const results = (parse(run.stdout) as { results: Result[] }).results;
    assert.equal(results[0]?.message, `pinned ${up().host}/team/app:v1 to ${seeded?.digest ?? "?"} (resolved through mirror ${cache().host})`);
    assert.match(run.stderr, /, 1 through mirrors\)/);
    assert.deepEqual(up().requests, []);

    const dead = `127.0.0.1:${await freePort()}`;
    const fallback = await runFn(input(`${up().host}=${dead}`));
    assert.equal(fallback.code, 0, fallback.stderr);
    const message = (parse(fallback.stdout) as { results: Result[] }).results[0]?.message ?? "";
    assert.match(message, new RegExp(`\\(resolved from ${up().host} after mirror ${dead}: UNREACHABLE connection to ${dead} refused\\)$`));
  });
});
