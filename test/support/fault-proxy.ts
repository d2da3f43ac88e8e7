// A reverse proxy of ours in front of a real registry (or token server) that
// injects scripted faults per request: error statuses, 429 with Retry-After,
// connection resets, stalls, HEAD rejections, missing or wrong digest
// headers, and what a hostile registry might send: replaced bodies and
// headers, redirects, bodies that drip or never end, huge headers, error
// bodies that echo the request's credentials. Everything else is forwarded
// unchanged. Counts requests by method and the most in flight at once, and
// records the Authorization header of each request.
import { createServer as createHttpServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { request } from "undici";
import type { Dispatcher } from "undici";
import { OpenSockets } from "./open-sockets.js";

export type Fault =
  /** Answer with this status (and headers/body) instead of forwarding. */
  | { readonly kind: "status"; readonly status: number; readonly headers?: Readonly<Record<string, string>>; readonly body?: string }
  /** 429 with a TOOMANYREQUESTS body and, if given, Retry-After. */
  | { readonly kind: "rate-limit"; readonly retryAfter?: string }
  /** Reset the connection (TCP RST) without answering. */
  | { readonly kind: "reset" }
  /** Accept the request and never answer. */
  | { readonly kind: "stall" }
  /** Send the upstream's headers and half its body, then nothing more. */
  | { readonly kind: "stall-body" }
  /** Forward after a pause. */
  | { readonly kind: "delay"; readonly ms: number }
  /** Forward, without Docker-Content-Digest in the answer. */
  | { readonly kind: "strip-digest" }
  /** Forward, with another Docker-Content-Digest in the answer. */
  | { readonly kind: "wrong-digest"; readonly digest?: string }
  /** `GET /v2/` answers 200 without a challenge, as registries with an anonymous base endpoint do. */
  | { readonly kind: "anonymous-ping" }
  /** Forward, with these response headers set (a value of null removes the header). */
  | { readonly kind: "headers"; readonly set: Readonly<Record<string, string | readonly string[] | null>> }
  /** Forward, with this body (Content-Length fixed) and these headers set instead. */
  | { readonly kind: "body"; readonly body: string | Buffer; readonly headers?: Readonly<Record<string, string | null>> }
  /** Answer a redirect (default 307) to this URL; a function gets the request path. */
  | { readonly kind: "redirect"; readonly location: string | ((path: string) => string); readonly status?: number }
  /** Forward the upstream's headers, then its body one byte per intervalMs, forever (repeating it) or until the client goes. */
  | { readonly kind: "drip"; readonly intervalMs: number }
  /** Answer this status with headers and a body that never ends (chunked), until the client goes. */
  | { readonly kind: "endless"; readonly status?: number; readonly headers?: Readonly<Record<string, string>> }
  /** Answer this status with one header `name` whose value is `bytes` long. */
  | { readonly kind: "huge-header"; readonly status?: number; readonly name: string; readonly bytes: number; readonly prefix?: string }
  /** Answer this status with a registry error body (and WWW-Authenticate) quoting the request's Authorization header. */
  | { readonly kind: "echo-auth"; readonly status: number; readonly code?: string };

export interface Rule {
  /** Methods it applies to; default all. */
  readonly method?: string | readonly string[];
  /** Tested against the request path with query; default all. */
  readonly path?: RegExp;
  /** How many requests it applies to before it is used up; default all. */
  readonly times?: number;
  readonly fault: Fault;
}

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  /** The fault injected, if any. */
  readonly fault: Fault["kind"] | undefined;
  /** The request's Authorization header, if any. */
  readonly authorization: string | undefined;
  /** ms since the proxy started. */
  readonly at: number;
}

