// Pushes images to a registry over the distribution HTTP API, the way 2.8.2
// accepts them: POST an upload, PUT Location&digest= for each blob, then PUT the
// manifest with Content-Type = its mediaType; index children before the index.
// Every image gets fresh random content, hence its own digests, and its layer
// is a real gzipped tar, so real clients (skopeo, podman) can pull it too.
import { createHash, randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { request } from "undici";
import type { Dispatcher } from "undici";

export const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar+gzip",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

/** The Accept header that resolves any tag to the digest it points at. */
export const ACCEPT_ALL_MANIFESTS = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerList,
  MediaType.dockerManifest,
].join(", ");

export type ImageKind = "oci-manifest" | "oci-index" | "docker-manifest" | "docker-manifest-list";
export const IMAGE_KINDS: readonly ImageKind[] = ["oci-manifest", "oci-index", "docker-manifest", "docker-manifest-list"];

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  /** Windows images name the build they are for, in the index entry and in their config. */
  readonly "os.version"?: string;
}

/** Where to push: a Registry from registry.ts fits, or any object of this shape. */
export interface SeedTarget {
  /** "http(s)://host:port" */
  readonly url: string;
  readonly dispatcher?: Dispatcher;
  /** Authorization header value, or a function of the repository (e.g. per-repo Bearer tokens). */
  readonly authorization?: string | ((repository: string) => string | Promise<string>);
  readonly headers?: Readonly<Record<string, string>>;
}

export interface PushedManifest {
  readonly repository: string;
  /** The tag, or for an index child its digest, it was PUT under. */
  readonly reference: string;
  /** sha256 of `body`, checked against the registry's Docker-Content-Digest. */
  readonly digest: string;
  readonly mediaType: string;
  readonly body: Buffer;
  readonly size: number;
  readonly platform?: Platform;
  /** Index / manifest list children, in the order they appear in the body. */
  readonly children?: readonly PushedManifest[];
}

export interface SeedSpec {
  readonly repository: string;
  readonly tag: string;
  readonly kind: ImageKind;
  /** An index's (or manifest list's) platforms, in order; default linux/amd64 and linux/arm64. */
  readonly platforms?: readonly Platform[];
  /** Add a buildx-style attestation entry (platform unknown/unknown) to the index, as `docker buildx build` pushes. */
  readonly attestation?: boolean;
}

const PLATFORMS: readonly Platform[] = [
  { os: "linux", architecture: "amd64" },
  { os: "linux", architecture: "arm64" },
];

/** What a widely built image's index holds: ARM variants as buildx writes them, and Windows builds by os.version. */
export const MANY_PLATFORMS: readonly Platform[] = [
  { os: "linux", architecture: "amd64" },
  { os: "linux", architecture: "arm64", variant: "v8" },
  { os: "linux", architecture: "arm", variant: "v7" },
  { os: "linux", architecture: "arm", variant: "v6" },
  { os: "linux", architecture: "s390x" },
  { os: "windows", architecture: "amd64", "os.version": "10.0.17763.1234" },
  { os: "windows", architecture: "amd64", "os.version": "10.0.20348.2340" },
];

/** How a platform is shown in test names and golden files: os/arch[/variant][:os.version]. */
export const platformName = (p: Platform): string => [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join("/") + (p["os.version"] ? `:${p["os.version"]}` : "");

export const sha256 = (bytes: Uint8Array): string => "sha256:" + createHash("sha256").update(bytes).digest("hex");

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

async function send(
  target: SeedTarget,
  repository: string,
  method: "POST" | "PUT",
  url: string,
  body: Buffer | undefined,
  contentType: string | undefined,
  expect: number,
): Promise<Record<string, string | string[] | undefined>> {
  const headers: Record<string, string> = { ...target.headers };
  const auth = typeof target.authorization === "function" ? await target.authorization(repository) : target.authorization;
  if (auth) headers.authorization = auth;
  if (contentType) headers["content-type"] = contentType;
  const res = await request(url, { method, headers, body: body ?? null, dispatcher: target.dispatcher });
  const text = await res.body.text(); // always consume: frees the keep-alive connection
  if (res.statusCode !== expect) {
    throw new Error(`${method} ${url}: expected ${expect}, got ${res.statusCode}: ${text.slice(0, 500)}`);
  }
  return res.headers;
}

function checkDigest(what: string, headers: Record<string, string | string[] | undefined>, digest: string): void {
  const got = headers["docker-content-digest"];
  if (got !== digest) throw new Error(`${what}: registry says Docker-Content-Digest ${String(got)}, we computed ${digest}`);
}

/** Uploads one blob (monolithic: POST then PUT with the digest). */
export async function pushBlob(target: SeedTarget, repository: string, bytes: Buffer, mediaType: string): Promise<Descriptor> {
  const digest = sha256(bytes);
  const started = await send(target, repository, "POST", `${target.url}/v2/${repository}/blobs/uploads/`, undefined, undefined, 202);
  const location = started.location;
  if (typeof location !== "string") throw new Error(`blob upload to ${repository}: no Location header`);
  const base = new URL(location, target.url).href; // 2.8.2 sends it absolute, others may not
  const put = `${base}${base.includes("?") ? "&" : "?"}digest=${encodeURIComponent(digest)}`;
  const done = await send(target, repository, "PUT", put, bytes, "application/octet-stream", 201);
  checkDigest(`blob ${digest}`, done, digest);
  return { mediaType, digest, size: bytes.length };
}

/** PUTs a manifest body under a tag or digest; returns its digest (checked against the registry's). */
export async function putManifest(
  target: SeedTarget,
  repository: string,
  reference: string,
  mediaType: string,
  body: Buffer,
): Promise<string> {
  const digest = sha256(body);
  const url = `${target.url}/v2/${repository}/manifests/${reference}`;
  const headers = await send(target, repository, "PUT", url, body, mediaType, 201);
  checkDigest(`manifest ${repository}:${reference}`, headers, digest);
  return digest;
}

/** A one-file ustar archive: the smallest real layer. */
function tarOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string): void => void header.write(value, offset, length, "ascii");
  const octal = (offset: number, length: number, n: number): void => field(offset, length, n.toString(8).padStart(length - 1, "0"));
  field(0, 100, name);
  octal(100, 8, 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, content.length);
  octal(136, 12, 0);
  field(148, 8, "        "); // checksum is computed with its own field as spaces
  field(156, 1, "0");
  field(257, 6, "ustar\0");
  field(263, 2, "00");
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

