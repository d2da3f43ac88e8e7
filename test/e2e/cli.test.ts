// The one binary's two front ends (dist/krm-digester): the function's
// k8s-digester compatibility flags and variables, and `krm-digester webhook`
// started as a cluster would start it, answering a review, then SIGTERM.
// Run `npm run build` first.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Agent, request } from "undici";
import { parseAddress, splitSkipPrefixes } from "../../src/cli/flags.js";
import { webhookFlags } from "../../src/cli/webhook.js";
import { object, review } from "../support/admission.js";
import { useServer } from "../support/client-helpers.js";
import { createCa } from "../support/certs.js";
import type { TestCa } from "../support/certs.js";
import { freePort, startRegistry } from "../support/registry.js";
import { BUNDLE, runFn } from "../support/run-fn.js";
import { pushOciManifest } from "../support/seed.js";
import { patchOf, writePair } from "../support/webhook.js";
import type { Answer } from "../support/webhook.js";

const list = (images: string[]): string =>
  `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${images
    .map((image, i) => `- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p${i}\n  spec:\n    containers:\n    - name: c\n      image: ${image}\n`)
    .join("")}`;

describe("flags", () => {
  it("--skip-prefixes: colon-separated, a piece starting with a port joins the one before", () => {
    assert.deepEqual(splitSkipPrefixes("registry.local:5000/team:gcr.io/distroless"), ["registry.local:5000/team", "gcr.io/distroless"]);
    assert.deepEqual(splitSkipPrefixes("localhost:5000:quay.io"), ["localhost:5000", "quay.io"]);
    assert.deepEqual(splitSkipPrefixes("gcr.io:docker.io/library/"), ["gcr.io", "docker.io/library/"]);
    assert.deepEqual(splitSkipPrefixes(""), []);
  });

  it("addresses: HOST:PORT or :PORT", () => {
    assert.deepEqual(parseAddress(":9090", "--health-addr"), { host: undefined, port: 9090 });
    assert.deepEqual(parseAddress("127.0.0.1:8888", "--metrics-addr"), { host: "127.0.0.1", port: 8888 });
    assert.deepEqual(parseAddress("[::1]:8888", "--metrics-addr"), { host: "::1", port: 8888 });
    assert.throws(() => parseAddress("9090", "--health-addr"), /--health-addr must be HOST:PORT or :PORT/);
  });

  it("webhook defaults are k8s-digester's", () => {
    const f = webhookFlags([], {});
    assert.ok(f !== "help");
    assert.equal(f.config.port, 8443);
    assert.equal(f.config.certDir, "/certs");
    assert.deepEqual(f.config.healthAddr, { host: undefined, port: 9090 });
    assert.deepEqual(f.config.metricsAddr, { host: undefined, port: 8888 });
    assert.equal(f.offline, false);
    assert.equal(f.disableCertRotation, false);
    assert.equal(f.config.dryRun, false);
    assert.equal(f.config.ignoreErrors, false);
    const g = webhookFlags(["--offline", "--dry-run=true", "--ignore-errors", "--port", "9443", "-skip-prefixes=a:b", "--cache-ttl=90s"], {});
    assert.ok(g !== "help");
    assert.equal(g.offline, true);
    assert.equal(g.config.dryRun, true);
    assert.equal(g.config.port, 9443);
    assert.deepEqual(g.config.skipPrefixes, ["a", "b"]);
    assert.equal(g.config.cacheTtlMs, 90_000);
    assert.throws(() => webhookFlags(["--cache-ttl=soon"], {}), /--cache-ttl must be a duration/);
    assert.throws(() => webhookFlags(["--frobnicate"], {}), /unknown argument "--frobnicate"/);
  });
});

