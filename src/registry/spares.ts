// Connections opened ahead of the requests that will use them. When a run
// knows that many lookups will follow the `/v2/` probe to a registry that
// speaks HTTP/1.1 over TLS (ALPN said so on the probe's connection), or plain
// HTTP (its HTTPS attempt got plain bytes back), the connections they need
// are opened while the probe is out: each pays its handshakes then, not after
// the probe's answer (a round trip or two less before the first HEADs). The
// pool takes them as it would make new ones.
import type { Socket } from "node:net";

/** undici's connector callback. */
export type ConnectCallback = (...args: [null, Socket] | [Error, null]) => void;

interface Spare {
  readonly socket: Socket;
  /** Set once the connector answered: connected (error undefined) or failed. */
  settled?: { readonly error?: Error | undefined };
  /** Who took it before it connected, and how to connect anew if it fails. */
  waiting?: { readonly callback: ConnectCallback; readonly fresh: (callback: ConnectCallback) => void } | undefined;
}

export class SpareConnections {
  private readonly byOrigin = new Map<string, Spare[]>();
  /** Origins spares were opened for once: never again in this run (the pool keeps its connections). */
  private readonly opened = new Set<string>();

  /**
   * Opens `count` connections to `origin` with `connect` (undici's connector,
   * which connects and, over TLS, handshakes), once per origin. They do not
   * keep the process alive while nobody uses them.
   */
  open(origin: string, count: number, connect: (callback: ConnectCallback) => Socket | undefined): void {
    if (this.opened.has(origin)) return;
    this.opened.add(origin);
    const list: Spare[] = [];
    for (let i = 0; i < count; i++) {
      // What the connector answered, kept even if it answers before it returns the socket.
      const state: { settled?: Spare["settled"]; spare?: Spare } = {};
      const socket = connect((...args) => {
        const settled = { error: args[0] ?? undefined };
        state.settled = settled;
        const spare = state.spare;
        if (!spare) return;
        spare.settled = settled;
        const waiting = spare.waiting;
        spare.waiting = undefined;
        if (!waiting) return;
        // A spare that failed is not the lookup's failure: it gets a connection of its own, as without spares.
        if (settled.error) waiting.fresh(waiting.callback);
        else hand(spare, waiting.callback, waiting.fresh);
      });
      if (!socket) continue;
      socket.unref();
      state.spare = { socket, ...(state.settled ? { settled: state.settled } : {}) };
      list.push(state.spare);
    }
    if (list.length > 0) this.byOrigin.set(origin, list);
  }

  /**
   * A spare for a new connection to `origin`, handed to `callback` once it is
   * up (at once if it is; `fresh` connects instead if it fails); undefined
   * when none is left that may still work (then the caller connects as usual).
   */
  take(origin: string, callback: ConnectCallback, fresh: (callback: ConnectCallback) => void): Socket | undefined {
    const list = this.byOrigin.get(origin);
    while (list && list.length > 0) {
      const spare = list.shift()!;
      if (gone(spare.socket) || spare.settled?.error) continue;
      if (spare.settled) process.nextTick(hand, spare, callback, fresh);
      else spare.waiting = { callback, fresh };
      return spare.socket;
    }
    return undefined;
  }

  /** Closes the spares nobody took (the network closes). */
  dropAll(): void {
    for (const list of this.byOrigin.values()) for (const spare of list) spare.socket.destroy();
    this.byOrigin.clear();
  }
}

/** Gives a spare to the pool: from now on it is the pool's, and keeps the process alive as its requests do. */
function hand(spare: Spare, callback: ConnectCallback, fresh: (callback: ConnectCallback) => void): void {
  if (gone(spare.socket)) return fresh(callback);
  spare.socket.ref();
  callback(null, spare.socket);
}

/** Closed, or closing: the server ended it (its close may not have been seen yet), and a request on it would be lost. */
export function gone(socket: Socket): boolean {
  return socket.destroyed || socket.readableEnded || !socket.writable;
}
