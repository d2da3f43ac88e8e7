#!/usr/bin/env bash
# scripts/image-check.sh ENGINE IMAGE VERSION: checks that IMAGE's entrypoint
# prints "krm-digester VERSION (Node.js vX.Y.Z)" for --version, run as nobody
# (the user kpt and kustomize pass), with the Node line pinned in
# scripts/node-release.json (24): exactly the pinned version for an image on
# the offline stand-in base (its label org.krm-digester.node says which), any
# 24.x for the public distroless base. Used by scripts/image.sh and
# scripts/image-offline.sh.
#
# An image for another CPU than this machine's is checked by running its
# entrypoint out of the mounted image through qemu-user (podman and
# qemu-aarch64-static, for arm64): this sandbox has no binfmt_misc, so the
# engine cannot run it. Without qemu-user it is only reported as built.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=$1 image=$2 version=$3
pinned=$(node scripts/node-binary.mjs version)
stand_in_node=$("$engine" image inspect --format '{{index .Labels "org.krm-digester.node"}}' "$image" 2>/dev/null || true)
[ "$stand_in_node" != "<no value>" ] || stand_in_node=""
if [ -n "$stand_in_node" ]; then
  node_pattern=${stand_in_node//./\\.}
else
  node_pattern="v${pinned%%.*}\\.[0-9]+\\.[0-9]+"
fi

if [ "$engine" = podman ]; then
  host_arch=$(podman info --format '{{.Host.Arch}}')
else
  host_arch=$(docker version --format '{{.Server.Arch}}')
fi
image_arch=$("$engine" image inspect --format '{{.Architecture}}' "$image")

if [ "$image_arch" = "$host_arch" ]; then
  got=$("$engine" run --rm --user nobody "$image" --version)
  how="$engine run --user nobody"
elif [ "$engine" = podman ] && [ "$image_arch" = arm64 ] && command -v qemu-aarch64-static >/dev/null; then
  ctr=$(podman create --platform "linux/$image_arch" "$image" 2>/dev/null)
  mnt=$(podman mount "$ctr")
  mapfile -t entry < <(podman image inspect --format '{{range .Config.Entrypoint}}{{println .}}{{end}}' "$image" | sed '/^$/d')
  run=(qemu-aarch64-static -L "$mnt")
  for a in "${entry[@]}"; do case $a in /*) run+=("$mnt$a") ;; *) run+=("$a") ;; esac; done
  got=$("${run[@]}" --version 2>&1) || true
  podman umount "$ctr" >/dev/null
  podman rm "$ctr" >/dev/null
  how="qemu-aarch64-static on the mounted image, as root: the storage is root-only"
else
  echo "image-check: $image is $image_arch: not run (this machine is $host_arch and has no qemu-user for it)" >&2
  exit 0
fi
expected="krm-digester ${version//./\\.} \\(Node\\.js $node_pattern\\)"
if ! [[ $got =~ ^$expected$ ]]; then
  echo "image-check: $image ($image_arch) --version printed '$got', expected /^$expected$/" >&2
  exit 1
fi
if [ -n "$stand_in_node" ] && [ "$stand_in_node" != "v$pinned" ]; then
  echo "image-check: $image was built on a stand-in base with Node $stand_in_node, scripts/node-release.json pins v$pinned: rebuild it (npm run image:offline)" >&2
  exit 1
fi
echo "image-check: $image ($image_arch): $got ($how)" >&2
