// Turns the bundle (dist/krm-digester) into a standalone executable with
// Node's single-executable-application (SEA) support: no Node on the target.
//
//   1. the bundle minus its "#!/usr/bin/env node" line becomes the SEA main
//      (CommonJS, which SEA requires; the bundle is already cjs);
//   2. `<node> --experimental-sea-config sea-config.json` writes the blob
//      (useCodeCache: V8 code cache, for start-up; no SEA warning), run with
//      the very node binary the executable is made of, so the blob format
//      and the code cache are that Node's, not the node running this script;
//   3. a copy of that node binary (stripped of its debug info) gets the blob
//      injected by postject under the NODE_SEA_BLOB name, flipping the SEA fuse.
//
// Used by scripts/build.mjs (the pinned Node, scripts/node-release.json ->
// dist/krm-digester-linux-x64) and by scripts/release.sh (every platform):
//
//   node scripts/sea.mjs [--main BUNDLE] [--node PATH] [--out PATH]
//                        [--launcher "qemu-aarch64-static -L /usr/aarch64-linux-gnu"]
//                        [--blob-node PATH --node-version V]
//                        [--no-code-cache] [--no-strip] [--macho]
//
// The code cache is V8-version and CPU specific, so only the node in the
// executable makes it. A node for another CPU runs through --launcher (qemu
// user-mode emulation: the same binary, so the same V8 and the same code
// cache format), or, where there is no emulator, needs --no-code-cache and a
// --blob-node of the same version (--node-version, checked) to write the
// blob (Node's docs: a foreign code cache may crash the executable).
import { execFile } from "node:child_process";
import { chmod, copyFile, mkdir, open, readFile, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { nodeBinary as pinnedNode } from "./node-binary.mjs";

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// The fuse string Node's SEA support looks for (documented in Node's
// single-executable-applications page; the same in every Node 20+).
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/**
 * @param {object} [opts]
 * @param {string} [opts.main] CommonJS bundle to embed (default dist/krm-digester)
 * @param {string} [opts.nodeBinary] node executable to copy (default: the pinned Node for this host, scripts/node-release.json)
 * @param {string} [opts.blobNode] node that writes the blob (default: nodeBinary itself)
 * @param {string} [opts.nodeVersion] nodeBinary's version, required with a blobNode of its own
 * @param {string[]} [opts.launcher] command that runs the blob node (an emulator for another CPU's node)
 * @param {string} [opts.out] output path (default dist/krm-digester-<platform>-<arch>)
 * @param {boolean} [opts.codeCache] embed V8's code cache (default true)
 * @param {boolean} [opts.strip] strip debug info from the copy (default true)
 * @param {boolean} [opts.macho] the target is a Mach-O binary (postject needs the segment name)
 */
export async function buildSea(opts = {}) {
  const nodeBinary = opts.nodeBinary ?? (await pinnedNode()).node;
  const out = path.resolve(root, opts.out ?? `dist/krm-digester-${process.platform}-${process.arch}`);
  const codeCache = opts.codeCache ?? true;
  const blobNode = opts.blobNode ?? nodeBinary;
  if (blobNode !== nodeBinary) {
    if (codeCache) throw new Error("sea: the code cache must be made by the node in the executable: --blob-node needs --no-code-cache");
    if (!opts.nodeVersion) throw new Error("sea: --blob-node needs --node-version (the version of --node, which the blob must match)");
  }
  const launcher = opts.launcher ?? [];
  const runNode = (args, options) => (launcher.length ? run(launcher[0], [...launcher.slice(1), blobNode, ...args], options) : run(blobNode, args, options));
  const { stdout: blobVersion } = await runNode(["--version"]);
  if (opts.nodeVersion && blobVersion.trim() !== `v${opts.nodeVersion.replace(/^v/, "")}`) {
    throw new Error(`sea: ${blobNode} is ${blobVersion.trim()}, the executable's node is v${opts.nodeVersion.replace(/^v/, "")}: SEA blobs are tied to the Node version`);
  }
  const work = path.join(root, "dist", ".sea", path.basename(out));
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });

  // 1. SEA main: the bundle without its shebang line (SEA compiles the main
  //    as a CommonJS function body, where "#!" is a syntax error).
  const bundle = await readFile(path.resolve(root, opts.main ?? "dist/krm-digester"), "utf8");
  const main = path.join(work, "main.cjs");
  await writeFile(main, bundle.startsWith("#!") ? bundle.slice(bundle.indexOf("\n") + 1) : bundle);

  // 2. The blob, from the project's sea-config.json with paths made concrete.
  const base = JSON.parse(await readFile(path.join(root, "sea-config.json"), "utf8"));
  const blob = path.join(work, "sea-prep.blob");
  const config = { ...base, main, output: blob, useCodeCache: codeCache };
  const configFile = path.join(work, "sea-config.json");
  await writeFile(configFile, JSON.stringify(config, null, 2) + "\n");
  await runNode(["--experimental-sea-config", configFile], { cwd: root });

  // 3. A copy of the node binary, stripped, with the blob injected.
  await mkdir(path.dirname(out), { recursive: true });
  await rm(out, { force: true });
  await copyFile(nodeBinary, out);
  await chmod(out, 0o755);
  const stripped = (opts.strip ?? true) && (await stripDebugInfo(out));
  const { inject } = require("postject");
  // postject's LIEF warns once per unnamed ELF note section (NodeSource's
  // node has many); harmless, so only those lines are dropped.
  const warn = console.warn;
  console.warn = (...a) => {
    if (!/^warning: Can't find string offset for section name '\.note/.test(String(a[0]))) warn(...a);
  };
  try {
    await inject(out, "NODE_SEA_BLOB", await readFile(blob), {
      sentinelFuse: SEA_FUSE,
      ...(opts.macho ? { machoSegmentName: "NODE_SEA" } : {}),
    });
  } finally {
    console.warn = warn;
  }
  await rm(work, { recursive: true, force: true });
  await rmdir(path.dirname(work)).catch(() => {}); // dist/.sea, when empty
  const size = (await stat(out)).size;
  console.error(
    `built ${path.relative(root, out)} (SEA on Node ${blobVersion.trim()}, ${(size / 1048576).toFixed(1)} MiB, code cache ${codeCache ? "on" : "off"}` +
      `${launcher.length ? `, blob written through ${launcher[0]}` : ""}${stripped ? "" : ", NOT stripped"})`,
  );
  return out;
}

