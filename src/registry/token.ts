// Registry authentication: which Authorization header a request carries, and
// what to do after a 401. Bearer tokens are fetched from the realm the
// registry named, cached per (registry, scope) until shortly before expiry,
// and concurrent callers for one scope share a single token request.
import { isLoopback } from "../name/reference.js";
import { bearerChallenge, hasBasicChallenge } from "./challenge.js";
import type { BearerChallenge, Challenge } from "./challenge.js";
import type { Credential, CredentialProvider } from "./credentials.js";
import { RegistryError, fromResponse } from "./errors.js";
import type { ErrorContext } from "./errors.js";
import { Secrets } from "./redact.js";
import { quoteShort } from "./text.js";
import { responseExtra } from "./transport.js";
import type { HttpRequest, HttpResponse } from "./transport.js";

/** Sends one request (the transport's `request`). */
export type Send = (url: URL, req: HttpRequest, context: ErrorContext) => Promise<HttpResponse>;

export interface Token {
  readonly token: string;
  /** Epoch ms after which the token is not used any more (expiry minus a margin). */
  readonly useUntil: number;
}

const DEFAULT_EXPIRES_IN_S = 60;
/** A token response is a JWT or two in JSON: Docker Hub's are ~4 KiB, the largest seen ~10 KiB. */
export const MAX_TOKEN_BYTES = 1024 * 1024;
const MAX_MARGIN_MS = 10_000;

export class Authenticator {
  private readonly tokens = new Map<string, { promise: Promise<Token>; value?: Token }>();

  constructor(
    private readonly send: Send,
    private readonly credentials: CredentialProvider,
    /** Whether plain HTTP is acceptable for this registry (loopback/insecure); gates credentials to http realms. */
    private readonly allowsPlainHttp: (registry: string) => boolean,
    private readonly now: () => number = Date.now,
    /** Every credential presented and token received, for cleaning what the registry says back. */
    readonly secrets: Secrets = new Secrets(),
  ) {}

  /**
   * Authorization for a first request, from the last challenge the registry
   * gave (to its `/v2/` probe or a 401): a Bearer token for the repository,
   * Basic credentials, or none.
   */
  async initial(context: ErrorContext, challenges: readonly Challenge[]): Promise<string | undefined> {
    const bearer = bearerChallenge(challenges);
    // Only realm and service carry over from an earlier answer: its scope and error were about another request.
    if (bearer) return this.bearer(context, { ...bearer, scopes: [], error: undefined });
    if (hasBasicChallenge(challenges)) {
      const credential = await this.lookup(context);
      if (credential?.kind === "basic") return basic(credential.username, credential.password);
    }
    return undefined;
  }

  /**
   * After a 401 to a request sent with `sent`: the Authorization to retry
   * with once, or a RegistryError (UNAUTHORIZED / DENIED) when retrying
   * cannot help.
   */
  async retry(context: ErrorContext, challenges: readonly Challenge[], sent: string | undefined): Promise<string> {
    const bearer = bearerChallenge(challenges);
    if (bearer) {
      if (bearer.error === "insufficient_scope") throw await this.refused(context, bearer.error);
      // A token we sent was rejected (invalid_token, expired early, revoked): fetch a fresh one, once.
      if (sent?.startsWith("Bearer ")) this.invalidate(context, bearer, sent.slice("Bearer ".length));
      return this.bearer(context, bearer);
    }
    if (hasBasicChallenge(challenges)) {
      if (sent?.startsWith("Basic ")) throw new RegistryError("UNAUTHORIZED", context, "the registry rejected the username and password");
      const credential = await this.lookup(context);
      if (credential?.kind === "basic") return basic(credential.username, credential.password);
      throw new RegistryError("UNAUTHORIZED", context, "the registry requires a username and password and none is configured");
    }
    throw new RegistryError("UNAUTHORIZED", context, "HTTP 401 without a Basic or Bearer challenge");
  }

  /** The error for a 401 that survived the retry. */
  async refused(context: ErrorContext, error: string | undefined): Promise<RegistryError> {
    const credential = await this.lookup(context);
    if (credential === undefined) {
      return new RegistryError(
        "UNAUTHORIZED",
        context,
        `anonymous pull is not allowed${error ? ` (${error})` : ""}; the repository may be private or may not exist`,
      );
    }
    return new RegistryError("DENIED", context, `the credentials do not grant pull access${error ? ` (${error})` : ""}`);
  }

  private async lookup(context: ErrorContext): Promise<Credential | undefined> {
    try {
      const credential = await this.credentials.lookup(context.registry, context.repository);
      if (credential !== undefined) this.secrets.addCredential(credential);
      return credential;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new RegistryError("UNAUTHORIZED", context, `looking up credentials failed: ${why.split("\n")[0] ?? why}`, { cause: err });
    }
  }

  private async bearer(context: ErrorContext, challenge: BearerChallenge): Promise<string> {
    const credential = await this.lookup(context);
    // A registry token is a ready bearer token: no token service involved.
    if (credential?.kind === "registryToken") return `Bearer ${credential.token}`;
    const key = this.key(context, challenge);
    for (;;) {
      let entry = this.tokens.get(key);
      const fresh = entry === undefined;
      if (!entry) {
        const promise = this.fetch(context, challenge, credential);
        const created: { promise: Promise<Token>; value?: Token } = { promise };
        entry = created;
        this.tokens.set(key, created);
        promise.then(
          (value) => (created.value = value),
          () => {
            if (this.tokens.get(key) === created) this.tokens.delete(key);
          },
        );
      }
      let token: Token;
      try {
        token = await entry.promise;
      } catch (err) {
        // A shared fetch failed for whoever started it: report it for this image.
        throw err instanceof RegistryError ? err.rebind(context) : err;
      }
      // A token fetched for this very call is used even if slow fetching ate its lifetime.
      if (fresh || token.useUntil > this.now()) return `Bearer ${token.token}`;
      if (this.tokens.get(key) === entry) this.tokens.delete(key);
    }
  }

