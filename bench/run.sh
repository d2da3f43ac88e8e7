#!/usr/bin/env bash
# npm run bench [-- options]: builds the function (bundle and standalone
# executable) and the benchmark, then runs it: a real registry on loopback
# behind bench/latency-proxy.ts, each workload against its lower bound and
# sequential skopeo. Writes bench/out/results.json and bench/RESULTS.md.
#
#   --runs N            median of N runs per series (default 5; BENCH_RUNS)
#   --latency LIST      ms injected per request and per new connection (default 25,100; BENCH_LATENCY_MS):
#                       row a (plain HTTP and HTTPS) at each, side by side; the other rows at the first
#   --only LIST         a,b,c,d,e,f,shapes,sweep (default: all; a partial run writes bench/out/RESULTS.partial.md)
#   --skopeo-sample N   images timed with skopeo for (b), extrapolated to 1,000 (default 100)
#   --concurrency LIST  sweep settings, C or C/R (concurrency/registryConcurrency)
#   --sweep-over LIST   workloads the sweep runs over (default a)
#   --profile           one extra run per row under --cpu-prof; self time by owner in the report
#   --dist DIR          measure the executables in DIR (another checkout's dist/) instead
#   --pinned-sizes LIST item counts of (c) (default 1000,5000,20000)
#   --no-skopeo         leave sequential skopeo out (comparing builds of ours)
#   --no-build          use dist/ and build/ as they are
#
# Then bench/webhook.ts: the admission webhook against the same kind of registry
# (bench/out/webhook.md). Not part of `npm test`: it takes a few minutes and measures, it does not check.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
args=()
for a in "$@"; do
  if [ "$a" = "--no-build" ]; then build=0; else args+=("$a"); fi
done
bash scripts/setup.sh
if [ "$build" = 1 ]; then
  echo "bench: compiling and building" >&2
  npx tsc -p tsconfig.json
  node scripts/build.mjs
fi
node build/bench/run.js "${args[@]}"
# The webhook's series (reviews/s, p50/p99, warm and cold, next to k8s-digester's way); BENCH_WEBHOOK=0 leaves it out.
if [ "${BENCH_WEBHOOK:-1}" != 0 ]; then node build/bench/webhook.js; fi
