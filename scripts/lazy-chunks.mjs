// An esbuild plugin for modules that only some runs need (the Kubernetes
// client, X.509): each is bundled on its own and carried in the bundle as a
// string, compiled with node:vm when it is first imported. A lazily evaluated
// module that esbuild inlines is still parsed at every start; V8 scans a string
// literal much faster (docs/webhook.md has the figures). Works the same in the
// standalone executable: the chunk needs nothing but Node's built-in modules.
import { build } from "esbuild";
import { basename, resolve } from "node:path";
import { gzipSync } from "node:zlib";

/** @param {string[]} files entry files (relative to the repo) that are imported with import() only */
export function lazyChunks(files, target) {
  const wanted = new Set(files.map((f) => resolve(f)));
  return {
    name: "lazy-chunks",
    setup(b) {
      // A namespace of its own: the stub below is CommonJS, which the repo's "type": "module" would not let it be.
      b.onResolve({ filter: /-lib\.js$/ }, (args) => {
        const path = resolve(args.resolveDir, args.path.replace(/\.js$/, ".ts"));
        return wanted.has(path) ? { path, namespace: "lazy-chunk" } : undefined;
      });
      b.onLoad({ filter: /.*/, namespace: "lazy-chunk" }, async (args) => {
        const out = await build({
          entryPoints: [args.path],
          bundle: true,
          platform: "node",
          target,
          format: "cjs",
          write: false,
          legalComments: "none",
          logLevel: "warning",
          // client-node's URL parsing (whatwg-url, tr46) asks for Node's deprecated punycode module,
          // which warns on stderr from Node 22 on: the userland package instead (the trailing slash).
          alias: { punycode: "punycode/" },
        });
        // Compressed: V8 scans a 0.4 MB base64 literal at start-up instead of a 2 MB one.
        const packed = gzipSync(out.outputFiles[0].contents, { level: 9 }).toString("base64");
        const name = `krm-digester:${basename(args.path, ".ts")}.js`;
        return {
          loader: "js",
          contents:
            `const chunk = { exports: {} };\n` +
            `const code = require("node:zlib").gunzipSync(Buffer.from(${JSON.stringify(packed)}, "base64")).toString("utf8");\n` +
            `require("node:vm").compileFunction(code, ["exports", "require", "module", "__filename", "__dirname"], { filename: ${JSON.stringify(name)} })` +
            `(chunk.exports, require, chunk, __filename, __dirname);\n` +
            `module.exports = chunk.exports;\n`,
        };
      });
    },
  };
}
