// Issue 11's settings through the built function against a real registry:
// `format`, the skip rules (skipPrefixes, skipImages globs, both annotations)
// and ko placeholders.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse, parseDocument } from "yaml";
import { parseConfig } from "../../src/config.js";
import type { Result } from "../../src/results.js";
import { startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { pushImage } from "../support/seed.js";
import { webhookFlags } from "../../src/cli/webhook.js";
import { ROOT, runFn } from "../support/run-fn.js";
import { object, review } from "../support/admission.js";
import { answer, patchOf, startTestWebhook } from "../support/webhook.js";
import type { TestWebhook } from "../support/webhook.js";

interface Output {
  items: { spec: { containers: { name: string; image: string }[] } }[];
  results?: Result[];
}

interface Pod {
  images: readonly string[];
  annotations?: Record<string, string>;
  names?: readonly string[];
}

function list(pods: readonly Pod[], config: Record<string, string> = {}): string {
  const items = pods
    .map((pod, i) => {
      const annotations = Object.entries(pod.annotations ?? {}).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}\n`).join("");
      const containers = pod.images.map((image, j) => `    - name: ${pod.names?.[j] ?? `c${j}`}\n      image: ${image}\n`).join("");
      return `- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p${i}\n${annotations ? `    annotations:\n${annotations}` : ""}  spec:\n    containers:\n${containers}`;
    })
    .join("");
  const data = Object.entries(config).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}\n`).join("");
  const fnConfig = data ? `functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n  data:\n${data}` : "";
  return `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items}${fnConfig}`;
}

const imagesOf = (out: Output): string[] => out.items.flatMap((i) => i.spec.containers.map((c) => c.image));

describe("issue 11 settings against a real registry", () => {
  let registry: Registry;
  let app: string;
  let latest: string;
  let sidecar: string;

  before(async () => {
    registry = await startRegistry();
    app = (await pushImage(registry, { repository: "shop/app", tag: "v1", kind: "oci-manifest" })).digest;
    latest = (await pushImage(registry, { repository: "shop/app", tag: "latest", kind: "docker-manifest" })).digest;
    sidecar = (await pushImage(registry, { repository: "mesh/proxy", tag: "1.0", kind: "oci-index" })).digest;
  });
  after(() => registry.stop());

  describe("format", () => {
    it("tag-and-digest (default, and when set) writes repo:tag@digest", async () => {
      const image = `${registry.host}/shop/app:v1`;
      for (const config of [{}, { format: "tag-and-digest" }] as Record<string, string>[]) {
        const run = await runFn(list([{ images: [image] }], config));
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(imagesOf(parse(run.stdout) as Output), [`${image}@${app}`]);
      }
    });

    it("digest-only writes repo@digest, the name as written", async () => {
      const run = await runFn(list([{ images: [`${registry.host}/shop/app:v1`, `${registry.host}/shop/app`] }], { format: "digest-only" }));
      assert.equal(run.code, 0, run.stderr);
      const out = parse(run.stdout) as Output;
      assert.deepEqual(imagesOf(out), [`${registry.host}/shop/app@${app}`, `${registry.host}/shop/app@${latest}`]);
      assert.equal(out.results?.[0]?.field?.proposedValue, `${registry.host}/shop/app@${app}`);
    });

    it("canonical writes registry/repository:tag@digest, with latest when no tag was written", async () => {
      const run = await runFn(list([{ images: [`${registry.host}/shop/app:v1`, `${registry.host}/shop/app`] }], { format: "canonical" }));
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(imagesOf(parse(run.stdout) as Output), [`${registry.host}/shop/app:v1@${app}`, `${registry.host}/shop/app:latest@${latest}`]);
    });

    it("a second run over digest-only output changes nothing", async () => {
      const first = await runFn(list([{ images: [`${registry.host}/shop/app:v1`] }], { format: "digest-only" }));
      const again = await runFn(list([{ images: imagesOf(parse(first.stdout) as Output) }], { format: "digest-only" }));
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(imagesOf(parse(again.stdout) as Output), [`${registry.host}/shop/app@${app}`]);
      assert.equal((parse(again.stdout) as Output).results, undefined);
    });

    it("a bad value is an error naming the key and the values allowed; nothing is resolved", async () => {
      const run = await runFn(list([{ images: [`${registry.host}/shop/app:v1`] }], { format: "short" }));
      assert.equal(run.code, 1);
      const out = parse(run.stdout) as Output;
      assert.deepEqual(out.results?.map((r) => [r.field?.path, r.message]), [
        ["functionConfig.data.format", 'functionConfig: format: expected one of tag-and-digest, digest-only, canonical, got "short"'],
      ]);
      assert.deepEqual(imagesOf(out), [`${registry.host}/shop/app:v1`]);
    });
  });

  describe("skip rules", () => {
    it("skipImages globs: * within a segment, ** across, registry ports, as written and canonical; each skip an info result naming the pattern", async () => {
      const host = registry.host; // 127.0.0.1:PORT
      const port = host.slice(host.indexOf(":") + 1);
      const pod = { images: [`${host}/shop/app:v1`, `${host}/mesh/proxy:1.0`, "nginx:1.27", "quay.io/team/a/b/c:v2"] };
      const patterns = `127.0.0.1:*/mesh/*,docker.io/library/nginx,quay.io/**`;
      const run = await runFn(list([pod], { skipImages: patterns }));
      assert.equal(run.code, 0, run.stderr);
      const out = parse(run.stdout) as Output;
      assert.deepEqual(imagesOf(out), [`${host}/shop/app:v1@${app}`, `${host}/mesh/proxy:1.0`, "nginx:1.27", "quay.io/team/a/b/c:v2"]);
      assert.deepEqual(out.results?.map((r) => [r.severity, r.field?.path, r.message]), [
        ["info", "spec.containers[0].image", `pinned ${host}/shop/app:v1 to ${app}`],
        ["info", "spec.containers[1].image", `left ${host}/mesh/proxy:1.0 alone: it matches skipImages pattern "127.0.0.1:*/mesh/*"`],
        ["info", "spec.containers[2].image", 'left nginx:1.27 alone: it matches skipImages pattern "docker.io/library/nginx"'],
        ["info", "spec.containers[3].image", 'left quay.io/team/a/b/c:v2 alone: it matches skipImages pattern "quay.io/**"'],
      ]);
      // `*` stays within one segment: 127.0.0.1:PORT/* does not reach shop/app; the port can be written out.
      const narrow = await runFn(list([{ images: [`${host}/shop/app:v1`, `${host}/mesh/proxy:1.0`] }], { skipImages: `127.0.0.1:*/*,127.0.0.1:${port}/mesh/proxy:1.?` }));
      assert.deepEqual(imagesOf(parse(narrow.stdout) as Output), [`${host}/shop/app:v1@${app}`, `${host}/mesh/proxy:1.0`]);
    });

    it("a bad pattern is an error naming skipImages", async () => {
      const run = await runFn(list([{ images: ["nginx"] }], { skipImages: "quay.io/***" }));
      assert.equal(run.code, 1);
      const [result] = (parse(run.stdout) as Output).results ?? [];
      assert.equal(result?.field?.path, "functionConfig.data.skipImages");
      assert.match(result?.message ?? "", /^functionConfig: skipImages: pattern "quay\.io\/\*\*\*" has "\*\*\*"/);
    });

    it("skipPrefixes skips are reported too", async () => {
      const run = await runFn(list([{ images: [`${registry.host}/shop/app:v1`] }], { skipPrefixes: `${registry.host}/shop/` }));
      assert.equal(run.code, 0, run.stderr);
      const [result] = (parse(run.stdout) as Output).results ?? [];
      assert.equal(result?.message, `left ${registry.host}/shop/app:v1 alone: it starts with skipPrefixes entry "${registry.host}/shop/"`);
      assert.equal(result?.severity, "info");
    });

    it('krm-digester.dev/skip: "true" leaves every field of the resource alone (even a broken one), others are pinned', async () => {
      const image = `${registry.host}/shop/app:v1`;
      const run = await runFn(list([{ images: [image, "Not A Reference"], annotations: { "krm-digester.dev/skip": "true" } }, { images: [image] }]));
      assert.equal(run.code, 0, run.stderr);
      const out = parse(run.stdout) as Output;
      assert.deepEqual(imagesOf(out), [image, "Not A Reference", `${image}@${app}`]);
      assert.deepEqual(out.results?.map((r) => [r.resourceRef?.name, r.message]), [
        ["p0", `left ${image} alone: the resource has annotation krm-digester.dev/skip: "true"`],
        ["p0", `left Not A Reference alone: the resource has annotation krm-digester.dev/skip: "true"`],
        ["p1", `pinned ${image} to ${app}`],
      ]);
    });

    it('krm-digester.dev/skip: "false" skips nothing', async () => {
      const run = await runFn(list([{ images: [`${registry.host}/shop/app:v1`], annotations: { "krm-digester.dev/skip": "false" } }]));
      assert.deepEqual(imagesOf(parse(run.stdout) as Output), [`${registry.host}/shop/app:v1@${app}`]);
    });

    it("krm-digester.dev/skip-containers leaves the named containers alone, by name, and pins the rest", async () => {
      const app1 = `${registry.host}/shop/app:v1`;
      const proxy = `${registry.host}/mesh/proxy:1.0`;
      const run = await runFn(
        list([
          { images: [app1, proxy, proxy], names: ["app", "istio-proxy", "linkerd-proxy"], annotations: { "krm-digester.dev/skip-containers": "istio-proxy, linkerd-proxy" } },
          { images: [proxy], names: ["istio-proxy"] },
        ]),
      );
      assert.equal(run.code, 0, run.stderr);
      const out = parse(run.stdout) as Output;
      assert.deepEqual(imagesOf(out), [`${app1}@${app}`, proxy, proxy, `${proxy}@${sidecar}`]);
      assert.deepEqual(
        out.results?.filter((r) => r.message.startsWith("left")).map((r) => [r.field?.path, r.message]),
        [
          ["spec.containers[1].image", `left ${proxy} alone: container "istio-proxy" is listed in annotation krm-digester.dev/skip-containers`],
          ["spec.containers[2].image", `left ${proxy} alone: container "linkerd-proxy" is listed in annotation krm-digester.dev/skip-containers`],
        ],
      );
    });
  });

  describe("ko placeholders", () => {
    it("ko:// is left alone with a warning naming ko; exit 0 when nothing else fails", async () => {
      const run = await runFn(list([{ images: ["ko://github.com/example/app/cmd/server", `${registry.host}/shop/app:v1`] }]));
      assert.equal(run.code, 0, run.stderr);
      const out = parse(run.stdout) as Output;
      assert.deepEqual(imagesOf(out), ["ko://github.com/example/app/cmd/server", `${registry.host}/shop/app:v1@${app}`]);
      const [warning] = out.results ?? [];
      assert.equal(warning?.severity, "warning");
      assert.equal(warning?.field?.path, "spec.containers[0].image");
      assert.match(warning?.message ?? "", /^left ko placeholder ko:\/\/github\.com\/example\/app\/cmd\/server alone: ko resolve/);
      assert.match(run.stderr, /warning: .*ko placeholder/);
    });

    it("with another failure the exit is 1, and the ko field is still only a warning", async () => {
      const run = await runFn(list([{ images: ["ko://example.com/cmd", `${registry.host}/shop/app:missing`] }]));
      assert.equal(run.code, 1);
      assert.deepEqual((parse(run.stdout) as Output).results?.map((r) => r.severity), ["warning", "error"]);
    });
  });
});

describe("issue 11 settings in the webhook (real HTTPS, real registry)", () => {
  let registry: Registry;
  let hook: TestWebhook;
  let app: string;

  before(async () => {
    registry = await startRegistry();
    app = (await pushImage(registry, { repository: "shop/app", tag: "v1", kind: "oci-manifest" })).digest;
    await pushImage(registry, { repository: "mesh/proxy", tag: "1.0", kind: "oci-manifest" });
    hook = await startTestWebhook({ format: "digest-only", skipImages: ["127.0.0.1:*/vendor/**"] });
  });
  after(async () => {
    await hook.stop();
    await registry.stop();
  });

  it("skip-containers, skipImages and ko placeholders get no patch; the rest is pinned in the format asked", async () => {
    const host = registry.host;
    const obj = object({
      kind: "Deployment",
      annotations: { "krm-digester.dev/skip-containers": "istio-proxy" },
      containers: [
        { name: "app", image: `${host}/shop/app:v1` },
        { name: "istio-proxy", image: `${host}/mesh/proxy:1.0` },
        { name: "tool", image: `${host}/vendor/a/b:1` },
        { name: "ko", image: "ko://example.com/cmd/app" },
      ],
    });
    const a = answer(await hook.post(review({ object: obj })));
    assert.equal(a.response.allowed, true);
    assert.deepEqual(patchOf(a), [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: `${host}/shop/app@${app}` }]);
    assert.ok(a.response.warnings?.some((w) => w.includes("ko placeholder")), JSON.stringify(a.response.warnings));
  });

  it('the per-object opt-out is the same annotation as the function\'s: krm-digester.dev/skip: "true"', async () => {
    const obj = object({ kind: "Pod", annotations: { "krm-digester.dev/skip": "true" }, containers: [{ name: "app", image: `${registry.host}/shop/app:v1` }] });
    const a = answer(await hook.post(review({ object: obj })));
    assert.equal(a.response.allowed, true);
    assert.deepEqual(patchOf(a), []);
  });
});

