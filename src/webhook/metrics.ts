// The webhook's Prometheus metrics (prom-client), every series named
// krm_digester_…: reviews, their latency, the cache, registry lookups and
// why resolutions failed. One registry per server, so tests can run several.
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { CacheEvents } from "../core/cache.js";
import type { RequestStats } from "../core/registry-stack.js";
import type { ReviewSummary } from "./handler.js";

export class WebhookMetrics {
  readonly registry = new Registry();
  private readonly reviews: Counter<"kind" | "operation" | "outcome">;
  private readonly latency: Histogram<"outcome">;
  private readonly cacheHits: Counter;
  private readonly cacheMisses: Counter;
  private readonly coalesced: Counter;
  private readonly lookups: Counter<"registry" | "outcome">;
  private readonly errors: Counter<"cause">;
  private readonly badRequests: Counter<"reason">;

  /** `requests`: the registry stack's HTTP counters, read at scrape time. */
  constructor(requests?: () => RequestStats) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "krm_digester_" });
    this.reviews = new Counter({
      name: "krm_digester_reviews_total",
      help: "Admission reviews answered, by object kind, operation and outcome",
      labelNames: ["kind", "operation", "outcome"],
      registers,
    });
    this.latency = new Histogram({
      name: "krm_digester_review_duration_seconds",
      help: "Time from the review's body read to its answer written",
      labelNames: ["outcome"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.cacheHits = new Counter({ name: "krm_digester_cache_hits_total", help: "Tag lookups answered from the cache", registers });
    this.cacheMisses = new Counter({ name: "krm_digester_cache_misses_total", help: "Tag lookups that went to the registry", registers });
    this.coalesced = new Counter({
      name: "krm_digester_cache_coalesced_total",
      help: "Tag lookups that joined an identical one already in flight (no request of their own)",
      registers,
    });
    this.lookups = new Counter({
      name: "krm_digester_registry_lookups_total",
      help: "Tag lookups sent to registries, by registry and outcome (ok or the error code)",
      labelNames: ["registry", "outcome"],
      registers,
    });
    this.errors = new Counter({
      name: "krm_digester_resolution_errors_total",
      help: "Image fields that could not be pinned, by cause",
      labelNames: ["cause"],
      registers,
    });
    this.badRequests = new Counter({
      name: "krm_digester_bad_requests_total",
      help: "Requests to the webhook port answered with a 4xx, by reason",
      labelNames: ["reason"],
      registers,
    });
    if (requests) {
      const http = new Counter({
        name: "krm_digester_registry_requests_total",
        help: "HTTP requests sent to registries, by kind (head, get, token, ping, tags, retries)",
        labelNames: ["kind"],
        registers,
        collect() {
          http.reset();
          for (const [kind, n] of Object.entries(requests())) http.inc({ kind }, n);
        },
      });
    }
  }

  /** Hooks for the cache. */
  get cacheEvents(): CacheEvents {
    return {
      lookup: (result) => (result === "hit" ? this.cacheHits : result === "miss" ? this.cacheMisses : this.coalesced).inc(),
      resolved: (registry, outcome) => this.lookups.inc({ registry, outcome }),
    };
  }

  review(summary: ReviewSummary, seconds: number): void {
    this.reviews.inc({ kind: summary.kind, operation: summary.operation, outcome: summary.outcome });
    this.latency.observe({ outcome: summary.outcome }, seconds);
    for (const f of summary.failures) this.errors.inc({ cause: f.cause });
  }

  badRequest(reason: string): void {
    this.badRequests.inc({ reason });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
