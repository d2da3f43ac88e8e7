// A token realm that also speaks the OAuth2 refresh-token grant (what
// docker's `identitytoken` is used for): POST /token with
// grant_type=refresh_token is answered here from known refresh tokens; a GET
// is passed on to the token server of test/support/token-server.ts.
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TokenServer } from "../support/token-server.js";

export interface RefreshPost {
  readonly grantType: string | null;
  readonly service: string | null;
  readonly scope: string | null;
  readonly clientId: string | null;
  readonly accepted: boolean;
}

export interface RefreshRealm {
  /** `${url}/token`: give it to the registry as its realm. */
  readonly realm: string;
  readonly posts: RefreshPost[];
  /** GETs passed on to the token server. */
  readonly gets: number;
  stop(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** `refreshTokens`: refresh token -> the user it stands for. */
export async function startRefreshRealm(tokens: TokenServer, refreshTokens: Readonly<Record<string, string>>): Promise<RefreshRealm> {
  const posts: RefreshPost[] = [];
  const state = { gets: 0 };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== "/token") {
      res.writeHead(404).end();
      return;
    }
    if (req.method === "POST") {
      const form = new URLSearchParams(await body(req));
      const refresh = form.get("refresh_token") ?? "";
      const user = Object.hasOwn(refreshTokens, refresh) ? refreshTokens[refresh] : undefined;
      const accepted = form.get("grant_type") === "refresh_token" && user !== undefined && form.get("service") === tokens.service;
      posts.push({ grantType: form.get("grant_type"), service: form.get("service"), scope: form.get("scope"), clientId: form.get("client_id"), accepted });
      if (!accepted) {
        res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: "invalid_grant" }));
        return;
      }
      const scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
      const access = tokens.issueToken(scopes, { user });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ access_token: access, expires_in: 300, scope: scopes.join(" ") }));
      return;
    }
    state.gets++;
    const headers: Record<string, string> = {};
    if (req.headers.authorization) headers.authorization = req.headers.authorization;
    const upstream = await fetch(`${tokens.url}${url.pathname}${url.search}`, { headers });
    const text = await upstream.text();
    const out: Record<string, string> = { "content-type": "application/json" };
    const challenge = upstream.headers.get("www-authenticate");
    if (challenge) out["www-authenticate"] = challenge;
    res.writeHead(upstream.status, out).end(text);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    realm: `${url}/token`,
    posts,
    get gets() {
      return state.gets;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
