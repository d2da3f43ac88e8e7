// HTTP for one registry client: bounded retries of transient failures,
// a deadline per attempt, the per-registry concurrency slot, manual redirects
// (credentials never follow one to another origin, HTTPS never silently
// becomes HTTP), and the scheme choice per registry. Pools, trust, proxies,
// limits and the run's deadline come from the shared Network.
// Types only: the code is loaded through ./undici.js (see there).
import type { Dispatcher } from "undici";
import { apiHost, isLoopback, plainHttpAllowed, probeOrigins } from "../name/reference.js";
import { RegistryError, fromNetworkError } from "./errors.js";
import type { ErrorContext, NetworkSituation, ResponseExtra } from "./errors.js";
import type { Network } from "./network.js";
import { proxyFor } from "./proxy.js";
import type { Proxy } from "./proxy.js";
import { backoffMs, parseRetryAfter, retryableStatus, sleep } from "./retry.js";
import { quoteShort } from "./text.js";

export type RequestKind = "head" | "get" | "token" | "ping" | "tags";

export interface Stats {
  /** Manifest HEADs. */
  head: number;
  /** Manifest GETs (Docker Hub counts these as pulls). */
  get: number;
  /** Token requests (GET or POST to a realm). */
  token: number;
  /** `GET /v2/` probes, one per registry per run. */
  ping: number;
  /** Tag-list requests, only made after a manifest 404 to tell a missing repository from a missing tag. */
  tags: number;
  /** Requests sent again after a transient failure (each is also counted under its kind). */
  retries: number;
}

export interface TransportOptions {
  readonly network: Network;
  /** Cleans what the other side sends back in error bodies and challenges of the secrets sent to it. */
  readonly redact?: (text: string) => string;
  readonly insecureRegistries?: readonly string[] | undefined;
  readonly userAgent: string;
}

export interface HttpRequest {
  readonly method: "GET" | "HEAD" | "POST";
  readonly kind: RequestKind;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Largest successful body accepted; default 4 MiB (the OCI manifest limit registries apply). */
  readonly maxBodyBytes?: number;
  /** Names the peer in errors when it is not the registry, e.g. "token service auth.docker.io". */
  readonly subject?: string;
  /** Ends the request early (the losing side of a probe race); never retried after. */
  readonly signal?: AbortSignal | undefined;
  /** false: one attempt only (a guess such as plain HTTP beside HTTPS is not worth retrying). */
  readonly retry?: boolean;
}

export type Headers = Readonly<Record<string, string | string[] | undefined>>;

export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  /** Empty for HEAD; error bodies are cut at 64 KiB. */
  readonly body: Buffer;
  /** Where the answer came from after redirects. */
  readonly url: URL;
  /** How often the request was sent again before this answer. */
  readonly retries: number;
  /** The proxy the answer came through (scheme://host:port), if any. */
  readonly proxy: string | undefined;
}

/** A registry's base URL as found by probing `/v2/`, with the challenge it answered. */
export interface Endpoint {
  /** "https://host:port" or, for loopback and insecure registries, possibly "http://host:port". */
  readonly origin: string;
  readonly status: number;
  readonly wwwAuthenticate: string | string[] | undefined;
}

/** Redirects followed within one attempt (Go's client follows 10, curl 50; registries use one, to storage). */
export const MAX_REDIRECTS = 5;
/** The OCI manifest limit registries apply (distribution, containerd's 4 MiB read limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Error bodies are read this far and cut: only their first error code and message are used. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

const WHAT: Readonly<Record<RequestKind, string>> = { head: "manifest", get: "manifest", token: "token response", ping: "/v2/ answer", tags: "tag list" };

function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;
}

export function header(headers: Headers, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** What an error built from this answer should say besides status and body. */
export function responseExtra(res: HttpResponse, subject?: string): ResponseExtra {
  return { retryAfter: header(res.headers, "retry-after"), proxy: res.proxy, retries: res.retries, subject };
}

/** Where one attempt stands, for its error message. */
interface Hop {
  url: URL;
  phase: NetworkSituation["phase"];
  proxy: Proxy | undefined;
}

