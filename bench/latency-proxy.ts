// A reverse proxy that puts a network's latency between a client and a
// loopback registry (and its token service), and counts what passes by kind.
//
// Latency model: every request waits `latencyMs` before it is forwarded (one
// round trip), and a new TCP connection's handshake takes `connectLatencyMs`
// from the moment it was opened: its first request waits for what is left of
// that (all of it when sent at once, nothing when the connection was opened a
// handshake earlier, as on a real network), so connection churn costs what it
// would there. Loopback itself adds well under a millisecond.
//
// With `tls`, the proxy speaks HTTPS as public registries do, HTTP/2 offered
// (ALPN) beside HTTP/1.1; a new connection then waits twice the connect
// latency (TCP, then the TLS 1.3 handshake), and each HTTP/2 stream pays the
// per-request latency on its own.
//
//   node build/bench/latency-proxy.js --upstream http://127.0.0.1:5000 [--latency 25] [--port 0]
import { createServer as createHttpServer, request as httpRequest, Agent } from "node:http";
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { createSecureServer } from "node:http2";
import { createServer as createHttpsServer } from "node:https";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { pathToFileURL } from "node:url";
import { OpenSockets } from "../test/support/open-sockets.js";

/** What a request was, for counting: the registry API call it makes. */
export type RequestKind = "manifest" | "blob" | "token" | "probe" | "tags" | "other";

export interface ProxyCounts {
  /** "HEAD manifest", "GET token", … */
  readonly requests: Record<string, number>;
  /** TCP connections accepted. */
  connections: number;
  /** Connections that sent something other than HTTP (a TLS ClientHello from an HTTPS-first probe). */
  nonHttp: number;
}

export interface LatencyProxyOptions {
  /** The registry, "http://127.0.0.1:PORT". */
  readonly upstream: string;
  /** Where `/token` requests go (a token server), if anywhere. */
  readonly tokenUpstream?: string;
  /** Delay per request, ms; default 25. */
  readonly latencyMs?: number;
  /** Delay per new connection, ms; default latencyMs. */
  readonly connectLatencyMs?: number;
  /** Port to listen on; default a free one. */
  readonly port?: number;
  /** Serve HTTPS (HTTP/2 and HTTP/1.1) with this key and certificate (PEM). */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** With `tls`: offer HTTP/2 (ALPN); false serves HTTPS over HTTP/1.1 only, as some registries do. Default true. */
  readonly http2?: boolean;
}

export interface LatencyProxy {
  /** "127.0.0.1:PORT", the registry host for image references. */
  readonly host: string;
  readonly url: string;
  readonly latencyMs: number;
  /** Points the proxy at another registry (e.g. one started after the proxy, whose token realm names the proxy). */
  setUpstream(url: string): void;
  /** Counts since start or the last reset; a snapshot. */
  counts(): ProxyCounts;
  reset(): void;
  close(): Promise<void>;
}

