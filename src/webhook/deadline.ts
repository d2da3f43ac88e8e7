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

export class Deadlines {
  /** By reason and deadline slot; an entry leaves when its timer fires. */
  private readonly shared = new Map<string, AbortController>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /**
   * A signal that aborts, with `reason()`, `budgetMs` from now (or up to
   * GRAIN_MS sooner). `kind` keys the reason: reviews share a signal only
   * when their reasons read the same.
   */
  signal(budgetMs: number, kind: string, reason: () => Error): AbortSignal {
    const now = this.now();
    // Not cleared when the review ends (unref'd, it fires soon and aborts what nobody listens to any more).
    if (budgetMs < SHARED_MIN_MS) return this.open(Math.max(0, budgetMs), reason).signal;
    const slot = Math.floor((now + budgetMs) / GRAIN_MS);
    const key = `${kind} ${slot}`;
    let controller = this.shared.get(key);
    if (!controller) {
      controller = this.open(slot * GRAIN_MS - now, reason, () => this.shared.delete(key));
      this.shared.set(key, controller);
    }
    return controller.signal;
  }

  private open(ms: number, reason: () => Error, fired?: () => void): AbortController {
    const controller = new AbortController();
    // Every lookup of every review sharing it listens for the deadline: many, by design.
    setMaxListeners(0, controller.signal);
    const timer = setTimeout(() => {
      fired?.();
      controller.abort(reason());
    }, ms);
    // A deadline never keeps the process alive: the review's own work (a socket, a lookup) does while it runs.
    timer.unref();
    return controller;
  }
}
