# syntax=docker/dockerfile:1
# krm-digester as a container image: the KRM function (one CommonJS bundle,
# dist/krm-digester) on a Node 20 runtime, for `kpt fn eval --image`, a
# Kptfile `image:` step and kustomize `container:` functions.
#
#   npm run image            # podman (or docker), localhost/krm-digester:dev
#   npm run image:offline    # same tag, from a stand-in base assembled locally
#   podman build --platform linux/amd64,linux/arm64 --build-arg BUILDPLATFORM=linux/amd64 --manifest krm-digester:multi .
#     (BUILDPLATFORM spelled out for podman 4.3, which sets it to the target)
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/krm-digester:TAG --push .
#
# BASE, the runtime: Google's distroless Node 20 on Debian 12 (no shell, no
# package manager; node at /nodejs/bin/node; passwd has root, nobody
# (65534) and nonroot (65532)). The digest is the one seen pinned in several
# public Dockerfiles and resolved in a public build log; it could not be
# checked from the machine this was written on (no registry access there).
# Refresh it with `crane digest gcr.io/distroless/nodejs20-debian12:latest`
# (or `skopeo inspect --format '{{.Digest}}' docker://…`) and check that it is
# the multi-platform index: `skopeo inspect --raw docker://…@sha256:… | jq .manifests[].platform`.
# Another base must also have node at /nodejs/bin/node and a passwd entry
# for nobody.
ARG BASE=gcr.io/distroless/nodejs20-debian12:latest@sha256:6fe218dbad37e979c7542e670d28d6e23d3f53d2929693bc9cdded8b622f339f
# BUILDER, the build stage: any Node 20 with npm and a shell. It runs on the
# build machine's own platform: the bundle is plain JavaScript, the same for
# every target platform, so a multi-platform build needs no emulation. Digest
# seen pinned in several public Dockerfiles; not checked from here either.
ARG BUILDER=docker.io/library/node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0

FROM --platform=$BUILDPLATFORM ${BUILDER} AS build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json ./
COPY scripts/ scripts/
COPY src/ src/
# The bundle only: the standalone executable (Node SEA) is not needed here.
RUN KRM_DIGESTER_SEA=skip node scripts/build.mjs

# --platform spelled out: podman 4.3 would otherwise keep the build stage's
# platform for this stage too.
FROM --platform=$TARGETPLATFORM ${BASE}
ARG VERSION=0.0.0-dev
ARG REVISION=
ARG SOURCE=
LABEL org.opencontainers.image.title="krm-digester" \
      org.opencontainers.image.description="KRM function that pins every container image in Kubernetes manifests to its registry digest" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# Outside any package.json with "type": "module", so Node loads it as CommonJS.
COPY --from=build /src/dist/krm-digester /opt/krm-digester/krm-digester
# Tells the function it runs in a container: a registry it cannot connect to
# is then reported with the flags that give the container network.
ENV KRM_DIGESTER_IN_CONTAINER=1
# nobody: kustomize runs container functions with --user nobody, kpt with
# --user nobody too; the same numeric user when none is given.
USER 65534:65534
ENTRYPOINT ["/nodejs/bin/node", "/opt/krm-digester/krm-digester"]
