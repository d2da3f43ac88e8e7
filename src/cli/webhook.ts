// `krm-digester webhook`: k8s-digester's flags, then the webhook until
// SIGTERM (or SIGINT): unready but serving for --shutdown-delay, so that the
// Service's endpoints drop this pod before it stops listening, then the
// reviews in flight finish, and the process exits 0.
import { Document } from "yaml";
import { DEFAULT_OPTIONS, parseConfig } from "../config.js";
import type { DigesterOptions } from "../config.js";
import { DEFAULT_FORMAT, IMAGE_FORMATS } from "../name/format.js";
import type { ImageFormat } from "../name/format.js";
import { compileGlob, InvalidGlobError } from "../name/glob.js";
import { InvalidPlatformError, parsePlatform } from "../name/platform.js";
import type { Platform } from "../name/platform.js";
import { EXISTING_DIGEST_MODES } from "../core/existing.js";
import type { ExistingDigestMode } from "../core/existing.js";
import { InputError } from "../resourcelist/errors.js";
import { VERSION } from "../version.js";
import { startWebhook } from "../webhook/webhook.js";
import type { WebhookConfig } from "../webhook/webhook.js";
import { connect, startCertRotation } from "./cluster.js";
import { write } from "./function.js";
import { parseAddress, parseFlags, splitSkipPrefixes } from "./flags.js";
import type { FlagSpec } from "./flags.js";

export const WEBHOOK_HELP = `krm-digester ${VERSION} webhook: the mutating admission webhook.

Pins every image in Pods (and pods/ephemeralcontainers), PodTemplates,
ReplicationControllers, Deployments, ReplicaSets (not those a Deployment
controls), StatefulSets, DaemonSets, Jobs, CronJobs and custom resources
shaped like them, in namespaces labelled digest-resolution: enabled, on
CREATE and UPDATE. AdmissionReview admission.k8s.io/v1 and v1beta1 on
POST /v1/mutate, answered with a JSONPatch that touches image fields only.

Usage:
  krm-digester webhook [flags]

Flags (k8s-digester's):
  --port=8443               HTTPS port of the webhook
  --cert-dir=/certs         holds tls.crt and tls.key; reloaded when they change
  --health-addr=:9090       /healthz and /readyz (HOST:PORT or :PORT)
  --metrics-addr=:8888      /metrics, Prometheus (HOST:PORT or :PORT)
  --offline                 no Kubernetes API: credentials from the mounted docker
                            config, auth.json and helpers only (default false)
  --disable-cert-rotation   use the files in --cert-dir as they come (cert-manager);
                            without it the webhook makes and rotates its own
  --dry-run                 log what would be pinned, patch nothing
  --ignore-errors           admit an object whose image cannot be resolved, unchanged
                            there, with a warning; without it the object is denied
  --skip-prefixes=P1:P2     images starting with one of these are left alone; colon-
                            separated, a piece starting with a port joins the one
                            before (reg.local:5000/team:gcr.io = reg.local:5000/team, gcr.io)
  --kubeconfig=PATH         the cluster (default: in-cluster, $KUBECONFIG, ~/.kube/config)
Flags of ours:
  --format=tag-and-digest   how pins are written: tag-and-digest (repo:tag@sha256:...),
                            digest-only (repo@sha256:...) or canonical
                            (docker.io/library/nginx:1.27@sha256:...)
  --skip-images=G1,G2       image globs left alone (* within a path segment, ** across),
                            matched as written and canonical
  --platform=linux/arm64    pin that platform's manifest of multi-platform images, not
                            the index (linux/arm/v7, windows(10.0.17763.1234)/amd64, ...)
  --existing-digests=keep   images that have a digest: keep (no request), verify (deny,
                            or with --ignore-errors warn, when the digest is missing or
                            the tag moved), refresh (patch in the tag's digest)
  --cache-ttl=5m            how long a tag's digest is reused (all requests share one cache)
  --negative-cache-ttl=10s  how long a failed lookup is reused
  --cache-size=10000        most tags kept (least recently used go first)
  --registry-timeout=10s    one registry request (the API server's timeout ends it sooner)
  --shutdown-delay=5s       on SIGTERM, /readyz fails at once but reviews are still served
                            this long (endpoints and kube-proxy catch up), then the port
                            closes and the reviews in flight finish (at most 20s more);
                            keep terminationGracePeriodSeconds above the two; a second
                            SIGTERM ends the delay early
Flags named after the function's config keys (docs/config.md), written as in a ConfigMap:
  --insecure-registries=H1,H2        insecureRegistries: hosts reached over plain HTTP when
                                     HTTPS fails (loopback ones always are)
  --registry-mirrors=R=M1,R=M2       registryMirrors: mirrors asked first, in order, e.g.
                                     docker.io=mirror.local:5000,docker.io=harbor.local/hub
  --concurrency=${String(DEFAULT_OPTIONS.concurrency).padEnd(21)}concurrency: unique images of one review resolved at once
  --registry-concurrency=${String(DEFAULT_OPTIONS.registryConcurrency).padEnd(12)}registryConcurrency: requests in flight to one registry
                                     over HTTP/1.1 (all reviews together)
  --registry-streams=${String(DEFAULT_OPTIONS.registryStreams).padEnd(16)}registryStreams: the same over HTTP/2
Environment: POD_NAMESPACE (the webhook's own namespace, never mutated); proxy and
CA variables as for the function (docs/config.md). Opt out per object with the
annotation krm-digester.dev/skip: "true", per container name with
krm-digester.dev/skip-containers: "istio-proxy,linkerd-proxy" (no patch for those).
`;