  private invalidate(context: ErrorContext, challenge: BearerChallenge, token: string): void {
    const key = this.key(context, challenge);
    const entry = this.tokens.get(key);
    // Only drop the token that failed: a concurrent caller may already have fetched a fresh one.
    if (entry?.value?.token === token) this.tokens.delete(key);
  }

  private key(context: ErrorContext, challenge: BearerChallenge): string {
    return [context.registry, challenge.realm, challenge.service ?? "", ...scopes(context, challenge)].join("\n");
  }

  private async fetch(context: ErrorContext, challenge: BearerChallenge, credential: Credential | undefined): Promise<Token> {
    let realm: URL;
    try {
      realm = new URL(challenge.realm);
    } catch {
      throw new RegistryError("PROTOCOL", context, `token realm ${quoteShort(challenge.realm)} is not a URL`);
    }
    if (realm.protocol !== "https:" && realm.protocol !== "http:") {
      throw new RegistryError("PROTOCOL", context, `token realm ${quoteShort(challenge.realm)} is not an http(s) URL`);
    }
    const subject = `token service ${realm.host} of registry ${context.registry}`;
    // The realm was named by the registry, so it may see the registry's credentials, but not in clear
    // text over the network unless the user already accepts plain HTTP for this registry.
    const mayCarry = realm.protocol === "https:" || isLoopback(realm.host) || this.allowsPlainHttp(context.registry);
    const usable = mayCarry ? credential : undefined;
    // Said when the token service refuses: the user has credentials, and why they were not sent.
    const withheld =
      credential !== undefined && !mayCarry
        ? `; the credentials were not sent: the token service ${realm.origin} is plain HTTP and the registry is not in insecureRegistries`
        : "";
    const wanted = scopes(context, challenge);

    let res: HttpResponse | undefined;
    if (usable?.kind === "identityToken") {
      // OAuth2 refresh-token grant; token services that lack it answer 404 and get a plain GET.
      const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: usable.token, client_id: "krm-digester" });
      if (challenge.service) form.set("service", challenge.service);
      form.set("scope", wanted.join(" "));
      res = await this.send(
        realm,
        {
          method: "POST",
          kind: "token",
          subject,
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: form.toString(),
          maxBodyBytes: MAX_TOKEN_BYTES,
        },
        context,
      );
      if (res.status === 404) res = undefined;
    }
    if (res === undefined) {
      const url = new URL(realm);
      if (challenge.service) url.searchParams.set("service", challenge.service);
      for (const scope of wanted) url.searchParams.append("scope", scope);
      const headers: Record<string, string> = {};
      if (usable?.kind === "basic") headers.authorization = basic(usable.username, usable.password);
      res = await this.send(url, { method: "GET", kind: "token", subject, headers, maxBodyBytes: MAX_TOKEN_BYTES }, context);
    }

    if (res.status === 401 || res.status === 403) {
      const why = usable ? "rejected the credentials" : "refused an anonymous token";
      throw new RegistryError("UNAUTHORIZED", context, `${why} (HTTP ${res.status})${withheld}`, { subject, status: res.status });
    }
    if (res.status !== 200) {
      throw fromResponse(res.status, res.body, context, responseExtra(res, subject));
    }
    const token = parseToken(res.body, this.now(), context, subject);
    this.secrets.addToken(token.token);
    return token;
  }
}

/** Our pull scope first, then any other scope the registry asked for. */
function scopes(context: ErrorContext, challenge: BearerChallenge): string[] {
  const own = `repository:${context.repository}:pull`;
  return [own, ...challenge.scopes.filter((s) => s !== own)].filter((s, i, all) => all.indexOf(s) === i);
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;
}

/** Reads `{token | access_token, expires_in?, issued_at?}`. */
export function parseToken(body: Uint8Array, now: number, context: ErrorContext, subject: string): Token {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString("utf8"));
  } catch {
    throw new RegistryError("PROTOCOL", context, "token response is not JSON", { subject });
  }
  const record = typeof json === "object" && json !== null ? (json as Record<string, unknown>) : {};
  const token = [record.token, record.access_token].find((t): t is string => typeof t === "string" && t !== "");
  if (token === undefined) throw new RegistryError("PROTOCOL", context, "token response has no token", { subject });
  const expiresIn = typeof record.expires_in === "number" && record.expires_in > 0 ? record.expires_in : DEFAULT_EXPIRES_IN_S;
  const lifetime = expiresIn * 1000;
  // issued_at only moves the start earlier, and only when plausible: clocks of token services drift.
  const issued = typeof record.issued_at === "string" ? Date.parse(record.issued_at) : NaN;
  const start = Number.isFinite(issued) && issued <= now && issued > now - lifetime ? issued : now;
  const margin = Math.min(MAX_MARGIN_MS, lifetime / 4);
  return { token, useUntil: start + lifetime - margin };
}
