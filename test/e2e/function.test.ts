// The built function end to end against a real registry (Debian's
// docker-registry on a random loopback port, seeded over its HTTP API).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createServer } from "node:net";
import type { Server } from "node:net";
import { parse } from "yaml";
import type { Result } from "../../src/results.js";
import { freePort, startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { IMAGE_KINDS, pushImage } from "../support/seed.js";
import type { PushedManifest } from "../support/seed.js";
import { runFn } from "../support/run-fn.js";

interface Output {
  items: { spec: { containers: { image: string }[] } }[];
  results?: Result[];
}

function podList(images: readonly string[], functionConfig = ""): string {
  const items = images
    .map((image, i) => `- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p${i}\n  spec:\n    containers:\n    - name: c\n      image: ${image}\n`)
    .join("");
  return `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items}${functionConfig}`;
}

function summary(stderr: string): string {
  return stderr.split("\n").find((l) => l.includes("image fields pinned")) ?? "";
}

describe("the function against a real registry", () => {
  let registry: Registry;
  const seeded = new Map<string, PushedManifest>();

  before(async () => {
    registry = await startRegistry();
    for (const kind of IMAGE_KINDS) seeded.set(kind, await pushImage(registry, { repository: `e2e/${kind}`, tag: "v1", kind }));
  });
  after(() => registry.stop());

  it("pins each manifest kind to the digest the registry serves (index digest for indexes)", async () => {
    const images = IMAGE_KINDS.map((k) => `${registry.host}/e2e/${k}:v1`);
    const run = await runFn(podList(images));
    assert.equal(run.code, 0, run.stderr);
    const out = parse(run.stdout) as Output;
    IMAGE_KINDS.forEach((kind, i) => {
      assert.equal(out.items[i]?.spec.containers[0]?.image, `${images[i]}@${seeded.get(kind)?.digest}`);
    });
    assert.equal(out.results?.filter((r) => r.severity === "info").length, 4);
    // One HEAD per unique reference, no GET.
    assert.match(summary(run.stderr), /\(4 HEAD, 0 GET, 0 token requests\)/);
  });

  it("resolves repeats once: 40 pods using 2 images cost 2 manifest requests", async () => {
    const a = `${registry.host}/e2e/oci-manifest:v1`;
    const b = `${registry.host}/e2e/docker-manifest:v1`;
    const run = await runFn(podList(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b))));
    assert.equal(run.code, 0, run.stderr);
    assert.match(summary(run.stderr), /40 of 40 image fields pinned, 2 unique references.*\(2 HEAD, 0 GET/);
  });

  it("keeps stderr to its own lines with 40 lookups in flight at once (no Node warnings)", async () => {
    const images = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        await pushImage(registry, { repository: "e2e/many", tag: `t${i}`, kind: "oci-manifest" });
        return `${registry.host}/e2e/many:t${i}`;
      }),
    );
    const run = await runFn(podList(images));
    assert.equal(run.code, 0, run.stderr);
    assert.match(summary(run.stderr), /40 of 40 image fields pinned, 40 unique references/);
    // Each in-flight request listens on the run's deadline signal: Node warned past 10 listeners.
    const foreign = run.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("krm-digester: "));
    assert.deepEqual(foreign, []);
  });

  it("reads JSON input and writes block YAML", async () => {
    const image = `${registry.host}/e2e/oci-index:v1`;
    const json = JSON.stringify(parse(podList([image])));
    const run = await runFn(json);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^apiVersion: config\.kubernetes\.io\/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n/);
    assert.ok(run.stdout.includes(`image: ${image}@${seeded.get("oci-index")?.digest}\n`));
  });

  it("reports an unknown tag, an unknown repository and an invalid reference together, and exits 1", async () => {
    const images = [`${registry.host}/e2e/oci-manifest:nope`, `${registry.host}/e2e/missing:v1`, "UPPER/Case", `${registry.host}/e2e/oci-manifest:v1`];
    const run = await runFn(podList(images));
    assert.equal(run.code, 1);
    const out = parse(run.stdout) as Output;
    const errors = (out.results ?? []).filter((r) => r.severity === "error");
    assert.equal(errors.length, 3);
    assert.match(errors[0]?.message ?? "", /nope/);
    assert.match(errors[0]?.message ?? "", /not found/);
    assert.match(errors[1]?.message ?? "", /e2e\/missing/);
    assert.match(errors[2]?.message ?? "", /invalid image reference "UPPER\/Case"/);
    for (const [i, e] of errors.entries()) {
      assert.deepEqual(e.resourceRef, { apiVersion: "v1", kind: "Pod", name: `p${i}` });
      assert.equal(e.field?.path, "spec.containers[0].image");
    }
    // The good one is still pinned, every item is still there, and stderr names each failure.
    assert.equal(out.items.length, 4);
    assert.ok(out.items[3]?.spec.containers[0]?.image.includes("@sha256:"));
    assert.equal(run.stderr.split("\n").filter((l) => l.startsWith("krm-digester: error:")).length, 3);
  });

  it("fails fast with a clear message when the registry is stopped", async () => {
    const port = await freePort();
    const started = Date.now();
    const run = await runFn(podList([`127.0.0.1:${port}/app:v1`]));
    assert.equal(run.code, 1);
    assert.ok(Date.now() - started < 10_000);
    const out = parse(run.stdout) as Output;
    assert.match(out.results?.[0]?.message ?? "", new RegExp(`127\\.0\\.0\\.1:${port}.*unreachable`));
    assert.ok(!run.stderr.includes("    at "), "no stack trace");
  });

  it("fails within the configured timeout when the registry accepts but never answers", async () => {
    const server: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    try {
      const started = Date.now();
      const config = "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  data:\n    timeout: 1s\n";
      const run = await runFn(podList([`127.0.0.1:${port}/app:v1`], config));
      const elapsed = Date.now() - started;
      assert.equal(run.code, 1);
      assert.ok(elapsed < 8_000, `took ${elapsed} ms`);
      assert.match((parse(run.stdout) as Output).results?.[0]?.message ?? "", /time|timed out/i);
    } finally {
      server.close();
    }
  });
});

describe("the process", () => {
  const bad: [string, string, RegExp][] = [
    ["empty input", "", /no input on stdin/],
    ["not YAML", "a: [b\n", /not valid YAML/],
    ["not a ResourceList", "apiVersion: v1\nkind: ConfigMap\n", /not a ResourceList/],
    ["items not a list", "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: 3\n", /items must be a list/],
  ];
  for (const [name, input, message] of bad) {
    it(`${name}: exit 2, one line on stderr, nothing on stdout`, async () => {
      const run = await runFn(input);
      assert.equal(run.code, 2);
      assert.equal(run.stdout, "");
      assert.match(run.stderr, message);
      assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    });
  }

  it("--version and --help", async () => {
    assert.match((await runFn("", { args: ["--version"] })).stdout, /^krm-digester \d+\.\d+\.\d+/);
    const help = await runFn("", { args: ["--help"] });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /kpt fn eval/);
  });

  it("an unknown argument is a usage error", async () => {
    const run = await runFn("", { args: ["--frobnicate"] });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown argument "--frobnicate"/);
  });

  it("writes a large list whole: 5,000 items with pinned images come back byte-identical", async () => {
    const digest = `sha256:${"0".repeat(64)}`;
    const input = podList(Array.from({ length: 5000 }, (_, i) => `registry.example/app${i}:v1@${digest}`));
    const run = await runFn(input);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, input);
  });
});
