#!/usr/bin/env bash
# scripts/image-check.sh ENGINE IMAGE VERSION: checks that IMAGE's entrypoint
# prints "krm-digester VERSION" for --version, run as nobody (the user kpt
# and kustomize pass). Used by scripts/image.sh and scripts/image-offline.sh.
#
# An image for another CPU than this machine's is checked by running its
# entrypoint out of the mounted image through qemu-user (podman and
# qemu-aarch64-static, for arm64): this sandbox has no binfmt_misc, so the
# engine cannot run it. Without qemu-user it is only reported as built.
set -euo pipefail
engine=$1 image=$2 version=$3

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
if [ "$got" != "krm-digester $version" ]; then
  echo "image-check: $image ($image_arch) --version printed '$got', expected 'krm-digester $version'" >&2
  exit 1
fi
echo "image-check: $image ($image_arch): $got ($how)" >&2
