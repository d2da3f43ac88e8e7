// Resolving a set of references: each unique (registry, repository, tag)
// once, in parallel with a bound. Repeats cost nothing.
import { repositoryKey, tagOf } from "./name/reference.js";
import type { ImageReference } from "./name/reference.js";
import type { CredentialScope } from "./credentials/pull-secrets.js";

/** Anything that can turn a tag into a digest: the registry client, or a test double. */
export interface DigestSource {
  /**
   * `scope`: the pull secret that applies to this image of this workload, if any.
   * `signal`: the caller gave up (an admission deadline); requests of this lookup end.
   */
  resolveDigest(ref: ImageReference, scope?: CredentialScope, signal?: AbortSignal): Promise<string | Resolved>;
  /**
   * A warning about a reference before it is looked up (another tool's placeholder,
   * src/sources/mode-source.ts); `leave`: the field is left alone, without a lookup.
   */
  notice?(ref: ImageReference): Notice | undefined;
}

export interface Notice {
  readonly message: string;
  readonly leave: boolean;
}

/** A digest, and what to say about how it was found (e.g. which registry mirror answered). */
export interface Resolved {
  readonly digest: string;
  readonly note?: string | undefined;
  /** The field's new value when it is not `original@digest` (a build artifact's placeholder becomes the artifact's tag). */
  readonly value?: string | undefined;
}

/** One image to resolve, with the pull-secret credential its workload would use. */
export interface Lookup {
  readonly ref: ImageReference;
  readonly scope?: CredentialScope | undefined;
}

export type Outcome = Resolved | { readonly error: unknown };

/**
 * The key under which equal lookups share one request: `nginx` and
 * `docker.io/library/nginx:latest` are one, as long as the same credential
 * (pull secret entry, or none) applies.
 */
export function lookupKey(ref: ImageReference, scope?: CredentialScope): string {
  const key = `${repositoryKey(ref)}:${tagOf(ref)}`;
  return scope ? `${key} ${scope.id}` : key;
}

/** Resolves every unique reference with at most `concurrency` in flight; never rejects. */
export async function resolveAll(
  lookups: Iterable<Lookup>,
  source: DigestSource,
  concurrency: number,
  signal?: AbortSignal,
): Promise<Map<string, Outcome>> {
  const unique = new Map<string, Lookup>();
  for (const lookup of lookups) {
    const key = lookupKey(lookup.ref, lookup.scope);
    if (!unique.has(key)) unique.set(key, lookup);
  }
  const outcomes = new Map<string, Outcome>();
  const queue = [...unique];
  let taken = 0;
  const worker = async (): Promise<void> => {
    for (let next = queue[taken++]; next !== undefined; next = queue[taken++]) {
      const [key, { ref, scope }] = next;
      try {
        const found = await source.resolveDigest(ref, scope, signal);
        outcomes.set(key, typeof found === "string" ? { digest: found } : found);
      } catch (error) {
        outcomes.set(key, { error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, queue.length)) }, worker));
  return outcomes;
}
