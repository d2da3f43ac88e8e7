// The webhook's --existing-digests and --platform against a real registry,
// with AdmissionReview bodies shaped as the API server sends them; and the
// in-process cache keeping a digest check without a TTL (request counts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { webhookFlags } from "../../src/cli/webhook.js";
import { object, review } from "../support/admission.js";
import { startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { MANY_PLATFORMS, platformName, pushImage } from "../support/seed.js";
import type { PushedManifest } from "../support/seed.js";
import { answer, patchOf, startTestWebhook } from "../support/webhook.js";
import type { TestWebhook } from "../support/webhook.js";
import type { WebhookConfig } from "../../src/webhook/webhook.js";

const MISSING = `sha256:${"0".repeat(64)}`;

describe("webhook --existing-digests and --platform (real HTTPS, real registry)", () => {
  let registry: Registry;
  let old: string;
  let now: string;
  let stable: string;
  let multi: PushedManifest;
  const hooks: TestWebhook[] = [];

  before(async () => {
    registry = await startRegistry();
    old = (await pushImage(registry, { repository: "shop/moved", tag: "v1", kind: "oci-manifest" })).digest;
    now = (await pushImage(registry, { repository: "shop/moved", tag: "v1", kind: "docker-manifest" })).digest; // the tag moves
    stable = (await pushImage(registry, { repository: "shop/stable", tag: "v1", kind: "oci-manifest" })).digest;
    multi = await pushImage(registry, { repository: "shop/multi", tag: "v1", kind: "oci-index", platforms: MANY_PLATFORMS, attestation: true });
  });
  after(async () => {
    for (const hook of hooks) await hook.stop();
    await registry.stop();
  });

  const start = async (overrides: Partial<WebhookConfig>): Promise<TestWebhook> => {
    const hook = await startTestWebhook(overrides);
    hooks.push(hook);
    return hook;
  };
  const deployment = (...images: string[]) => object({ kind: "Deployment", containers: images.map((image, i) => ({ name: `c${i}`, image })) });

  it("keep (default): an image with a digest gets no request and no patch", async () => {
    const hook = await start({});
    const a = answer(await hook.post(review({ object: deployment(`${registry.host}/shop/moved:v1@${old}`) })));
    assert.equal(a.response.allowed, true);
    assert.deepEqual(patchOf(a), []);
    assert.equal(hook.running.stack.stats.head + hook.running.stack.stats.get, 0);
  });

  it("verify: a moved tag is denied, naming both digests; a current one is admitted unchanged", async () => {
    const hook = await start({ existingDigests: "verify" });
    const h = registry.host;
    const denied = answer(await hook.post(review({ object: deployment(`${h}/shop/moved:v1@${old}`, `${h}/shop/stable:v1@${stable}`) })));
    assert.equal(denied.response.allowed, false);
    assert.equal(denied.response.status?.code, 403);
    assert.match(denied.response.status?.message ?? "", new RegExp(`shop/moved:v1@${old} is stale: tag v1 now points at ${now}, not at the digest written`));
    assert.doesNotMatch(denied.response.status?.message ?? "", /shop\/stable/);
    const ok = answer(await hook.post(review({ object: deployment(`${h}/shop/stable:v1@${stable}`, `${h}/shop/stable@${stable}`) })));
    assert.equal(ok.response.allowed, true);
    assert.deepEqual(patchOf(ok), []);
  });

  it("verify: a digest the repository lacks is denied, naming it", async () => {
    const hook = await start({ existingDigests: "verify" });
    const a = answer(await hook.post(review({ object: deployment(`${registry.host}/shop/stable@${MISSING}`) })));
    assert.equal(a.response.allowed, false);
    assert.match(a.response.status?.message ?? "", new RegExp(`digest ${MISSING} of \\S+/shop/stable@${MISSING} is not in repository`));
  });

  it("verify with --ignore-errors: admitted unchanged, with a warning that keeps the cause", async () => {
    const hook = await start({ existingDigests: "verify", ignoreErrors: true });
    const h = registry.host;
    const a = answer(await hook.post(review({ object: deployment(`${h}/shop/moved:v1@${old}`, `${h}/shop/stable@${MISSING}`, `${h}/shop/stable:v1`) })));
    assert.equal(a.response.allowed, true);
    assert.deepEqual(patchOf(a), [{ op: "replace", path: "/spec/template/spec/containers/2/image", value: `${h}/shop/stable:v1@${stable}` }]);
    const warnings = a.response.warnings ?? [];
    assert.ok(warnings.some((w) => w.startsWith("krm-digester: not pinned (DIGEST_STALE): ")), JSON.stringify(warnings));
    assert.ok(warnings.some((w) => w.startsWith("krm-digester: not pinned (DIGEST_NOT_FOUND): ")), JSON.stringify(warnings));
  });

  it("refresh: a moved tag is patched to the tag's digest; a current one is left alone", async () => {
    const hook = await start({ existingDigests: "refresh" });
    const h = registry.host;
    const a = answer(await hook.post(review({ object: deployment(`${h}/shop/moved:v1@${old}`, `${h}/shop/stable:v1@${stable}`) })));
    assert.equal(a.response.allowed, true);
    assert.deepEqual(patchOf(a), [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: `${h}/shop/moved:v1@${now}` }]);
  });

  it("a digest check is remembered without a TTL, a tag for its TTL: the second review asks the registry for the tag only", async () => {
    // A tag's answer lives 1 ms; the check's lives as long as the cache keeps it.
    const hook = await start({ existingDigests: "verify", cacheTtlMs: 1 });
    const h = registry.host;
    const body = () => review({ object: deployment(`${h}/shop/stable@${stable}`, `${h}/shop/stable:v1`) });
    assert.equal(answer(await hook.post(body())).response.allowed, true);
    const first = hook.running.stack.stats;
    assert.equal(first.head + first.get, 2, JSON.stringify(first));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = answer(await hook.post(body()));
    assert.equal(second.response.allowed, true);
    assert.deepEqual(patchOf(second), [{ op: "replace", path: "/spec/template/spec/containers/1/image", value: `${h}/shop/stable:v1@${stable}` }]);
    const after = hook.running.stack.stats;
    assert.equal(after.head + after.get, 3, "one more request, for the tag; none for the digest check");
  });

  it("--platform linux/arm/v7: the child's digest is patched in, with one GET per unique reference", async () => {
    const hook = await start({ platform: { os: "linux", architecture: "arm", variant: "v7" } });
    const image = `${registry.host}/shop/multi:v1`;
    const a = answer(await hook.post(review({ object: deployment(image, image) })));
    const arm = multi.children?.find((c) => c.platform && platformName(c.platform) === "linux/arm/v7")?.digest;
    assert.ok(arm);
    assert.deepEqual(patchOf(a), [
      { op: "replace", path: "/spec/template/spec/containers/0/image", value: `${image}@${arm}` },
      { op: "replace", path: "/spec/template/spec/containers/1/image", value: `${image}@${arm}` },
    ]);
    assert.deepEqual([hook.running.stack.stats.head, hook.running.stack.stats.get], [0, 1]);
  });

  it("--platform the index lacks: denied, listing the platforms it has", async () => {
    const hook = await start({ platform: { os: "linux", architecture: "riscv64" } });
    const a = answer(await hook.post(review({ object: deployment(`${registry.host}/shop/multi:v1`) })));
    assert.equal(a.response.allowed, false);
    assert.match(a.response.status?.message ?? "", /has no linux\/riscv64 image: its OCI image index sha256:[0-9a-f]{64} has linux\/amd64, linux\/arm64\/v8, linux\/arm\/v7, /);
  });
});

describe("webhook flags --platform and --existing-digests", () => {
  it("parse, and a bad value names the flag and what is allowed", () => {
    const flags = webhookFlags(["--platform=windows/amd64:10.0.17763.1234", "--existing-digests=verify"], {});
    assert.notEqual(flags, "help");
    if (flags !== "help") {
      assert.deepEqual(flags.config.platform, { os: "windows", architecture: "amd64", osVersion: "10.0.17763.1234" });
      assert.equal(flags.config.existingDigests, "verify");
    }
    const defaults = webhookFlags([], {});
    if (defaults !== "help") {
      assert.equal(defaults.config.platform, undefined);
      assert.equal(defaults.config.existingDigests, "keep");
    }
    assert.throws(() => webhookFlags(["--existing-digests=check"], {}), /--existing-digests must be one of keep, verify, refresh, got "check"/);
    assert.throws(() => webhookFlags(["--platform=arm64"], {}), /--platform: "arm64" names no architecture; expected os\/architecture\[\/variant\]/);
    assert.throws(() => webhookFlags(["--platform=linux/arm65"], {}), /--platform: unknown architecture "arm65"/);
  });
});