async function pushSingle(
  target: SeedTarget,
  repository: string,
  reference: string | undefined,
  docker: boolean,
  platform: Platform,
): Promise<PushedManifest> {
  const nonce = randomBytes(16).toString("hex");
  const tar = tarOneFile("nonce.txt", Buffer.from(nonce + "\n"));
  const layer = gzipSync(tar);
  const config = json({
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    ...(platform["os.version"] ? { "os.version": platform["os.version"] } : {}),
    config: { Labels: { "krm-digester.test/nonce": nonce } },
    rootfs: { type: "layers", diff_ids: [sha256(tar)] },
  });
  const [configDesc, layerDesc] = await Promise.all([
    pushBlob(target, repository, config, docker ? MediaType.dockerConfig : MediaType.ociConfig),
    pushBlob(target, repository, layer, docker ? MediaType.dockerLayer : MediaType.ociLayer),
  ]);
  const mediaType = docker ? MediaType.dockerManifest : MediaType.ociManifest;
  const body = json({ schemaVersion: 2, mediaType, config: configDesc, layers: [layerDesc] });
  const ref = reference ?? sha256(body);
  const digest = await putManifest(target, repository, ref, mediaType, body);
  return { repository, reference: ref, digest, mediaType, body, size: body.length, platform };
}

async function pushMulti(
  target: SeedTarget,
  repository: string,
  tag: string,
  docker: boolean,
  platforms: readonly Platform[] = PLATFORMS,
  attestation = false,
): Promise<PushedManifest> {
  // Children go in by digest first: the index PUT fails with MANIFEST_BLOB_UNKNOWN otherwise.
  const children = await Promise.all(platforms.map((p) => pushSingle(target, repository, undefined, docker, p)));
  const manifests: unknown[] = children.map((c) => ({ mediaType: c.mediaType, digest: c.digest, size: c.size, platform: c.platform }));
  if (attestation && children[0]) {
    // buildx: an OCI manifest for provenance, platform unknown/unknown, naming the image it attests.
    const attest = await pushSingle(target, repository, undefined, false, { os: "unknown", architecture: "unknown" });
    manifests.push({
      mediaType: attest.mediaType,
      digest: attest.digest,
      size: attest.size,
      platform: { os: "unknown", architecture: "unknown" },
      annotations: { "vnd.docker.reference.digest": children[0].digest, "vnd.docker.reference.type": "attestation-manifest" },
    });
  }
  const mediaType = docker ? MediaType.dockerList : MediaType.ociIndex;
  const body = json({ schemaVersion: 2, mediaType, manifests });
  const digest = await putManifest(target, repository, tag, mediaType, body);
  return { repository, reference: tag, digest, mediaType, body, size: body.length, children };
}

export function pushOciManifest(target: SeedTarget, repository: string, tag: string, platform = PLATFORMS[0]!): Promise<PushedManifest> {
  return pushSingle(target, repository, tag, false, platform);
}

export function pushOciIndex(target: SeedTarget, repository: string, tag: string): Promise<PushedManifest> {
  return pushMulti(target, repository, tag, false);
}

export function pushDockerManifest(target: SeedTarget, repository: string, tag: string, platform = PLATFORMS[0]!): Promise<PushedManifest> {
  return pushSingle(target, repository, tag, true, platform);
}

export function pushDockerManifestList(target: SeedTarget, repository: string, tag: string): Promise<PushedManifest> {
  return pushMulti(target, repository, tag, true);
}

export function pushImage(target: SeedTarget, spec: SeedSpec): Promise<PushedManifest> {
  switch (spec.kind) {
    case "oci-manifest":
      return pushOciManifest(target, spec.repository, spec.tag);
    case "oci-index":
      return pushMulti(target, spec.repository, spec.tag, false, spec.platforms, spec.attestation);
    case "docker-manifest":
      return pushDockerManifest(target, spec.repository, spec.tag);
    case "docker-manifest-list":
      return pushMulti(target, spec.repository, spec.tag, true, spec.platforms, spec.attestation);
  }
}

/** Pushes every spec, `concurrency` images at a time; results in spec order. */
export async function seedImages(
  target: SeedTarget,
  specs: readonly SeedSpec[],
  options: { readonly concurrency?: number } = {},
): Promise<PushedManifest[]> {
  const results = new Array<PushedManifest>(specs.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < specs.length) {
      const i = next++;
      try {
        results[i] = await pushImage(target, specs[i]!);
      } catch (err) {
        failed = true; // stop the other workers from starting more pushes
        throw err;
      }
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 8, specs.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}
