// Resolving one tag to the digest a registry serves for it. HEAD first (on
// Docker Hub a HEAD is not a pull); GET and hash the exact bytes only when the
// HEAD cannot tell the digest.
import { createHash } from "node:crypto";
import { RegistryError, fromResponse } from "./errors.js";
import type { ErrorContext } from "./errors.js";
import { header, responseExtra } from "./transport.js";
import type { HttpResponse } from "./transport.js";

/**
 * Every manifest type we pin, in one Accept header. A partial list makes
 * registries convert or pick a platform child, and pin the wrong digest.
 */
export const MANIFEST_MEDIA_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
] as const;
export const MANIFEST_ACCEPT = MANIFEST_MEDIA_TYPES.join(", ");

/** Authenticated requests about the repository and tag being resolved. */
export interface ManifestRequests {
  /** HEAD or GET `/v2/<repo>/manifests/<tag>` with MANIFEST_ACCEPT. */
  manifest(method: "HEAD" | "GET"): Promise<HttpResponse>;
  /** GET `/v2/<repo>/tags/list?n=1`. */
  tags(): Promise<HttpResponse>;
}

const HASHES: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

// HEAD answers after which a GET may still succeed: the registry rejects HEAD
// (Nexus, some Harbor versions) or HEAD has no body to tell tag from repository.
const GET_AFTER_HEAD = new Set([400, 404, 405, 501]);

export async function resolveManifestDigest(requests: ManifestRequests, context: ErrorContext): Promise<string> {
  const head = await requests.manifest("HEAD");
  if (head.status === 200) {
    checkMediaType(head, context);
    const digest = header(head.headers, "docker-content-digest")?.trim();
    if (digest !== undefined && isDigest(digest)) return digest;
    // No (usable) Docker-Content-Digest, a SHOULD the ECR and Red Hat registries have skipped: hash a GET.
  } else if (!GET_AFTER_HEAD.has(head.status)) {
    throw fromResponse(head.status, head.body, context, responseExtra(head));
  }

  const get = await requests.manifest("GET");
  if (get.status !== 200) {
    // The GET's error body may tell MANIFEST_UNKNOWN (tag) from NAME_UNKNOWN (repository).
    const error = fromResponse(get.status, get.body, context, responseExtra(get));
    throw error.code === "TAG_NOT_FOUND" ? await confirmRepository(requests, error, context) : error;
  }
  checkMediaType(get, context);
  const named = header(get.headers, "docker-content-digest")?.trim();
  const algorithm = named ? named.slice(0, named.indexOf(":")) : "sha256";
  if (HASHES[algorithm] === undefined) {
    throw new RegistryError("PROTOCOL", context, `unsupported digest algorithm in Docker-Content-Digest ${JSON.stringify(named)}`);
  }
  const digest = `${algorithm}:${createHash(algorithm).update(get.body).digest("hex")}`;
  if (named && named !== digest) {
    throw new RegistryError("PROTOCOL", context, `manifest body hashes to ${digest}, but Docker-Content-Digest says ${named}`);
  }
  return digest;
}

/**
 * distribution 2.8.2 says MANIFEST_UNKNOWN for a tag in a repository that does
 * not exist; its tag list says NAME_UNKNOWN. One request, on the failure path only.
 */
async function confirmRepository(requests: ManifestRequests, tagError: RegistryError, context: ErrorContext): Promise<RegistryError> {
  let tags: HttpResponse;
  try {
    tags = await requests.tags();
  } catch {
    return tagError; // the manifest answer stands
  }
  if (tags.status !== 404) return tagError;
  const repoError = fromResponse(tags.status, tags.body, context, responseExtra(tags));
  return repoError.code === "REPOSITORY_NOT_FOUND" ? repoError : tagError;
}

function isDigest(value: string): boolean {
  const colon = value.indexOf(":");
  const want = HASHES[value.slice(0, colon)];
  return want !== undefined && new RegExp(`^[a-f0-9]{${want}}$`).test(value.slice(colon + 1));
}

/** Schema 1 manifests are deprecated and their digest is not the one runtimes pull by. */
function checkMediaType(res: HttpResponse, context: ErrorContext): void {
  const type = header(res.headers, "content-type")?.split(";")[0]?.trim() ?? "";
  if (/^application\/vnd\.docker\.distribution\.manifest\.v1\+(json|prettyjws)$/.test(type)) {
    throw new RegistryError("PROTOCOL", context, `the registry only offers a deprecated schema 1 manifest (${type})`);
  }
}
