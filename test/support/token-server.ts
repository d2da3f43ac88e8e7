// A token server for registry Bearer auth (the docker/distribution token
// spec): GET /token?service=…&scope=… answers an RS256 JWT whose header
// carries `x5c: [cert]`; the registry trusts that cert via its rootcertbundle.
// Counts what it issues so tests can assert how often clients ask.
import { execFile } from "node:child_process";
import { generateKeyPair, randomUUID, sign, X509Certificate } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { cleanupOnExit } from "./registry.js";
import type { TokenAuthConfig } from "./registry.js";

const run = promisify(execFile);
const generateRsa = promisify(generateKeyPair);

export interface Access {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

export interface TokenServerOptions {
  /** The registry's `service` name (the token's `aud`); default "test-registry". */
  readonly service?: string;
  /** The token's `iss`; default "test-issuer". */
  readonly issuer?: string;
  /** Basic credentials accepted (user -> password). */
  readonly users?: Readonly<Record<string, string>>;
  /** Whether requests without credentials get tokens; default: only when no `users`. */
  readonly anonymous?: boolean;
  /** Token lifetime in seconds (also sent as `expires_in`); default 300. */
  readonly expiresIn?: number;
  /** Leave `expires_in` out of the response (clients must assume 60 s). */
  readonly omitExpiresIn?: boolean;
  /** Which JSON field carries the token; default both, as Docker Hub does. */
  readonly tokenField?: "token" | "access_token" | "both";
  /** Actions granted for one requested scope; default: all requested. */
  readonly grant?: (user: string | undefined, requested: Access) => readonly string[];
}

export interface TokenRequest {
  readonly user: string | undefined;
  readonly service: string | null;
  readonly scopes: readonly string[];
  readonly status: number;
}

export interface TokenCounters {
  /** Every GET /token, answered or refused. */
  requests: number;
  /** Tokens handed out. */
  issued: number;
  /** 401 (bad or missing credentials) and 400 (wrong service). */
  refused: number;
  /** Tokens issued per requested scope string ("repository:x:pull"). */
  readonly byScope: Map<string, number>;
}

export interface TokenServer {
  /** "http://127.0.0.1:PORT" */
  readonly url: string;
  /** `${url}/token`, what the registry names in its challenge. */
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM of the self-signed signing cert: the registry's rootcertbundle. */
  readonly rootCertFile: string;
  readonly certPem: string;
  /** Ready to pass as `startRegistry({ token })`. */
  readonly registryConfig: TokenAuthConfig;
  readonly counters: TokenCounters;
  /** Every request, in arrival order. */
  readonly requests: TokenRequest[];
  /** Every token minted (GET /token, issueToken, pushAuthorization), in order: for tests that look for them where they must not be. */
  readonly issuedTokens: readonly string[];
  resetCounters(): void;
  /** Mints a token directly, e.g. an expired one (`expiresIn` <= 0) or one for a scope nobody asked. */
  issueToken(scopes: readonly string[], options?: { user?: string; expiresIn?: number }): string;
  /** The Authorization header for seeding one repository: a Bearer token with pull and push on it. */
  pushAuthorization(repository: string): string;
  stop(): Promise<void>;
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString("base64url");

/** "repository:team/app:pull,push" -> {type, name, actions}; the name may not hold ':' but a scope type may. */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first < 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope.slice(last + 1).split(",").filter(Boolean),
  };
}

function basicUser(header: string | undefined, users: Readonly<Record<string, string>>): string | null | undefined {
  if (!header) return undefined; // anonymous
  const match = /^Basic\s+(\S+)$/i.exec(header);
  if (!match?.[1]) return null;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const user = decoded.slice(0, colon);
  return colon > 0 && Object.hasOwn(users, user) && users[user] === decoded.slice(colon + 1) ? user : null;
}

