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
# The spec reporter on stdout; test/support/skip-reporter.js collects every
# test that did not run (tests in a suite skipped as a whole are counted one
# by one: test/support/node-test.ts), printed loudly after the summary.
skips=$(mktemp)
trap 'rm -f "$skips"' EXIT
rc=0
node --test --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=./build/test/support/skip-reporter.js --test-reporter-destination="$skips" \
  "$@" "${files[@]}" || rc=$?
if [ -s "$skips" ]; then
  {
    echo
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo "!!! SKIPPED: $(head -1 "$skips")"
    tail -n +2 "$skips" | sed 's/^/!!! /'
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  } >&2
fi
exit $rc
