// Resolving one tag to the digest a registry serves for it. HEAD first (on
// Docker Hub a HEAD is not a pull); GET and hash the exact bytes only when the
// HEAD cannot tell the digest. A registry's answer is checked before it
// becomes a pin: its media type must be one we asked for, a digest it names
// must be well formed, and a body we hash must be a manifest whose digest
// agrees with every digest the registry named for it. The pin is always a
// sha256 digest of the exact manifest bytes, or the registry's own sha256 word.
import { createHash } from "node:crypto";
import { RegistryError, fromResponse } from "./errors.js";
import type { ErrorContext } from "./errors.js";
import { quoteShort } from "./text.js";
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

/** Hex length of each algorithm whose digests we can check (go-digest's set). */
const HASHES: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };
const KNOWN_TYPES: ReadonlySet<string> = new Set(MANIFEST_MEDIA_TYPES);
const SCHEMA1 = /^application\/vnd\.docker\.distribution\.manifest\.v1\+(json|prettyjws)$/;
/** Content types that say "some JSON" without saying which manifest: the body's own mediaType decides. */
const GENERIC_TYPES: ReadonlySet<string> = new Set(["", "application/json", "application/octet-stream", "text/plain"]);

// HEAD answers after which a GET may still succeed: the registry rejects HEAD
// (Nexus, some Harbor versions) or HEAD has no body to tell tag from repository.
const GET_AFTER_HEAD = new Set([400, 404, 405, 501]);

export async function resolveManifestDigest(requests: ManifestRequests, context: ErrorContext): Promise<string> {
  const head = await requests.manifest("HEAD");
  /** A sha256 digest the HEAD named that the GET must agree with. */
  let claimed: string | undefined;
  if (head.status === 200) {
    const type = contentType(head);
    checkContentType(type, context);
    const named = digestHeader(head);
    if (named.kind === "digest" && named.algorithm === "sha256") {
      // The registry's word, trusted as crane and k8s-digester trust it, once it says which manifest it is.
      if (KNOWN_TYPES.has(type)) return named.value;
      claimed = named.value;
    }
    // No usable media type or Docker-Content-Digest (a SHOULD the ECR and Red Hat registries have skipped),
    // or a digest of another algorithm: hash a GET.
  } else if (!GET_AFTER_HEAD.has(head.status)) {
    throw fromResponse(head.status, head.body, context, responseExtra(head));
  }

  return (await getManifest(requests, context, claimed)).digest;
}

/** A manifest fetched by GET: its digest (sha256 of the exact bytes, checked against every digest the registry named), media type and body. */
export interface FetchedManifest {
  readonly digest: string;
  /** The body's own mediaType, else its Content-Type. */
  readonly mediaType: string;
  readonly json: Record<string, unknown>;
}

/**
 * GET the manifest and check it as a pin must be checked: a manifest type we
 * asked for, and a body whose sha256 agrees with Docker-Content-Digest (and
 * with `claimed`, what a HEAD said). Errors as resolveManifestDigest's.
 */
