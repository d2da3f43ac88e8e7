// Resolving a set of references: each unique (registry, repository, tag)
// once, in parallel with a bound. Repeats cost nothing.
import { repositoryKey, tagOf } from "./name/reference.js";
import type { ImageReference } from "./name/reference.js";

/** Anything that can turn a tag into a digest: the registry client, or a test double. */
export interface DigestSource {
  resolveDigest(ref: ImageReference): Promise<string>;
}

export type Outcome = { readonly digest: string } | { readonly error: unknown };

/** The key under which equal lookups share one request: `nginx` and `docker.io/library/nginx:latest` are one. */
export function lookupKey(ref: ImageReference): string {
  return `${repositoryKey(ref)}:${tagOf(ref)}`;
}

/** Resolves every unique reference with at most `concurrency` in flight; never rejects. */
export async function resolveAll(
  refs: Iterable<ImageReference>,
  source: DigestSource,
  concurrency: number,
): Promise<Map<string, Outcome>> {
  const unique = new Map<string, ImageReference>();
  for (const ref of refs) if (!unique.has(lookupKey(ref))) unique.set(lookupKey(ref), ref);
  const outcomes = new Map<string, Outcome>();
  const queue = [...unique];
  let taken = 0;
  const worker = async (): Promise<void> => {
    for (let next = queue[taken++]; next !== undefined; next = queue[taken++]) {
      const [key, ref] = next;
      try {
        outcomes.set(key, { digest: await source.resolveDigest(ref) });
      } catch (error) {
        outcomes.set(key, { error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, queue.length)) }, worker));
  return outcomes;
}
