// Plain-HTTP servers for the kubelet and Prometheus: --health-addr serves
// /healthz (alive) and /readyz (certificate loaded; online: the API answers),
// --metrics-addr serves /metrics.
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

export type Route = () => Promise<{ status: number; type: string; body: string }>;

export class OpsServer {
  private readonly server: Server;

  constructor(
    private readonly host: string | undefined,
    private readonly port: number,
    routes: Readonly<Record<string, Route>>,
  ) {
    this.server = createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://ops").pathname;
      const route = routes[path];
      if (!route || (req.method !== "GET" && req.method !== "HEAD")) {
        res.writeHead(route ? 405 : 404, { "content-type": "text/plain" });
        res.end(route ? "GET only\n" : `not found; try ${Object.keys(routes).join(", ")}\n`);
        return;
      }
      route().then(
        ({ status, type, body }) => {
          res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
          res.end(req.method === "HEAD" ? undefined : body);
        },
        (error: unknown) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(`${error instanceof Error ? error.message : String(error)}\n`);
        },
      );
    });
  }

  get boundPort(): number {
    return (this.server.address() as AddressInfo).port;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, this.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    return closed;
  }
}
