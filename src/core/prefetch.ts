// Lookups started before the plan asks for them: the function reads the
// image values ahead of its parse (src/resourcelist/read-ahead.ts) and starts
// their lookups then, so that the registry's round trips pass while the list
// is parsed and walked. The plan then asks as always and gets the lookup
// already under way: one request per unique reference still, never two.
import type { CredentialScope } from "../credentials/pull-secrets.js";
import type { ImageReference } from "../name/reference.js";
import { lookupKey } from "../resolve.js";
import type { DigestSource, Resolved } from "../resolve.js";

export class PrefetchedSource implements DigestSource {
  private readonly started = new Map<string, Promise<string | Resolved>>();
  /** Lookups started ahead, in all. */
  count = 0;

  constructor(private readonly source: DigestSource) {}

  /** Starts the lookups of these references without a pull secret (what a plain run's lookups are). */
  start(refs: Iterable<ImageReference>): void {
    for (const ref of refs) {
      const key = lookupKey(ref);
      if (this.started.has(key)) continue;
      const lookup = this.source.resolveDigest(ref);
      // Its outcome, failure included, is the plan's to report; until then it must not count as unhandled.
      lookup.catch(() => undefined);
      this.started.set(key, lookup);
      this.count++;
    }
  }

  resolveDigest(ref: ImageReference, scope?: CredentialScope, signal?: AbortSignal): Promise<string | Resolved> {
    if (scope === undefined && signal === undefined) {
      const key = lookupKey(ref);
      const lookup = this.started.get(key);
      if (lookup) {
        // Each started lookup answers once: the plan asks once per unique reference.
        this.started.delete(key);
        return lookup;
      }
    }
    return this.source.resolveDigest(ref, scope, signal);
  }

  /** Lookups started that the run never asked for (the read-ahead saw an image the walk did not pin). */
  get unused(): number {
    return this.started.size;
  }
}
