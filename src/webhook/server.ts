// The webhook's HTTPS server: POST /v1/mutate only, TLS only, the serving
// certificate reloaded from --cert-dir without a restart or a dropped
// request, the API server's `?timeout=` honoured (the answer goes out before
// it, lookups still open are cancelled), bodies bounded, every bad request a
// 4xx that leaves the server as it was, one JSON log line per review, and a
// shutdown in two steps: unready (still serving, each answer closing its
// connection) while the Service's endpoints catch up, then closed once the
// reviews in flight have their answers.
import { createServer } from "node:https";
import type { Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { BadReview, parseReview, reviewResponse } from "./admission.js";
import type { AdmissionRequest } from "./admission.js";
import { CertFiles } from "./cert-files.js";
import { Deadlines } from "./deadline.js";
import type { HandledReview } from "./handler.js";
import type { WebhookMetrics } from "./metrics.js";

export const MUTATE_PATH = "/v1/mutate";
/** The API server's default timeoutSeconds, used when a request names none. */
const DEFAULT_TIMEOUT_MS = 10_000;
/** Objects are at most ~1.5 MiB in etcd; a review holds object and oldObject. */
export const DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024;
/** Request targets remembered parsed (the API server uses one per webhook configuration). */
const MAX_TARGETS = 64;

export type Log = (line: Record<string, unknown>) => void;

export interface WebhookServerOptions {
  readonly host?: string | undefined;
  readonly port: number;
  readonly certDir: string;
  readonly handle: (request: AdmissionRequest, signal: AbortSignal) => Promise<HandledReview>;
  readonly metrics: WebhookMetrics;
  readonly log: Log;
  readonly maxBodyBytes?: number;
  /** How often --cert-dir is checked for new files; default 2 s. */
  readonly certPollMs?: number;
  /** dry-run: the log line says what would have been pinned. */
  readonly dryRun?: boolean;
  /** Longest wait for in-flight reviews on shutdown before connections are cut; default 30 s. */
  readonly drainTimeoutMs?: number;
}

export class WebhookServer {
  private readonly server: Server;
  private readonly certs: CertFiles;
  private inFlight = 0;
  /** Unready: /readyz fails, reviews are still answered, each on a connection that then closes. */
  private leaving = false;
  private drained: (() => void) | undefined;
  private readonly deadlines = new Deadlines();
  /** What each request target says (path, timeout): the API server sends the same one every time. */
  private readonly targets = new Map<string, { pathname: string; timeoutMs: number }>();

  constructor(private readonly options: WebhookServerOptions) {
    // Started without a certificate; listen() waits for the first one from --cert-dir.
    this.server = createServer({ minVersion: "TLSv1.2" }, (req, res) => void this.onRequest(req, res));
    // The body is read under our own limits; these bound a client that sends nothing.
    this.server.headersTimeout = 30_000;
    this.server.requestTimeout = 60_000;
    this.server.keepAliveTimeout = 65_000;
    this.certs = new CertFiles(options.certDir, (pair) => this.server.setSecureContext(pair), options.log, options.certPollMs);
  }

  /** The certificate is loaded and the server is not shutting down. */
  get ready(): boolean {
    return this.certs.loaded && !this.leaving;
  }

  /**
   * The first step of a shutdown: /readyz fails, so the endpoint leaves the
   * Service, but reviews that still arrive are answered (the API server and
   * kube-proxy learn of the change a few seconds late). Each answer closes its
   * connection, so a client's next request makes a new one, to a replica that stays.
   */
  unready(): void {
    this.leaving = true;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get activeReviews(): number {
    return this.inFlight;
  }

  async listen(): Promise<void> {
    await this.certs.start();
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
  }

  /** Stops taking connections, lets every review in flight finish (up to drainTimeoutMs), then closes. */
  async close(): Promise<void> {
    this.leaving = true;
    this.certs.stop();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (this.inFlight > 0) {
      const limit = this.options.drainTimeoutMs ?? 30_000;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, limit);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.server.closeAllConnections();
    await closed;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    if (this.leaving) res.setHeader("connection", "close");
    const target = this.target(req.url ?? "/");
    if (target.pathname !== MUTATE_PATH) return this.reject(req, res, 404, "not-found", `no such path ${target.pathname}; reviews go to POST ${MUTATE_PATH}`);
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      return this.reject(req, res, 405, "method", `${req.method ?? ""} is not allowed; reviews go to POST ${MUTATE_PATH}`);
    }
    const type = req.headers["content-type"];
    if (type !== undefined && !/^application\/json\b/i.test(type)) {
      return this.reject(req, res, 415, "content-type", `content-type must be application/json, got ${type}`);
    }
    const timeoutMs = target.timeoutMs;
    // Answer in time: the last part of the API server's wait is for our answer to travel.
    const budgetMs = timeoutMs - Math.min(1000, Math.max(50, timeoutMs * 0.1));
    const deadline = this.deadlines.deadline(budgetMs - (performance.now() - started), String(timeoutMs), () => new Error(`the API server's timeout (${timeoutMs} ms) was about to pass`));
    this.inFlight++;
    try {
      const body = await this.readBody(req, res);
      if (body === undefined) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString("utf8"));
      } catch (error) {
        return this.reject(req, res, 400, "not-json", `the body is not JSON: ${error instanceof Error ? error.message : String(error)}`);
      }
      let review;
      try {
        review = parseReview(parsed);
      } catch (error) {
        if (!(error instanceof BadReview)) throw error;
        return this.reject(req, res, 400, "not-a-review", error.message);
      }
      const handled = await this.options.handle(review.request, deadline.signal);
      const text = JSON.stringify(reviewResponse(review.apiVersion, handled.response));
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
      const seconds = (performance.now() - started) / 1000;
      this.options.metrics.review(handled.summary, seconds);
      const s = handled.summary;
      const line: Record<string, unknown> = {
        level: s.outcome === "denied" ? "warn" : "info",
        msg: "review",
        uid: s.uid,
        kind: s.kind,
        operation: s.operation,
        namespace: s.namespace,
        name: s.name,
        outcome: s.outcome,
      };
      if (s.reason) line.reason = s.reason;
      line[this.options.dryRun ? "wouldPin" : "pinned"] = s.pinned.map((p) => p.image);
      if (s.failures.length > 0) line.failures = s.failures;
      line.ms = Math.round(seconds * 10_000) / 10;
      this.options.log(line);
    } catch (error) {
      // A bug, not the client's fault: 500, logged, and the server goes on.
      this.options.log({ level: "error", msg: "review failed", error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end("internal error; see the webhook's log\n");
      }
    } finally {
      deadline.done();
      if (--this.inFlight === 0) this.drained?.();
    }
  }

  private target(raw: string): { pathname: string; timeoutMs: number } {
    let target = this.targets.get(raw);
    if (target === undefined) {
      const url = new URL(raw, "https://webhook");
      target = { pathname: url.pathname, timeoutMs: parseTimeout(url.searchParams.get("timeout")) ?? DEFAULT_TIMEOUT_MS };
      // Bounded: anyone can send any target; past the bound, each is parsed anew.
      if (this.targets.size < MAX_TARGETS) this.targets.set(raw, target);
    }
    return target;
  }

  /** The body, or undefined when a 413 went out instead. */
  private async readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> {
    const limit = this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const declared = Number(req.headers["content-length"]);
    const tooLarge = (): undefined => {
      res.setHeader("connection", "close");
      this.reject(req, res, 413, "too-large", `the body is larger than ${limit} bytes`);
      // The rest is not read: the connection ends after the answer.
      res.once("finish", () => req.destroy());
      return undefined;
    };
    if (Number.isFinite(declared) && declared > limit) return tooLarge();
    // Events, not async iteration: leaving a for-await destroys the socket before the 413 is written.
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer): void => {
        size += chunk.length;
        if (size <= limit) return void chunks.push(chunk);
        req.off("data", onData);
        req.off("end", onEnd);
        req.pause();
        resolve(tooLarge());
      };
      // A review usually arrives in one chunk (one TLS record): no copy then.
      const onEnd = (): void => resolve(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks));
      req.on("data", onData);
      req.on("end", onEnd);
      req.once("error", reject);
    });
  }

  private reject(req: IncomingMessage, res: ServerResponse, status: number, reason: string, message: string): void {
    this.options.metrics.badRequest(reason);
    this.options.log({ level: "warn", msg: "bad request", status, reason, detail: message, method: req.method, path: req.url });
    const text = `${message}\n`;
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text) });
    res.end(text);
  }
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration as the API server writes it (`10s`, `1m30s`, `500ms`), in ms; undefined when absent or unreadable. */
export function parseTimeout(value: string | null): number | undefined {
  if (value === null || !/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) return undefined;
  let ms = 0;
  for (const m of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? "s"] ?? 1000);
  return ms > 0 ? ms : undefined;
}
