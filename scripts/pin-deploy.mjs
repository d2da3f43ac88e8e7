#!/usr/bin/env node
// Writes the released webhook image into deploy/, pinned by krm-digester itself:
//
//   node scripts/pin-deploy.mjs REGISTRY/PATH/krm-digester [--dir deploy/base] [--bin dist/krm-digester]
//
// (npm run release does this when RELEASE_IMAGE is set.) The tag is
// package.json's version; a tag given must be that version. The reference
// REGISTRY/PATH/krm-digester:VERSION goes into the Deployment's image (the
// line that carries `# kpt-set: ${image}`), `krm-digester pin` resolves it
// there against the registry (it must have been pushed; pull credentials as
// for the function: docker config, auth.json, helpers), and the pinned value
// is written into setters.yaml's `image` setter, so a later `kpt fn render`
// keeps it. A reference that already carries a digest is written as given
// (after the same version check). Nothing is written when anything fails.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = args[i + 1];
  args.splice(i, 2);
  return value;
};
const dir = resolve(option("--dir", join(ROOT, "deploy/base")));
const bin = resolve(option("--bin", join(ROOT, "dist/krm-digester")));
const [image] = args;

function fail(message) {
  process.stderr.write(`pin-deploy: ${message}\n`);
  process.exit(2);
}

if (!image || args.length !== 1) fail("usage: node scripts/pin-deploy.mjs REGISTRY/PATH/krm-digester[:VERSION[@sha256:...]] [--dir DIR] [--bin BIN]");
const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
const at = image.indexOf("@");
const name = at < 0 ? image : image.slice(0, at);
const digest = at < 0 ? undefined : image.slice(at + 1);
const colon = name.lastIndexOf(":");
const hasTag = colon > name.lastIndexOf("/");
const repository = hasTag ? name.slice(0, colon) : name;
const tag = hasTag ? name.slice(colon + 1) : version;
if (!repository.includes("/")) fail(`${image}: give the registry too (REGISTRY/PATH/krm-digester), not a Docker Hub short name`);
if (tag !== version) fail(`${image}: the tag must be the version being released, ${version} (package.json), not ${tag}`);
if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest)) fail(`${image}: the digest must be sha256:<64 hex digits>`);

const deploymentFile = join(dir, "deployment.yaml");
const settersFile = join(dir, "setters.yaml");
const deployment = readFileSync(deploymentFile, "utf8");
const setters = readFileSync(settersFile, "utf8");
const IMAGE_LINE = /^(\s*image: )(\S+)( # kpt-set: \$\{image\})$/m;
const SETTER_LINE = /^( {2}image: )(\S+)$/m;
if (!IMAGE_LINE.test(deployment)) fail(`${deploymentFile}: no "image: … # kpt-set: \${image}" line`);
if (!SETTER_LINE.test(setters)) fail(`${settersFile}: no image setter`);

const unpinned = `${repository}:${tag}`;
let pinned = digest === undefined ? undefined : `${unpinned}@${digest}`;
if (pinned === undefined) {
  // Our own function pins it, in the file itself (files mode edits the value only; the comment stays).
  writeFileSync(deploymentFile, deployment.replace(IMAGE_LINE, `$1${unpinned}$3`));
  try {
    execFileSync(bin, ["pin", deploymentFile], { stdio: ["ignore", "inherit", "inherit"] });
  } catch {
    writeFileSync(deploymentFile, deployment);
    fail(`${unpinned} could not be pinned (see above): push the image first; deploy/ is unchanged`);
  }
  pinned = IMAGE_LINE.exec(readFileSync(deploymentFile, "utf8"))?.[2];
  if (!pinned?.startsWith(`${unpinned}@sha256:`)) {
    writeFileSync(deploymentFile, deployment);
    fail(`krm-digester pin left ${pinned} in ${deploymentFile}; deploy/ is unchanged`);
  }
} else {
  writeFileSync(deploymentFile, deployment.replace(IMAGE_LINE, `$1${pinned}$3`));
}
writeFileSync(settersFile, setters.replace(SETTER_LINE, `$1${pinned}`));
process.stdout.write(`${pinned}\n`);
