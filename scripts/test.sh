#!/usr/bin/env bash
# The whole test suite: installs what it needs, then lint, type-check, build,
# and every test (unit, real registry, kpt/kustomize golden packages, corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== lint" >&2
npx eslint .
echo "== type-check + compile tests" >&2
rm -rf build
npx tsc -p tsconfig.json
echo "== build" >&2
node scripts/build.mjs
echo "== tests" >&2
mapfile -t files < <(find build/test -name '*.test.js' | sort)
if [ ${#files[@]} -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
node --test --test-reporter=spec "$@" "${files[@]}"