/** Flags that are the function's config keys: parsed by the config's own parsers, as ConfigMap data. */
const CONFIG_FLAGS = {
  "insecure-registries": "insecureRegistries",
  "registry-mirrors": "registryMirrors",
  concurrency: "concurrency",
  "registry-concurrency": "registryConcurrency",
  "registry-streams": "registryStreams",
} as const satisfies Record<string, keyof DigesterOptions>;

const FLAGS: readonly FlagSpec[] = [
  { name: "port", kind: "string" },
  { name: "cert-dir", kind: "string" },
  { name: "health-addr", kind: "string" },
  { name: "metrics-addr", kind: "string" },
  { name: "offline", kind: "bool" },
  { name: "disable-cert-rotation", kind: "bool" },
  { name: "dry-run", kind: "bool" },
  { name: "ignore-errors", kind: "bool" },
  { name: "skip-prefixes", kind: "string" },
  { name: "kubeconfig", kind: "string" },
  { name: "cache-ttl", kind: "string" },
  { name: "negative-cache-ttl", kind: "string" },
  { name: "cache-size", kind: "string" },
  { name: "registry-timeout", kind: "string" },
  { name: "shutdown-delay", kind: "string" },
  ...Object.keys(CONFIG_FLAGS).map((name) => ({ name, kind: "string" as const })),
  { name: "help", kind: "bool" },
  { name: "h", kind: "bool" },
  { name: "format", kind: "string" },
  { name: "skip-images", kind: "string" },
  { name: "platform", kind: "string" },
  { name: "existing-digests", kind: "string" },
];

type ConfigFlagSettings = Pick<DigesterOptions, (typeof CONFIG_FLAGS)[keyof typeof CONFIG_FLAGS]>;

function configFlags(f: Map<string, string | boolean>): ConfigFlagSettings {
  const data: Record<string, string> = {};
  for (const [flag, key] of Object.entries(CONFIG_FLAGS)) {
    const value = f.get(flag);
    if (typeof value === "string") data[key] = value;
  }
  const document = new Document({ apiVersion: "v1", kind: "ConfigMap", data }) as unknown as Document.Parsed;
  const { options, problems } = parseConfig(document.contents as never, document);
  const [problem] = problems;
  if (problem) {
    const key = problem.field.replace(/^data\./, "");
    const flag = Object.entries(CONFIG_FLAGS).find(([, k]) => k === key)?.[0] ?? key;
    throw new InputError(`webhook: --${flag}: ${problem.message}`);
  }
  return {
    insecureRegistries: options.insecureRegistries,
    registryMirrors: options.registryMirrors,
    concurrency: options.concurrency,
    registryConcurrency: options.registryConcurrency,
    registryStreams: options.registryStreams,
  };
}

