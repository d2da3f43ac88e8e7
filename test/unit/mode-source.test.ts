// The digest sources of each mode in front of a registry stand-in that counts
// what reaches it (the no-connection proof against a real registry is in
// test/e2e/ci-modes.test.ts).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { NO_ARTIFACTS, mergeArtifacts, parseBuildArtifacts } from "../../src/artifacts/build-artifacts.js";
import type { BuildArtifacts } from "../../src/artifacts/build-artifacts.js";
import { DigestCache } from "../../src/cache/digest-cache.js";
import { parseReference } from "../../src/name/reference.js";
import type { DigestSource } from "../../src/resolve.js";
import { ModeSource, NotLockedError, NotPinnedError } from "../../src/sources/mode-source.js";
import type { ModeSourceOptions } from "../../src/sources/mode-source.js";
import { FakeSource, fakeDigest } from "../support/fake-source.js";

const D = (c: string): string => `sha256:${c.repeat(64)}`;
const ref = parseReference;
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function artifactsOf(builds: { imageName: string; tag: string }[]): BuildArtifacts {
  return mergeArtifacts(parseBuildArtifacts(JSON.stringify({ builds }), "artifacts.json"));
}

function source(options: Partial<ModeSourceOptions>): { source: ModeSource; registry: FakeSource; opened: () => number } {
  const registry = new FakeSource();
  let opened = 0;
  const s = new ModeSource({
    mode: "pin",
    artifacts: NO_ARTIFACTS,
    ...options,
    registry: (): DigestSource => {
      opened++;
      return registry;
    },
  });
  return { source: s, registry, opened: () => opened };
}

describe("mode: check", () => {
  it("every lookup is a NOT_PINNED error naming the image, and the registry is never opened", async () => {
    const { source: s, opened } = source({ mode: "check" });
    await assert.rejects(s.resolveDigest(ref("nginx:1.27")), (e: Error) => {
      assert.ok(e instanceof NotPinnedError);
      assert.equal(e.message, "nginx:1.27 is not pinned to a digest (mode: check)");
      assert.match(e.hint, /mode: pin/);
      return true;
    });
    assert.equal(opened(), 0);
  });
});

describe("mode: frozen", () => {
  const lock = { entries: new Map([["docker.io/library/nginx:1.27", D("a")]]), file: "digests.lock.yaml" };

  it("answers from the lock by canonical name, and a reference not in it is an error naming it and the lock", async () => {
    const { source: s, opened } = source({ mode: "frozen", lock });
    assert.deepEqual(await s.resolveDigest(ref("index.docker.io/library/nginx:1.27")), { digest: D("a"), note: "from the DigestLock digests.lock.yaml" });
    await assert.rejects(s.resolveDigest(ref("redis:7")), (e: Error) => {
      assert.ok(e instanceof NotLockedError);
      assert.match(e.message, /^redis:7 \(docker\.io\/library\/redis:7\) has no locked digest: it is not in the DigestLock \(digests\.lock\.yaml\) and no build artifact has it/);
      return true;
    });
    const none = source({ mode: "frozen" });
    await assert.rejects(none.source.resolveDigest(ref("redis:7")), /the package has no DigestLock \(digests\.lock\.yaml\)/);
    assert.equal(opened() + none.opened(), 0);
  });

  it("build artifacts come before the lock", async () => {
    const artifacts = artifactsOf([{ imageName: "app", tag: `docker.io/library/nginx:1.27@${D("b")}` }]);
    const { source: s } = source({ mode: "frozen", lock, artifacts });
    assert.equal((await s.resolveDigest(ref("nginx:1.27"))).digest, D("b"));
    assert.equal(s.counts.artifacts, 1);
  });
});

