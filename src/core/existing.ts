// Digests already written in a field (the `existingDigests` setting): keep
// them unlooked-at (the default), verify them, or refresh them from the tag.
import type { ImageReference } from "../name/reference.js";
import { RegistryError } from "../registry/errors.js";

export const EXISTING_DIGEST_MODES = ["keep", "verify", "refresh"] as const;
export type ExistingDigestMode = (typeof EXISTING_DIGEST_MODES)[number];

/**
 * What to ask the registry about a reference that carries a digest: its tag
 * (shared with plain `repo:tag` fields: one request per unique reference),
 * or, with no tag, the digest itself (HEAD …/manifests/<digest>), or nothing.
 */
export function existingLookup(ref: ImageReference, mode: ExistingDigestMode): ImageReference | undefined {
  if (mode === "keep" || ref.digest === undefined) return undefined;
  if (ref.tag !== undefined) return { ...ref, digest: undefined };
  // Nothing to refresh without a tag; verify asks for the manifest by digest.
  return mode === "verify" ? { ...ref, tag: ref.digest, digest: undefined } : undefined;
}

/**
 * The digest a lookup checks, when it is a digest check (existingLookup's
 * `repo@digest` asked as `manifests/<digest>`), else undefined. A digest never
 * changes: a check that found it is true for good, and caches keep it without
 * a TTL, while a tag's lookup keeps its TTL.
 */
export function digestCheckOf(lookup: ImageReference): string | undefined {
  // A tag cannot hold ":"; existingLookup puts the digest where the tag goes.
  return lookup.digest === undefined && lookup.tag?.includes(":") ? lookup.tag : undefined;
}

export type ExistingVerdict =
  | { readonly severity: "info" | "error"; readonly message: string; readonly cause?: string }
  | { readonly severity: "info"; readonly message: string; readonly refreshed: string };

/** The result for a field whose digest `written` was checked; `now` is what the registry said (tag's digest, or the digest's own). */
export function existingVerdict(ref: ImageReference, written: string, mode: "verify" | "refresh", now: { digest: string } | { error: unknown }): ExistingVerdict | undefined {
  const image = ref.original;
  if ("error" in now) {
    const error = now.error;
    if (error instanceof RegistryError && error.code === "TAG_NOT_FOUND") {
      const message =
        ref.tag === undefined
          ? `digest ${written} of ${image} is not in repository ${ref.registry}/${ref.repository}; pin it again from a tag`
          : `tag ${ref.tag} of ${image} no longer exists in ${ref.registry}/${ref.repository} (the field holds ${written}); fix the tag, or drop it and keep the digest`;
      return { severity: "error", message, cause: "DIGEST_NOT_FOUND" };
    }
    return undefined; // the caller reports the lookup failure as for any image
  }
  if (now.digest === written) {
    const what = ref.tag === undefined ? "the digest exists in the repository" : `tag ${ref.tag} still points at ${written}`;
    return { severity: "info", message: `${mode === "verify" ? "verified" : "kept"} ${image}: ${what}` };
  }
  if (mode === "refresh") return { severity: "info", message: `refreshed ${image}: tag ${ref.tag ?? ""} moved from ${written} to ${now.digest}`, refreshed: now.digest };
  return {
    severity: "error",
    message: `${image} is stale: tag ${ref.tag ?? ""} now points at ${now.digest}, not at the digest written (${written}); pin it again, or set existingDigests: refresh`,
    cause: "DIGEST_STALE",
  };
}
