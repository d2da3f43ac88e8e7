// TCP connections opened before the registry stack loads. A function run
// knows the registries it will ask from the raw input within milliseconds,
// but loading undici and the client takes ~20-35 ms more before the `/v2/`
// probe's connection is asked for; over a link with latency, the TCP
// handshake is that long again, and over HTTPS the TLS handshake waits for
// it. Opened here (node:net only, nothing to load), the probe's connections
// are up, or nearly, when the pool asks for them (Network takes them: plain
// as they are, HTTPS with TLS over them). Errors are what undici's connector
// would have reported; sockets nobody takes are closed when the network
// closes.
import { connect } from "node:net";
import type { Socket, TcpNetConnectOpts } from "node:net";
import { gone } from "./spares.js";

/** The TCP endpoint ("hostname:port", an IPv6 literal without brackets) a connection goes to, whatever its protocol. */
export function endpointKey(protocol: string, hostname: string, port: string | number | undefined): string {
  return `${hostname}:${port || defaultPort(protocol)}`;
}

export function defaultPort(protocol: string): number {
  return protocol === "https:" ? 443 : 80;
}

/** A URL's host name as undici's client names a connection and net.connect takes it: an IPv6 literal without its brackets. */
export function connectHostname(url: URL): string {
  return url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
}

/** An early socket once taken: ready() calls back once it is connected (error undefined) or failed. */
export interface EarlySocket {
  readonly socket: Socket;
  ready(callback: (error: Error | undefined) => void): void;
}

interface Entry {
  readonly socket: Socket;
  /** Set when the connection is up (error undefined) or failed. */
  settled?: { readonly error: Error | undefined };
  waiter?: ((error: Error | undefined) => void) | undefined;
}

export class EarlySockets {
  private readonly byEndpoint = new Map<string, Entry[]>();

  /**
   * Opens a TCP connection to the origin's endpoint (an http: or https: URL;
   * a loopback registry's two origins are one endpoint, and either attempt
   * takes either). It keeps the process alive only once taken.
   */
  open(origin: URL): void {
    if (origin.protocol !== "http:" && origin.protocol !== "https:") return;
    const hostname = connectHostname(origin);
    const port = origin.port ? Number(origin.port) : defaultPort(origin.protocol);
    const key = endpointKey(origin.protocol, hostname, port);
    // undici's own choice for plain connections (Node takes it, its types do not say so).
    const options: TcpNetConnectOpts & { readonly highWaterMark: number } = { host: hostname, port, highWaterMark: 64 * 1024 };
    const socket = connect(options);
    socket.unref();
    const entry: Entry = { socket };
    const settle = (error: Error | undefined): void => {
      if (entry.settled) return;
      entry.settled = { error };
      const waiter = entry.waiter;
      entry.waiter = undefined;
      waiter?.(error);
    };
    // Listened to from the start: an error before anyone takes it must not go unhandled.
    socket.once("connect", () => settle(undefined)).on("error", (error) => settle(error));
    this.byEndpoint.set(key, [...(this.byEndpoint.get(key) ?? []), entry]);
  }

  /**
   * An early connection to this endpoint (endpointKey), connected ones
   * first: undefined if none is left that may still work (then the caller
   * connects as usual and reports what that gives).
   */
  take(endpoint: string): EarlySocket | undefined {
    const list = this.byEndpoint.get(endpoint);
    if (!list) return undefined;
    const usable: Entry[] = [];
    for (const e of list) {
      if (failed(e)) e.socket.destroy();
      else usable.push(e);
    }
    const entry = usable.find((e) => e.settled) ?? usable[0];
    const rest = usable.filter((e) => e !== entry);
    if (rest.length > 0) this.byEndpoint.set(endpoint, rest);
    else this.byEndpoint.delete(endpoint);
    if (!entry) return undefined;
    const { socket } = entry;
    socket.ref();
    return {
      socket,
      ready: (callback) => {
        if (entry.settled) process.nextTick(callback, entry.settled.error);
        else entry.waiter = callback;
      },
    };
  }

  /** Closes the connections nobody took. */
  dropAll(): void {
    for (const list of this.byEndpoint.values()) for (const entry of list) entry.socket.destroy();
    this.byEndpoint.clear();
  }
}

/** Failed, or closed by the server while it waited (a request on it would be lost). */
function failed(entry: Entry): boolean {
  return entry.settled?.error !== undefined || gone(entry.socket);
}
