#!/usr/bin/env bash
# Quick start: installs what is needed, builds the function, starts a local
# registry seeded with the example's images and pins the example package.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p tsconfig.json
node scripts/build.mjs
node build/tools/demo.js