describe("build artifacts", () => {
  const artifacts = artifactsOf([
    { imageName: "skaffold-example", tag: `registry.example.com/skaffold-example:v1@${D("a")}` },
    { imageName: "unpushed", tag: "registry.example.com/unpushed:dev" },
  ]);

  it("a placeholder becomes the artifact's tag, with no lookup", async () => {
    const { source: s, opened } = source({ artifacts });
    assert.deepEqual(await s.resolveDigest(ref("skaffold-example")), {
      digest: D("a"),
      value: `registry.example.com/skaffold-example:v1@${D("a")}`,
      note: "build artifact skaffold-example from artifacts.json",
    });
    assert.equal(opened(), 0);
  });

  it("an image whose repo:tag is an artifact's tag is pinned to its digest, with no lookup", async () => {
    const { source: s, opened } = source({ artifacts });
    assert.equal((await s.resolveDigest(ref("registry.example.com/skaffold-example:v1"))).digest, D("a"));
    assert.equal(opened(), 0);
  });

  it("an artifact tag without digest is looked up like any tag, and the field gets tag@digest", async () => {
    const { source: s, registry } = source({ artifacts });
    const found = await s.resolveDigest(ref("unpushed"));
    const digest = fakeDigest(ref("registry.example.com/unpushed:dev"));
    assert.equal(found.value, `registry.example.com/unpushed:dev@${digest}`);
    assert.deepEqual(registry.calls, ["registry.example.com/unpushed:dev"]);
  });
});

describe("build artifacts and format", () => {
  const artifacts = artifactsOf([
    { imageName: "skaffold-example", tag: `registry.example.com/skaffold-example:v1@${D("a")}` },
    { imageName: "app", tag: "app:dev" },
    { imageName: "bydigest", tag: `registry.example.com/bydigest@${D("c")}` },
  ]);

  it("a placeholder's replacement is written as format says: tag-and-digest (the artifact's tag), digest-only, canonical", async () => {
    const value = async (format: "tag-and-digest" | "digest-only" | "canonical" | undefined, image = "skaffold-example"): Promise<string | undefined> =>
      (await source({ artifacts, format }).source.resolveDigest(ref(image))).value;
    assert.equal(await value(undefined), `registry.example.com/skaffold-example:v1@${D("a")}`);
    assert.equal(await value("tag-and-digest"), `registry.example.com/skaffold-example:v1@${D("a")}`);
    assert.equal(await value("digest-only"), `registry.example.com/skaffold-example@${D("a")}`);
    assert.equal(await value("canonical"), `registry.example.com/skaffold-example:v1@${D("a")}`);
    // An unpushed build (tag without digest) looked up, in each format.
    const digest = fakeDigest(ref("app:dev"));
    assert.equal(await value("tag-and-digest", "app"), `app:dev@${digest}`);
    assert.equal(await value("digest-only", "app"), `app@${digest}`);
    assert.equal(await value("canonical", "app"), `docker.io/library/app:dev@${digest}`);
    // An artifact named by digest alone has no tag to write, not even latest.
    assert.equal(await value("canonical", "bydigest"), `registry.example.com/bydigest@${D("c")}`);
    assert.equal(await value("tag-and-digest", "bydigest"), `registry.example.com/bydigest@${D("c")}`);
  });
});

