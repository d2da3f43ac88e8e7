#!/usr/bin/env bash
# test/support/ensure-image.sh [IMAGE]: makes sure IMAGE (default
# localhost/krm-digester:dev) is there and current for the container tests,
# building it with `npm run image:offline` (stand-in bases: the public ones
# cannot be pulled on the machines this project runs on) when it is missing,
# older than the Dockerfile, holds another bundle than dist/krm-digester
# (build that first: npm run build) or runs another Node than the one
# scripts/node-release.json pins (the stand-in base is made of it). flock serialises test files that run at
# the same time, so the image is built once per run.
set -euo pipefail
cd "$(dirname "$0")/../.."
image=${1:-localhost/krm-digester:dev}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/containers/containers.conf}
command -v podman >/dev/null || { echo "ensure-image: podman is not installed (bash scripts/setup.sh installs it)" >&2; exit 1; }

exec 9>"${TMPDIR:-/tmp}/krm-digester-image.lock"
flock 9

reason=""
if ! podman image exists "$image"; then
  reason="it does not exist"
elif [ "$(podman image inspect --format '{{.Created.Unix}}' "$image")" -lt "$(stat -c %Y Dockerfile)" ]; then
  reason="the Dockerfile is newer"
elif [ ! -f dist/krm-digester ]; then
  reason="there is no dist/krm-digester to compare it with"
else
  # The bundle inside vs the one just built here: esbuild writes the same
  # bytes from the same sources, so a difference means the image is stale.
  read -r inside inside_node < <(podman run --rm --network none --entrypoint /nodejs/bin/node "$image" -e \
    'process.stdout.write(require("crypto").createHash("sha256").update(require("fs").readFileSync("/opt/krm-digester/krm-digester")).digest("hex") + " " + process.version + "\n")') || true
  here=$(sha256sum dist/krm-digester | cut -d' ' -f1)
  pinned=v$(node scripts/node-binary.mjs version)
  if [ "$inside" != "$here" ]; then
    reason="its bundle differs from dist/krm-digester"
  elif [ "$inside_node" != "$pinned" ]; then
    reason="it runs Node $inside_node, scripts/node-release.json pins $pinned"
  fi
fi
if [ -z "$reason" ]; then
  echo "ensure-image: $image is current" >&2
  exit 0
fi
echo "ensure-image: building $image ($reason): npm run image:offline" >&2
start=$(date +%s)
IMAGE=$image npm run --silent image:offline >&2
echo "ensure-image: $image built in $(( $(date +%s) - start )) s" >&2
