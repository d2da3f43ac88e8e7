// When and how long to wait before sending a request again. Only answers
// that say "try later" are retried: 408, 429 and 5xx other than the
// permanent ones, and connection failures that a new connection can fix.
// Exponential backoff with full jitter, or exactly what Retry-After asks,
// bounded in count and in total waiting time.

export interface RetryPolicy {
  /** Retries after the first attempt; 0 disables retrying. */
  readonly retries: number;
  /** Upper bound of the first backoff; doubles with each retry. */
  readonly baseDelayMs: number;
  /** Upper bound of any one backoff (Retry-After is not capped by this, only by budgetMs). */
  readonly maxDelayMs: number;
  /** Total waiting allowed across the retries of one request; a longer Retry-After ends retrying at once. */
  readonly budgetMs: number;
}

export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({
  retries: 3,
  baseDelayMs: 500,
  maxDelayMs: 10_000,
  budgetMs: 60_000,
});

// 501 and 505 say the server will never do this; 511 is a captive portal.
const PERMANENT_5XX = new Set([501, 505, 511]);

export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599 && !PERMANENT_5XX.has(status));
}

/** Full jitter: uniformly random in [0, min(maxDelay, base * 2^retry)). */
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

/** `Retry-After` as delay-seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** Resolves after ms, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(reason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(reason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export function reason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error(String(r));
}
