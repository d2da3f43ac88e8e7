#!/usr/bin/env bash
# Quick start: installs what is needed, builds the function, starts a local
# registry seeded with the example's images and pins the example package.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The bundle (dist/krm-digester) is what the demo runs; `npm run build` also
# makes the standalone executable, which would fetch Node 24 first.
KRM_DIGESTER_SEA=skip node scripts/build.mjs
# The demo's driver (tools/demo.ts), bundled as it is: type-checking the
# whole tree is the test suite's job (scripts/test.sh), not the demo's.
# Three levels under the root, as test/support/run-fn.ts finds it from there.
npx esbuild tools/demo.ts --bundle --platform=node --format=esm --packages=external \
  --log-level=warning --outfile=build/tools/demo/demo.mjs
node build/tools/demo/demo.mjs
