# syntax=docker/dockerfile:1
# krm-digester as a container image: the KRM function (one CommonJS bundle,
# dist/krm-digester) on a Node 24 LTS runtime, for `kpt fn eval --image`, a
# Kptfile `image:` step and kustomize `container:` functions.
#
#   npm run image            # podman (or docker), localhost/krm-digester:dev
#   npm run image:offline    # same tag, from a stand-in base assembled locally
#                            # from the Node pinned in scripts/node-release.json
#   podman build --platform linux/amd64,linux/arm64 --build-arg BUILDPLATFORM=linux/amd64 --manifest krm-digester:multi .
#     (BUILDPLATFORM spelled out for podman 4.3, which sets it to the target)
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/krm-digester:TAG --push .
#
# BASE, the runtime: Google's distroless Node 24 on Debian 13 (no shell, no
# package manager; node at /nodejs/bin/node; passwd has root, nobody
# (65534) and nonroot (65532)). Debian 13, not 12: distroless deprecated its
# debian12 images on 1 Sep 2026 (GoogleContainerTools/distroless#2129), so
# nodejs24-debian12 gets no more updates; both were published for Node 24.
# The digest is the `latest` one seen pinned in several unrelated public
# Dockerfiles (their most recent Dependabot bumps); it could NOT be checked
# from the machine this was written on (no registry access there).
# Refresh it with `crane digest gcr.io/distroless/nodejs24-debian13:latest`
# (or `skopeo inspect --format '{{.Digest}}' docker://…`) and check that it is
# the multi-platform index: `skopeo inspect --raw docker://…@sha256:… | jq .manifests[].platform`.
# Another base must also have node at /nodejs/bin/node and a passwd entry
# for nobody.
ARG BASE=gcr.io/distroless/nodejs24-debian13:latest@sha256:96df910f65fdd8a21d00d14d4cc046adcfcf3ced2d5e96be4b39ebde9f4866c6
# BUILDER, the build stage: any Node 24 with npm and a shell. It runs on the
# build machine's own platform: the bundle is plain JavaScript, the same for
# every target platform, so a multi-platform build needs no emulation. Digest:
# node:24-bookworm-slim (Node 24.19.0, 25 Aug 2026) as docker-library's
# repo-info lists it (amd64, arm64/v8, ppc64le), also pinned in a public
# script; not checked from here either (`crane digest docker.io/library/node:24-bookworm-slim`).
ARG BUILDER=docker.io/library/node:24-bookworm-slim@sha256:a9f5f7c91a432850b2a8a7797adf5eadb6c733ceed61167806cee7ea7fbc29df

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
# Node 20's young generation (16 MB semi-spaces) rather than Node 24's 64 MB: a
# 20,000-item list peaks 90 MB lower at the same speed; and 16 MB from the start
# rather than grown from 1 MB, fewer scavenges in a short run (sea-config.json
# has the same flags).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=16", "--min-semi-space-size=16", "/opt/krm-digester/krm-digester"]