describe("skaffold artifact names (notice)", () => {
  const artifacts = artifactsOf([{ imageName: "skaffold-example", tag: `registry.example.com/skaffold-example:v1@${D("a")}` }]);
  const declared = new Map([
    ["docker.io/library/skaffold-example", { image: "skaffold-example", where: "skaffold.yaml" }],
    ["docker.io/library/leeroy-web", { image: "leeroy-web", where: "skaffold.yaml" }],
  ]);

  it("a bare name skaffold.yaml declares, with no build of it, is left alone with a warning naming skaffold and what to do", () => {
    const none = source({ declared }).source.notice(ref("leeroy-web"));
    assert.equal(none?.leave, true);
    assert.match(none?.message ?? "", /^left skaffold artifact leeroy-web alone: skaffold\.yaml declares it \(build\.artifacts\[\]\.image\) and no buildArtifacts file was given; skaffold render replaces it/);
    assert.match(none?.message ?? "", /skaffold build --file-output=artifacts\.json and set buildArtifacts: artifacts\.json/);
    const lacking = source({ declared, artifacts }).source.notice(ref("leeroy-web"));
    assert.match(lacking?.message ?? "", /and no buildArtifacts file \(artifacts\.json\) has a build of it/);
  });

  it("a bare name with a build, an undeclared bare name, and the artifact's own tag get no notice", () => {
    const { source: s } = source({ declared, artifacts });
    assert.equal(s.notice(ref("skaffold-example")), undefined);
    assert.equal(s.notice(ref("nginx")), undefined);
    assert.equal(s.notice(ref("registry.example.com/skaffold-example:v1")), undefined);
    assert.equal(s.notice(ref(`skaffold-example:v1@${D("b")}`)), undefined);
  });

  it("an artifact's name with a tag of its own is a warning (skaffold replaces only the bare name), and is still looked up", () => {
    const { source: s } = source({ declared, artifacts });
    const tagged = s.notice(ref("skaffold-example:v2"));
    assert.equal(tagged?.leave, false);
    assert.equal(
      tagged?.message,
      "skaffold-example:v2 has the name of build artifact skaffold-example (artifacts.json) but a tag of its own: skaffold replaces only the bare name, " +
        "so this is not the image skaffold built and it is looked up as written. Write image: skaffold-example to use the build " +
        `(registry.example.com/skaffold-example:v1@${D("a")}), or rename the image if it is another one`,
    );
    assert.match(s.notice(ref("leeroy-web:v1"))?.message ?? "", /^leeroy-web:v1 has the name of skaffold artifact leeroy-web \(skaffold\.yaml\) but a tag of its own/);
  });
});

describe("mode: pin with the cache", () => {
  it("a second run within the TTL asks no registry; without a cache every run asks", async () => {
    const dir = await mkdtemp(join(tmpdir(), "krm-digester-mode-"));
    dirs.push(dir);
    const first = source({ cache: new DigestCache({ dir, ttlMs: 60_000 }) });
    const digest = (await first.source.resolveDigest(ref("nginx:1.27"))).digest;
    assert.equal(first.registry.calls.length, 1);
    const second = source({ cache: new DigestCache({ dir, ttlMs: 60_000 }) });
    const again = await second.source.resolveDigest(ref("docker.io/library/nginx:1.27"));
    assert.equal(again.digest, digest);
    assert.match(again.note ?? "", /^from the cache, looked up \d+s ago$/);
    assert.equal(second.opened(), 0);
    assert.equal(second.source.counts.cache, 1);
    const uncached = source({});
    await uncached.source.resolveDigest(ref("nginx:1.27"));
    assert.equal(uncached.registry.calls.length, 1);
  });
});

describe("the persistent cache in a container (KRM_DIGESTER_IN_CONTAINER=1)", () => {
  it("is used only where the user pointed it; else none, with a warning that says how to mount one", async () => {
    const { persistentCache } = await import("../../src/sources/package-run.js");
    const options = { cacheTtlMs: 60_000 };
    const inside = persistentCache(options, "pin", { env: { KRM_DIGESTER_IN_CONTAINER: "1" }, home: "/nonexistent" });
    assert.equal(inside.cache, undefined);
    assert.match(inside.warning ?? "", /--mount type=bind,src=\$HOME\/\.cache\/krm-digester,dst=\/cache,rw=true --env KRM_DIGESTER_CACHE_DIR=\/cache/);
    for (const env of [{ KRM_DIGESTER_IN_CONTAINER: "1", KRM_DIGESTER_CACHE_DIR: "/cache" }, { KRM_DIGESTER_IN_CONTAINER: "1", XDG_CACHE_HOME: "/xdg" }, {}]) {
      const found = persistentCache(options, "pin", { env, home: "/home/u" });
      assert.ok(found.cache, JSON.stringify(env));
      assert.equal(found.warning, undefined);
    }
    assert.deepEqual(persistentCache(options, "frozen", { env: {}, home: "/h" }), { cache: undefined, warning: undefined });
    assert.deepEqual(persistentCache({ cacheTtlMs: undefined }, "pin", { env: { KRM_DIGESTER_IN_CONTAINER: "1" }, home: "/h" }), { cache: undefined, warning: undefined });
  });
});
