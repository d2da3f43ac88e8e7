// The registry side of the core: one shared Network, one RegistryClient per
// pull-secret scope (CredentialedRegistry), all with the host's credentials
// (docker config.json, helpers, auth.json). The registry stack (undici above
// all) loads on the first lookup: setting it up was 40 % of a function run
// with nothing to resolve (docs/benchmarks.md).
import { homedir } from "node:os";
import { setFlagsFromString } from "node:v8";
import { CredentialHelpers } from "../credentials/helper.js";
import { hostSources } from "../credentials/host.js";
import { CredentialedRegistry } from "../credentials/registry-source.js";
import type { ScopedClient } from "../credentials/registry-source.js";
import type { CredentialScope } from "../credentials/pull-secrets.js";
import type { Platform } from "../name/platform.js";
import type { ImageReference } from "../name/reference.js";
import type { RegistryClient } from "../registry/client.js";
import type { EarlySockets } from "../registry/early.js";
import type { Network } from "../registry/network.js";
import type { Resolved } from "../resolve.js";
import { VERSION } from "../version.js";

export type RequestStats = RegistryClient["stats"];
const NO_REQUESTS: RequestStats = { head: 0, get: 0, token: 0, ping: 0, tags: 0, retries: 0, mirrored: 0 };

export interface RegistryStackOptions {
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  /** The whole run's deadline (the function); undefined for a server. */
  readonly runTimeoutMs?: number | undefined;
  readonly registryConcurrency: number;
  readonly registryStreams: number;
  readonly insecureRegistries: readonly string[];
  readonly registryMirrors: Readonly<Record<string, string[]>>;
  /** Pin this platform's manifest of multi-platform images (the `platform` setting); default the index. */
  readonly platform?: Platform | undefined;
  /**
   * A short run (the function): compile undici's WebAssembly with Liftoff only.
   * V8 compiles llhttp with Liftoff and then again with TurboFan on a background
   * thread, and the process cannot exit before that second compile ends: ~200 ms
   * per run. A server wants TurboFan's code.
   */
  readonly shortRun?: boolean;
  /**
   * How long one set of clients (and the credential chains they memoize:
   * helper output, mounted docker config) is used before a fresh set is made
   * on the same network; default forever (a function run).
   */
  readonly credentialRefreshMs?: number | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly home?: string;
  /** TCP connections opened before the stack (startAhead): the network makes its first connections over them. */
  readonly early?: EarlySockets | undefined;
}

/** Every lookup of a run or a server: a DigestSource with request counters. */
export class RegistryStack {
  private stack: Promise<{ network: Network; Client: typeof RegistryClient }> | undefined;
  private current: { registry: CredentialedRegistry<RequestStats>; since: number };
  private readonly retired: Record<keyof RequestStats, number> = { ...NO_REQUESTS };
  /** The client of lookups without a pull secret (the first one opened), once opened. */
  private defaultClient: (() => Promise<RegistryClient>) | undefined;

  constructor(private readonly options: RegistryStackOptions) {
    this.current = { registry: this.open(), since: Date.now() };
  }

  resolveDigest(ref: ImageReference, scope?: CredentialScope, signal?: AbortSignal): Promise<Resolved> {
    return this.registry().resolveDigest(ref, scope, signal);
  }

  /** Requests made so far, by kind, over every set of clients. */
  get stats(): RequestStats {
    const now = this.current.registry.stats;
    return Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v + this.retired[k as keyof RequestStats]])) as RequestStats;
  }

  /**
   * Loads the registry stack and probes these registries now, for lookups
   * without a pull secret that will follow (the function, while it still
   * parses its input). No credentials are sent; see RegistryClient.warm.
   * Resolves once the stack is loaded and each probe's attempts are
   * dispatched (their connections are made in the ticks that follow; see
   * RegistryClient.warm); it waits for no connection or answer. `lookups`:
   * how many will follow per registry, where known.
   */
  async warm(registries: Iterable<string>, lookups?: ReadonlyMap<string, number>): Promise<void> {
    const open = this.defaultClient;
    if (!open) return;
    const client = await open();
    await Promise.all([...registries].map((r) => client.warm(r, lookups?.get(r)).started));
  }

  async close(): Promise<void> {
    await this.current.registry.close();
    if (this.stack) await (await this.stack).network.close();
    // Connections opened early for a stack that never loaded.
    this.options.early?.dropAll();
  }

  private registry(): CredentialedRegistry<RequestStats> {
    const refresh = this.options.credentialRefreshMs;
    if (refresh !== undefined && Date.now() - this.current.since >= refresh) {
      // Clients on the shared network own nothing to close; in-flight lookups finish on the old set.
      const stats = this.current.registry.stats;
      for (const key of Object.keys(stats) as (keyof RequestStats)[]) this.retired[key] += stats[key];
      this.current = { registry: this.open(), since: Date.now() };
    }
    return this.current.registry;
  }

  private load(): NonNullable<RegistryStack["stack"]> {
    if (this.stack) return this.stack;
    if (this.options.shortRun) setFlagsFromString("--liftoff-only");
    const o = this.options;
    this.stack = Promise.all([import("../registry/network.js"), import("../registry/client.js")]).then(([{ Network }, { RegistryClient }]) => ({
      network: new Network({
        timeoutMs: o.timeoutMs,
        connectTimeoutMs: o.connectTimeoutMs,
        runTimeoutMs: o.runTimeoutMs,
        registryConcurrency: o.registryConcurrency,
        registryStreams: o.registryStreams,
        ...(o.env ? { env: o.env } : {}),
        early: o.early,
      }),
      Client: RegistryClient,
    }));
    return this.stack;
  }

  /** One client per pull-secret scope on one shared network, all with the host's docker config and auth.json (docs/credentials.md). */
  private open(): CredentialedRegistry<RequestStats> {
    const o = this.options;
    const credentials = hostSources(o.env ?? process.env, o.home ?? homedir(), new CredentialHelpers({ timeoutMs: o.timeoutMs }));
    return new CredentialedRegistry(credentials, {
      open: (provider): ScopedClient<RequestStats> => {
        let opened: Promise<RegistryClient> | undefined;
        let real: RegistryClient | undefined;
        const open = (): Promise<RegistryClient> =>
          (opened ??= this.load().then(({ network, Client }) => {
            real = new Client({
              network,
              insecureRegistries: o.insecureRegistries,
              mirrors: o.registryMirrors,
              userAgent: `krm-digester/${VERSION}`,
              credentials: provider,
              platform: o.platform,
            });
            return real;
          }));
        // The first client opened is the one without a pull secret (CredentialedRegistry opens it up front).
        this.defaultClient ??= open;
        return {
          resolve: async (ref, signal) => (await open()).resolve(ref, signal),
          get stats() {
            return real?.stats ?? NO_REQUESTS;
          },
          close: async () => {
            await real?.close();
          },
        };
      },
    });
  }
}
