#!/usr/bin/env bash
# Start-up time of the two executables `npm run build` makes, the way kpt and
# kustomize start them (one process per run): --version, and a one-item
# ResourceList (a ConfigMap: no image, so no registry traffic).
#
#   dist/krm-digester             the bundle, run by node
#   dist/krm-digester-linux-x64   the standalone executable (Node SEA, code cache)
#
# Every command runs under `env -i`: this machine's environment sets
# NODE_EXTRA_CA_CERTS, which makes any node process load a CA bundle at start
# (about +90 ms here, for both). Uses hyperfine when installed
# (apt-get install hyperfine: wall-clock median and minimum, and user+system
# CPU time, which a busy machine disturbs less), else a plain loop.
#
#   scripts/startup-bench.sh [RUNS]     (default 40)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-40}
sea=dist/krm-digester-linux-x64
bundle=dist/krm-digester
node_bin=$(command -v node)
[ -x "$sea" ] && [ -f "$bundle" ] || { echo "startup-bench: run npm run build first" >&2; exit 1; }

input=$(mktemp)
trap 'rm -f "$input"' EXIT
echo '{"apiVersion":"config.kubernetes.io/v1","kind":"ResourceList","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"one"},"data":{"k":"v"}}]}' > "$input"

cmds=(
  "env -i $sea --version"
  "env -i $node_bin $bundle --version"
  "env -i $sea < $input"
  "env -i $node_bin $bundle < $input"
)
echo "startup-bench: $runs runs each; load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs" >&2

if command -v hyperfine >/dev/null; then
  json=$(mktemp)
  hyperfine --style none --warmup 3 --runs "$runs" --export-json "$json" "${cmds[@]}" >/dev/null
  node -e '
    for (const r of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results)
      console.log(`${(r.median * 1000).toFixed(1).padStart(7)} ms median  ${(r.min * 1000).toFixed(1).padStart(7)} ms min  ${((r.user + r.system) * 1000).toFixed(1).padStart(7)} ms CPU (mean)  ${r.command}`);
  ' "$json"
  rm -f "$json"
else
  for c in "${cmds[@]}"; do
    times=()
    for _ in $(seq "$runs"); do
      t0=$(date +%s%N)
      bash -c "$c" >/dev/null 2>&1
      times+=($(( ($(date +%s%N) - t0) / 1000 )))
    done
    sorted=($(printf '%s\n' "${times[@]}" | sort -n))
    med=${sorted[$(( runs / 2 ))]}
    printf '%7s ms median  %7s ms min  %s   (loop; includes a bash start)\n' \
      "$((med / 1000)).$((med % 1000 / 100))" "$((sorted[0] / 1000)).$((sorted[0] % 1000 / 100))" "$c"
  done
fi