export interface FaultProxy {
  /** "127.0.0.1:PORT" */
  readonly host: string;
  readonly port: number;
  /** "http://127.0.0.1:PORT" (https when started with tls). */
  readonly url: string;
  /** Requests seen, by method ("HEAD", "GET", ...). */
  readonly counts: Readonly<Record<string, number>>;
  readonly requests: readonly SeenRequest[];
  /** The most requests in flight at once since the last reset. */
  readonly maxInFlight: number;
  /** Adds rules; a request takes the first matching rule that is not used up. */
  script(...rules: Rule[]): void;
  /** Drops rules and counters. */
  reset(): void;
  stop(): Promise<void>;
}

export interface Upstream {
  /** "http(s)://host:port" */
  readonly url: string;
  readonly dispatcher?: Dispatcher;
  /** Sent upstream on requests that carry no Authorization (a storage backend's own access, as a signed URL would be). */
  readonly injectAuthorization?: string;
}

export interface FaultProxyOptions {
  /** Serve HTTPS with this key and certificate (PEM). */
  readonly tls?: { readonly key: string; readonly cert: string };
}

const HOP_BY_HOP = ["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "trailer", "host"];
const OTHER_DIGEST = `sha256:${"0".repeat(64)}`;

export async function startFaultProxy(upstream: Upstream, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const rules: { rule: Rule; left: number }[] = [];
  let counts: Record<string, number> = {};
  let seen: SeenRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const started = performance.now();
  const sockets = new OpenSockets();

  const take = (req: IncomingMessage): Fault | undefined => {
    const path = req.url ?? "/";
    for (const entry of rules) {
      const { rule } = entry;
      if (entry.left <= 0) continue;
      const methods = rule.method === undefined ? undefined : typeof rule.method === "string" ? [rule.method] : rule.method;
      if (methods && !methods.includes(req.method ?? "")) continue;
      if (rule.path && !rule.path.test(path)) continue;
      entry.left--;
      return rule.fault;
    }
    return undefined;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? "GET";
    const fault = take(req);
    counts[method] = (counts[method] ?? 0) + 1;
    seen.push({ method, path: req.url ?? "/", fault: fault?.kind, authorization: req.headers.authorization, at: performance.now() - started });
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    res.once("close", () => inFlight--);
    void answer(req, res, fault);
  };

  const answer = async (req: IncomingMessage, res: ServerResponse, fault: Fault | undefined): Promise<void> => {
    switch (fault?.kind) {
      case "status":
        res.writeHead(fault.status, { "content-type": "application/json", ...fault.headers }).end(req.method === "HEAD" ? undefined : (fault.body ?? ""));
        return;
      case "rate-limit": {
        const body = JSON.stringify({ errors: [{ code: "TOOMANYREQUESTS", message: "too many requests", detail: null }] });
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
        res.writeHead(429, headers).end(req.method === "HEAD" ? undefined : body);
        return;
      }
      case "reset":
        req.socket.resetAndDestroy();
        return;
      case "stall":
        return; // the socket stays open until the client gives up or stop()
      case "anonymous-ping":
        if (req.url === "/v2/") {
          res.writeHead(200, { "content-type": "application/json" }).end("{}");
          return;
        }
        break;
      case "delay":
        await new Promise((r) => setTimeout(r, fault.ms));
        break;
      case "redirect": {
        const path = req.url ?? "/";
        const location = typeof fault.location === "string" ? fault.location : fault.location(path);
        res.writeHead(fault.status ?? 307, { location, "content-length": "0" }).end();
        return;
      }
      case "endless":
        res.writeHead(fault.status ?? 200, { "content-type": "application/json", ...fault.headers });
        if (req.method === "HEAD") res.end();
        else endless(res);
        return;
      case "huge-header":
        res.writeHead(fault.status ?? 200, { "content-type": "application/json", [fault.name]: `${fault.prefix ?? ""}${"a".repeat(fault.bytes)}` }).end();
        return;
      case "echo-auth": {
        const sent = req.headers.authorization ?? "";
        const message = `credentials ${sent} were refused`;
        const body = JSON.stringify({ errors: [{ code: fault.code ?? "DENIED", message, detail: { authorization: sent } }] });
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (fault.status === 401) headers["www-authenticate"] = `Basic realm="${sent.replace(/"/g, "")}"`;
        res.writeHead(fault.status, headers).end(req.method === "HEAD" ? undefined : body);
        return;
      }
      default:
        break;
    }
    await forward(upstream, req, res, fault);
  };

  const server: Server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handle) : createHttpServer(handle);
  server.on("connection", (s: Socket) => sockets.add(s));
  server.on("secureConnection", (s: Socket) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    port,
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    get counts() {
      return counts;
    },
    get requests() {
      return seen;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    script: (...added) => rules.push(...added.map((rule) => ({ rule, left: rule.times ?? Infinity }))),
    reset: () => {
      rules.length = 0;
      counts = {};
      seen = [];
      maxInFlight = inFlight;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        sockets.destroyAll();
        server.close(() => resolve());
      }),
  };
}