// Node's official Linux binaries (also what NodeSource's Debian package
// installs) carry debug info and a static symbol table: `strip` drops them
// (99 -> 86 MB) and keeps .dynsym, all a node binary needs at run time.
// An aarch64 binary needs binutils-aarch64-linux-gnu's strip; with no strip
// for the binary's architecture it is left as it is (bigger, same function).
const STRIP_BY_ELF_MACHINE = { 0x3e: ["x86_64-linux-gnu-strip", "strip"], 0xb7: ["aarch64-linux-gnu-strip"] };

async function stripDebugInfo(file) {
  const head = Buffer.alloc(20);
  const fh = await open(file, "r");
  try {
    await fh.read(head, 0, 20, 0);
  } finally {
    await fh.close();
  }
  const isElf = head.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  const tools = isElf ? (STRIP_BY_ELF_MACHINE[head.readUInt16LE(18)] ?? []) : [];
  for (const tool of tools) {
    try {
      await run(tool, [file]);
      return true;
    } catch (err) {
      if (err.code !== "ENOENT") throw err;
    }
  }
  console.error(
    `sea: NOT stripping ${path.basename(file)}: no ${tools.join(" or ") || "strip for this file type"} here ` +
      `(apt-get install ${head.readUInt16LE(18) === 0xb7 ? "binutils-aarch64-linux-gnu" : "binutils"}); it stays bigger than docs/packaging.md says`,
  );
  return false;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opts = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--node") opts.nodeBinary = args[++i];
    else if (a === "--out") opts.out = args[++i];
    else if (a === "--main") opts.main = args[++i];
    else if (a === "--blob-node") opts.blobNode = args[++i];
    else if (a === "--launcher") opts.launcher = (args[++i] ?? "").split(" ").filter(Boolean);
    else if (a === "--node-version") opts.nodeVersion = args[++i];
    else if (a === "--no-code-cache") opts.codeCache = false;
    else if (a === "--no-strip") opts.strip = false;
    else if (a === "--macho") opts.macho = true;
    else {
      console.error(`sea: unknown argument ${a}`);
      process.exit(2);
    }
  }
  try {
    await buildSea(opts);
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
