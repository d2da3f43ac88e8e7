// What every registry client of one run shares: connection pools (direct
// and per proxy), the trust store, the proxy settings, the per-host
// concurrency limit, the retry policy and the run's deadline. The function
// opens one client per pull-secret scope; sharing this keeps the deadline one
// deadline and the per-registry limit one limit.
import { EventEmitter, setMaxListeners } from "node:events";
import type { ClientHttp2Session, Settings } from "node:http2";
import { Socket } from "node:net";
import { Agent, Client, ConnectTimeoutError, Pool, ProxyAgent, buildConnector } from "./undici.js";
import type * as Undici from "undici";
import { connectHostname, defaultPort, endpointKey } from "./early.js";
import type { EarlySocket, EarlySockets } from "./early.js";
import { RunDeadlineError } from "./errors.js";
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_REGISTRY_CONCURRENCY, DEFAULT_REGISTRY_STREAMS, FIRST_FLIGHT_STREAMS, MAX_CONNECTIONS_PER_HOST } from "./defaults.js";
import { KeyedLimiter } from "./limit.js";
import { proxySettings } from "./proxy.js";
import type { Proxy, ProxySettings } from "./proxy.js";
import { DEFAULT_RETRY } from "./retry.js";
import type { RetryPolicy } from "./retry.js";
import { SpareConnections } from "./spares.js";
import { loadTrust } from "./trust.js";
import type { TrustStore } from "./trust.js";

export interface NetworkOptions {
  /** Deadline of one attempt of a request (connect, headers and body), in ms. */
  readonly timeoutMs: number;
  /** How long to wait for a connection (TCP and TLS); default the lesser of 10 s and timeoutMs. */
  readonly connectTimeoutMs?: number | undefined;
  /** Deadline of the whole run from construction: later and outstanding requests fail with TIMEOUT. */
  readonly runTimeoutMs?: number | undefined;
  /**
   * Requests in flight to one host at a time over HTTP/1.1; default 128. Up to
   * 16 connections carry them, and beyond 16 in flight they are pipelined.
   */
  readonly registryConcurrency?: number | undefined;
  /** Requests in flight to one host at a time over HTTP/2, all on one connection, within the server's SETTINGS; default 250. */
  readonly registryStreams?: number | undefined;
  readonly retry?: Partial<RetryPolicy> | undefined;
  /** Extra trusted CA certificates (PEM), added to the trust store. */
  readonly ca?: string | readonly string[] | undefined;
  /** Where proxy and CA variables are read; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** TCP connections opened before this network existed: the first new connection to each origin is taken from them. */
  readonly early?: EarlySockets | undefined;
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
  /** Requests in flight per connection at most over HTTP/1.1 (registryConcurrency spread over the connections). */
  private readonly pipelineDepth: number;
  /** The direct pool's HTTP/1.1 connections per host ("host:port"), whose pipelining follows the requests in flight. */
  private readonly http1Clients = new Map<string, Set<Undici.Client>>();
  private trustStore: TrustStore | undefined;
  /** Origins a TCP connection was made (or failed) to, and who waits for that (connected()). */
  private readonly tcpUp = new Set<string>();
  private readonly tcpWaiters = new Set<() => void>();
  private tlsConnector: Undici.buildConnector.connector | undefined;
  /** Lookups a run said will follow the probe, per host ("host:port"): what spare connections are opened for. */
  private readonly expected = new Map<string, number>();
  private readonly spares = new SpareConnections();
  private readonly freshConnect: Undici.buildConnector.connector;
  private readonly early: EarlySockets | undefined;