export class Transport {
  readonly stats: Stats = { head: 0, get: 0, token: 0, ping: 0, tags: 0, retries: 0 };
  private readonly network: Network;
  private readonly insecure: ReadonlySet<string>;
  private readonly endpoints = new Map<string, Promise<Endpoint>>();
  /** Per host: resolves once its probe has sent each attempt (HTTPS, and plain HTTP where allowed). */
  private readonly attemptsStarted = new Map<string, Promise<void>>();
  /** Probes started by warm(): kept after a failure, for the run's lookups. */
  private readonly sticky = new WeakSet<Promise<Endpoint>>();

  constructor(private readonly options: TransportOptions) {
    this.network = options.network;
    this.insecure = new Set(options.insecureRegistries ?? []);
  }

  get runSignal(): AbortSignal {
    return this.network.runSignal;
  }

  /** Whether plain HTTP may be tried: loopback registries and those the user listed as insecure. */
  allowsPlainHttp(registry: string): boolean {
    return plainHttpAllowed(registry, this.insecure);
  }

  /**
   * The registry's endpoint, probed once per run and shared by concurrent
   * callers. A failed probe is forgotten so a later call tries again.
   */
  endpoint(context: ErrorContext): Promise<Endpoint> {
    const host = apiHost(context.registry);
    let probe = this.endpoints.get(host);
    if (!probe) {
      const p = this.probe(host, context);
      this.endpoints.set(host, p);
      p.catch(() => {
        if (this.endpoints.get(host) === p && !this.sticky.has(p)) this.endpoints.delete(host);
      });
      probe = p;
    }
    return probe;
  }

  /**
   * Probes the registry ahead of its first lookup (a short run that knows
   * which registries it will ask while it still parses its input). The probe
   * carries no credentials. Its outcome, failure included, is what every
   * lookup of the run gets: the run's lookups would all have shared it, and
   * a registry that failed is not asked the same again. `lookups`: how many
   * will follow, if known (Network.expect).
   */
  warm(registry: string, lookups = 0): { readonly started: Promise<void>; readonly sent: Promise<void>; readonly done: Promise<Endpoint> } {
    const host = apiHost(registry);
    if (lookups > 0) this.network.expect(host, lookups);
    const known = this.endpoints.get(host);
    if (known) return { started: Promise.resolve(), sent: Promise.resolve(), done: known };
    const origins = probeOrigins(registry, this.insecure);
    // Listening before the probe starts: its connections may be made before this returns.
    const connected = this.network.connected(origins);
    const done = this.endpoint({ registry, repository: "", tag: "", image: registry });
    this.sticky.add(done);
    const settled = done.then(
      () => undefined,
      () => undefined,
    );
    return { started: this.attemptsStarted.get(host) ?? Promise.resolve(), sent: Promise.race([connected, settled]), done };
  }

