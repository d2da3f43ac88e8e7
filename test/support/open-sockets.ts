// The sockets a test server (or proxy) holds open, so that stopping it can
// end them: server.close() alone waits for every keep-alive connection.
import type { Socket } from "node:net";

export class OpenSockets {
  private readonly open = new Set<Socket>();

  /** Tracks the socket until it closes. */
  add(socket: Socket): void {
    this.open.add(socket);
    socket.once("close", () => this.open.delete(socket));
  }

  destroyAll(): void {
    for (const socket of this.open) socket.destroy();
  }
}
