// The release's software bill of materials, CycloneDX JSON:
//
//   node scripts/sbom.mjs OUT.cdx.json [PLATFORM…]
//
// `npm sbom --sbom-format cyclonedx --omit dev` (the production dependency
// tree from package-lock.json: what the bundle may contain; dev tools such as
// esbuild, typescript and postject are not in it), with two corrections:
// - npm names the root component after the checkout's directory (a worktree
//   called node24 became "node24"): it is set to package.json's name, type
//   application;
// - the executables also contain Node.js itself: one component per PLATFORM
//   (e.g. linux-x64 linux-arm64) for npm's node-<platform> package at the
//   version pinned in scripts/node-release.json, with its sha512, as a
//   dependency of the root.
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { nodeRelease } from "./node-binary.mjs";

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export async function writeSbom(out, platforms = []) {
  const pkg = JSON.parse(await readFile(path.join(root, "package.json"), "utf8"));
  const { stdout } = await run("npm", ["sbom", "--sbom-format", "cyclonedx", "--omit", "dev"], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  const bom = JSON.parse(stdout);
  const rootRef = bom.metadata.component["bom-ref"];
  bom.metadata.component = { ...bom.metadata.component, name: pkg.name, type: "application" };

  const { version, integrity } = await nodeRelease();
  const rootDeps = bom.dependencies.find((d) => d.ref === rootRef);
  for (const platform of platforms) {
    const sri = integrity[platform];
    if (!sri) throw new Error(`sbom: no pinned Node for ${platform} in scripts/node-release.json`);
    const name = `node-${platform}`;
    const ref = `${name}@${version}`;
    bom.components.push({
      "bom-ref": ref,
      type: "platform",
      name,
      version,
      scope: "required",
      description: `Node.js ${version}, the runtime inside krm-digester-${platform} (Node's official binary, from npm's ${name} package)`,
      purl: `pkg:npm/${name}@${version}`,
      hashes: [{ alg: "SHA-512", content: Buffer.from(sri.replace(/^sha512-/, ""), "base64").toString("hex") }],
      licenses: [{ license: { id: "MIT" } }],
      externalReferences: [{ type: "website", url: "https://nodejs.org/" }],
    });
    bom.dependencies.push({ ref, dependsOn: [] });
    rootDeps?.dependsOn.push(ref);
  }
  await writeFile(out, JSON.stringify(bom, null, 2) + "\n");
  return bom;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [out, ...platforms] = process.argv.slice(2);
  if (!out) {
    console.error("usage: node scripts/sbom.mjs OUT.cdx.json [PLATFORM…]");
    process.exit(2);
  }
  try {
    const bom = await writeSbom(out, platforms);
    console.error(`sbom: ${out} (CycloneDX ${bom.specVersion}, ${bom.components.length} components)`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
