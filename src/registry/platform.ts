// Resolving a tag to the manifest of one platform (the `platform` setting):
// one GET of what the tag points at (its bytes checked and hashed as for any
// pin, src/registry/manifest.ts), then, for an OCI image index or a Docker
// manifest list, the entry for that platform, matched as containerd matches
// (src/name/platform.ts). No request for the child: the index names its digest,
// and a registry stores an index only when its children are there.
import { formatPlatform, normalizePlatform, platformMatches } from "../name/platform.js";
import type { Platform } from "../name/platform.js";
import { RegistryError } from "./errors.js";
import type { ErrorContext } from "./errors.js";
import { getManifest, MANIFEST_MEDIA_TYPES } from "./manifest.js";
import type { ManifestRequests } from "./manifest.js";

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
const SHA256 = /^sha256:[a-f0-9]{64}$/;
/** What buildx adds beside the images: attestations (provenance, SBOM), not runnable platforms. */
const ATTESTATION = "attestation-manifest";

export interface PlatformDigest {
  readonly digest: string;
  /** Said in the result: which platform was picked from which index, or that the image has one platform only. */
  readonly note: string;
}

/** A digest lookup by digest (existingDigests verify asks `manifests/<digest>`): that exact manifest, no platform picked. */
export function isDigestLookup(tag: string): boolean {
  return tag.includes(":");
}

export async function resolvePlatformDigest(requests: ManifestRequests, context: ErrorContext, wanted: Platform): Promise<PlatformDigest> {
  const manifest = await getManifest(requests, context);
  const kind = manifest.mediaType === OCI_INDEX ? "OCI image index" : manifest.mediaType === DOCKER_LIST ? "Docker manifest list" : undefined;
  const isIndex = kind !== undefined || (!MANIFEST_MEDIA_TYPES.some((t) => t === manifest.mediaType) && Array.isArray(manifest.json.manifests));
  const asked = formatPlatform(normalizePlatform(wanted));
  if (!isIndex) return { digest: manifest.digest, note: `a single-platform image, pinned as it is; platform ${asked} not checked` };
  const what = `${kind ?? "image index"} ${manifest.digest}`;
  const entries = indexEntries(manifest.json.manifests, context, what);
  const matches = entries.filter((e) => platformMatches(wanted, e.platform));
  const listed = [...new Set(entries.map((e) => formatPlatform(e.platform)))];
  if (matches.length === 0) {
    const has = listed.length === 0 ? "lists no platforms" : `has ${listed.join(", ")}`;
    throw new RegistryError("PLATFORM_NOT_FOUND", context, `no ${asked} image: its ${what} ${has}`);
  }
  const versions = [...new Set(matches.map((m) => m.platform.osVersion ?? ""))];
  if (versions.length > 1) {
    const choices = matches.map((m) => formatPlatform(m.platform));
    throw new RegistryError("PLATFORM_AMBIGUOUS", context, `several ${asked} images, one per os.version, in its ${what}: ${choices.join(", ")}`, {
      hint: `Name the os.version too, e.g. platform ${choices[0] ?? asked}.`,
    });
  }
  // Entries for the same platform (os.features aside) are picked as containerd picks: the first.
  const [chosen] = matches;
  if (!chosen) throw new Error("unreachable: no match");
  return { digest: chosen.digest, note: `platform ${formatPlatform(chosen.platform)} of ${what}` };
}

interface Entry {
  readonly digest: string;
  readonly platform: Platform;
}

/** The runnable entries of an index: a platform each, attestations left out; a malformed entry is the registry's error. */
function indexEntries(manifests: unknown, context: ErrorContext, what: string): Entry[] {
  if (!Array.isArray(manifests)) throw new RegistryError("PROTOCOL", context, `the ${what} has no "manifests" list`);
  const entries: Entry[] = [];
  for (const raw of manifests) {
    if (typeof raw !== "object" || raw === null) throw new RegistryError("PROTOCOL", context, `the ${what} has an entry that is not an object`);
    const entry = raw as Record<string, unknown>;
    const annotations = entry.annotations as Record<string, unknown> | undefined;
    if (annotations?.["vnd.docker.reference.type"] === ATTESTATION) continue;
    const p = entry.platform as Record<string, unknown> | undefined;
    if (typeof p !== "object" || p === null || typeof p.os !== "string" || typeof p.architecture !== "string") continue; // not for a platform
    if (p.os === "unknown" && p.architecture === "unknown") continue;
    const digest = entry.digest;
    if (typeof digest !== "string" || !SHA256.test(digest)) {
      throw new RegistryError("PROTOCOL", context, `the ${what} names its ${p.os}/${p.architecture} entry by ${JSON.stringify(String(digest)).slice(0, 90)}, not a sha256 digest`);
    }
    const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
    entries.push({ digest, platform: { os: p.os, architecture: p.architecture, variant: str(p.variant), osVersion: str(p["os.version"]) } });
  }
  return entries;
}
