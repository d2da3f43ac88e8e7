// Lookups started before the plan asks for them: the function reads the
// image values ahead of its parse (src/resourcelist/read-ahead.ts) and starts
// their lookups then, so that the registry's round trips pass while the list
// is parsed and walked. The plan then asks as always and gets the lookup
// already under way: one request per unique reference still, never two.
import type { CredentialScope } from "../credentials/pull-secrets.js";
import type { ImageReference } from "../name/reference.js";
import { lookupKey } from "../resolve.js";
import type { DigestSource, Resolved } from "../resolve.js";

interface Lookup {
  readonly ref: ImageReference;
  readonly promise: Promise<string | Resolved>;
  readonly resolve: (found: string | Resolved) => void;
  readonly reject: (error: unknown) => void;
  launched: boolean;
}

export class PrefetchedSource implements DigestSource {
  /** Every lookup started or queued ahead, by lookupKey. */
  private readonly lookups = new Map<string, Lookup>();
  /** Those the plan has asked for (each once). */
  private readonly asked = new Set<string>();
  /** Keys waiting for one of the `concurrency` slots, in the order they go. */
  private readonly queue: string[] = [];
  private running = 0;

  /** `concurrency`: lookups in flight at once, at most (the run's `concurrency` setting). */
  constructor(
    private readonly source: DigestSource,
    private readonly concurrency: number,
  ) {}

  /** Queues the lookups of these references without a pull secret (what a plain run's lookups are). */
  start(refs: Iterable<ImageReference>): void {
    for (const ref of refs) {
      const key = lookupKey(ref);
      if (this.lookups.has(key)) continue;
      let resolve!: Lookup["resolve"];
      let reject!: Lookup["reject"];
      const promise = new Promise<string | Resolved>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // Its outcome, failure included, is the plan's to report; until then it must not count as unhandled.
      promise.catch(() => undefined);
      this.lookups.set(key, { ref, promise, resolve, reject, launched: false });
      this.queue.push(key);
    }
    this.pump();
  }

  resolveDigest(ref: ImageReference, scope?: CredentialScope, signal?: AbortSignal): Promise<string | Resolved> {
    const key = lookupKey(ref);
    const lookup = scope === undefined && signal === undefined && !this.asked.has(key) ? this.lookups.get(key) : undefined;
    if (!lookup) return this.source.resolveDigest(ref, scope, signal);
    // Each lookup started ahead answers once: the plan asks once per unique reference.
    this.asked.add(key);
    if (!lookup.launched) {
      // Still queued: the plan waits for it, so it goes next.
      this.queue.splice(this.queue.indexOf(key), 1);
      this.queue.unshift(key);
      this.pump();
    }
    return lookup.promise;
  }

  /** Lookups started ahead, in all. */
  get count(): number {
    return this.lookups.size;
  }

  /** Lookups started ahead that the run did not ask for (the read-ahead saw an image the walk did not pin). */
  get unused(): number {
    return this.lookups.size - this.asked.size;
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const lookup = this.lookups.get(this.queue.shift()!)!;
      lookup.launched = true;
      this.running++;
      this.source
        .resolveDigest(lookup.ref)
        .then(lookup.resolve, lookup.reject)
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }
}
