// How a pinned reference is written (the `format` setting). Pure: a parsed
// reference and a digest in, the text for the image field out.
import { DEFAULT_TAG } from "./reference.js";
import type { ImageReference } from "./reference.js";

export const IMAGE_FORMATS = ["tag-and-digest", "digest-only", "canonical"] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];
export const DEFAULT_FORMAT: ImageFormat = "tag-and-digest";

/**
 * - `tag-and-digest`: `repo:tag@sha256:…`, the reference as written with the digest (skaffold, k8s-digester);
 * - `digest-only`: `repo@sha256:…`, the name as written without its tag (gke-deploy, kustomize's images transformer);
 * - `canonical`: `docker.io/library/nginx:1.27@sha256:…`, registry, full repository and tag (`latest` when
 *   none was written, as that is the tag resolved), as kbld and Kyverno write.
 */
export function formatPinned(ref: ImageReference, digest: string, format: ImageFormat = DEFAULT_FORMAT): string {
  switch (format) {
    case "tag-and-digest":
      return `${withoutDigest(ref.original)}@${digest}`;
    case "digest-only":
      return `${nameAsWritten(ref)}@${digest}`;
    case "canonical":
      return `${canonicalName(ref)}@${digest}`;
  }
}

/** `docker.io/library/nginx:1.27` for `nginx:1.27`: registry, repository and tag (`latest` when omitted), no digest. */
export function canonicalName(ref: Pick<ImageReference, "registry" | "repository" | "tag">): string {
  return `${ref.registry}/${ref.repository}:${ref.tag ?? DEFAULT_TAG}`;
}

/** The name part as the user wrote it: `nginx` for `nginx:1.27@sha256:…`. */
export function nameAsWritten(ref: Pick<ImageReference, "original" | "tag">): string {
  const name = withoutDigest(ref.original);
  return ref.tag === undefined ? name : name.slice(0, name.length - ref.tag.length - 1);
}

function withoutDigest(original: string): string {
  const at = original.indexOf("@");
  return at < 0 ? original : original.slice(0, at);
}