  /**
   * HTTPS, or where plain HTTP is allowed both side by side (as
   * go-containerregistry does): a port speaks one of them, and asking in turn
   * cost a round trip and a handshake before every run's first lookup.
   * HTTPS is kept whenever it answers; plain HTTP wins only with an answer
   * other than 400 (what a TLS port says to plain HTTP) or once HTTPS failed
   * at the connection or TLS level. The loser is aborted.
   */
  private async probe(host: string, context: ErrorContext): Promise<Endpoint> {
    let started!: () => void;
    this.attemptsStarted.set(host, new Promise<void>((resolve) => (started = resolve)));
    if (!this.allowsPlainHttp(context.registry)) {
      const secure = this.ping(`https://${host}`, context);
      started();
      return secure;
    }
    const loser = new AbortController();
    // Plain HTTP is a guess while HTTPS is out: one attempt (a TLS port may just drop it).
    const plain = settle(this.ping(`http://${host}`, context, { signal: loser.signal, retry: false }));
    // A 5xx does not win the race either: through HTTP_PROXY it is the proxy failing to speak plain HTTP to a TLS port.
    const plainAnswered = plain.then((p) => (p.ok && p.value.status !== 400 && p.value.status < 500 ? p : new Promise<never>(() => undefined)));
    try {
      // The plain request is written before the HTTPS attempt builds the process's first TLS context
      // (30-50 ms of CPU that holds the event loop, connect callbacks included); still side by side.
      await Promise.race([this.network.connected([`http://${host}`]), plain, sleep(PLAIN_FIRST_MS, this.runSignal).catch(() => undefined)]);
      const secure = settle(this.ping(`https://${host}`, context, { signal: loser.signal }));
      started();
      const first = await Promise.race([secure, plainAnswered]);
      if (first.ok) return first.value;
      const httpsError = first.error;
      // Only a connection- or TLS-level failure may mean "this port speaks plain HTTP";
      // a timeout is not (it would be waited for twice over).
      if (!(httpsError instanceof RegistryError) || (httpsError.code !== "TLS" && httpsError.code !== "UNREACHABLE")) throw httpsError;
      const notTls = httpsError.code === "TLS" && httpsError.detail.includes("does not speak TLS");
      // The port answered the ClientHello in plain bytes: the lookups will go over plain HTTP if its
      // probe answers, and their connections can be made while it is out (often still is: a server
      // rejects a ClientHello before it has routed a request).
      if (notTls) this.network.plainHttpAhead(`http://${host}`);
      let http = await plain;
      // HTTPS failed: now plain HTTP is the answer, and a dropped connection deserves its retries.
      if (!http.ok && http.error instanceof RegistryError && http.error.transient) http = await settle(this.ping(`http://${host}`, context));
      // The port spoke plain HTTP (HTTPS got non-TLS bytes, or plain HTTP got an answer we could not use:
      // huge headers, garbage): then what went wrong over plain HTTP is the story, not the TLS failure.
      const spoke = !http.ok && http.error instanceof RegistryError && (http.error.code === "PROTOCOL" || notTls);
      if (!http.ok) throw httpsError.code === "TLS" && !spoke ? httpsError : http.error;
      // A TLS port answers plain HTTP with 400: then the TLS failure is the real story.
      if (httpsError.code === "TLS" && http.value.status === 400) throw httpsError;
      return http.value;
    } finally {
      started();
      loser.abort();
    }
  }

  private async ping(origin: string, context: ErrorContext, options: Pick<HttpRequest, "signal" | "retry"> = {}): Promise<Endpoint> {
    const res = await this.request(new URL("/v2/", origin), { method: "GET", kind: "ping", ...options }, context);
    // One turn of the event loop lets undici mark the probe's connection idle; a lookup sent at
    // once would open a second connection (one more TCP and TLS handshake before the first HEAD).
    await new Promise((resolve) => setImmediate(resolve));
    return { origin, status: res.status, wwwAuthenticate: res.headers["www-authenticate"] };
  }

  /**
   * One logical request: attempts (each with redirects, under timeoutMs)
   * repeated while the failure is transient (a dropped connection, 408, 429,
   * most 5xx) and the retry policy and run deadline allow. Network failures
   * become RegistryError; HTTP statuses, retried or not, are returned as is.
   */
  async request(url: URL, req: HttpRequest, context: ErrorContext): Promise<HttpResponse> {
    let waited = 0;
    for (let retries = 0; ; retries++) {
      let res: Omit<HttpResponse, "retries"> | undefined;
      let failure: RegistryError | undefined;
      try {
        res = await this.attempt(url, req, context);
      } catch (err) {
        if (!(err instanceof RegistryError)) throw err;
        failure = err;
      }
      const giveUp = (): HttpResponse => {
        if (failure) throw failure.with({ retries });
        if (!res) throw new Error("unreachable: neither response nor failure");
        return { ...res, retries };
      };
      if (req.retry === false || req.signal?.aborted || (failure ? !failure.transient : !retryableStatus(res?.status ?? 0))) return giveUp();
      // Retry-After, where given, is what the server asked for; otherwise back off with jitter.
      const asked = res ? parseRetryAfter(header(res.headers, "retry-after")) : undefined;
      const policy = this.network.retry;
      const wait = asked ?? backoffMs(retries, policy);
      const late = Date.now() + wait >= this.network.deadlineAt;
      if (retries >= policy.retries || waited + wait > policy.budgetMs || late) return giveUp();
      waited += wait;
      this.stats.retries++;
      try {
        await sleep(wait, this.runSignal);
      } catch (err) {
        throw this.failure(err, context, req, { url, phase: "response", proxy: undefined });
      }
    }
  }

