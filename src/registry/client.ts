// The registry client: resolves image tags to manifest digests. Safe to call
// concurrently; connections, registry probes and tokens are shared.
import { tagOf } from "../name/reference.js";
import type { ImageReference } from "../name/reference.js";
import { VERSION } from "../version.js";
import { bearerChallenge, parseChallenges } from "./challenge.js";
import type { Challenge } from "./challenge.js";
import { anonymous } from "./credentials.js";
import type { CredentialProvider } from "./credentials.js";
import { RegistryError, fromNetworkError } from "./errors.js";
import type { ErrorContext } from "./errors.js";
import { MANIFEST_ACCEPT, resolveManifestDigest } from "./manifest.js";
import { Authenticator } from "./token.js";
import { Transport } from "./transport.js";
import type { Endpoint, HttpResponse, Stats } from "./transport.js";

export interface RegistryClientOptions {
  /** Deadline of every single HTTP request (connect, headers and body), in ms. */
  readonly timeoutMs: number;
  /**
   * Registries that may be spoken to over plain HTTP when HTTPS fails to
   * connect ("host:port" as in image references; a bare host matches any port).
   * Loopback registries always may.
   */
  readonly insecureRegistries?: readonly string[];
  readonly credentials?: CredentialProvider;
  readonly userAgent?: string;
  /** Extra CA certificates (PEM) to trust besides Node's bundled roots. */
  readonly ca?: string | readonly string[];
}

export class RegistryClient {
  private readonly transport: Transport;
  private readonly auth: Authenticator;
  /** The latest challenge per registry origin, when a 401 named one after the probe. */
  private readonly challenges = new Map<string, readonly Challenge[]>();

  constructor(private readonly options: RegistryClientOptions) {
    this.transport = new Transport({
      timeoutMs: options.timeoutMs,
      insecureRegistries: options.insecureRegistries,
      userAgent: options.userAgent ?? `krm-digester/${VERSION}`,
      ca: options.ca,
    });
    this.auth = new Authenticator(
      (url, req, context) => this.transport.request(url, req, context),
      options.credentials ?? anonymous,
      (registry) => this.transport.allowsPlainHttp(registry),
    );
  }

  /** Requests made so far: manifest HEADs and GETs, token requests, `/v2/` probes, tag-list checks. */
  get stats(): Readonly<Stats> {
    return { ...this.transport.stats };
  }

  /**
   * The digest the registry serves for the reference's tag ("latest" when
   * none): the index / manifest list digest for multi-platform images. A
   * reference that already carries a digest is returned as is, without a request.
   * Every failure is a RegistryError.
   */
  async resolveDigest(ref: ImageReference): Promise<string> {
    if (ref.digest !== undefined) return ref.digest;
    const context: ErrorContext = {
      registry: ref.registry,
      repository: ref.repository,
      tag: tagOf(ref),
      image: ref.original,
    };
    try {
      const endpoint = await this.transport.endpoint(context);
      const manifest = new URL(`/v2/${ref.repository}/manifests/${encodeURIComponent(context.tag)}`, endpoint.origin);
      const tags = new URL(`/v2/${ref.repository}/tags/list?n=1`, endpoint.origin);
      return await resolveManifestDigest(
        {
          manifest: (method) => this.send(endpoint, manifest, method === "HEAD" ? "head" : "get", context),
          tags: () => this.send(endpoint, tags, "tags", context),
        },
        context,
      );
    } catch (err) {
      // Shared probes and token fetches carry the image that started them.
      if (err instanceof RegistryError) throw err.image === context.image ? err : err.rebind(context);
      throw fromNetworkError(err, context, this.options.timeoutMs);
    }
  }

  /** One request, authenticated up front from the probe's challenge and retried once after a 401. */
  private async send(endpoint: Endpoint, url: URL, kind: "head" | "get" | "tags", context: ErrorContext): Promise<HttpResponse> {
    const request = (authorization: string | undefined): Promise<HttpResponse> => {
      const headers: Record<string, string> = { accept: kind === "tags" ? "application/json" : MANIFEST_ACCEPT };
      if (authorization !== undefined) headers.authorization = authorization;
      return this.transport.request(url, { method: kind === "head" ? "HEAD" : "GET", kind, headers }, context);
    };
    const known = this.challenges.get(endpoint.origin) ?? parseChallenges(endpoint.wwwAuthenticate);
    let authorization = await this.auth.initial(context, known);
    let res = await request(authorization);
    if (res.status !== 401) return res;
    const challenges = parseChallenges(res.headers["www-authenticate"]);
    // Registries with an anonymous /v2/ name their token service only here: remember it for the next requests.
    if (challenges.length > 0) this.challenges.set(endpoint.origin, challenges);
    authorization = await this.auth.retry(context, challenges, authorization);
    res = await request(authorization);
    if (res.status !== 401) return res;
    throw await this.auth.refused(context, bearerChallenge(parseChallenges(res.headers["www-authenticate"]))?.error);
  }

  /** Closes the pooled connections; the client is not usable afterwards. */
  async close(): Promise<void> {
    await this.transport.close();
  }
}
