// A TCP relay in front of a local server that sees only connections, not
// protocols: when each was opened, how many there were, and (holdMs) a delay
// before each is passed on, to tell requests sent side by side from requests
// sent in turn. With `tls` it ends TLS itself (HTTP/1.1 only, as a registry
// that does not speak HTTP/2) and passes plain bytes on.
import { createConnection, createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { OpenSockets } from "./open-sockets.js";

export interface TcpRelay {
  readonly port: number;
  /** performance.now() of each accepted connection, in order. */
  readonly accepted: readonly number[];
  /**
   * The most HTTP/1.1 requests one connection had sent and not yet had
   * answered at once (2 or more: pipelined), counted from request and
   * status lines in the bytes passed on.
   */
  readonly maxPipelined: number;
  /** Request lines seen ("HEAD /v2/…"), when, and on which connection (an index into accepted). */
  readonly requests: readonly { readonly line: string; readonly at: number; readonly connection: number }[];
  /** Connections open now. */
  readonly open: number;
  /** Closes the open connections that have sent no request yet; how many. */
  dropIdle(): number;
  stop(): Promise<void>;
}

export interface TcpRelayOptions {
  /** Delay before each connection is passed on, ms; or per connection, by its index in accepted. */
  readonly holdMs?: number | ((connection: number) => number);
  /** End TLS with this key and certificate, offering HTTP/1.1 only (ALPN). */
  readonly tls?: { readonly key: string; readonly cert: string };
}

export async function startTcpRelay(targetPort: number, options: TcpRelayOptions = {}): Promise<TcpRelay> {
  const accepted: number[] = [];
  const requests: { line: string; at: number; connection: number }[] = [];
  let maxPipelined = 0;
  let open = 0;
  const sockets = new OpenSockets();
  const idle = new Set<Socket>();
  const relay = (inbound: Socket): void => {
    const connection = accepted.push(performance.now()) - 1;
    sockets.add(inbound);
    idle.add(inbound);
    open++;
    inbound.once("close", () => {
      open--;
      idle.delete(inbound);
    });
    inbound.pause();
    setTimeout(() => {
      let outstanding = 0;
      const upstream = createConnection(targetPort, "127.0.0.1", () => {
        inbound.pipe(upstream).pipe(inbound);
        inbound.resume();
      });
      inbound.on("data", (chunk: Buffer) => {
        const lines = chunk.toString("latin1").match(/^(?:GET|HEAD|POST) \/\S* HTTP\/1\.1\r$/gm) ?? [];
        for (const line of lines) requests.push({ line: line.slice(0, -"HTTP/1.1\r".length - 1), at: performance.now(), connection });
        outstanding += lines.length;
        if (lines.length > 0) idle.delete(inbound);
        maxPipelined = Math.max(maxPipelined, outstanding);
      });
      upstream.on("data", (chunk: Buffer) => {
        outstanding -= (chunk.toString("latin1").match(/^HTTP\/1\.1 \d{3} /gm) ?? []).length;
      });
      upstream.on("error", () => inbound.destroy());
      inbound.on("error", () => upstream.destroy());
      inbound.once("close", () => upstream.destroy());
    }, (typeof options.holdMs === "function" ? options.holdMs(connection) : options.holdMs) ?? 0);
  };
  // A TLS connection is counted once its handshake is over (a plain-HTTP attempt at it never is).
  const server = options.tls ? createTlsServer({ key: options.tls.key, cert: options.tls.cert, ALPNProtocols: ["http/1.1"] }, relay) : createServer(relay);
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    accepted,
    get maxPipelined() {
      return maxPipelined;
    },
    requests,
    get open() {
      return open;
    },
    dropIdle: () => {
      const dropped = [...idle];
      for (const socket of dropped) socket.destroy();
      return dropped.length;
    },
    stop: async () => {
      sockets.destroyAll();
      await new Promise((r) => server.close(r));
    },
  };
}
