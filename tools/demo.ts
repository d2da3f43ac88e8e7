// The bundled example, end to end: a local registry (Debian's
// docker-registry on a free loopback port) seeded with the example's images,
// then the example package pinned by krm-digester. With kpt installed, through
// the repository's own Kptfile pipeline (`kpt fn render --allow-exec`);
// without it, with files mode (`krm-digester pin`), which needs no kpt.
import { execFile } from "node:child_process";
import { cp, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { KPT } from "../test/support/kpt.js";
import { startRegistry } from "../test/support/registry.js";
import { BUNDLE, ROOT } from "../test/support/run-fn.js";
import { seedImages } from "../test/support/seed.js";
import type { SeedSpec } from "../test/support/seed.js";

const run = promisify(execFile);
const PLACEHOLDER = "127.0.0.1:5151";
const OUT = join(ROOT, "build", "demo");
const IMAGES: SeedSpec[] = [
  { repository: "demo/migrate", tag: "v1", kind: "oci-manifest" },
  { repository: "demo/frontend", tag: "v1", kind: "oci-index" },
  { repository: "demo/backend", tag: "v1", kind: "docker-manifest" },
  { repository: "demo/cache", tag: "latest", kind: "docker-manifest-list" },
];

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

async function main(): Promise<void> {
  const registry = await startRegistry();
  try {
    console.log(`registry: Debian docker-registry at ${registry.url}`);
    const pushed = await seedImages(registry, IMAGES);
    for (const [i, p] of pushed.entries()) console.log(`  pushed ${registry.host}/${IMAGES[i]?.repository}:${IMAGES[i]?.tag} (${IMAGES[i]?.kind}) ${p.digest}`);

    // A copy of the example package, its images pointed at this registry.
    await rm(OUT, { recursive: true, force: true });
    for (const path of ["Kptfile", ".krmignore", "example", "fn-config"]) await cp(join(ROOT, path), join(OUT, path), { recursive: true });
    for (const file of await files(OUT)) {
      const text = await readFile(join(OUT, file), "utf8");
      await writeFile(join(OUT, file), text.replaceAll(PLACEHOLDER, registry.host));
    }
    await mkdir(join(OUT, ".before"), { recursive: true });
    await cp(join(OUT, "example"), join(OUT, ".before", "example"), { recursive: true });
    let failed: string | undefined;

    // KRM_DIGESTER_DEMO_NO_KPT=1 shows the machine without kpt where kpt is installed.
    if (KPT && !process.env.KRM_DIGESTER_DEMO_NO_KPT) {
      console.log(`\n$ kpt fn render build/demo --allow-exec   (the Kptfile pipeline: exec ./dist/krm-digester)`);
      const render = await run(KPT, ["fn", "render", OUT, "--allow-exec"], { cwd: ROOT }).catch((e: { stdout: string; stderr: string; code?: number }) => e);
      process.stdout.write(render.stderr);
      if ("code" in render && render.code) failed = `kpt fn render exited ${String(render.code)}`;
    } else {
      console.log(`\nkpt is not installed: files mode pins the example's files in place.`);
      console.log(`$ dist/krm-digester pin --check build/demo/example    (no network: which images have no digest)`);
      const check = await run(BUNDLE, ["pin", "--check", join(OUT, "example")], { cwd: ROOT }).catch((e: { stdout: string; stderr: string }) => e);
      process.stdout.write(check.stderr.replaceAll(`${OUT}/`, "build/demo/"));
      console.log(`\n$ dist/krm-digester pin build/demo/example`);
      const pin = await run(BUNDLE, ["pin", join(OUT, "example")], { cwd: ROOT }).catch((e: { stdout: string; stderr: string; code?: number }) => e);
      process.stdout.write(pin.stderr.replaceAll(`${OUT}/`, "build/demo/"));
      if ("code" in pin && pin.code) failed = `krm-digester pin exited ${String(pin.code)}`;
    }
    const diff = await run("git", ["diff", "--no-index", "--no-color", join(OUT, ".before", "example"), join(OUT, "example")]).catch(
      (e: { stdout: string }) => e,
    );
    console.log(`\nWhat changed (git diff):\n${diff.stdout.replaceAll(`${OUT}/.before/`, "/").replaceAll(`${OUT}/`, "/")}`);
    // A demo whose pinning failed must not end like one that worked.
    if (failed) throw new Error(`${failed}: the example was not pinned (see above)`);
    console.log(`The pinned package is in ${relative(process.cwd(), OUT)}/example.`);
  } finally {
    await registry.stop();
  }
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
