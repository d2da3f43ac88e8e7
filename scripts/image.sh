#!/usr/bin/env bash
# npm run image: builds localhost/krm-digester:dev from the project's
# Dockerfile (public, digest-pinned bases: needs access to their registries;
# without it use `npm run image:offline`), then checks it with --version.
#
# Engine: podman when installed (with CONTAINERS_CONF defaulting to the
# project's containers/containers.conf), else docker when its daemon answers.
#
# Environment:
#   IMAGE             tag to build (default localhost/krm-digester:dev)
#   IMAGE_BUILD_ARGS  extra arguments for `build`, split on spaces (used by
#                     scripts/image-offline.sh: --pull=never, --build-arg BASE=…)
#
# The check (scripts/image-check.sh): the image's entrypoint prints the
# version, run as nobody.
#
# Multi-platform (the Dockerfile needs no emulation for it):
#   podman build --platform linux/amd64,linux/arm64 --build-arg BUILDPLATFORM=linux/amd64 --manifest krm-digester:multi .
#     (BUILDPLATFORM spelled out for podman 4.3, which sets it to the target)
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/krm-digester:TAG --push .
set -euo pipefail
cd "$(dirname "$0")/.."
# since START_NS: seconds elapsed, one decimal.
since() { local ms=$(( ($(date +%s%N) - $1) / 1000000 )); echo "$((ms / 1000)).$((ms % 1000 / 100)) s"; }

IMAGE=${IMAGE:-localhost/krm-digester:dev}
read -r -a extra <<< "${IMAGE_BUILD_ARGS:-}"

if command -v podman >/dev/null; then
  engine=podman
  export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/containers/containers.conf}
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  engine=docker
else
  echo "image: neither podman nor a running docker daemon (apt-get install podman buildah runc)" >&2
  exit 1
fi

version=$(node -p 'require("./package.json").version')
revision=$(git rev-parse --verify -q HEAD 2>/dev/null || true)
source=$(node -p 'const r = require("./package.json").repository; (typeof r === "string" ? r : r?.url) ?? ""')
[ -n "$source" ] || source=$(git remote get-url origin 2>/dev/null || true)
[ -n "$source" ] || echo "image: no repository URL in package.json nor a git remote: org.opencontainers.image.source stays empty" >&2

# Podman 4.3 (Debian 12) sets BUILDPLATFORM to the target platform in a
# --platform build, so the build stage would look for an arm64 builder: name
# the real build platform.
platform_args=()
if [ "$engine" = podman ]; then
  platform_args=(--build-arg "BUILDPLATFORM=$(podman info --format '{{.Host.OS}}/{{.Host.Arch}}')")
fi

echo "image: $engine build $IMAGE (krm-digester $version${revision:+, ${revision:0:12}})" >&2
start=$(date +%s%N)
"$engine" build "${extra[@]}" "${platform_args[@]}" -t "$IMAGE" \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "SOURCE=$source" \
  -f Dockerfile . || {
  echo "image: $engine build failed; a machine that cannot reach the public base images' registries: npm run image:offline" >&2
  exit 1
}
build_s=$(since "$start")

echo "image: $IMAGE built in $build_s" >&2
bash scripts/image-check.sh "$engine" "$IMAGE" "$version"
