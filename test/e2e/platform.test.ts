// Issue 11's `platform` through the built function against a real registry:
// multi-platform images of both kinds (OCI image index, Docker manifest list)
// seeded with ARM variants, Windows builds by os.version and a buildx
// attestation, a single-platform image, and the request counts.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import type { Result } from "../../src/results.js";
import { startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { MANY_PLATFORMS, platformName, pushImage } from "../support/seed.js";
import type { PushedManifest } from "../support/seed.js";
import { runFn } from "../support/run-fn.js";

interface Output {
  items: { spec: { containers: { image: string }[] } }[];
  results?: Result[];
}

function list(images: readonly string[], config: Record<string, string> = {}, typed = false): string {
  const containers = images.map((image, i) => `    - name: c${i}\n      image: ${image}\n`).join("");
  const entries = Object.entries(config).map(([k, v]) => `  ${typed ? "" : "  "}${k}: ${JSON.stringify(v)}\n`).join("");
  const fnConfig = !entries
    ? ""
    : typed
      ? `functionConfig:\n  apiVersion: fn.krm-digester.dev/v1alpha1\n  kind: DigesterConfig\n  metadata:\n    name: c\n${entries}`
      : `functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n  data:\n${entries}`;
  return `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n  spec:\n    containers:\n${containers}${fnConfig}`;
}

const imagesOf = (out: Output): string[] => out.items.flatMap((i) => i.spec.containers.map((c) => c.image));

/** The child of `index` seeded for platform `name` (platformName's spelling). */
function child(index: PushedManifest, name: string): string {
  const found = index.children?.find((c) => c.platform && platformName(c.platform) === name);
  assert.ok(found, `no child ${name}`);
  return found.digest;
}

describe("platform against a real registry (OCI image index and Docker manifest list)", () => {
  let registry: Registry;
  let oci: PushedManifest;
  let docker: PushedManifest;
  let single: PushedManifest;
  let ociRef: string;
  let dockerRef: string;

  before(async () => {
    registry = await startRegistry();
    oci = await pushImage(registry, { repository: "multi/oci", tag: "v1", kind: "oci-index", platforms: MANY_PLATFORMS, attestation: true });
    docker = await pushImage(registry, { repository: "multi/docker", tag: "v1", kind: "docker-manifest-list", platforms: MANY_PLATFORMS });
    single = await pushImage(registry, { repository: "single/app", tag: "v1", kind: "oci-manifest" });
    ociRef = `${registry.host}/multi/oci:v1`;
    dockerRef = `${registry.host}/multi/docker:v1`;
  });
  after(() => registry.stop());

  it("no platform (default): the index digests, one HEAD per unique reference", async () => {
    const run = await runFn(list([ociRef, dockerRef, ociRef]));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(imagesOf(parse(run.stdout) as Output), [`${ociRef}@${oci.digest}`, `${dockerRef}@${docker.digest}`, `${ociRef}@${oci.digest}`]);
    assert.match(run.stderr, /2 unique references resolved \(2 HEAD, 0 GET/);
  });

  it("linux/arm64 pins the arm64 (v8) child of both index kinds; one GET per unique reference, no HEAD; the result names the platform and the index", async () => {
    const run = await runFn(list([ociRef, dockerRef, ociRef], { platform: "linux/arm64" }));
    assert.equal(run.code, 0, run.stderr);
    const out = parse(run.stdout) as Output;
    const arm64 = child(oci, "linux/arm64/v8");
    assert.deepEqual(imagesOf(out), [`${ociRef}@${arm64}`, `${dockerRef}@${child(docker, "linux/arm64/v8")}`, `${ociRef}@${arm64}`]);
    assert.match(run.stderr, /2 unique references resolved \(0 HEAD, 2 GET/);
    assert.deepEqual(out.results?.map((r) => r.message).slice(0, 2), [
      `pinned ${ociRef} to ${arm64} (platform linux/arm64/v8 of OCI image index ${oci.digest})`,
      `pinned ${dockerRef} to ${child(docker, "linux/arm64/v8")} (platform linux/arm64/v8 of Docker manifest list ${docker.digest})`,
    ]);
  });

  for (const [asked, seeded] of [
    ["linux/arm64/v8", "linux/arm64/v8"],
    ["linux/aarch64", "linux/arm64/v8"],
    ["linux/arm/v7", "linux/arm/v7"],
    ["linux/arm", "linux/arm/v7"],
    ["linux/arm/v6", "linux/arm/v6"],
    ["linux/amd64", "linux/amd64"],
    ["linux/x86_64", "linux/amd64"],
    ["windows(10.0.17763.1234)/amd64", "windows/amd64:10.0.17763.1234"],
    ["windows/amd64:10.0.20348.2340", "windows/amd64:10.0.20348.2340"],
    ["windows/amd64:10.0.17763", "windows/amd64:10.0.17763.1234"],
  ] as const) {
    it(`${asked} pins the ${seeded} child (both index kinds)`, async () => {
      const run = await runFn(list([ociRef, dockerRef], { platform: asked }));
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(imagesOf(parse(run.stdout) as Output), [`${ociRef}@${child(oci, seeded)}`, `${dockerRef}@${child(docker, seeded)}`]);
    });
  }

  it("the typed config takes the same string", async () => {
    const run = await runFn(list([ociRef], { platform: "windows(10.0.20348.2340)/amd64" }, true));
    assert.equal(run.code, 0, run.stderr);
    const out = parse(run.stdout) as Output;
    assert.deepEqual(imagesOf(out), [`${ociRef}@${child(oci, "windows/amd64:10.0.20348.2340")}`]);
    assert.match(out.results?.[0]?.message ?? "", /\(platform windows\(10\.0\.20348\.2340\)\/amd64 of OCI image index /);
  });

  it("a platform the index lacks is an error naming the image and listing the platforms it has (not the attestation); the field is unchanged", async () => {
    const run = await runFn(list([ociRef, dockerRef], { platform: "linux/ppc64le" }));
    assert.equal(run.code, 1);
    const out = parse(run.stdout) as Output;
    assert.deepEqual(imagesOf(out), [ociRef, dockerRef]);
    const has = "linux/amd64, linux/arm64/v8, linux/arm/v7, linux/arm/v6, linux/s390x, windows(10.0.17763.1234)/amd64, windows(10.0.20348.2340)/amd64";
    assert.deepEqual(out.results?.map((r) => [r.severity, r.field?.path, r.message]), [
      [
        "error",
        "spec.containers[0].image",
        `${ociRef} has no linux/ppc64le image: its OCI image index ${oci.digest} has ${has}. Set platform to one of the platforms the index has, or leave platform unset to pin the index itself.`,
      ],
      [
        "error",
        "spec.containers[1].image",
        `${dockerRef} has no linux/ppc64le image: its Docker manifest list ${docker.digest} has ${has}. Set platform to one of the platforms the index has, or leave platform unset to pin the index itself.`,
      ],
    ]);
    assert.match(run.stderr, /0 HEAD, 2 GET/);
  });

  it("windows/amd64 without os.version, where the index has two builds, is an error naming both", async () => {
    const run = await runFn(list([ociRef], { platform: "windows/amd64" }));
    assert.equal(run.code, 1);
    const [result] = (parse(run.stdout) as Output).results ?? [];
    assert.equal(
      result?.message,
      `${ociRef} has several windows/amd64 images, one per os.version, in its OCI image index ${oci.digest}: windows(10.0.17763.1234)/amd64, windows(10.0.20348.2340)/amd64. ` +
        "Name the os.version too, e.g. platform windows(10.0.17763.1234)/amd64.",
    );
  });

  it("a single-platform image is pinned as it is, and the result says so", async () => {
    const image = `${registry.host}/single/app:v1`;
    const run = await runFn(list([image], { platform: "linux/arm64" }));
    assert.equal(run.code, 0, run.stderr);
    const out = parse(run.stdout) as Output;
    assert.deepEqual(imagesOf(out), [`${image}@${single.digest}`]);
    assert.equal(out.results?.[0]?.message, `pinned ${image} to ${single.digest} (a single-platform image, pinned as it is; platform linux/arm64 not checked)`);
    assert.match(run.stderr, /0 HEAD, 1 GET/);
  });

  it("existingDigests verify of repo@index-digest checks that digest with a HEAD, whatever the platform", async () => {
    const image = `${registry.host}/multi/oci@${oci.digest}`;
    const run = await runFn(list([image], { platform: "linux/arm64", existingDigests: "verify" }));
    assert.equal(run.code, 0, run.stderr);
    assert.equal((parse(run.stdout) as Output).results?.[0]?.message, `verified ${image}: the digest exists in the repository`);
    assert.match(run.stderr, /1 HEAD, 0 GET/);
  });

  it("refresh with a platform moves repo:tag@index-digest to the platform's digest", async () => {
    const run = await runFn(list([`${ociRef}@${oci.digest}`], { platform: "linux/arm/v7", existingDigests: "refresh" }));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(imagesOf(parse(run.stdout) as Output), [`${ociRef}@${child(oci, "linux/arm/v7")}`]);
  });

  for (const [value, why] of [
    ["linux", /"linux" names no architecture/],
    ["linus/amd64", /unknown os "linus" in "linus\/amd64"; os is one of aix, android, darwin, .*, linux, .*, windows, zos/],
    ["linux/arm65", /unknown architecture "arm65" in "linux\/arm65"; architecture is one of 386, amd64, .*, arm64, .*, s390x/],
    ["linux/arm/v7/x", /has more parts than os\/architecture\/variant/],
    ["windows(10.0)/amd64:10.0", /gives the os.version twice/],
  ] as const) {
    it(`a bad value (${value}) is an error naming the key and what is allowed; nothing is resolved`, async () => {
      const run = await runFn(list([ociRef], { platform: value }));
      assert.equal(run.code, 1);
      const out = parse(run.stdout) as Output;
      assert.deepEqual(imagesOf(out), [ociRef]);
      assert.equal(out.results?.length, 1);
      const [result] = out.results ?? [];
      assert.equal(result?.field?.path, "functionConfig.data.platform");
      assert.match(result?.message ?? "", /^functionConfig: platform: /);
      assert.match(result?.message ?? "", why);
      assert.match(result?.message ?? "", /expected os\/architecture\[\/variant\] such as linux\/amd64, linux\/arm64, linux\/arm\/v7/);
    });
  }
});

describe("the persistent cache (cacheTTL): digest checks kept without limit, tags for the TTL, platforms apart", () => {
  let registry: Registry;
  let stable: string;
  let multi: PushedManifest;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    registry = await startRegistry();
    stable = (await pushImage(registry, { repository: "shop/stable", tag: "v1", kind: "oci-manifest" })).digest;
    multi = await pushImage(registry, { repository: "shop/multi", tag: "v1", kind: "docker-manifest-list", platforms: MANY_PLATFORMS });
    dir = await mkdtemp(join(tmpdir(), "krm-digester-platform-cache-"));
    env = { ...process.env, KRM_DIGESTER_CACHE_DIR: dir };
  });
  after(async () => {
    await registry.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("a second run asks the registry for the tag (its 1 ms TTL is over) but not for the digest check", async () => {
    const images = [`${registry.host}/shop/stable@${stable}`, `${registry.host}/shop/stable:v1`];
    const config = { existingDigests: "verify", cacheTTL: "1ms" };
    const first = await runFn(list(images, config), { env });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /2 unique references resolved \(2 HEAD, 0 GET/);
    const second = await runFn(list(images, config), { env });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /2 unique references resolved \(1 HEAD, 0 GET/);
    assert.equal((parse(second.stdout) as Output).results?.[0]?.message, `verified ${images[0]}: the digest exists in the repository`);
    // Only the check alone: the registry is not even opened.
    const third = await runFn(list(images.slice(0, 1), config), { env });
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stderr, /1 unique references resolved, 0 errors/);
  });

  it("a lookup with a platform never answers one without, nor another platform", async () => {
    const image = `${registry.host}/shop/multi:v1`;
    const arm64 = child(multi, "linux/arm64/v8");
    const withPlatform = await runFn(list([image], { cacheTTL: "1h", platform: "linux/arm64" }), { env });
    assert.deepEqual(imagesOf(parse(withPlatform.stdout) as Output), [`${image}@${arm64}`]);
    assert.match(withPlatform.stderr, /\(0 HEAD, 1 GET/);
    const plain = await runFn(list([image], { cacheTTL: "1h" }), { env });
    assert.deepEqual(imagesOf(parse(plain.stdout) as Output), [`${image}@${multi.digest}`]);
    assert.match(plain.stderr, /\(1 HEAD, 0 GET/);
    const arm = await runFn(list([image], { cacheTTL: "1h", platform: "linux/arm/v7" }), { env });
    assert.deepEqual(imagesOf(parse(arm.stdout) as Output), [`${image}@${child(multi, "linux/arm/v7")}`]);
    const again = await runFn(list([image], { cacheTTL: "1h", platform: "linux/arm64" }), { env });
    const out = parse(again.stdout) as Output;
    assert.deepEqual(imagesOf(out), [`${image}@${arm64}`]);
    assert.match(out.results?.[0]?.message ?? "", /\(platform linux\/arm64\/v8 of Docker manifest list sha256:[0-9a-f]{64}; from the cache, looked up \d+s ago\)$/);
    assert.match(again.stderr, /1 unique references resolved, 0 errors/);
  });
});
