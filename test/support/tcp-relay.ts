// A TCP relay in front of a local server that sees only connections, not
// protocols: when each was opened, how many there were, and (holdMs) a delay
// before each is passed on, to tell requests sent side by side from requests
// sent in turn.
import { createConnection, createServer } from "node:net";
import type { AddressInfo } from "node:net";
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
  stop(): Promise<void>;
}

export async function startTcpRelay(targetPort: number, options: { readonly holdMs?: number } = {}): Promise<TcpRelay> {
  const accepted: number[] = [];
  let maxPipelined = 0;
  const sockets = new OpenSockets();
  const server = createServer((inbound) => {
    accepted.push(performance.now());
    sockets.add(inbound);
    inbound.pause();
    setTimeout(() => {
      let outstanding = 0;
      const upstream = createConnection(targetPort, "127.0.0.1", () => {
        inbound.pipe(upstream).pipe(inbound);
        inbound.resume();
      });
      inbound.on("data", (chunk: Buffer) => {
        outstanding += (chunk.toString("latin1").match(/^(?:GET|HEAD|POST) \/\S* HTTP\/1\.1\r$/gm) ?? []).length;
        maxPipelined = Math.max(maxPipelined, outstanding);
      });
      upstream.on("data", (chunk: Buffer) => {
        outstanding -= (chunk.toString("latin1").match(/^HTTP\/1\.1 \d{3} /gm) ?? []).length;
      });
      upstream.on("error", () => inbound.destroy());
      inbound.on("error", () => upstream.destroy());
      inbound.once("close", () => upstream.destroy());
    }, options.holdMs ?? 0);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    accepted,
    get maxPipelined() {
      return maxPipelined;
    },
    stop: async () => {
      sockets.destroyAll();
      await new Promise((r) => server.close(r));
    },
  };
}
