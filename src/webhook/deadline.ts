// Review deadlines, shared: reviews whose deadlines fall in the same few
// milliseconds share one AbortSignal and one timer. Making an AbortSignal
// costs ~7 µs on Node 20 (EventTarget set-up), more than a warm review's
// JSON.parse; with a timer per review besides, a twentieth of a warm review
// went to deadlines that almost never fire. A signal shared by reviews that
// arrived together fires at most GRAIN_MS before each one's own deadline:
// well inside the 50-1000 ms margin the server keeps before the API server's
// timeout. Budgets too short for that get a signal of their own.
import { setMaxListeners } from "node:events";

/** Deadlines this close together share a signal (it fires at the earliest of them). */
export const GRAIN_MS = 10;
/** Budgets shorter than this get an exact signal of their own. */
const SHARED_MIN_MS = 20 * GRAIN_MS;
/**
 * Nor longer ones (the API server waits 30 s at most): a shared timer stays
 * set until it fires, and `?timeout=1000h` must not keep one for days.
 */
const SHARED_MAX_MS = 60_000;
/** Shared signals pending at most; past this, reviews get their own (cleared when they end). */
export const MAX_SHARED = 10_000;

export interface Deadline {
  readonly signal: AbortSignal;
  /** The review has its answer: a signal of its own is cleared (a shared one fires on its own time). */
  done(): void;
}

const NOTHING = (): void => undefined;

export class Deadlines {
  /** By reason and deadline slot; an entry leaves when its timer fires. */
  private readonly shared = new Map<string, AbortController>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Shared signals waiting to fire. */
  get pending(): number {
    return this.shared.size;
  }

  /**
   * A signal that aborts, with `reason()`, `budgetMs` from now (or up to
   * GRAIN_MS sooner). `kind` keys the reason: reviews share a signal only
   * when their reasons read the same.
   */
  deadline(budgetMs: number, kind: string, reason: () => Error): Deadline {
    if (budgetMs < SHARED_MIN_MS || budgetMs > SHARED_MAX_MS || this.shared.size >= MAX_SHARED) {
      const { controller, timer } = this.open(Math.max(0, budgetMs), reason);
      return { signal: controller.signal, done: () => clearTimeout(timer) };
    }
    const now = this.now();
    const slot = Math.floor((now + budgetMs) / GRAIN_MS);
    const key = `${kind} ${slot}`;
    let controller = this.shared.get(key);
    if (!controller) {
      controller = this.open(slot * GRAIN_MS - now, reason, () => this.shared.delete(key)).controller;
      this.shared.set(key, controller);
    }
    return { signal: controller.signal, done: NOTHING };
  }

  private open(ms: number, reason: () => Error, fired?: () => void): { controller: AbortController; timer: NodeJS.Timeout } {
    const controller = new AbortController();
    // Every lookup of every review sharing it listens for the deadline: many, by design.
    setMaxListeners(0, controller.signal);
    const timer = setTimeout(() => {
      fired?.();
      controller.abort(reason());
    }, ms);
    // A deadline never keeps the process alive: the review's own work (a socket, a lookup) does while it runs.
    timer.unref();
    return { controller, timer };
  }
}
