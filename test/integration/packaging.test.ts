// What ships, built by `npm run build` (scripts/test.sh builds first): the
// bundle runs on this machine's own node (the engines floor's line, 20: CI
// proves the floor here), the standalone executable on the Node pinned in
// scripts/node-release.json (24 LTS), stripped; the SEA script refuses a
// blob or code cache from another Node; the release SBOM holds the
// production dependencies and the Node inside each executable.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { BUNDLE, ROOT, STANDALONE, runFn } from "../support/run-fn.js";

const run = promisify(execFile);

interface Package {
  version: string;
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}
interface NodeRelease {
  version: string;
  integrity: Record<string, string>;
}
const json = async <T>(path: string): Promise<T> => JSON.parse(await readFile(join(ROOT, path), "utf8")) as T;
const ONE_ITEM = '{"apiVersion":"config.kubernetes.io/v1","kind":"ResourceList","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}]}';

describe("packaging", () => {
  let pkg: Package;
  let pinned: NodeRelease;
  let work: string;
  before(async () => {
    [pkg, pinned] = await Promise.all([json<Package>("package.json"), json<NodeRelease>("scripts/node-release.json")]);
    work = await mkdtemp(join(tmpdir(), "krm-packaging-"));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it("the bundle runs on this machine's node, of the engines floor's major line, and --version names it", async () => {
    const floor = /^>=(\d+)\.(\d+)$/.exec(pkg.engines.node);
    assert.ok(floor, `engines.node is ${pkg.engines.node}`);
    const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
    assert.equal(
      major,
      Number(floor[1]),
      `CI runs the suite on Node ${floor[1]} to prove the bundle's floor (${pkg.engines.node}); this is Node ${process.versions.node}`,
    );
    assert.ok(minor >= Number(floor[2]), `Node ${process.versions.node} is below the floor ${pkg.engines.node}`);
    const version = await runFn("", { bin: process.execPath, args: [BUNDLE, "--version"] });
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout, `krm-digester ${pkg.version} (Node.js ${process.version})\n`);
    const fn = await runFn(ONE_ITEM, { bin: process.execPath, args: [BUNDLE] });
    assert.equal(fn.code, 0, fn.stderr);
    assert.match(fn.stdout, /kind: ConfigMap/);
  });

  it("the standalone executable runs the pinned Node 24 with no environment, and says so", async () => {
    assert.ok(Number(pinned.version.split(".")[0]) >= 24, `scripts/node-release.json pins ${pinned.version}: the executable ships on a supported LTS`);
    const version = await runFn("", { bin: STANDALONE, args: ["--version"], env: {} });
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout, `krm-digester ${pkg.version} (Node.js v${pinned.version})\n`);
    assert.equal(version.stderr, "", "no SEA warning, nothing else on stderr");
    const fn = await runFn(ONE_ITEM, { bin: STANDALONE, env: {} });
    assert.equal(fn.code, 0, fn.stderr);
    assert.match(fn.stdout, /kind: ConfigMap/);
  });

  it("the standalone executable is stripped: no static symbol table, no debug sections", async () => {
    const { stdout } = await run("readelf", ["-S", "--wide", STANDALONE], { maxBuffer: 16 * 1024 * 1024 });
    assert.match(stdout, /\.dynsym/);
    assert.doesNotMatch(stdout, /\.symtab|\.debug_/);
  });

  it("sea.mjs refuses a code cache or a blob made by another Node than the executable's", async () => {
    const sea = (args: string[]) =>
      run(process.execPath, [join(ROOT, "scripts", "sea.mjs"), "--out", join(work, "x"), ...args]).then(
        () => ({ code: 0, stderr: "" }),
        (e: { code: number; stderr: string }) => e,
      );
    const node24 = join(ROOT, "dist", ".node-binaries", `v${pinned.version}`, "linux-x64", "package", "bin", "node");
    const cache = await sea(["--node", node24, "--blob-node", process.execPath]);
    assert.equal(cache.code, 1);
    assert.match(cache.stderr, /the code cache must be made by the node in the executable/);
    const blob = await sea(["--node", node24, "--blob-node", process.execPath, "--no-code-cache", "--node-version", pinned.version]);
    assert.equal(blob.code, 1);
    assert.match(blob.stderr, new RegExp(`is ${process.version.replaceAll(".", "\\.")}, the executable's node is v${pinned.version.replaceAll(".", "\\.")}`));
  });

  it("the release SBOM: CycloneDX, the production dependencies only, and the Node inside each executable", async () => {
    const out = join(work, "sbom.cdx.json");
    await run(process.execPath, [join(ROOT, "scripts", "sbom.mjs"), out, "linux-x64", "linux-arm64"], { maxBuffer: 16 * 1024 * 1024 });
    const bom = JSON.parse(await readFile(out, "utf8")) as {
      bomFormat: string;
      metadata: { component: { name: string; version: string; type: string } };
      components: { name: string; version: string; type: string; hashes?: { alg: string; content: string }[] }[];
    };
    assert.equal(bom.bomFormat, "CycloneDX");
    assert.deepEqual({ ...bom.metadata.component }, { ...bom.metadata.component, name: "krm-digester", version: pkg.version, type: "application" });
    const names = new Set(bom.components.map((c) => c.name));
    for (const dep of Object.keys(pkg.dependencies)) assert.ok(names.has(dep), `${dep} is in the SBOM`);
    // Dev-only packages (the lock file's dev: true; @types/node is not one:
    // client-node depends on it) must not be in it.
    const lock = await json<{ packages: Record<string, { dev?: boolean }> }>("package-lock.json");
    const devOnly = Object.keys(pkg.devDependencies).filter((d) => lock.packages[`node_modules/${d}`]?.dev === true);
    assert.ok(devOnly.includes("esbuild") && devOnly.includes("postject"), devOnly.join(", "));
    for (const dev of devOnly) assert.ok(!names.has(dev), `dev dependency ${dev} is not in the SBOM`);
    for (const platform of ["linux-x64", "linux-arm64"]) {
      const node = bom.components.find((c) => c.name === `node-${platform}`);
      assert.equal(node?.version, pinned.version);
      const sri = Buffer.from((pinned.integrity[platform] ?? "").replace(/^sha512-/, ""), "base64").toString("hex");
      assert.deepEqual(node?.hashes, [{ alg: "SHA-512", content: sri }]);
    }
  });
});
