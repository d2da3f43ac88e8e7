// The webhook put together: the core's registry stack behind one shared
// cache, the handler, the HTTPS server, the health and metrics servers, and
// (online) the cluster for pull secrets and readiness.
import type { ImageFormat } from "../name/format.js";
import { formatPlatform } from "../name/platform.js";
import type { Platform } from "../name/platform.js";
import type { ExistingDigestMode } from "../core/existing.js";
import type { Cluster, KubeObject } from "../cluster/api.js";
import { DigestCache } from "../core/cache.js";
import { RegistryStack } from "../core/registry-stack.js";
import { DEFAULT_OPTIONS } from "../config.js";
import { handleReview } from "./handler.js";
import { WebhookMetrics } from "./metrics.js";
import { OpsServer } from "./ops-server.js";
import { WebhookServer } from "./server.js";
import type { Log } from "./server.js";

export interface Address {
  readonly host: string | undefined;
  readonly port: number;
}

export interface WebhookConfig {
  readonly port: number;
  /** Where the webhook port listens; default all interfaces. */
  readonly host?: string | undefined;
  readonly certDir: string;
  readonly healthAddr: Address;
  readonly metricsAddr: Address;
  readonly dryRun: boolean;
  readonly ignoreErrors: boolean;
  readonly skipPrefixes: readonly string[];
  /** --skip-images globs; default none. */
  readonly skipImages?: readonly string[] | undefined;
  /** --format; default tag-and-digest. */
  readonly format?: ImageFormat | undefined;
  /** --existing-digests; default keep. */
  readonly existingDigests?: ExistingDigestMode | undefined;
  /** --platform: pin this platform's manifest of multi-platform images; default the index. */
  readonly platform?: Platform | undefined;
  readonly cacheTtlMs: number;
  readonly negativeCacheTtlMs: number;
  readonly cacheSize: number;
  /** One registry request's attempt (the review's deadline usually ends it first). */
  readonly registryTimeoutMs: number;
  /** The function's config keys of the same names (docs/config.md); defaults as there. */
  readonly insecureRegistries?: readonly string[] | undefined;
  readonly registryMirrors?: Readonly<Record<string, string[]>> | undefined;
  /** Unique references of one review resolved at once. */
  readonly concurrency?: number | undefined;
  readonly registryConcurrency?: number | undefined;
  readonly registryStreams?: number | undefined;
  /** Never mutated ($POD_NAMESPACE). */
  readonly ownNamespace?: string | undefined;
  /** Online mode: pull secrets and readiness from the cluster. */
  readonly cluster?: {
    readonly cluster: Cluster;
    pullSecretObjects(namespace: string, podSpecs: readonly unknown[]): Promise<KubeObject[]>;
  } | undefined;
  readonly log: Log;
  readonly certPollMs?: number;
  readonly drainTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly home?: string;
}

export interface RunningWebhook {
  readonly server: WebhookServer;
  readonly metrics: WebhookMetrics;
  readonly cache: DigestCache;
  readonly stack: RegistryStack;
  readonly ports: { readonly webhook: number; readonly health: number; readonly metrics: number };
  /** Unready (/readyz fails) while still serving: the first step of a shutdown. */
  unready(): void;
  /** Drains in-flight reviews, then closes every server and the registry stack. */
  stop(): Promise<void>;
}

/** How often the credential chains (helpers, the mounted docker config) are read afresh. */
const CREDENTIAL_REFRESH_MS = 5 * 60_000;

export async function startWebhook(config: WebhookConfig): Promise<RunningWebhook> {
  const stack = new RegistryStack({
    timeoutMs: config.registryTimeoutMs,
    connectTimeoutMs: Math.min(DEFAULT_OPTIONS.connectTimeoutMs, config.registryTimeoutMs),
    registryConcurrency: config.registryConcurrency ?? DEFAULT_OPTIONS.registryConcurrency,
    registryStreams: config.registryStreams ?? DEFAULT_OPTIONS.registryStreams,
    insecureRegistries: config.insecureRegistries ?? [],
    registryMirrors: config.registryMirrors ?? {},
    platform: config.platform,
    credentialRefreshMs: CREDENTIAL_REFRESH_MS,
    ...(config.env ? { env: config.env } : {}),
    ...(config.home ? { home: config.home } : {}),
  });
  const metrics = new WebhookMetrics(() => stack.stats);
  const cache = new DigestCache(stack, { ttlMs: config.cacheTtlMs, negativeTtlMs: config.negativeCacheTtlMs, maxEntries: config.cacheSize, platform: config.platform && formatPlatform(config.platform) }, metrics.cacheEvents);
  const online = config.cluster;
  const handlerOptions = {
    source: cache,
    skipPrefixes: config.skipPrefixes,
    skipImages: config.skipImages,
    format: config.format,
    existingDigests: config.existingDigests,
    concurrency: config.concurrency ?? DEFAULT_OPTIONS.concurrency,
    ignoreErrors: config.ignoreErrors,
    dryRun: config.dryRun,
    ownNamespace: config.ownNamespace,
    credentials: online && ((namespace: string, specs: readonly unknown[]) => online.pullSecretObjects(namespace, specs)),
  };
  const server = new WebhookServer({
    host: config.host,
    port: config.port,
    certDir: config.certDir,
    handle: (request, signal) => handleReview(request, handlerOptions, signal),
    metrics,
    log: config.log,
    dryRun: config.dryRun,
    ...(config.certPollMs !== undefined ? { certPollMs: config.certPollMs } : {}),
    ...(config.drainTimeoutMs !== undefined ? { drainTimeoutMs: config.drainTimeoutMs } : {}),
  });
  const text = (status: number, body: string) => ({ status, type: "text/plain; charset=utf-8", body: `${body}\n` });
  const health = new OpsServer(config.healthAddr.host, config.healthAddr.port, {
    "/healthz": () => Promise.resolve(text(200, "ok")),
    "/readyz": async () => {
      if (!server.ready) return text(503, "not ready: no serving certificate loaded yet, or shutting down");
      if (online && !(await online.cluster.reachable().catch(() => false))) return text(503, "not ready: the Kubernetes API does not answer");
      return text(200, "ok");
    },
  });
  const metricsServer = new OpsServer(config.metricsAddr.host, config.metricsAddr.port, {
    "/metrics": async () => ({ status: 200, type: metrics.contentType, body: await metrics.text() }),
  });
  // Health first: the kubelet sees the process alive while it waits for its certificate.
  await Promise.all([health.listen(), metricsServer.listen()]);
  await server.listen();
  config.log({ level: "info", msg: "webhook serving", port: server.port, dryRun: config.dryRun, ignoreErrors: config.ignoreErrors, online: online !== undefined });
  let stopping: Promise<void> | undefined;
  return {
    server,
    metrics,
    cache,
    stack,
    ports: { webhook: server.port, health: health.boundPort, metrics: metricsServer.boundPort },
    unready: () => server.unready(),
    stop: () =>
      (stopping ??= (async () => {
        await server.close();
        await Promise.all([health.close(), metricsServer.close(), stack.close(), online?.cluster.close()]);
      })()),
  };
}
