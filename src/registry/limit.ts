// At most `limit` requests in flight per key (a registry host), in arrival
// order. Waiting ends early when the signal aborts (the run deadline), so a
// queue behind a stalled registry cannot outlive the run.
import { reason } from "./retry.js";

interface Waiter {
  readonly grant: () => void;
}

export class KeyedLimiter {
  private readonly active = new Map<string, number>();
  private readonly queues = new Map<string, Waiter[]>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }

  /** Waits for a slot; call the returned function exactly once to give it back. */
  acquire(key: string, signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(reason(signal));
    const release = this.releaser(key);
    const inUse = this.active.get(key) ?? 0;
    if (inUse < this.limit) {
      this.active.set(key, inUse + 1);
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

  private releaser(key: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queues.get(key)?.shift();
      // The slot passes straight to the next waiter: the count stays as it is.
      if (next) next.grant();
      else {
        const n = (this.active.get(key) ?? 1) - 1;
        if (n > 0) this.active.set(key, n);
        else this.active.delete(key);
        this.queues.delete(key);
      }
    };
  }
}
