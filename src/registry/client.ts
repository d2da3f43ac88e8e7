// The registry client: resolves image tags to manifest digests. Safe to call
// concurrently; connections, registry probes and tokens are shared.
import { tagOf } from "../name/reference.js";
import type { ImageReference } from "../name/reference.js";
import { VERSION } from "../version.js";
import { bearerChallenge, parseChallenges } from "./challenge.js";
import type { Challenge } from "./challenge.js";
import { anonymous } from "./credentials.js";
import type { CredentialProvider } from "./credentials.js";
import { RegistryError } from "./errors.js";
import type { ErrorContext } from "./errors.js";
import { MANIFEST_ACCEPT, resolveManifestDigest } from "./manifest.js";
import { mirrorTable, registryKey } from "./mirrors.js";
import { isDigestLookup, resolvePlatformDigest } from "./platform.js";
import type { Platform } from "../name/platform.js";
import type { Mirror, MirrorMap } from "./mirrors.js";
import { Network } from "./network.js";
import type { NetworkOptions } from "./network.js";
import { Secrets } from "./redact.js";
import { Authenticator } from "./token.js";
import { Transport } from "./transport.js";
import type { Endpoint, HttpResponse, Stats } from "./transport.js";

interface ClientOptions {
  /**
   * Registries that may be spoken to over plain HTTP when HTTPS fails to
   * connect ("host:port" as in image references; a bare host matches any port).
   * Loopback registries always may.
   */
  readonly insecureRegistries?: readonly string[];
  /** Registry ("docker.io", "ghcr.io", "host:port") -> mirrors asked first, in order. */
  readonly mirrors?: MirrorMap;
  readonly credentials?: CredentialProvider;
  readonly userAgent?: string;
  /** Pin this platform's manifest of a multi-platform image instead of its index (src/registry/platform.ts). */
  readonly platform?: Platform | undefined;
}

/**
 * A client on a Network shared with other clients (closed by its owner), or
 * one with a network of its own made from these options (closed with the client).
 */
export type RegistryClientOptions = ClientOptions & ({ readonly network: Network } | (NetworkOptions & { readonly network?: undefined }));

/** A resolved tag, and who answered when it was not the image's own registry. */
export interface Resolution {
  readonly digest: string;
  /** The mirror (host[:port][/prefix]) that answered. */
  readonly mirror?: string;
  /** Said about the lookup in results, e.g. which mirror answered or why the mirrors were passed over. */
  readonly note?: string;
}

// Failures that say the mirror itself is unusable, not just that it lacks this image.
const MIRROR_DOWN = new Set(["UNREACHABLE", "TIMEOUT", "TLS", "PROXY"]);

export class RegistryClient {
  private readonly transport: Transport;
  private readonly network: Network;
  private readonly ownNetwork: boolean;
  private readonly auth: Authenticator;
  /** The latest challenge per registry origin, when a 401 named one after the probe. */
  private readonly challenges = new Map<string, readonly Challenge[]>();
  private readonly mirrors: ReadonlyMap<string, readonly Mirror[]>;
  private answeredByMirror = 0;
  private readonly platform: Platform | undefined;

  constructor(options: RegistryClientOptions) {
    this.platform = options.platform;
    this.ownNetwork = options.network === undefined;
    this.network = options.network ?? new Network(options);
    const secrets = new Secrets();
    this.transport = new Transport({
      network: this.network,
      redact: (text) => secrets.redact(text),
      insecureRegistries: options.insecureRegistries,
      userAgent: options.userAgent ?? `krm-digester/${VERSION}`,
    });
    this.mirrors = mirrorTable(options.mirrors);
    this.auth = new Authenticator(
      (url, req, context) => this.transport.request(url, req, context),
      options.credentials ?? anonymous,
      (registry) => this.transport.allowsPlainHttp(registry),
      Date.now,
      secrets,
    );
  }

  /** Requests made so far: manifest HEADs and GETs, token requests, `/v2/` probes, tag-list checks, retries; lookups a mirror answered. */
  get stats(): Readonly<Stats & { mirrored: number }> {
    return { ...this.transport.stats, mirrored: this.answeredByMirror };
  }

  /** What CA certificates are trusted, as TLS errors describe it. */
  get trust(): string {
    return this.network.trust.description;
  }

  /**
   * The digest the registry serves for the reference's tag ("latest" when
   * none): the index / manifest list digest for multi-platform images, or
   * with `platform` set the digest of that platform's manifest. A
   * reference that already carries a digest is returned as is, without a request.
   * Every failure is a RegistryError.
   */
  async resolveDigest(ref: ImageReference): Promise<string> {
    return (await this.resolve(ref)).digest;
  }

  /**
   * resolveDigest, through the registry's mirrors first when it has any: the
   * first mirror that knows the tag answers; when none does (down, tag
   * missing, any error), the registry itself does, and its error is the one
   * reported, with what the mirrors said appended.
   */
  async resolve(ref: ImageReference, signal?: AbortSignal): Promise<Resolution> {
    try {
      const resolution = await this.resolveThroughMirrors(ref, signal);
      return resolution.note === undefined ? resolution : { ...resolution, note: this.auth.secrets.redact(resolution.note) };
    } catch (err) {
      // Error bodies, challenges and helper messages are the other side's text: no secret of ours leaves in them.
      if (err instanceof Error) err.message = this.auth.secrets.redact(err.message);
      throw err;
    }
  }

