// Bundles src/main.ts into dist/krm-digester: one executable file that needs
// no node_modules at run time (kpt --exec, Kptfile exec steps, kustomize).
import { build } from "esbuild";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { lazyChunks } from "./lazy-chunks.mjs";

const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));
const outfile = "dist/krm-digester";

await build({
  entryPoints: ["src/main.ts"],
  outfile,
  bundle: true,
  platform: "node",
  target: "node20.18",
  format: "cjs",
  minify: false,
  sourcemap: false,
  legalComments: "none",
  banner: { js: "#!/usr/bin/env node" },
  define: { __KRM_DIGESTER_VERSION__: JSON.stringify(pkg.version) },
  logLevel: "warning",
  // Loaded by online mode and the webhook only: kept out of the function's start-up.
  plugins: [lazyChunks(["src/cluster/kube-lib.ts", "src/webhook/x509-lib.ts"], "node20.18")],
});
await chmod(outfile, 0o755);
// Inside this repo ("type": "module") Node would load the extension-less
// bundle as ESM; dist/ is its own CommonJS scope. Copied anywhere else, the
// file is CommonJS by default.
await writeFile("dist/package.json", '{ "type": "commonjs" }\n');
console.error(`built ${outfile} (${pkg.version})`);

// The standalone executable next to it (Node SEA, no Node needed to run):
// dist/krm-digester-linux-x64 on this Linux x64 machine, made of the Node
// pinned in scripts/node-release.json (npm's official node-linux-* binary,
// fetched and checked by scripts/node-binary.mjs), not of the node running
// this build. See scripts/sea.mjs.
// KRM_DIGESTER_SEA=skip builds the bundle only (the Dockerfile's build stage).
if (process.env.KRM_DIGESTER_SEA === "skip") {
  console.error("not building the standalone executable (KRM_DIGESTER_SEA=skip)");
} else if (process.platform === "linux") {
  const { buildSea } = await import("./sea.mjs");
  await buildSea();
} else {
  console.error(`not building the standalone executable on ${process.platform}: scripts/sea.mjs handles Linux (ELF) hosts only`);
}
