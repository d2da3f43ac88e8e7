// A forward proxy of ours for HTTPS_PROXY / HTTP_PROXY tests: CONNECT
// tunnels (https) and absolute-URI requests (http), optional Basic proxy
// auth, and a host table so test names like "registry.test" reach loopback
// servers (the client never resolves a name it sends through a proxy).
// Counts what it was asked.
import { createServer, request as httpRequest } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import { connect } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { OpenSockets } from "./open-sockets.js";

export interface ForwardProxyOptions {
  /** Host name -> address the proxy connects to instead (names not listed are resolved by DNS). */
  readonly hosts?: Readonly<Record<string, string>>;
  /** Demand `Proxy-Authorization: Basic` with these credentials (407 otherwise). */
  readonly auth?: { readonly user: string; readonly password: string };
}

export interface ForwardProxy {
  /** "http://127.0.0.1:PORT" */
  readonly url: string;
  readonly port: number;
  /** CONNECT targets ("host:port"), in order. */
  readonly connects: readonly string[];
  /** Absolute URIs of plain HTTP requests, in order. */
  readonly requests: readonly string[];
  /** Requests answered 407. */
  readonly rejected: number;
  reset(): void;
  stop(): Promise<void>;
}

export async function startForwardProxy(options: ForwardProxyOptions = {}): Promise<ForwardProxy> {
  let connects: string[] = [];
  let requests: string[] = [];
  let rejected = 0;
  const sockets = new OpenSockets();
  const expected = options.auth ? `Basic ${Buffer.from(`${options.auth.user}:${options.auth.password}`).toString("base64")}` : undefined;
  const authorized = (req: IncomingMessage): boolean => {
    if (expected === undefined || req.headers["proxy-authorization"] === expected) return true;
    rejected++;
    return false;
  };
  const address = (host: string): string => options.hosts?.[host.toLowerCase()] ?? host;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const target = req.url ?? "";
    requests.push(target);
    if (!authorized(req)) {
      res.writeHead(407, { "proxy-authenticate": 'Basic realm="test proxy"' }).end();
      return;
    }
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      res.writeHead(400).end("absolute URI expected");
      return;
    }
    const headers = { ...req.headers };
    delete headers["proxy-authorization"];
    delete headers["proxy-connection"];
    const up = httpRequest(
      { host: address(url.hostname), port: url.port || 80, method: req.method, path: `${url.pathname}${url.search}`, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    up.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(up);
  });

  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? "";
    connects.push(target);
    sockets.add(client);
    client.on("error", () => {});
    if (!authorized(req)) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test proxy"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const m = /^(.+):(\d+)$/.exec(target);
    if (!m) {
      client.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const host = (m[1] ?? "").replace(/^\[|\]$/g, "");
    const upstream = connect(Number(m[2]), address(host));
    sockets.add(upstream);
    let established = false;
    upstream.once("connect", () => {
      established = true;
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.once("error", () => {
      if (!established) client.end("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
      else client.destroy();
    });
    client.once("close", () => upstream.destroy());
  });
  server.on("connection", (s: Socket) => sockets.add(s));

  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get connects() {
      return connects;
    },
    get requests() {
      return requests;
    },
    get rejected() {
      return rejected;
    },
    reset: () => {
      connects = [];
      requests = [];
      rejected = 0;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        sockets.destroyAll();
        server.close(() => resolve());
      }),
  };
}