  private async resolveThroughMirrors(ref: ImageReference, signal: AbortSignal | undefined): Promise<Resolution> {
    if (ref.digest !== undefined) return { digest: ref.digest };
    const tag = tagOf(ref);
    const upstream: ErrorContext = { registry: ref.registry, repository: ref.repository, tag, image: ref.original };
    const failed: string[] = [];
    for (const mirror of this.mirrors.get(registryKey(ref.registry)) ?? []) {
      const down = this.network.mirrorsDown.get(mirror.display);
      if (down !== undefined) {
        failed.push(`mirror ${mirror.display} skipped (${down})`);
        continue;
      }
      const repository = mirror.prefix ? `${mirror.prefix}/${ref.repository}` : ref.repository;
      try {
        const { digest, note } = await this.resolveAt({ registry: mirror.host, repository, tag, image: ref.original }, signal);
        this.answeredByMirror++;
        return { digest, mirror: mirror.display, note: [note, `resolved through mirror ${mirror.display}`].filter(Boolean).join("; ") };
      } catch (err) {
        if (!(err instanceof RegistryError)) throw err;
        if (this.transport.runSignal.aborted || signal?.aborted) throw err.rebind(upstream);
        const why = mirrorFailure(err);
        if (MIRROR_DOWN.has(err.code)) this.network.mirrorsDown.set(mirror.display, `failed earlier: ${why}`);
        failed.push(`mirror ${mirror.display}: ${why}`);
      }
    }
    try {
      const { digest, note } = await this.resolveAt(upstream, signal);
      const notes = [note, failed.length === 0 ? undefined : `resolved from ${ref.registry} after ${failed.join("; ")}`].filter(Boolean);
      return notes.length === 0 ? { digest } : { digest, note: notes.join("; ") };
    } catch (err) {
      if (err instanceof RegistryError && failed.length > 0) throw err.with({ note: `asked first: ${failed.join("; ")}` });
      throw err;
    }
  }

  /** `signal` ends this lookup's own requests (an admission deadline); shared probes and token fetches run on. */
  private async resolveAt(context: ErrorContext, signal: AbortSignal | undefined): Promise<{ digest: string; note?: string }> {
    try {
      // Lookups queued behind the global concurrency limit end at once after the deadline.
      if (this.transport.runSignal.aborted) throw this.transport.runSignal.reason as unknown;
      if (signal?.aborted) throw signal.reason as unknown;
      const endpoint = await this.transport.endpoint(context);
      const manifest = new URL(`/v2/${context.repository}/manifests/${encodeURIComponent(context.tag)}`, endpoint.origin);
      const tags = new URL(`/v2/${context.repository}/tags/list?n=1`, endpoint.origin);
      const requests = {
        manifest: (method: "HEAD" | "GET") => this.send(endpoint, manifest, method === "HEAD" ? "head" : "get", context, signal),
        tags: () => this.send(endpoint, tags, "tags", context, signal),
      };
      // A platform is picked from what a tag points at; a lookup by digest (a digest check) is that exact manifest.
      if (this.platform && !isDigestLookup(context.tag)) return await resolvePlatformDigest(requests, context, this.platform);
      return { digest: await resolveManifestDigest(requests, context) };
    } catch (err) {
      // Shared probes and token fetches carry the image and registry that started them.
      if (err instanceof RegistryError) throw err.image === context.image && err.registry === context.registry ? err : err.rebind(context);
      throw this.transport.failure(err, context);
    }
  }

  /** One request, authenticated up front from the probe's challenge and retried once after a 401. */
  private async send(endpoint: Endpoint, url: URL, kind: "head" | "get" | "tags", context: ErrorContext, signal?: AbortSignal): Promise<HttpResponse> {
    const request = (authorization: string | undefined): Promise<HttpResponse> => {
      const headers: Record<string, string> = { accept: kind === "tags" ? "application/json" : MANIFEST_ACCEPT };
      if (authorization !== undefined) headers.authorization = authorization;
      return this.transport.request(url, { method: kind === "head" ? "HEAD" : "GET", kind, headers, signal }, context);
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

  /**
   * Starts the registry's `/v2/` probe (no credentials) before its first
   * lookup, so that the lookups find it done; see Transport.warm. `started`
   * resolves once each of its attempts has been dispatched (HTTPS, and plain
   * HTTP where allowed: that one waits up to 20 ms for the plain connection),
   * `sent` once their connections are up; neither rejects: a failure is the
   * lookups' to report. `lookups`: how many will follow, if known (their
   * connections may be opened early).
   */
  warm(registry: string, lookups?: number): { readonly started: Promise<void>; readonly sent: Promise<void> } {
    const { started, sent, done } = this.transport.warm(registry, lookups);
    done.catch(() => undefined);
    return { started, sent };
  }

  /** Closes the pooled connections, unless the network is shared; the client is not usable afterwards. */
  async close(): Promise<void> {
    if (this.ownNetwork) await this.network.close();
  }
}

/** Why a mirror did not answer, in a few words. */
function mirrorFailure(err: RegistryError): string {
  if (err.code === "TAG_NOT_FOUND") return "tag not found";
  if (err.code === "REPOSITORY_NOT_FOUND") return "repository not found";
  const retried = err.retries ? `, after ${err.retries} ${err.retries === 1 ? "retry" : "retries"}` : "";
  return `${err.code} ${err.detail}${retried}`;
}