/** Writes 64 KiB chunks of JSON-looking filler for as long as the client reads (bounded at 4 GiB). */
function endless(res: ServerResponse): void {
  const chunk = Buffer.alloc(64 * 1024, "[");
  let sent = 0;
  const more = (): void => {
    while (!res.destroyed && sent < 4 * 1024 ** 3) {
      sent += chunk.length;
      if (!res.write(chunk)) {
        res.once("drain", more);
        return;
      }
    }
    res.end();
  };
  more();
}

/** One byte of `body` (repeated) every intervalMs until the client goes. */
function drip(res: ServerResponse, body: Buffer, intervalMs: number): void {
  let at = 0;
  const timer = setInterval(() => {
    if (res.destroyed) {
      clearInterval(timer);
      return;
    }
    res.write(body.subarray(at % body.length, (at % body.length) + 1));
    at++;
  }, intervalMs);
  res.once("close", () => clearInterval(timer));
}

/** Forwards one request to the upstream and its answer back, applying the header faults. */
export async function forward(upstream: Upstream, req: IncomingMessage, res: ServerResponse, fault?: Fault): Promise<void> {
  try {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.includes(name)) headers[name] = value;
    }
    if (upstream.injectAuthorization !== undefined && headers.authorization === undefined) headers.authorization = upstream.injectAuthorization;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const method = req.method ?? "GET";
    const up = await request(`${upstream.url}${req.url ?? "/"}`, {
      method,
      headers,
      body: chunks.length > 0 ? Buffer.concat(chunks) : null,
      ...(upstream.dispatcher ? { dispatcher: upstream.dispatcher } : {}),
    });
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(up.headers)) {
      if (value !== undefined && !HOP_BY_HOP.includes(name)) out[name] = value;
    }
    if (fault?.kind === "strip-digest") delete out["docker-content-digest"];
    if (fault?.kind === "wrong-digest") out["docker-content-digest"] = fault.digest ?? OTHER_DIGEST;
    if (fault?.kind === "headers") {
      for (const [name, value] of Object.entries(fault.set)) {
        if (value === null) delete out[name];
        else out[name] = typeof value === "string" ? value : [...value];
      }
    }
    let body = Buffer.from(await up.body.arrayBuffer());
    if (fault?.kind === "body") {
      body = Buffer.from(fault.body);
      for (const [name, value] of Object.entries(fault.headers ?? {})) {
        if (value === null) delete out[name];
        else out[name] = value;
      }
      out["content-length"] = String(body.length);
    }
    if (fault?.kind === "drip") {
      delete out["content-length"];
      res.writeHead(up.statusCode, out);
      if (method === "HEAD") res.end();
      else drip(res, body.length > 0 ? body : Buffer.from(" "), fault.intervalMs);
      return;
    }
    if (fault?.kind === "stall-body") {
      out["content-length"] = String(body.length);
      res.writeHead(up.statusCode, out);
      res.write(body.subarray(0, Math.floor(body.length / 2)));
      return; // the rest never comes
    }
    res.writeHead(up.statusCode, out).end(method === "HEAD" ? undefined : body);
  } catch (err) {
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
    res.end(String(err));
  }
}
