// One tag -> digest cache for a long-running front end (the webhook), in
// front of the registry stack: answers are kept for a TTL, failures for a
// short negative TTL, a digest check that found its digest without limit (a
// digest never changes), at most `maxEntries` (least recently used go first);
// concurrent identical lookups share one registry request. The key is
// lookupKey(ref, scope): the credential scope is part of it, so a digest
// found with one namespace's pull secret never answers another's lookup.
import { setMaxListeners } from "node:events";
import type { CredentialScope } from "../credentials/pull-secrets.js";
import { tagOf } from "../name/reference.js";
import type { ImageReference } from "../name/reference.js";
import { RegistryError } from "../registry/errors.js";
import { lookupKey } from "../resolve.js";
import type { DigestSource, Resolved } from "../resolve.js";
import { digestCheckOf } from "./existing.js";

export interface CacheOptions {
  /** How long a digest is reused, in ms (a tag can move: keep it short). */
  readonly ttlMs: number;
  /** How long a failure (tag not found, unauthorized, unreachable) is reused, in ms. */
  readonly negativeTtlMs: number;
  readonly maxEntries: number;
  readonly now?: () => number;
  /** The platform the source pins (`--platform`, formatted), part of every tag lookup's key. */
  readonly platform?: string | undefined;
}

/** What the cache saw, for metrics. */
export interface CacheEvents {
  /** "hit": answered from the cache; "miss": a registry lookup started; "coalesced": joined one in flight. */
  lookup?(result: "hit" | "miss" | "coalesced"): void;
  /** A registry lookup ended: "ok" or the RegistryError code. */
  resolved?(registry: string, outcome: string): void;
}

type Entry = { readonly expires: number; readonly value: Resolved } | { readonly expires: number; readonly error: unknown };

interface Flight {
  readonly promise: Promise<Resolved>;
  readonly controller: AbortController;
  waiters: number;
}

export class DigestCache implements DigestSource {
  private readonly entries = new Map<string, Entry>();
  private readonly flights = new Map<string, Flight>();
  private readonly now: () => number;

  constructor(
    private readonly inner: DigestSource,
    private readonly options: CacheOptions,
    private readonly events: CacheEvents = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Answers and failures remembered. */
  get size(): number {
    return this.entries.size;
  }

  /** Registry lookups in flight. */
  get pending(): number {
    return this.flights.size;
  }

  resolveDigest(ref: ImageReference, scope?: CredentialScope, signal?: AbortSignal): Promise<Resolved> {
    const platform = this.options.platform;
    // A digest check is the same for every platform; a tag's answer is not.
    const key = platform === undefined || digestCheckOf(ref) !== undefined ? lookupKey(ref, scope) : `${lookupKey(ref, scope)} platform=${platform}`;
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      if (entry.expires > this.now()) {
        // Least recently used first: a hit moves the key to the end.
        this.entries.delete(key);
        this.entries.set(key, entry);
        this.events.lookup?.("hit");
        return "value" in entry ? Promise.resolve(entry.value) : Promise.reject(asRejection(entry.error));
      }
      this.entries.delete(key);
    }
    let flight = this.flights.get(key);
    if (flight) this.events.lookup?.("coalesced");
    else {
      this.events.lookup?.("miss");
      flight = this.start(key, ref, scope);
    }
    return this.wait(key, flight, ref, signal);
  }

  private start(key: string, ref: ImageReference, scope: CredentialScope | undefined): Flight {
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    const promise = Promise.resolve()
      .then(() => this.inner.resolveDigest(ref, scope, controller.signal))
      .then(
        (found) => {
          const value = typeof found === "string" ? { digest: found } : found;
          this.events.resolved?.(ref.registry, "ok");
          const checked = digestCheckOf(ref);
          this.store(key, { expires: checked !== undefined && checked === value.digest ? Infinity : this.now() + this.options.ttlMs, value });
          return value;
        },
        (error: unknown) => {
          // A lookup everyone gave up on says nothing about the registry: not remembered.
          if (!controller.signal.aborted) {
            this.events.resolved?.(ref.registry, error instanceof RegistryError ? error.code : "ERROR");
            this.store(key, { expires: this.now() + this.options.negativeTtlMs, error });
          }
          throw error;
        },
      )
      .finally(() => {
        if (this.flights.get(key) === flight) this.flights.delete(key);
      });
    // Waiters handle the outcome; the flight itself must not count as unhandled.
    promise.catch(() => undefined);
    const flight: Flight = { promise, controller, waiters: 0 };
    this.flights.set(key, flight);
    return flight;
  }

  /** One caller's share of a flight: it may leave early (its deadline); the last one to leave cancels the lookup. */
  private wait(key: string, flight: Flight, ref: ImageReference, signal: AbortSignal | undefined): Promise<Resolved> {
    flight.waiters++;
    return new Promise<Resolved>((resolve, reject) => {
      let done = false;
      const leave = (): void => {
        if (done) return;
        done = true;
        signal?.removeEventListener("abort", onAbort);
        if (--flight.waiters === 0 && this.flights.get(key) === flight && signal?.aborted) {
          this.flights.delete(key);
          flight.controller.abort(signal.reason);
        }
      };
      const onAbort = (): void => {
        leave();
        reject(deadlineError(ref, signal?.reason));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      flight.promise.then(
        (value) => {
          leave();
          resolve(value);
        },
        (error: unknown) => {
          leave();
          reject(asRejection(error));
        },
      );
    });
  }

  private store(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }
}

/** The caller's deadline passed while the registry had not answered. */
function deadlineError(ref: ImageReference, reason: unknown): RegistryError {
  const why = reason instanceof Error && reason.message ? reason.message : "the deadline passed";
  return new RegistryError("TIMEOUT", { registry: ref.registry, repository: ref.repository, tag: tagOf(ref), image: ref.original }, why, {
    hint: "Check that the registry is reachable from the webhook and answers quickly; the webhook answers before the API server's timeout (timeoutSeconds).",
  });
}

function asRejection(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
