#!/usr/bin/env bash
# Installs everything the demo, the tests and the benchmark need on a fresh
# Debian machine of this kind: Debian packages (the real registry, skopeo,
# podman/buildah/runc, binutils' strip) and the npm dependencies. Safe to run
# again.
#
#   bash scripts/setup.sh            # the tests, the demo, the benchmark
#   bash scripts/setup.sh --release  # also what `npm run release` needs for
#                                    # linux-arm64: its strip, and qemu-user
#                                    # with the arm64 libraries to run it
set -euo pipefail
cd "$(dirname "$0")/.."

release=false
for arg in "$@"; do
  case $arg in
    --release) release=true ;;
    *) echo "setup: unknown argument $arg" >&2; exit 2 ;;
  esac
done

need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
command -v podman >/dev/null || need+=(podman)
command -v buildah >/dev/null || need+=(buildah)
command -v runc >/dev/null || need+=(runc)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v openssl >/dev/null || need+=(openssl)
# The benchmark reads peak RSS from GNU time (a shell builtin `time` cannot).
[ -x /usr/bin/time ] || need+=(time)
# strip: the standalone executable (scripts/sea.mjs) drops Node's debug info
# and symbol table (121 -> 105 MiB); without it the build works but is bigger.
command -v strip >/dev/null || need+=(binutils)
if $release; then
  command -v aarch64-linux-gnu-strip >/dev/null || need+=(binutils-aarch64-linux-gnu)
  command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
  [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need+=(libc6-arm64-cross)
  [ -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || need+=(libstdc++6-arm64-cross)
  [ -e /usr/aarch64-linux-gnu/lib/libgcc_s.so.1 ] || need+=(libgcc-s1-arm64-cross)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