export interface WebhookFlags {
  readonly config: Omit<WebhookConfig, "log" | "cluster">;
  readonly offline: boolean;
  readonly disableCertRotation: boolean;
  readonly kubeconfig: string | undefined;
  /** --shutdown-delay: serving while unready after SIGTERM, ms. */
  readonly shutdownDelayMs: number;
}

/** After the shutdown delay, the longest wait for reviews in flight (each ends before its API server timeout, at most 30 s and 15 s in deploy/). */
export const DRAIN_TIMEOUT_MS = 20_000;

/** Flags to settings; throws InputError naming the flag. */
export function webhookFlags(args: readonly string[], env: NodeJS.ProcessEnv): WebhookFlags | "help" {
  const f = parseFlags(args, FLAGS, "webhook");
  if (f.get("help") || f.get("h")) return "help";
  const str = (name: string, fallback: string): string => {
    const v = f.get(name);
    return typeof v === "string" ? v : fallback;
  };
  const bool = (name: string): boolean => f.get(name) === true;
  const port = Number(str("port", "8443"));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InputError(`webhook: --port must be a port number, got ${JSON.stringify(str("port", ""))}`);
  const cacheSize = Number(str("cache-size", "10000"));
  if (!Number.isInteger(cacheSize) || cacheSize < 1) throw new InputError(`webhook: --cache-size must be a whole number above 0, got ${JSON.stringify(str("cache-size", ""))}`);
  const kubeconfig = f.get("kubeconfig");
  return {
    offline: bool("offline"),
    disableCertRotation: bool("disable-cert-rotation"),
    kubeconfig: typeof kubeconfig === "string" ? kubeconfig : undefined,
    shutdownDelayMs: durationFlag("shutdown-delay", str("shutdown-delay", "5s")),
    config: {
      port,
      certDir: str("cert-dir", "/certs"),
      healthAddr: parseAddress(str("health-addr", ":9090"), "--health-addr"),
      metricsAddr: parseAddress(str("metrics-addr", ":8888"), "--metrics-addr"),
      dryRun: bool("dry-run"),
      ignoreErrors: bool("ignore-errors"),
      skipPrefixes: splitSkipPrefixes(str("skip-prefixes", "")),
      format: formatFlag(str("format", DEFAULT_FORMAT)),
      skipImages: globsFlag(str("skip-images", "")),
      platform: platformFlag(f.get("platform")),
      existingDigests: existingFlag(str("existing-digests", "keep")),
      cacheTtlMs: durationFlag("cache-ttl", str("cache-ttl", "5m")),
      negativeCacheTtlMs: durationFlag("negative-cache-ttl", str("negative-cache-ttl", "10s")),
      cacheSize,
      registryTimeoutMs: durationFlag("registry-timeout", str("registry-timeout", "10s")),
      ownNamespace: env.POD_NAMESPACE || undefined,
      drainTimeoutMs: DRAIN_TIMEOUT_MS,
      ...configFlags(f),
    },
  };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function durationFlag(name: string, value: string): number {
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(value)) throw new InputError(`webhook: --${name} must be a duration such as 30s, 5m or 1h, got ${JSON.stringify(value)}`);
  let ms = 0;
  for (const m of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? "s"] ?? 1000);
  return Math.round(ms);
}

/** Lines logged in this turn of the event loop, written together at its end. */
let pendingLog: string[] = [];

function log(line: Record<string, unknown>): void {
  // The time first, without copying the line into a new object (one line per review).
  const rest = JSON.stringify(line);
  const time = `{"time":"${new Date().toISOString()}"`;
  // One write per turn, not per review: under load many reviews end in the same turn, and
  // each write to stdout (synchronous, to a file or pipe) was a system call of its own.
  if (pendingLog.length === 0) setImmediate(flushLog);
  pendingLog.push(rest === "{}" ? `${time}}\n` : `${time},${rest.slice(1)}\n`);
}

