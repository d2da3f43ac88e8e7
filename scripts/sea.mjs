// Turns the bundle (dist/krm-digester) into a standalone executable with
// Node's single-executable-application (SEA) support: no Node on the target.
//
//   1. the bundle minus its "#!/usr/bin/env node" line becomes the SEA main
//      (CommonJS, which SEA requires; the bundle is already cjs);
//   2. `node --experimental-sea-config sea-config.json` writes the blob
//      (useCodeCache: V8 code cache, for start-up; no SEA warning);
//   3. a copy of a node binary of the SAME version (stripped of its debug
//      info when it has any) gets the blob injected by postject under the
//      NODE_SEA_BLOB name, flipping the SEA fuse.
//
// Used by scripts/build.mjs (this machine's node -> dist/krm-digester-linux-x64)
// and by scripts/release.sh (other node binaries, other platforms):
//
//   node scripts/sea.mjs [--main BUNDLE] [--node PATH] [--out PATH]
//                        [--no-code-cache] [--no-strip] [--macho]
//
// The code cache is V8-version and CPU specific: build it only with a node
// binary the running node could have produced it for (same version, same
// platform). Cross-platform builds must pass --no-code-cache (Node's docs:
// otherwise the final executable may crash).
import { execFile } from "node:child_process";
import { chmod, copyFile, mkdir, open, readFile, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// The fuse string Node's SEA support looks for (documented in Node's
// single-executable-applications page; the same in every Node 20+).
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/**
 * @param {object} [opts]
 * @param {string} [opts.main] CommonJS bundle to embed (default dist/krm-digester)
 * @param {string} [opts.nodeBinary] node executable to copy (default: the running one)
 * @param {string} [opts.out] output path (default dist/krm-digester-<platform>-<arch>)
 * @param {boolean} [opts.codeCache] embed V8's code cache (default true)
 * @param {boolean} [opts.strip] strip debug info from the copy (default true)
 * @param {boolean} [opts.macho] the target is a Mach-O binary (postject needs the segment name)
 */
export async function buildSea(opts = {}) {
  const nodeBinary = opts.nodeBinary ?? process.execPath;
  const out = path.resolve(root, opts.out ?? `dist/krm-digester-${process.platform}-${process.arch}`);
  const codeCache = opts.codeCache ?? true;
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
  await run(process.execPath, ["--experimental-sea-config", configFile], { cwd: root });

  // 3. A copy of the node binary, stripped, with the blob injected.
  await mkdir(path.dirname(out), { recursive: true });
  await rm(out, { force: true });
  await copyFile(nodeBinary, out);
  await chmod(out, 0o755);
  if (opts.strip ?? true) await stripDebugInfo(out);
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
  console.error(`built ${path.relative(root, out)} (SEA, ${(size / 1048576).toFixed(1)} MiB, code cache ${codeCache ? "on" : "off"})`);
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
      return;
    } catch (err) {
      if (err.code !== "ENOENT") throw err;
    }
  }
  console.error(`sea: not stripping ${path.basename(file)} (no strip for it here: ${tools.join(", ") || "not a known ELF"})`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opts = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--node") opts.nodeBinary = args[++i];
    else if (a === "--out") opts.out = args[++i];
    else if (a === "--main") opts.main = args[++i];
    else if (a === "--no-code-cache") opts.codeCache = false;
    else if (a === "--no-strip") opts.strip = false;
    else if (a === "--macho") opts.macho = true;
    else {
      console.error(`sea: unknown argument ${a}`);
      process.exit(2);
    }
  }
  await buildSea(opts);
}