describe("webhook flags for issue 11", () => {
  it("--format and --skip-images: a bad value names the flag and what is allowed", () => {
    assert.throws(() => webhookFlags(["--format=short"], {}), /--format must be one of tag-and-digest, digest-only, canonical, got "short"/);
    assert.throws(() => webhookFlags(["--skip-images=a/***"], {}), /--skip-images: pattern "a\/\*\*\*"/);
    const flags = webhookFlags(["--format=canonical", "--skip-images=gcr.io/**,*:5000/x"], {});
    assert.notEqual(flags, "help");
    if (flags !== "help") {
      assert.equal(flags.config.format, "canonical");
      assert.deepEqual(flags.config.skipImages, ["gcr.io/**", "*:5000/x"]);
    }
  });
});

describe("fn-config/ examples", () => {
  for (const file of ["digester.yaml", "configmap.yaml"]) {
    it(`${file} parses without a problem and sets format and skipImages`, async () => {
      const document = parseDocument(await readFile(join(ROOT, "fn-config", file), "utf8"));
      const config = parseConfig(document.contents ?? undefined, document);
      assert.deepEqual(config.problems, []);
      assert.equal(config.options.format, "tag-and-digest");
      assert.ok(config.options.skipImages.includes("gcr.io/distroless/**"));
      assert.equal(config.options.existingDigests, "keep");
    });
  }
});