  constructor(options: NetworkOptions) {
    this.env = options.env ?? process.env;
    this.early = options.early;
    this.ca = options.ca;
    this.timeoutMs = options.timeoutMs;
    this.connectTimeoutMs = Math.min(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, options.timeoutMs);
    this.proxies = proxySettings(this.env);
    const perConnection = options.registryConcurrency ?? DEFAULT_REGISTRY_CONCURRENCY;
    const streams = options.registryStreams ?? DEFAULT_REGISTRY_STREAMS;
    this.connectionsPerHost = Math.min(perConnection, MAX_CONNECTIONS_PER_HOST);
    this.pipelineDepth = Math.ceil(perConnection / this.connectionsPerHost);
    this.limiter = new KeyedLimiter(
      (host) => (this.http2Hosts.has(host) ? streams : perConnection),
      (host, active) => this.pipelineFor(host, active),
    );
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    // Plain connections never load the trust store; TLS ones share one context built on first use.
    const plain = buildConnector({ timeout: this.connectTimeoutMs });
    // TLS offers HTTP/2 (ALPN): one connection then carries every lookup to the registry at once.
    const tlsConnector = (): Undici.buildConnector.connector => (this.tlsConnector ??= buildConnector({ ...this.tls(), allowH2: true }));
    const fresh: Undici.buildConnector.connector = (opts, callback) => {
      // Over a TCP connection opened before the network existed, while one is left (EarlySockets).
      const early = this.early?.take(endpointKey(opts.protocol, opts.hostname, opts.port));
      if (early) return this.overEarly(opts, early, callback, tlsConnector) as unknown as void;
      const connector = opts.protocol !== "https:" ? plain : tlsConnector();
      // undici's connector returns the socket it opens (its type says void).
      const socket = connector(opts, callback) as unknown;
      if (socket instanceof Socket) this.opening(originOf(opts), socket);
      return socket as void;
    };
    // A new connection of the pool is a spare opened ahead (openSpares), if one is left.
    const connect: Undici.buildConnector.connector = (opts, callback) => {
      const spare = this.spares.take(originOf(opts), callback, (cb) => fresh(opts, cb));
      return (spare ?? fresh(opts, callback)) as void;
    };
    this.freshConnect = fresh;
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
   * A connection of the direct pool. Over HTTP/1.1 it carries one request at
   * a time while every connection the host may have can take one; with more
   * in flight, HEADs and GETs are pipelined on them (see pipelineFor). A
   * connection that negotiated HTTP/2 takes `streams` at once.
   */
  private client(origin: URL, options: object, connect: Undici.buildConnector.connector, streams: number): Undici.Dispatcher {
    const host = origin.host;
    const client: Undici.Client = new Client(origin, {
      ...options,
      connect: (opts, callback) =>
        connect(opts, (...args) => {
          const socket = args[1];
          const h2 = socket !== undefined && socket !== null && "alpnProtocol" in socket && socket.alpnProtocol === "h2";
          if (h2) {
            this.http1Clients.get(host)?.delete(client);
            client.pipelining = Math.min(streams, FIRST_FLIGHT_STREAMS);
            this.http2Hosts.add(opts.host ?? host);
          }
          callback(...args);
          if (!h2 && socket && opts.protocol === "https:") this.openSpares(opts, host);
          // undici made the connection's session in that callback: from the server's SETTINGS on, as many as it allows.
          const session = h2 ? http2SessionOf(socket) : undefined;
          session?.once("remoteSettings", (settings: Settings) => {
            if (!client.destroyed) client.pipelining = Math.min(streams, settings.maxConcurrentStreams ?? streams);
          });
        }),
    });
    // A pool keeps its clients (each reconnects when it has requests again) until the network closes.
    let clients = this.http1Clients.get(host);
    if (!clients) this.http1Clients.set(host, (clients = new Set()));
    clients.add(client);
    client.pipelining = this.depthFor(this.limiter.active(host));
    return client;
  }

  /**
   * Pipelining per HTTP/1.1 connection follows the requests in flight to the
   * host: none while each can have a connection of its own (a server works
   * through a connection's requests in turn, so spreading comes first), then
   * as deep as needed to carry them all on the host's connections, at most
   * registryConcurrency / 16. undici pipelines only idempotent requests
   * (HEAD, GET); a token POST waits for the connection to be free.
   */
  private pipelineFor(host: string, active: number): void {
    const clients = this.http1Clients.get(host);
    if (!clients) return;
    const depth = this.depthFor(active);
    // Only deeper while requests run: undici's HTTP/1.1 parser expects the depth a pipeline was sent
    // with until it drains (lowered mid-way, it asserts). Back to one at a time once the host is idle.
    for (const client of clients) if (active === 0 ? client.pipelining !== 1 : client.pipelining < depth) client.pipelining = depth;
  }

  /**
   * The run will send `lookups` requests to `host` once its probe is
   * answered: over HTTP/1.1 with TLS, the connections they need are opened
   * as soon as the probe's connection shows the protocol (openSpares).
   */
  expect(host: string, lookups: number): void {
    this.expected.set(host, Math.max(lookups, this.expected.get(host) ?? 0));
  }

  /**
   * The run's lookups to this plain-HTTP origin will follow its probe: the
   * port answered HTTPS in something other than TLS, and plain HTTP may be
   * used (Transport.probe). Their connections are opened now, as over TLS
   * once ALPN shows HTTP/1.1 (openSpares). Not on the TCP connection alone:
   * that does not show whether the port speaks HTTP or TLS.
   */
  plainHttpAhead(origin: string): void {
    const url = new URL(origin);
    if (url.protocol !== "http:") return;
    this.openSpares({ protocol: url.protocol, hostname: connectHostname(url), host: url.host, port: url.port }, url.host);
  }

  /**
   * The first HTTP/1.1 connection over TLS to a host the run expects lookups
   * for is up (or plainHttpAhead): the others they will need (as many as the
   * pool would open for them) are opened now, while the probe is out, so that
   * their handshakes are over when the lookups go (once per origin:
   * SpareConnections.open). Not over HTTP/2, where one connection carries
   * them all.
   */
  private openSpares(opts: Undici.buildConnector.Options, host: string): void {
    const lookups = this.expected.get(host);
    if (!lookups) return;
    // As many as the pool opens for them: one per lookup up to its limit (requests are spread over
    // connections first, pipelined only once every connection has one; see pipelineFor).
    const needed = Math.min(this.connectionsPerHost, lookups);
    this.spares.open(originOf(opts), needed - 1, (callback) => this.freshConnect({ ...opts }, callback) as unknown as Socket | undefined);
  }

  private depthFor(active: number): number {
    return Math.max(1, Math.min(this.pipelineDepth, Math.ceil(active / this.connectionsPerHost)));
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

  /**
   * Resolves once a TCP connection to each origin is up (or failed): then
   * what goes first on it (a plain request, a TLS ClientHello) is written,
   * and the answer can wait in the socket while the process does other work.
   */
  connected(origins: readonly string[]): Promise<void> {
    const waiting = origins.map((o) => new URL(o).origin);
    return new Promise((resolve) => {
      const check = (): void => {
        if (!waiting.every((o) => this.tcpUp.has(o))) return;
        this.tcpWaiters.delete(check);
        // The request (or ClientHello) is written in the connect callback; one turn lets it go out.
        setImmediate(resolve);
      };
      this.tcpWaiters.add(check);
      check();
    });
  }

  private opening(origin: string, socket: Socket): void {
    const up = (): void => this.tcpSettled(origin);
    socket.once("connect", up).once("error", up);
  }

  private tcpSettled(origin: string): void {
    this.tcpUp.add(new URL(origin).origin);
    for (const waiter of [...this.tcpWaiters]) waiter();
  }

  /**
   * A new connection made over a TCP connection opened early (EarlySockets):
   * with TLS over it at once (TLS waits for the TCP connection, and its
   * errors are the TLS socket's, as with a fresh one), or, for plain HTTP,
   * as it is once it is up, with the options undici's connector sets.
   * Failures are what undici's connector reports: the socket's error, or a
   * ConnectTimeoutError connectTimeoutMs from now.
   */
  private overEarly(opts: Undici.buildConnector.Options, early: EarlySocket, callback: Parameters<Undici.buildConnector.connector>[1], tls: () => Undici.buildConnector.connector): Socket {
    const origin = originOf(opts);
    const { socket } = early;
    if (opts.protocol === "https:") {
      early.ready(() => this.tcpSettled(origin));
      // undici's connector returns the socket it opens (its type says void).
      return tls()({ ...opts, httpSocket: socket }, callback) as unknown as Socket;
    }
    const port = opts.port || defaultPort(opts.protocol);
    const timer = setTimeout(
      () => socket.destroy(new ConnectTimeoutError(`Connect Timeout Error (attempted address: ${opts.hostname}:${port}, timeout: ${this.connectTimeoutMs}ms)`)),
      this.connectTimeoutMs,
    );
    early.ready((error) => {
      clearTimeout(timer);
      this.tcpSettled(origin);
      if (error) return callback(error, null);
      socket.setKeepAlive(true, 60e3).setNoDelay(true);
      callback(null, socket);
    });
    return socket;
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.spares.dropAll();
    this.early?.dropAll();
    await Promise.all([this.direct.close(), ...[...this.viaProxy.values()].map((d) => d.close())]);
  }

  private poolOptions(): Undici.Agent.Options {
    return {
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      // The limiter bounds requests per host; sockets per origin follow it, up to 16.
      connections: this.connectionsPerHost,
      // One request per connection at a time to begin with: the direct pool's connections pipeline
      // when more are in flight (client(), pipelineFor()); through an HTTP proxy they never do.
      pipelining: 1,
      keepAliveTimeout: 10_000,
    };
  }

  private tls(): Undici.buildConnector.BuildOptions {
    const context = this.trust.secureContext;
    return { timeout: this.connectTimeoutMs, ...(context ? { secureContext: context } : {}) };
  }
}

/**
 * The HTTP/2 session undici runs over `socket` (it keeps it under a symbol of
 * its own; undefined if that ever changes, and the first flight's limit stays).
 */
function http2SessionOf(socket: object): ClientHttp2Session | undefined {
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === "http2Session");
  const session = key === undefined ? undefined : (socket as Record<symbol, unknown>)[key];
  return session instanceof EventEmitter && "remoteSettings" in session ? (session as ClientHttp2Session) : undefined;
}

/** "https://host:port" of a connection undici asks for. */
function originOf(opts: Undici.buildConnector.Options): string {
  return `${opts.protocol}//${opts.hostname}${opts.port ? `:${opts.port}` : ""}`;
}
