// scripts/lazy-chunks.mjs, the way the bundle carries client-node and x509:
// a probe bundle built with the plugin holds neither as code (so start-up does
// not parse them), compiles each only on its first import(), and both work
// from a directory without node_modules (as the standalone executable runs).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { build } from "esbuild";
import type { Plugin } from "esbuild";
import { ROOT } from "../support/run-fn.js";

const run = promisify(execFile);

interface LazyChunksModule {
  lazyChunks: (files: string[], target: string) => Plugin;
}

describe("lazy chunks in the bundle", () => {
  let dir: string;
  let bundle: string;
  let hook: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "krm-digester-lazy-"));
    const entry = join(ROOT, "src", `__lazy-probe-${process.pid}.ts`);
    await writeFile(
      entry,
      `if (process.argv[2] === "connect") {\n` +
        `  void import("./cluster/client.js").then(({ connectCluster }) => connectCluster({ kubeconfig: "/nonexistent" })).catch((e: Error) => console.log(e.name + ": " + e.message));\n` +
        `} else if (process.argv[2] === "cert") {\n` +
        `  void import("./webhook/certificates.js").then(({ issueCertificate }) => issueCertificate(["a.b.svc"])).then((c) => console.log(c.certPem.split("\\n")[0]));\n` +
        `} else console.log("offline");\n`,
    );
    const { lazyChunks } = (await import(join(ROOT, "scripts/lazy-chunks.mjs"))) as LazyChunksModule;
    bundle = join(dir, "probe.cjs");
    try {
      await build({
        entryPoints: [entry],
        outfile: bundle,
        bundle: true,
        platform: "node",
        target: "node20.18",
        format: "cjs",
        logLevel: "error",
        absWorkingDir: ROOT,
        plugins: [lazyChunks(["src/cluster/kube-lib.ts", "src/webhook/x509-lib.ts"], "node20.18")],
      });
    } finally {
      await rm(entry, { force: true });
    }
    hook = join(dir, "hook.cjs");
    await writeFile(
      hook,
      `const vm = require("node:vm"); const real = vm.compileFunction;\n` +
        `vm.compileFunction = function (code, params, options) { process.stderr.write("compiled " + (options && options.filename) + "\\n"); return real.apply(this, arguments); };\n`,
    );
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const node = (...args: string[]): Promise<{ stdout: string; stderr: string }> =>
    run(process.execPath, ["--require", hook, bundle, ...args], { cwd: dir, env: { PATH: process.env.PATH } });

  it("carries client-node and x509 as data, not code", async () => {
    const text = await readFile(bundle, "utf8");
    assert.doesNotMatch(text, /class KubeConfig\b/);
    assert.doesNotMatch(text, /X509CertificateGenerator = class|class X509CertificateGenerator\b/);
    assert.ok(text.length < 1_000_000, `${text.length} bytes`);
  });

  it("compiles neither when they are not imported", async () => {
    const out = await node();
    assert.equal(out.stdout.trim(), "offline");
    assert.doesNotMatch(out.stderr, /compiled/);
  });

  it("compiles each on first import, and it works without node_modules", async () => {
    const connect = await node("connect");
    assert.match(connect.stderr, /compiled krm-digester:kube-lib\.js/);
    assert.doesNotMatch(connect.stderr, /x509-lib/);
    assert.equal(connect.stdout.trim(), "ClusterError: --kubeconfig /nonexistent: no such file");
    const cert = await node("cert");
    assert.match(cert.stderr, /compiled krm-digester:x509-lib\.js/);
    assert.equal(cert.stdout.trim(), "-----BEGIN CERTIFICATE-----");
  });
});