describe("the function's compatibility flags (kpt --exec \"krm-digester --offline=false\")", () => {
  it("--skip-prefixes and SKIP_PREFIXES leave those images alone (no registry asked)", async () => {
    const input = list(["registry.invalid:5000/team/app:v1", "other.invalid/app:v1"]);
    const run = await runFn(input, { args: ["--skip-prefixes=registry.invalid:5000/team:other.invalid/"] });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /0 of 0 image fields pinned|0 unique references/);
    const env = await runFn(input, { env: { ...process.env, SKIP_PREFIXES: "registry.invalid:5000:other.invalid" } });
    assert.equal(env.code, 0, env.stderr);
  });

  it("--offline and --offline=true are today's function; --offline=false with a missing kubeconfig names it", async () => {
    const input = list(["registry.invalid/app:v1@sha256:" + "0".repeat(64)]);
    for (const args of [["--offline"], ["--offline=true"]]) assert.equal((await runFn(input, { args })).code, 0);
    const online = await runFn(input, { args: ["--offline=false", "--kubeconfig=/nonexistent"] });
    assert.equal(online.code, 2);
    assert.match(online.stderr, /--kubeconfig \/nonexistent: no such file/);
    const bad = await runFn(input, { args: ["--offline=maybe"] });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--offline must be true or false/);
  });

  const registry = useServer(() => startRegistry());
  it("DEBUG=true prints the info results on stderr too", async () => {
    await pushOciManifest(registry(), "debug/app", "v1");
    const input = list([`${registry().host}/debug/app:v1`]);
    const quiet = await runFn(input);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /info: .*pinned/);
    const run = await runFn(input, { env: { ...process.env, DEBUG: "true" } });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /info: .*pinned .*debug\/app:v1 to sha256:/);
    assert.equal(run.stdout, quiet.stdout);
  });
});

describe("krm-digester webhook, the binary", () => {
  const registry = useServer(() => startRegistry());
  let ca: TestCa;
  let certDir = "";
  before(async () => {
    await pushOciManifest(registry(), "shop/web", "v1");
    ca = await createCa();
    certDir = await mkdtemp(join(tmpdir(), "krm-digester-cli-certs-"));
    await writePair(certDir, await ca.issue(["127.0.0.1"]));
  });
  after(async () => {
    ca.remove();
    await rm(certDir, { recursive: true, force: true });
  });

  it("--help lists k8s-digester's flags", async () => {
    const run = await runFn("", { args: ["webhook", "--help"] });
    assert.equal(run.code, 0);
    for (const flag of ["--port", "--cert-dir", "--health-addr", "--metrics-addr", "--offline", "--disable-cert-rotation", "--dry-run", "--ignore-errors", "--skip-prefixes", "--kubeconfig"]) {
      assert.ok(run.stdout.includes(flag), flag);
    }
  });

  it("--offline --disable-cert-rotation: serves reviews, logs JSON lines, drains and exits 0 on SIGTERM", async () => {
    const [port, health, metrics] = [await freePort(), await freePort(), await freePort()];
    const child = spawn(
      BUNDLE,
      ["webhook", "--offline", "--disable-cert-rotation", `--port=${port}`, `--cert-dir=${certDir}`, `--health-addr=127.0.0.1:${health}`, `--metrics-addr=127.0.0.1:${metrics}`],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, HOME: certDir } },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    const agent = new Agent({ connect: { ca: ca.caPem } });
    try {
      for (let i = 0; i < 200 && !out.includes("webhook serving"); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(out.includes("webhook serving"), `started: ${out}${err}`);
      const res = await request(`https://127.0.0.1:${port}/v1/mutate?timeout=10s`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(review({ object: object({ kind: "Deployment", containers: [{ name: "a", image: `${registry().host}/shop/web:v1` }] }) })),
        dispatcher: agent,
      });
      const a = (await res.body.json()) as Answer;
      assert.equal(patchOf(a).length, 1);
      const ready = await request(`http://127.0.0.1:${health}/readyz`);
      assert.equal(ready.statusCode, 200);
      await ready.body.dump();
      const scrape = await request(`http://127.0.0.1:${metrics}/metrics`);
      assert.match(await scrape.body.text(), /krm_digester_reviews_total\{kind="Deployment",operation="CREATE",outcome="patched"\} 1/);
      child.kill("SIGTERM");
      assert.equal(await exited, 0, err);
      const lines = out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(lines.some((l) => l.msg === "review" && l.outcome === "patched"));
      assert.equal(lines.at(-1)?.msg, "stopped");
    } finally {
      child.kill("SIGKILL");
      await agent.close();
    }
  });

  it("without --offline or --disable-cert-rotation it says what is missing, exit 2", async () => {
    const run = await runFn("", { args: ["webhook", "--offline", `--cert-dir=${certDir}`] });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--disable-cert-rotation/);
  });
});