/** An RSA key (node:crypto) and a self-signed cert for it (openssl: node:crypto cannot write X.509). */
async function makeSigner(dir: string): Promise<{ privateKey: KeyObject; rootCertFile: string; certPem: string; x5c: string }> {
  const { privateKey } = await generateRsa("rsa", { modulusLength: 2048 });
  const keyFile = join(dir, "key.pem");
  const rootCertFile = join(dir, "cert.pem");
  await writeFile(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }));
  await run("openssl", ["req", "-x509", "-new", "-key", keyFile, "-subj", "/CN=krm-digester test token issuer", "-days", "2", "-out", rootCertFile]);
  const certPem = await readFile(rootCertFile, "utf8");
  const x5c = new X509Certificate(certPem).raw.toString("base64"); // standard base64 DER, not base64url
  return { privateKey, rootCertFile, certPem, x5c };
}

export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const service = options.service ?? "test-registry";
  const issuer = options.issuer ?? "test-issuer";
  const users = options.users ?? {};
  const anonymous = options.anonymous ?? options.users === undefined;
  const lifetime = options.expiresIn ?? 300;
  const tokenField = options.tokenField ?? "both";

  const dir = await mkdtemp(join(tmpdir(), "krm-digester-token-"));
  const forgetDir = cleanupOnExit(() => rmSync(dir, { recursive: true, force: true }));

  let signer: Awaited<ReturnType<typeof makeSigner>>;
  try {
    signer = await makeSigner(dir);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    forgetDir();
    throw err;
  }
  const { privateKey, rootCertFile, certPem, x5c } = signer;

  const issuedTokens: string[] = [];
  const issueToken = (scopes: readonly string[], opts: { user?: string; expiresIn?: number } = {}): string => {
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.flatMap((s) => {
      const a = parseScope(s);
      if (!a) return [];
      const actions = options.grant ? options.grant(opts.user, a) : a.actions;
      return [{ type: a.type, name: a.name, actions: [...actions] }];
    });
    const header = { typ: "JWT", alg: "RS256", x5c: [x5c] };
    const claims = {
      iss: issuer,
      sub: opts.user ?? "",
      aud: service,
      exp: now + (opts.expiresIn ?? lifetime),
      nbf: now - 1,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const token = `${input}.${b64url(sign("RSA-SHA256", Buffer.from(input), privateKey))}`;
    issuedTokens.push(token);
    return token;
  };

  const counters: TokenCounters = { requests: 0, issued: 0, refused: 0, byScope: new Map() };
  const requests: TokenRequest[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    // Only GET: a POST (OAuth2 refresh) gets 404, which clients must fall back from.
    if (req.method !== "GET" || url.pathname !== "/token") {
      res.writeHead(404).end();
      return;
    }
    counters.requests++;
    const scopes = url.searchParams.getAll("scope").flatMap((s) => s.split(" ")).filter(Boolean);
    const requestedService = url.searchParams.get("service");
    const user = basicUser(req.headers.authorization, users);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      requests.push({ user: user ?? undefined, service: requestedService, scopes, status });
      res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
    };
    if (user === null || (user === undefined && !anonymous)) {
      counters.refused++;
      reply(401, { details: "bad or missing credentials" }, { "www-authenticate": 'Basic realm="test-token-server"' });
      return;
    }
    if (requestedService !== null && requestedService !== service) {
      counters.refused++;
      reply(400, { details: `unknown service ${requestedService}` });
      return;
    }
    const token = issueToken(scopes, { user });
    counters.issued++;
    for (const s of scopes) counters.byScope.set(s, (counters.byScope.get(s) ?? 0) + 1);
    reply(200, {
      ...(tokenField !== "access_token" ? { token } : {}),
      ...(tokenField !== "token" ? { access_token: token } : {}),
      ...(options.omitExpiresIn ? {} : { expires_in: lifetime }),
      issued_at: new Date().toISOString(),
    });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const realm = `${url}/token`;

  let stopped: Promise<void> | undefined;
  return {
    url,
    realm,
    service,
    issuer,
    rootCertFile,
    certPem,
    registryConfig: { realm, service, issuer, rootCertFile },
    counters,
    requests,
    issuedTokens,
    resetCounters: () => {
      counters.requests = counters.issued = counters.refused = 0;
      counters.byScope.clear();
      requests.length = 0;
    },
    issueToken,
    pushAuthorization: (repository) => `Bearer ${issueToken([`repository:${repository}:pull,push`])}`,
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }).then(() => {
        rmSync(dir, { recursive: true, force: true });
        forgetDir();
      })),
  };
}
