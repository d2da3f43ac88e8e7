// What every registry client of one run shares: connection pools (direct
// and per proxy), the trust store, the proxy settings, the per-host
// concurrency limit, the retry policy and the run's deadline. The function
// opens one client per pull-secret scope; sharing this keeps the deadline one
// deadline and the per-registry limit one limit.
import { setMaxListeners } from "node:events";
import { Agent, Client, Pool, ProxyAgent, buildConnector } from "./undici.js";
import type * as Undici from "undici";
import { RunDeadlineError } from "./errors.js";
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_REGISTRY_CONCURRENCY, DEFAULT_REGISTRY_STREAMS } from "./defaults.js";
import { KeyedLimiter } from "./limit.js";
import { proxySettings } from "./proxy.js";
import type { Proxy, ProxySettings } from "./proxy.js";
import { DEFAULT_RETRY } from "./retry.js";
import type { RetryPolicy } from "./retry.js";
import { loadTrust } from "./trust.js";
import type { TrustStore } from "./trust.js";

export interface NetworkOptions {
  /** Deadline of one attempt of a request (connect, headers and body), in ms. */
  readonly timeoutMs: number;
  /** How long to wait for a connection (TCP and TLS); default the lesser of 10 s and timeoutMs. */
  readonly connectTimeoutMs?: number | undefined;
  /** Deadline of the whole run from construction: later and outstanding requests fail with TIMEOUT. */
  readonly runTimeoutMs?: number | undefined;
  /** Requests in flight to one host at a time over HTTP/1.1, one per connection; default 16. */
  readonly registryConcurrency?: number | undefined;
  /** Requests in flight to one host at a time over HTTP/2, all on one connection; default 100. */
  readonly registryStreams?: number | undefined;
  readonly retry?: Partial<RetryPolicy> | undefined;
  /** Extra trusted CA certificates (PEM), added to the trust store. */
  readonly ca?: string | readonly string[] | undefined;
  /** Where proxy and CA variables are read; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
}

export class Network {
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly proxies: ProxySettings;
  readonly limiter: KeyedLimiter;
  readonly retry: RetryPolicy;
  /** Aborts, with a RunDeadlineError, when the run's deadline passes. */
  readonly runSignal: AbortSignal;
  /** Epoch ms of the run's deadline (Infinity without one). */
  readonly deadlineAt: number;
  /** Mirrors that failed at the connection level this run, with why: every client skips them from then on. */
  readonly mirrorsDown = new Map<string, string>();
  /** Hosts ("host:port") whose connection negotiated HTTP/2: they take registryStreams requests at once. */
  readonly http2Hosts = new Set<string>();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly direct: Undici.Dispatcher;
  private readonly viaProxy = new Map<string, Undici.Dispatcher>();
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly ca: string | readonly string[] | undefined;
  private readonly connectionsPerHost: number;
  private trustStore: TrustStore | undefined;
  private tlsConnector: Undici.buildConnector.connector | undefined;

  constructor(options: NetworkOptions) {
    this.env = options.env ?? process.env;
    this.ca = options.ca;
    this.timeoutMs = options.timeoutMs;
    this.connectTimeoutMs = Math.min(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, options.timeoutMs);
    this.proxies = proxySettings(this.env);
    const perConnection = options.registryConcurrency ?? DEFAULT_REGISTRY_CONCURRENCY;
    const streams = options.registryStreams ?? DEFAULT_REGISTRY_STREAMS;
    this.connectionsPerHost = perConnection;
    this.limiter = new KeyedLimiter((host) => (this.http2Hosts.has(host) ? streams : perConnection));
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    // Plain connections never load the trust store; TLS ones share one context built on first use.
    const plain = buildConnector({ timeout: this.connectTimeoutMs });
    const connect: Undici.buildConnector.connector = (opts, callback) => {
      if (opts.protocol !== "https:") return plain(opts, callback);
      // TLS offers HTTP/2 (ALPN): one connection then carries every lookup to the registry at once.
      this.tlsConnector ??= buildConnector({ ...this.tls(), allowH2: true });
      return this.tlsConnector(opts, callback);
    };
    this.direct = new Agent({
      ...this.poolOptions(),
      connect,
      factory: (origin, opts) => new Pool(origin, { ...opts, factory: (o, clientOptions) => this.client(o, clientOptions, connect, streams) }),
    });

    const run = new AbortController();
    // Every request in flight or queued for a slot listens for the deadline: hundreds, by design.
    setMaxListeners(0, run.signal);
    this.runSignal = run.signal;
    const runMs = options.runTimeoutMs;
    this.timer = runMs === undefined ? undefined : setTimeout(() => run.abort(new RunDeadlineError(runMs)), runMs);
    // The deadline never keeps the process alive by itself.
    this.timer?.unref();
    this.deadlineAt = runMs === undefined ? Infinity : Date.now() + runMs;
  }

  /**
   * A connection of the direct pool. undici sends one request at a time per
   * connection (`pipelining: 1`: registries and proxies mishandle HTTP/1.1
   * pipelining); a connection that negotiated HTTP/2 takes `streams` at once.
   */
  private client(origin: URL, options: object, connect: Undici.buildConnector.connector, streams: number): Undici.Dispatcher {
    const client: Undici.Client = new Client(origin, {
      ...options,
      connect: (opts, callback) =>
        connect(opts, (...args) => {
          const socket = args[1];
          if (socket && "alpnProtocol" in socket && socket.alpnProtocol === "h2") {
            client.pipelining = streams;
            this.http2Hosts.add(opts.host ?? origin.host);
          }
          callback(...args);
        }),
    });
    return client;
  }

  /** The CA certificates trusted, read on first use. */
  get trust(): TrustStore {
    return (this.trustStore ??= loadTrust(this.env, this.ca));
  }

  /** The pool for requests sent directly or through this proxy. */
  dispatcher(proxy: Proxy | undefined): Undici.Dispatcher {
    if (!proxy) return this.direct;
    let dispatcher = this.viaProxy.get(proxy.url.href);
    if (!dispatcher) {
      dispatcher = new ProxyAgent({
        ...this.poolOptions(),
        uri: proxy.url.href,
        // http:// registries get absolute-URI requests as Go and curl send them; https ones a CONNECT tunnel.
        proxyTunnel: false,
        requestTls: this.tls(),
        proxyTls: this.tls(),
      });
      this.viaProxy.set(proxy.url.href, dispatcher);
    }
    return dispatcher;
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await Promise.all([this.direct.close(), ...[...this.viaProxy.values()].map((d) => d.close())]);
  }

  private poolOptions(): Undici.Agent.Options {
    return {
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      // The limiter bounds requests per host; sockets per origin follow it.
      connections: this.connectionsPerHost,
      // One request per connection at a time: registries and proxies mishandle pipelining.
      pipelining: 1,
      keepAliveTimeout: 10_000,
    };
  }

  private tls(): Undici.buildConnector.BuildOptions {
    const context = this.trust.secureContext;
    return { timeout: this.connectTimeoutMs, ...(context ? { secureContext: context } : {}) };
  }
}