  private async attempt(url: URL, req: HttpRequest, context: ErrorContext): Promise<Omit<HttpResponse, "retries">> {
    const hop: Hop = { url, phase: "response", proxy: undefined };
    let release: (() => void) | undefined;
    try {
      // Queueing for a slot is not part of the attempt's timeout; the run deadline still ends it.
      release = await this.network.limiter.acquire(url.host, this.runSignal);
      this.stats[req.kind]++;
      const signals = [AbortSignal.timeout(this.network.timeoutMs), this.runSignal];
      if (req.signal) signals.push(req.signal);
      const signal = AbortSignal.any(signals);
      // Racing the signal as well: undici does not abort a request still waiting for its connection.
      return await raceAbort(this.follow(req, signal, context, hop), signal);
    } catch (err) {
      throw this.failure(err, context, req, hop);
    } finally {
      release?.();
    }
  }

  /** A thrown error as a RegistryError about the context's registry (for failures outside a request). */
  failure(err: unknown, context: ErrorContext, req?: HttpRequest, hop?: Hop): RegistryError {
    return fromNetworkError(err, context, {
      host: hop?.url.host ?? apiHost(context.registry),
      timeoutMs: this.network.timeoutMs,
      connectTimeoutMs: this.network.connectTimeoutMs,
      phase: hop?.phase ?? "response",
      trust: this.network.trust.description,
      proxy: hop?.proxy,
      subject: req?.subject,
    });
  }

  private async follow(req: HttpRequest, signal: AbortSignal, context: ErrorContext, hop: Hop): Promise<Omit<HttpResponse, "retries">> {
    let method = req.method;
    let body = req.body;
    let url = hop.url;
    const headers: Record<string, string> = { "user-agent": this.options.userAgent, ...req.headers };
    for (let redirects = 0; ; redirects++) {
      hop.url = url;
      hop.phase = "response";
      hop.proxy = this.proxyFor(url, context);
      const dispatcher = this.network.dispatcher(hop.proxy);
      // reset: false keeps the connection after a HEAD, which undici otherwise closes (against servers
      // that wrongly send a HEAD body): one TCP/TLS handshake per manifest HEAD was the cost.
      const path = url.pathname + url.search;
      const res = await sendRefusable(() => dispatcher.request({ origin: url.origin, path, method, headers, body: body ?? null, signal, reset: false }), signal);
      hop.phase = "body";
      const location = res.headers.location;
      if (res.statusCode >= 300 && res.statusCode < 400 && res.statusCode !== 304 && typeof location === "string") {
        await res.body.dump();
        if (redirects >= MAX_REDIRECTS) {
          throw new RegistryError("PROTOCOL", context, `more than ${MAX_REDIRECTS} redirects from ${url.host}`);
        }
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw new RegistryError("PROTOCOL", context, `${url.host} redirected to ${quoteShort(location)}, which is not a URL`);
        }
        if (next.protocol !== "https:" && next.protocol !== "http:") {
          throw new RegistryError("PROTOCOL", context, `redirect to unsupported URL scheme ${quoteShort(next.protocol, 20)}`);
        }
        // No silent downgrade: plain HTTP only where the user allows it for the registry.
        if (url.protocol === "https:" && next.protocol === "http:" && !this.allowsPlainHttp(next.host)) {
          throw new RegistryError("PROTOCOL", context, `${url.host} redirected from HTTPS to plain HTTP (${next.origin}), which was refused`);
        }
        // 301, 302 and 303 after a POST mean "GET that", as browsers and Go's client read them.
        if (method === "POST" && res.statusCode !== 307 && res.statusCode !== 308) {
          method = "GET";
          body = undefined;
          delete headers["content-type"];
        }
        if (next.origin !== url.origin) {
          // Credentials are for the origin that asked for them, never for a redirect target elsewhere:
          // the header is dropped, and a body (a refresh-token grant) is not sent on at all.
          if (body !== undefined) {
            throw new RegistryError("PROTOCOL", context, `${url.host} redirected a ${method} with credentials in its body to ${next.origin}, which was refused`, {
              ...(req.subject === undefined ? {} : { subject: req.subject }),
            });
          }
          delete headers.authorization;
        }
        url = next;
        continue;
      }
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      const limit = ok ? (req.maxBodyBytes ?? MAX_MANIFEST_BYTES) : MAX_ERROR_BODY_BYTES;
      let data: Buffer;
      if (method === "HEAD") {
        await res.body.dump();
        data = Buffer.alloc(0);
      } else {
        data = await readBody(res.body, limit, !ok);
        if (data.length > limit) {
          throw new RegistryError("PROTOCOL", context, `the ${WHAT[req.kind]} from ${url.host} is larger than ${formatBytes(limit)}, the most krm-digester reads`, {
            ...(req.subject === undefined ? {} : { subject: req.subject }),
          });
        }
      }
      const redact = this.options.redact;
      if (!ok && redact) {
        // An error body or challenge may quote the credentials sent: they go no further than here.
        data = Buffer.from(redact(data.toString("utf8")));
        const challenge = res.headers["www-authenticate"];
        if (challenge !== undefined) {
          res.headers["www-authenticate"] = typeof challenge === "string" ? redact(challenge) : challenge.map(redact);
        }
      }
      return { status: res.statusCode, headers: res.headers, body: data, url, proxy: hop.proxy?.display };
    }
  }

  private proxyFor(url: URL, context: ErrorContext): Proxy | undefined {
    const settings = this.network.proxies;
    const proxy = proxyFor(url, settings);
    if (proxy) return proxy;
    const bad = settings.invalid.find((i) => i.scheme === url.protocol);
    // A proxy variable we cannot use must not silently mean "connect directly".
    if (bad && !isLoopback(url.host) && !settings.bypass(url.host, url.protocol === "https:" ? 443 : 80)) {
      throw new RegistryError("PROXY", context, bad.problem, { proxy: bad.variable });
    }
    return undefined;
  }
}

