// The webhook's flags named after the function's config keys
// (--insecure-registries, --registry-mirrors, --concurrency,
// --registry-concurrency, --registry-streams): parsed by the config's own
// parsers, and each with its effect against a real registry.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { webhookFlags } from "../../src/cli/webhook.js";
import { DEFAULT_OPTIONS } from "../../src/config.js";
import { object, review } from "../support/admission.js";
import { useServer } from "../support/client-helpers.js";
import { startFaultProxy } from "../support/fault-proxy.js";
import { startForwardProxy } from "../support/forward-proxy.js";
import { freePort, startRegistry } from "../support/registry.js";
import { pushOciManifest } from "../support/seed.js";
import { answer, patchOf, startTestWebhook } from "../support/webhook.js";
import type { TestWebhook } from "../support/webhook.js";

describe("webhook flags of the function's config keys: parsing", () => {
  it("defaults are the function's; values are read as ConfigMap data; --shutdown-delay defaults to 5s", () => {
    const d = webhookFlags([], {});
    assert.ok(d !== "help");
    assert.deepEqual(d.config.insecureRegistries, []);
    assert.deepEqual(d.config.registryMirrors, {});
    assert.equal(d.config.concurrency, DEFAULT_OPTIONS.concurrency);
    assert.equal(d.config.registryConcurrency, DEFAULT_OPTIONS.registryConcurrency);
    assert.equal(d.config.registryStreams, DEFAULT_OPTIONS.registryStreams);
    assert.equal(d.shutdownDelayMs, 5000);
    const f = webhookFlags(
      [
        "--insecure-registries=reg.lan:5000,10.0.0.7",
        "--registry-mirrors=docker.io=mirror.local:5000,docker.io=harbor.local/hub,ghcr.io=cache.local",
        "--concurrency",
        "8",
        "--registry-concurrency=4",
        "--registry-streams=50",
        "--shutdown-delay=15s",
      ],
      {},
    );
    assert.ok(f !== "help");
    assert.deepEqual(f.config.insecureRegistries, ["reg.lan:5000", "10.0.0.7"]);
    assert.deepEqual(f.config.registryMirrors, { "docker.io": ["mirror.local:5000", "harbor.local/hub"], "ghcr.io": ["cache.local"] });
    assert.equal(f.config.concurrency, 8);
    assert.equal(f.config.registryConcurrency, 4);
    assert.equal(f.config.registryStreams, 50);
    assert.equal(f.shutdownDelayMs, 15_000);
  });

  it("a bad value names the flag and says what is expected", () => {
    assert.throws(() => webhookFlags(["--concurrency=0"], {}), /^InputError: webhook: --concurrency: .*whole number from 1 to 256, got "0"/);
    assert.throws(() => webhookFlags(["--registry-mirrors=docker.io"], {}), /webhook: --registry-mirrors: .*expected registry=mirror pairs/);
    assert.throws(() => webhookFlags(["--registry-streams=lots"], {}), /webhook: --registry-streams: /);
    assert.throws(() => webhookFlags(["--shutdown-delay=soon"], {}), /--shutdown-delay must be a duration/);
  });
});

describe("webhook flags of the function's config keys: against a real registry", () => {
  const registry = useServer(() => startRegistry());
  const slow = useServer(() => startFaultProxy(registry()));
  // A name that is not loopback reaches the registry through a forward proxy's host table.
  const forward = useServer(() => startForwardProxy({ hosts: { "plain.test": "127.0.0.1" } }));
  let digest = "";
  const hooks: TestWebhook[] = [];
  const hook = async (overrides: Parameters<typeof startTestWebhook>[0]): Promise<TestWebhook> => {
    const h = await startTestWebhook(overrides);
    hooks.push(h);
    return h;
  };
  const pod = (...images: string[]) => review({ object: object({ kind: "Pod", containers: images.map((image, i) => ({ name: `c${i}`, image })) }) });
  before(async () => {
    digest = (await pushOciManifest(registry(), "app", "v1")).digest;
    for (const n of [1, 2, 3, 4]) await pushOciManifest(registry(), `many/app${n}`, "v1");
  });
  after(async () => {
    for (const h of hooks) await h.stop();
  });

  it("--insecure-registries: a plain-HTTP registry that is not loopback is denied without it, pinned with it", async () => {
    const env = { HTTPS_PROXY: forward().url, HTTP_PROXY: forward().url };
    const image = `plain.test:${registry().port}/app:v1`;
    const without = answer(await (await hook({ env })).post(pod(image)));
    assert.equal(without.response.allowed, false);
    assert.match(without.response.status?.message ?? "", /does not speak TLS/);
    const withIt = answer(await (await hook({ env, insecureRegistries: webhookConfig(["--insecure-registries=plain.test"]).insecureRegistries })).post(pod(image)));
    assert.deepEqual(patchOf(withIt), [{ op: "replace", path: "/spec/containers/0/image", value: `${image}@${digest}` }]);
  });

  it("--registry-mirrors: a registry that is down is answered by its mirror", async () => {
    const down = `127.0.0.1:${await freePort()}`;
    const image = `${down}/app:v1`;
    const without = answer(await (await hook({})).post(pod(image)));
    assert.equal(without.response.allowed, false);
    const mirrors = webhookConfig([`--registry-mirrors=${down}=${registry().host}`]).registryMirrors;
    const withIt = answer(await (await hook({ registryMirrors: mirrors })).post(pod(image)));
    assert.deepEqual(patchOf(withIt), [{ op: "replace", path: "/spec/containers/0/image", value: `${image}@${digest}` }]);
  });

  it("--concurrency: one review's unique images resolved at most that many at once", async () => {
    const images = [1, 2, 3, 4].map((n) => `${slow().host}/many/app${n}:v1`);
    slow().script({ method: "HEAD", path: /many\/app\d\/manifests/, fault: { kind: "delay", ms: 150 } });
    const one = await hook({ concurrency: webhookConfig(["--concurrency=1"]).concurrency });
    slow().reset();
    slow().script({ method: "HEAD", path: /many\/app\d\/manifests/, fault: { kind: "delay", ms: 150 } });
    assert.equal(patchOf(answer(await one.post(pod(...images)))).length, 4);
    assert.equal(slow().maxInFlight, 1);
    const all = await hook({});
    slow().reset();
    slow().script({ method: "HEAD", path: /many\/app\d\/manifests/, fault: { kind: "delay", ms: 150 } });
    assert.equal(patchOf(answer(await all.post(pod(...images)))).length, 4);
    assert.ok(slow().maxInFlight > 1, `default concurrency: ${slow().maxInFlight} at once`);
  });
});

/** What the CLI makes of these flags (the settings handed to the webhook). */
function webhookConfig(args: string[]): NonNullable<Exclude<ReturnType<typeof webhookFlags>, "help">>["config"] {
  const f = webhookFlags(args, {});
  assert.ok(f !== "help");
  return f.config;
}