export async function getManifest(requests: ManifestRequests, context: ErrorContext, claimed?: string): Promise<FetchedManifest> {
  const get = await requests.manifest("GET");
  if (get.status !== 200) {
    // The GET's error body may tell MANIFEST_UNKNOWN (tag) from NAME_UNKNOWN (repository).
    const error = fromResponse(get.status, get.body, context, responseExtra(get));
    throw error.code === "TAG_NOT_FOUND" ? await confirmRepository(requests, error, context) : error;
  }
  const json = checkManifestBody(get, context);
  const digest = `sha256:${createHash("sha256").update(get.body).digest("hex")}`;
  const named = digestHeader(get);
  if (named.kind === "malformed") {
    throw new RegistryError("PROTOCOL", context, `the manifest's Docker-Content-Digest ${quoteShort(named.raw)} is not a valid digest (${named.why})`);
  }
  if (named.kind === "digest") {
    const actual = named.algorithm === "sha256" ? digest : `${named.algorithm}:${createHash(named.algorithm).update(get.body).digest("hex")}`;
    if (actual !== named.value) {
      throw new RegistryError("PROTOCOL", context, `manifest body hashes to ${actual}, but Docker-Content-Digest says ${named.value}`);
    }
  }
  if (claimed !== undefined && claimed !== digest) {
    throw new RegistryError("PROTOCOL", context, `the manifest HEAD said Docker-Content-Digest ${claimed}, but the manifest GET's body hashes to ${digest}`);
  }
  const own = typeof json.mediaType === "string" ? json.mediaType : undefined;
  return { digest, mediaType: own ?? contentType(get), json };
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

type NamedDigest =
  | { readonly kind: "absent" }
  | { readonly kind: "digest"; readonly algorithm: string; readonly value: string }
  | { readonly kind: "malformed"; readonly raw: string; readonly why: string };

/** Docker-Content-Digest, read by the OCI digest grammar; several headers must agree. */
export function digestHeader(res: HttpResponse): NamedDigest {
  const raw = res.headers["docker-content-digest"];
  const values = [...new Set((Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map((v) => v.trim()))];
  if (values.length === 0 || (values.length === 1 && values[0] === "")) return { kind: "absent" };
  if (values.length > 1) return { kind: "malformed", raw: values.join(", "), why: "several different values" };
  const value = values[0] ?? "";
  const colon = value.indexOf(":");
  if (colon <= 0) return { kind: "malformed", raw: value, why: "no algorithm:hex form" };
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  const want = HASHES[algorithm];
  if (want === undefined) {
    return { kind: "malformed", raw: value, why: `algorithm ${quoteShort(algorithm, 20)} is not one of ${Object.keys(HASHES).join(", ")}` };
  }
  if (!/^[a-f0-9]*$/.test(hex)) return { kind: "malformed", raw: value, why: `the ${algorithm} part is not lowercase hex` };
  if (hex.length !== want) return { kind: "malformed", raw: value, why: `a ${algorithm} digest has ${want} hex digits, not ${hex.length}` };
  return { kind: "digest", algorithm, value };
}

function contentType(res: HttpResponse): string {
  return (header(res.headers, "content-type")?.split(";")[0] ?? "").trim().toLowerCase();
}

/** Schema 1 and anything that is not a manifest type are refused; a generic or missing type is left to the body. */
function checkContentType(type: string, context: ErrorContext): void {
  if (SCHEMA1.test(type)) {
    // Schema 1 manifests are deprecated and their digest is not the one runtimes pull by.
    throw new RegistryError("PROTOCOL", context, `the registry only offers a deprecated schema 1 manifest (${type})`);
  }
  if (!KNOWN_TYPES.has(type) && !GENERIC_TYPES.has(type)) {
    throw new RegistryError("PROTOCOL", context, `the manifest answer has Content-Type ${quoteShort(type, 80)}, which is not one of the manifest media types asked for`);
  }
}

/** The GET's body must be a manifest of a type we asked for, by its Content-Type or its own mediaType; returns it parsed. */
function checkManifestBody(res: HttpResponse, context: ErrorContext): Record<string, unknown> {
  const type = contentType(res);
  checkContentType(type, context);
  let json: unknown;
  try {
    json = JSON.parse(res.body.toString("utf8"));
  } catch {
    // Not quoted: whatever answered (a login page, a proxy) is not worth a screenful.
    throw new RegistryError("PROTOCOL", context, `the manifest body is not JSON (${res.body.length} bytes, Content-Type ${quoteShort(type, 80)})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new RegistryError("PROTOCOL", context, "the manifest body is not a JSON object");
  }
  const manifest = json as Record<string, unknown>;
  const own = manifest.mediaType;
  if (own !== undefined && typeof own !== "string") throw new RegistryError("PROTOCOL", context, `the manifest's "mediaType" is not a string`);
  if (manifest.schemaVersion === 1 || (own !== undefined && SCHEMA1.test(own))) {
    throw new RegistryError("PROTOCOL", context, "the registry only offers a deprecated schema 1 manifest");
  }
  if (own !== undefined && !KNOWN_TYPES.has(own)) {
    throw new RegistryError("PROTOCOL", context, `the manifest's mediaType ${quoteShort(own, 80)} is not one of the manifest media types asked for`);
  }
  if (own !== undefined && KNOWN_TYPES.has(type) && own !== type) {
    throw new RegistryError("PROTOCOL", context, `the manifest's Content-Type is ${type}, but its mediaType says ${own}`);
  }
  if (own === undefined && !KNOWN_TYPES.has(type)) {
    // OCI lets a manifest leave mediaType out; then its shape must say it is one.
    const shaped = manifest.schemaVersion === 2 && (Array.isArray(manifest.manifests) || (typeof manifest.config === "object" && Array.isArray(manifest.layers)));
    if (!shaped) {
      throw new RegistryError("PROTOCOL", context, `neither the Content-Type (${quoteShort(type, 80)}) nor the body says which manifest media type this is`);
    }
  }
  return manifest;
}