/** Reads at most limit+1 bytes; when truncate is set, stops quietly at limit instead. */
async function readBody(body: Dispatcher.ResponseData["body"], limit: number, truncate: boolean): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      const all = Buffer.concat(chunks);
      return truncate ? all.subarray(0, limit) : all;
    }
  }
  return Buffer.concat(chunks);
}

type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/** A promise's outcome as a value, so several can be raced without unhandled rejections. */
function settle<T>(work: Promise<T>): Promise<Settled<T>> {
  return work.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}

function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(asError(signal.reason));
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(asError(err));
      },
    );
  });
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Times an HTTP/2 stream the server refused is sent again (within one attempt, see sendRefusable). */
const REFUSED_STREAM_RESENDS = 8;

/** How long the HTTPS probe of a registry allowed plain HTTP waits for the plain probe's connection at most. */
const PLAIN_FIRST_MS = 20;

/**
 * Sends a request, and again when the server refused its HTTP/2 stream
 * (REFUSED_STREAM: the server did not process it, RFC 9113 8.7), as Go's
 * HTTP/2 transport does. undici opens the next stream when a HEAD's headers
 * are in, a moment before the server counts the last one closed: at the
 * server's stream limit, one in a while is refused. Not a new request to the
 * server, so not counted as one.
 */
async function sendRefusable<T>(send: () => Promise<T>, signal: AbortSignal): Promise<T> {
  for (let resent = 0; ; resent++) {
    try {
      return await send();
    } catch (err) {
      if (resent >= REFUSED_STREAM_RESENDS || signal.aborted || !isRefusedStream(err)) throw err;
      // A stream frees as soon as one of those in flight ends.
      await new Promise((resolve) => setTimeout(resolve, resent));
    }
  }
}

function isRefusedStream(err: unknown): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === "ERR_HTTP2_STREAM_ERROR" && err.message.includes("REFUSED_STREAM");
}