describe("existingDigests against a real registry (a moved tag, a digest the repository lacks)", () => {
  let registry: Registry;
  let old: string;
  let now: string;
  let stable: string;
  const missing = `sha256:${"0".repeat(64)}`;

  before(async () => {
    registry = await startRegistry();
    old = (await pushImage(registry, { repository: "shop/moved", tag: "v1", kind: "oci-manifest" })).digest;
    now = (await pushImage(registry, { repository: "shop/moved", tag: "v1", kind: "oci-index" })).digest; // the tag moves
    stable = (await pushImage(registry, { repository: "shop/stable", tag: "v1", kind: "docker-manifest-list" })).digest;
  });
  after(() => registry.stop());

  const pod = (): Pod => ({
    images: [
      `${registry.host}/shop/moved:v1@${old}`,
      `${registry.host}/shop/stable:v1@${stable}`,
      `${registry.host}/shop/stable@${stable}`,
      `${registry.host}/shop/stable@${missing}`,
      `${registry.host}/shop/stable:v1`,
    ],
  });

  it("keep (default): no request for fields with a digest", async () => {
    const run = await runFn(list([pod()]));
    assert.equal(run.code, 0, run.stderr);
    assert.equal((parse(run.stdout) as Output).results?.length, 1);
    assert.match(run.stderr, /1 unique references resolved \(1 HEAD, 0 GET/);
  });

  it("verify: a moved tag and a missing digest are errors naming both digests; nothing changes; one request per unique reference", async () => {
    const run = await runFn(list([pod()], { existingDigests: "verify" }));
    assert.equal(run.code, 1);
    const out = parse(run.stdout) as Output;
    const h = registry.host;
    assert.deepEqual(imagesOf(out).slice(0, 4), pod().images.slice(0, 4));
    assert.deepEqual(out.results?.map((r) => [r.severity, r.message]), [
      ["error", `${h}/shop/moved:v1@${old} is stale: tag v1 now points at ${now}, not at the digest written (${old}); pin it again, or set existingDigests: refresh`],
      ["info", `verified ${h}/shop/stable:v1@${stable}: tag v1 still points at ${stable}`],
      ["info", `verified ${h}/shop/stable@${stable}: the digest exists in the repository`],
      ["error", `digest ${missing} of ${h}/shop/stable@${missing} is not in repository ${h}/shop/stable; pin it again from a tag`],
      ["info", `pinned ${h}/shop/stable:v1 to ${stable}`],
    ]);
    // shop/moved:v1, shop/stable:v1 (twice, one lookup), two digests by themselves.
    assert.match(run.stderr, /4 unique references resolved/);
  });

  it("refresh: a moved tag gets the new digest and the result names old and new; current ones are kept", async () => {
    const run = await runFn(list([pod()], { existingDigests: "refresh" }));
    assert.equal(run.code, 0, run.stderr);
    const out = parse(run.stdout) as Output;
    const h = registry.host;
    assert.deepEqual(imagesOf(out), [`${h}/shop/moved:v1@${now}`, `${h}/shop/stable:v1@${stable}`, `${h}/shop/stable@${stable}`, `${h}/shop/stable@${missing}`, `${h}/shop/stable:v1@${stable}`]);
    assert.deepEqual(out.results?.map((r) => r.message).slice(0, 2), [
      `refreshed ${h}/shop/moved:v1@${old}: tag v1 moved from ${old} to ${now}`,
      `kept ${h}/shop/stable:v1@${stable}: tag v1 still points at ${stable}`,
    ]);
    assert.equal(out.results?.[0]?.field?.proposedValue, `${h}/shop/moved:v1@${now}`);
  });

  it("refresh writes the new digest in the format asked", async () => {
    const run = await runFn(list([{ images: [`${registry.host}/shop/moved:v1@${old}`] }], { existingDigests: "refresh", format: "canonical" }));
    assert.deepEqual(imagesOf(parse(run.stdout) as Output), [`${registry.host}/shop/moved:v1@${now}`]);
  });

  it("a bad value names the key and the values allowed", async () => {
    const run = await runFn(list([pod()], { existingDigests: "check" }));
    assert.equal(run.code, 1);
    assert.equal((parse(run.stdout) as Output).results?.[0]?.message, 'functionConfig: existingDigests: expected one of keep, verify, refresh, got "check"');
  });
});
