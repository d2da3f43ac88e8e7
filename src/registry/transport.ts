// HTTP for the registry client: one keep-alive undici dispatcher per client,
// a hard per-request deadline, manual redirects (so credentials never follow
// a redirect to another origin), and the scheme choice per registry.
import { rootCertificates } from "node:tls";
import { Agent, EnvHttpProxyAgent, request } from "undici";
import type { Dispatcher } from "undici";
import { apiHost, isLoopback } from "../name/reference.js";
import { RegistryError, fromNetworkError } from "./errors.js";
import type { ErrorContext } from "./errors.js";

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
}
export type RequestKind = keyof Stats;

export interface TransportOptions {
  readonly timeoutMs: number;
  readonly insecureRegistries?: readonly string[] | undefined;
  readonly userAgent: string;
  /** Extra trusted CA certificates (PEM), added to Node's bundled roots. */
  readonly ca?: string | readonly string[] | undefined;
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
}

export type Headers = Readonly<Record<string, string | string[] | undefined>>;

export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  /** Empty for HEAD; error bodies are cut at 64 KiB. */
  readonly body: Buffer;
  /** Where the answer came from after redirects. */
  readonly url: URL;
}

/** A registry's base URL as found by probing `/v2/`, with the challenge it answered. */
export interface Endpoint {
  /** "https://host:port" or, for loopback and insecure registries, possibly "http://host:port". */
  readonly origin: string;
  readonly status: number;
  readonly wwwAuthenticate: string | string[] | undefined;
}

const MAX_REDIRECTS = 5;
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export function header(headers: Headers, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export class Transport {
  readonly stats: Stats = { head: 0, get: 0, token: 0, ping: 0, tags: 0 };
  private readonly dispatcher: Dispatcher;
  private readonly insecure: ReadonlySet<string>;
  private readonly endpoints = new Map<string, Promise<Endpoint>>();

  constructor(private readonly options: TransportOptions) {
    this.dispatcher = createDispatcher(options);
    this.insecure = new Set(options.insecureRegistries ?? []);
  }

  /** Whether plain HTTP may be tried: loopback registries and those the user listed as insecure. */
  allowsPlainHttp(registry: string): boolean {
    const host = apiHost(registry);
    const bare = (h: string): string => (h.startsWith("[") ? h.slice(0, h.indexOf("]") + 1) : h.replace(/:\d+$/, ""));
    return (
      isLoopback(registry) ||
      this.insecure.has(registry) ||
      this.insecure.has(host) ||
      this.insecure.has(bare(registry)) ||
      this.insecure.has(bare(host))
    );
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
        if (this.endpoints.get(host) === p) this.endpoints.delete(host);
      });
      probe = p;
    }
    return probe;
  }

  private async probe(host: string, context: ErrorContext): Promise<Endpoint> {
    try {
      return await this.ping(`https://${host}`, context);
    } catch (httpsError) {
      // Only a connection- or TLS-level failure may mean "this port speaks plain HTTP";
      // a timeout is not retried (that would double the wait on a stalled host).
      const fallback =
        httpsError instanceof RegistryError &&
        (httpsError.code === "TLS" || httpsError.code === "UNREACHABLE") &&
        this.allowsPlainHttp(context.registry);
      if (!fallback) throw httpsError;
      let plain: Endpoint;
      try {
        plain = await this.ping(`http://${host}`, context);
      } catch (httpError) {
        throw httpsError.code === "TLS" ? httpsError : httpError;
      }
      // A TLS port answers plain HTTP with 400: then the TLS failure is the real story.
      if (httpsError.code === "TLS" && plain.status === 400) throw httpsError;
      return plain;
    }
  }

  private async ping(origin: string, context: ErrorContext): Promise<Endpoint> {
    const res = await this.request(new URL("/v2/", origin), { method: "GET", kind: "ping" }, context);
    return { origin, status: res.status, wwwAuthenticate: res.headers["www-authenticate"] };
  }

  /**
   * One logical request (redirects included) under one deadline of timeoutMs.
   * Network failures become RegistryError; HTTP statuses are returned as is.
   */
  async request(url: URL, req: HttpRequest, context: ErrorContext): Promise<HttpResponse> {
    this.stats[req.kind]++;
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    try {
      // Racing the signal as well: undici does not abort a request still waiting for its connection.
      return await raceAbort(this.follow(url, req, signal, context), signal);
    } catch (err) {
      throw fromNetworkError(err, context, this.options.timeoutMs, req.subject);
    }
  }

  private async follow(url: URL, req: HttpRequest, signal: AbortSignal, context: ErrorContext): Promise<HttpResponse> {
    let method = req.method;
    let body = req.body;
    const headers: Record<string, string> = { "user-agent": this.options.userAgent, ...req.headers };
    for (let hop = 0; ; hop++) {
      const res = await request(url, { dispatcher: this.dispatcher, method, headers, body: body ?? null, signal });
      const location = res.headers.location;
      if (res.statusCode >= 300 && res.statusCode < 400 && res.statusCode !== 304 && typeof location === "string") {
        await res.body.dump();
        if (hop >= MAX_REDIRECTS) {
          throw new RegistryError("PROTOCOL", context, `more than ${MAX_REDIRECTS} redirects from ${url.host}`);
        }
        const next = new URL(location, url);
        if (next.protocol !== "https:" && next.protocol !== "http:") {
          throw new RegistryError("PROTOCOL", context, `redirect to unsupported URL scheme ${next.protocol}`);
        }
        // Credentials are for the origin that asked for them, never for a redirect target elsewhere.
        if (next.origin !== url.origin) delete headers.authorization;
        if (res.statusCode === 303 && method === "POST") {
          method = "GET";
          body = undefined;
          delete headers["content-type"];
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
          throw new RegistryError("PROTOCOL", context, `response from ${url.host} is larger than ${limit} bytes`);
        }
      }
      return { status: res.statusCode, headers: res.headers, body: data, url };
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
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

function createDispatcher(options: TransportOptions): Dispatcher {
  const extra = options.ca === undefined ? [] : typeof options.ca === "string" ? [options.ca] : [...options.ca];
  // A `ca` option replaces Node's trust store, so the bundled roots go along with it.
  const tls = extra.length > 0 ? { ca: [...rootCertificates, ...extra] } : {};
  const common = {
    connect: { timeout: options.timeoutMs, ...tls },
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    // The caller bounds concurrency; this caps sockets per registry origin.
    connections: 16,
    // One request per connection at a time: registries and proxies mishandle pipelining.
    pipelining: 1,
    keepAliveTimeout: 10_000,
  };
  const env = process.env;
  const proxied = Boolean(env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy);
  return proxied ? new EnvHttpProxyAgent({ ...common, requestTls: tls }) : new Agent(common);
}