function flushLog(): void {
  if (pendingLog.length === 0) return;
  const text = pendingLog.join("");
  pendingLog = [];
  process.stdout.write(text);
}

export async function webhookMain(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const flags = webhookFlags(args, env);
  if (flags === "help") {
    await write(process.stdout, WEBHOOK_HELP);
    return 0;
  }
  // process.exit() skips the turn's end: what the log holds goes out first (stdout is synchronous).
  process.on("exit", flushLog);
  // Taken from here on: a SIGTERM while starting still gets the orderly shutdown once serving.
  const signalled = nextSignal();
  // The API is needed for pull secrets (online) and for writing the caBundle (rotation), even offline.
  const access = !flags.offline || !flags.disableCertRotation ? await connect({ kubeconfig: flags.kubeconfig, watch: true }, flags.offline) : undefined;
  const rotation = flags.disableCertRotation || !access ? undefined : await startCertRotation({ certDir: flags.config.certDir, cluster: access.cluster, log });
  const running = await startWebhook({ ...flags.config, cluster: flags.offline ? undefined : access, log });
  const signal = await signalled;
  // Unready first, still serving: the endpoint leaves the Service while the API server may still call it.
  running.unready();
  log({ level: "info", msg: `${signal}: unready, still serving for the shutdown delay`, shutdownDelayMs: flags.shutdownDelayMs, inFlight: running.server.activeReviews });
  const again = await waitOrSignal(flags.shutdownDelayMs);
  log({ level: "info", msg: again ? `${again}: delay cut short, draining` : "draining", inFlight: running.server.activeReviews });
  rotation?.stop();
  await running.stop();
  if (flags.offline) await access?.cluster.close();
  log({ level: "info", msg: "stopped" });
  return 0;
}

function nextSignal(): Promise<NodeJS.Signals> {
  return waitOrSignal(Infinity) as Promise<NodeJS.Signals>;
}

/** `ms` pass (undefined), or SIGTERM or SIGINT comes first (the signal); the listeners are gone after. */
function waitOrSignal(ms: number): Promise<NodeJS.Signals | undefined> {
  if (ms <= 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const done = (signal: NodeJS.Signals | undefined): void => {
      clearTimeout(timer);
      process.off("SIGTERM", on);
      process.off("SIGINT", on);
      resolve(signal);
    };
    const on = (signal: NodeJS.Signals): void => done(signal);
    const timer = Number.isFinite(ms) ? setTimeout(() => done(undefined), ms) : undefined;
    process.on("SIGTERM", on);
    process.on("SIGINT", on);
  });
}

function formatFlag(value: string): ImageFormat {
  const format = IMAGE_FORMATS.find((f) => f === value);
  if (format === undefined) throw new InputError(`webhook: --format must be one of ${IMAGE_FORMATS.join(", ")}, got ${JSON.stringify(value)}`);
  return format;
}

function globsFlag(value: string): string[] {
  const globs = value.split(/[\s,]+/).filter((g) => g !== "");
  for (const glob of globs) {
    try {
      compileGlob(glob);
    } catch (error) {
      if (error instanceof InvalidGlobError) throw new InputError(`webhook: --skip-images: ${error.message}`);
      throw error;
    }
  }
  return globs;
}

function platformFlag(value: string | boolean | undefined): Platform | undefined {
  if (value === undefined) return undefined;
  try {
    return parsePlatform(String(value));
  } catch (error) {
    if (error instanceof InvalidPlatformError) throw new InputError(`webhook: --platform: ${error.message}; expected os/architecture[/variant] such as linux/arm64 or linux/arm/v7, or windows(10.0.17763.1234)/amd64`);
    throw error;
  }
}

function existingFlag(value: string): ExistingDigestMode {
  const mode = EXISTING_DIGEST_MODES.find((m) => m === value);
  if (mode === undefined) throw new InputError(`webhook: --existing-digests must be one of ${EXISTING_DIGEST_MODES.join(", ")}, got ${JSON.stringify(value)}`);
  return mode;
}
