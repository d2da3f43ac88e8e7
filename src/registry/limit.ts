// At most `limit` requests in flight per key (a registry host), in arrival
// order. Waiting ends early when the signal aborts (the run deadline), so a
// queue behind a stalled registry cannot outlive the run.
import { reason } from "./retry.js";

interface Waiter {
  readonly grant: () => void;
}

export class KeyedLimiter {
  private readonly activeCounts = new Map<string, number>();
  private readonly queues = new Map<string, Waiter[]>();
  private readonly peaks = new Map<string, number>();
  private readonly limitOf: (key: string) => number;

  /**
   * `limit` may differ per key and change over time (a host found to speak HTTP/2 takes more at once).
   * `onActive` hears every change of a key's requests in flight.
   */
  constructor(
    limit: number | ((key: string) => number),
    private readonly onActive?: (key: string, active: number) => void,
  ) {
    if (typeof limit === "number") {
      if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
      this.limitOf = () => limit;
    } else this.limitOf = limit;
  }

  /** Requests in flight for this key now. */
  active(key: string): number {
    return this.activeCounts.get(key) ?? 0;
  }

  /** The most requests that were in flight at once for this key. */
  peak(key: string): number {
    return this.peaks.get(key) ?? 0;
  }

  /** Waits for a slot; call the returned function exactly once to give it back. */
  acquire(key: string, signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(reason(signal));
    const release = this.releaser(key);
    const inUse = this.activeCounts.get(key) ?? 0;
    if (inUse < this.limitOf(key)) {
      this.take(key, inUse + 1);
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(key) ?? [];
      this.queues.set(key, queue);
      const onAbort = (): void => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        reject(reason(signal));
      };
      const waiter: Waiter = {
        grant: () => {
          signal.removeEventListener("abort", onAbort);
          resolve(release);
        },
      };
      queue.push(waiter);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  private take(key: string, inUse: number): void {
    this.activeCounts.set(key, inUse);
    if (inUse > this.peak(key)) this.peaks.set(key, inUse);
    this.onActive?.(key, inUse);
  }

  private releaser(key: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const queue = this.queues.get(key);
      const n = (this.activeCounts.get(key) ?? 1) - 1;
      if (n > 0) this.activeCounts.set(key, n);
      else this.activeCounts.delete(key);
      this.onActive?.(key, n);
      // Hand out every slot the limit now allows: after the limit grew, more than the one freed.
      while (queue && queue.length > 0 && (this.activeCounts.get(key) ?? 0) < this.limitOf(key)) {
        this.take(key, (this.activeCounts.get(key) ?? 0) + 1);
        queue.shift()?.grant();
      }
      if (queue?.length === 0) this.queues.delete(key);
    };
  }
}