export function classify(method: string, path: string): RequestKind {
  const p = path.split("?")[0] ?? "";
  if (p === "/token") return "token";
  if (p === "/v2/" || p === "/v2") return "probe";
  if (/^\/v2\/.+\/manifests\/[^/]+$/.test(p)) return "manifest";
  if (/^\/v2\/.+\/blobs\//.test(p)) return "blob";
  if (/^\/v2\/.+\/tags\/list$/.test(p)) return "tags";
  void method;
  return "other";
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startLatencyProxy(options: LatencyProxyOptions): Promise<LatencyProxy> {
  const latencyMs = options.latencyMs ?? 25;
  const connectLatencyMs = options.connectLatencyMs ?? latencyMs;
  let upstream = new URL(options.upstream);
  const tokenUpstream = options.tokenUpstream ? new URL(options.tokenUpstream) : undefined;
  // Our side of the proxy keeps its connections: the proxy should cost nothing but the injected latency.
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  let counts: ProxyCounts = { requests: {}, connections: 0, nonHttp: 0 };

  // When each connection was opened, by its client port (loopback: one live connection per port); the
  // first request on it waits until its handshake would be over. A TLS socket is keyed like its TCP one.
  const opened = new Map<number, number>();
  const connected = new WeakSet<object>();
  const handshakeMs = options.tls ? 2 * connectLatencyMs : connectLatencyMs;
  const handshake = (connection: object, port: number | undefined): number => {
    if (connected.has(connection)) return 0;
    connected.add(connection);
    const at = port === undefined ? undefined : opened.get(port);
    return at === undefined ? handshakeMs : Math.max(0, at + handshakeMs - performance.now());
  };

  const forward = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
    const path = req.url || "/";
    const kind = classify(req.method || "GET", path);
    const key = `${req.method || "GET"} ${kind}`;
    counts.requests[key] = (counts.requests[key] ?? 0) + 1;
    const target = kind === "token" && tokenUpstream ? tokenUpstream : upstream;
    // An HTTP/2 stream's connection is its session; an HTTP/1.1 request's, its socket.
    const connection = "stream" in req ? req.stream.session ?? req.socket : req.socket;
    const socket = "stream" in req ? req.stream.session?.socket ?? req.socket : req.socket;
    void sleep(latencyMs + handshake(connection, socket.remotePort)).then(() => {
      // Host stays as the client sent it, so the registry's absolute URLs point back at the proxy.
      const out = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path, headers: upstreamHeaders(req.headers), agent },
        (up) => {
          res.writeHead(up.statusCode ?? 502, downstreamHeaders(up.headers, "stream" in req));
          up.pipe(res);
        },
      );
      out.on("error", (err) => {
        if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
        res.end(`latency proxy: upstream error: ${err.message}\n`);
      });
      req.pipe(out);
    });
  };

  const http = options.tls
    ? options.http2 === false
      ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert, keepAliveTimeout: 30_000 }, forward)
      : createSecureServer({ key: options.tls.key, cert: options.tls.cert, allowHTTP1: true, settings: { maxConcurrentStreams: 250 } }, forward)
    : createHttpServer({ keepAliveTimeout: 30_000 }, forward);
  // Plain HTTP sent to the HTTPS port (a probe of both schemes): counted, then closed as Node closes it.
  // (Node reports one such connection more than once, so it is counted as a connection without a TLS session.)
  let secured = 0;
  http.on("secureConnection", () => void secured++);
  http.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    // A TLS ClientHello or other non-HTTP bytes: answer 400 and close, as Node would, after the handshake's latency.
    if (err.code === "ECONNRESET") return void socket.destroy();
    counts.nonHttp++;
    setTimeout(() => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      else socket.destroy();
    }, handshake(socket, socket.remotePort));
  });
  const sockets = new OpenSockets();
  http.on("connection", (socket: Socket) => {
    counts.connections++;
    sockets.add(socket);
    const port = socket.remotePort;
    if (port === undefined) return;
    opened.set(port, performance.now());
    socket.once("close", () => opened.delete(port));
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  const port = (http.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    latencyMs,
    setUpstream: (url) => {
      upstream = new URL(url);
    },
    counts: () => ({
      ...counts,
      requests: { ...counts.requests },
      ...(options.tls ? { nonHttp: counts.connections - secured } : {}),
    }),
    reset: () => {
      secured = 0;
      counts = { requests: {}, connections: 0, nonHttp: 0 };
    },
    close: async () => {
      sockets.destroyAll();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      agent.destroy();
    },
  };
}

// HTTP/2 pseudo-headers (":path", …) and connection-specific headers do not cross to HTTP/1.1 and back.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "http2-settings"]);

function upstreamHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!name.startsWith(":") && !HOP_BY_HOP.has(name)) out[name] = value;
  const authority = headers[":authority"];
  if (typeof authority === "string" && out.host === undefined) out.host = authority;
  return out;
}

function downstreamHeaders(headers: IncomingHttpHeaders, http2: boolean): OutgoingHttpHeaders {
  if (!http2) return headers;
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

// Stand-alone use: put latency in front of any registry for manual experiments.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const upstream = flag(args, "--upstream");
  if (!upstream) {
    process.stderr.write("usage: latency-proxy --upstream http://127.0.0.1:PORT [--token-upstream URL] [--latency MS] [--port N]\n");
    process.exit(2);
  }
  const tokenUpstream = flag(args, "--token-upstream");
  const proxy = await startLatencyProxy({
    upstream,
    ...(tokenUpstream ? { tokenUpstream } : {}),
    latencyMs: Number(flag(args, "--latency") ?? process.env.BENCH_LATENCY_MS ?? 25),
    port: Number(flag(args, "--port") ?? 0),
  });
  process.stderr.write(`latency proxy on ${proxy.url} -> ${upstream} (${proxy.latencyMs} ms per request); Ctrl-C prints the counts\n`);
  process.once("SIGINT", () => {
    process.stderr.write(`${JSON.stringify(proxy.counts(), null, 2)}\n`);
    void proxy.close().then(() => process.exit(0));
  });
}
