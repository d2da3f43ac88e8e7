// The Cluster of api.ts over @kubernetes/client-node 1.x: its KubeConfig
// (kubeconfig files, in-cluster service account, exec plugins, OIDC, proxies)
// for every request's credentials and TLS, its Watch for change streams.
// Only the two modules used are imported (kube-lib.ts), and only inside
// connectCluster: client-node's index pulls in every generated API model
// (15 MB bundled, a quarter of a second to parse at each start of the function).
//
// Reads are cached per object for `cacheTtlMs` (positive) and a shorter time
// for "does not exist"; concurrent reads of one object share one request. With
// `watch` on (the webhook), one watch per resource type updates the objects
// already cached as they change; it never fills the cache with objects nobody
// asked for, so the webhook does not hold every Secret of the cluster.
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import type { RequestOptions } from "node:https";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { ClusterError } from "./api.js";
import type { Cluster, ClusterOptions, KubeObject } from "./api.js";

/** Default for ClusterOptions.cacheTtlMs. */
export const DEFAULT_CACHE_TTL_MS = 30_000;
/** A 404 is remembered for at most this long: a Secret created just after a pod should soon be seen. */
const NEGATIVE_TTL_MS = 5_000;
const REQUEST_TIMEOUT_MS = 5_000;
const REACHABLE_CACHE_MS = 2_000;
const MAX_ENTRIES = 10_000;
/** Cap on the certificates kept in a caBundle (each replica and each rotation adds one until it expires). */
const MAX_BUNDLE_CERTS = 32;
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

interface ResourceType {
  readonly kind: string;
  readonly group: string;
  readonly resource: string;
  /** Cluster-wide collection path, for list and watch. */
  readonly collection: string;
  /** Only pull secrets are watched: the API filters the stream by type, so other Secrets' churn never reaches us. */
  readonly watchSelector?: string;
}

const SECRETS: ResourceType = {
  kind: "Secret",
  group: "",
  resource: "secrets",
  collection: "/api/v1/secrets",
  watchSelector: "type=kubernetes.io/dockerconfigjson",
};
const SERVICE_ACCOUNTS: ResourceType = { kind: "ServiceAccount", group: "", resource: "serviceaccounts", collection: "/api/v1/serviceaccounts" };
const WEBHOOK_CONFIGURATIONS: ResourceType = {
  kind: "MutatingWebhookConfiguration",
  group: "admissionregistration.k8s.io",
  resource: "mutatingwebhookconfigurations",
  collection: "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
};

export async function connectCluster(options: ClusterOptions): Promise<Cluster> {
  const { KubeConfig: Config, Watch } = await import("./kube-lib.js");
  const config = new Config();
  const source = loadConfig(config, options.kubeconfig);
  const server = config.getCurrentCluster()?.server;
  if (!server) {
    throw new ClusterError(
      `${source} names no cluster for its current context ${JSON.stringify(config.getCurrentContext() ?? "")}; ` +
        `set current-context (kubectl config use-context NAME) or pass another --kubeconfig`,
    );
  }
  const client = new KubeClient(config, source, server, options, (c) => new Watch(c));
  await client.init();
  return client;
}

/** Loads the kubeconfig: --kubeconfig, else $KUBECONFIG (merged), else ~/.kube/config, else the pod's service account. */
function loadConfig(config: KubeConfig, explicit: string | undefined): string {
  let source = "";
  try {
    if (explicit) {
      source = `kubeconfig ${explicit}`;
      if (!existsSync(explicit)) throw new ClusterError(`--kubeconfig ${explicit}: no such file`);
      config.loadFromFile(explicit);
      return source;
    }
    const listed = (process.env.KUBECONFIG ?? "").split(delimiter).filter(Boolean);
    if (listed.length > 0) {
      const files = listed.filter((f) => existsSync(f));
      source = `kubeconfig ${files.join(delimiter)} (from $KUBECONFIG)`;
      if (files.length === 0) throw new ClusterError(`$KUBECONFIG names ${listed.join(delimiter)}, and none of it exists; fix $KUBECONFIG or pass --kubeconfig`);
      config.loadFromFile(files[0] as string);
      for (const file of files.slice(1)) {
        const next = new (config.constructor as new () => KubeConfig)();
        next.loadFromFile(file);
        config.mergeConfig(next);
      }
      return source;
    }
    const home = join(homedir(), ".kube", "config");
    if (existsSync(home)) {
      source = `kubeconfig ${home}`;
      config.loadFromFile(home);
      return source;
    }
    if (process.env.KUBERNETES_SERVICE_HOST && existsSync(join(SERVICE_ACCOUNT_DIR, "token"))) {
      source = "the in-cluster service account";
      config.loadFromCluster();
      return source;
    }
  } catch (err) {
    if (err instanceof ClusterError) throw err;
    throw new ClusterError(`cannot load ${source}: ${oneLine(err)}; fix the file or pass another --kubeconfig`);
  }
  throw new ClusterError(
    "no Kubernetes configuration found: no --kubeconfig, $KUBECONFIG unset, no ~/.kube/config, and not in a pod " +
      `(no KUBERNETES_SERVICE_HOST and ${SERVICE_ACCOUNT_DIR}/token); pass --kubeconfig, or run with --offline`,
  );
}

interface Entry {
  value: KubeObject | undefined;
  expires: number;
  pending: Promise<KubeObject | undefined> | undefined;
}

interface Response {
  readonly status: number;
  readonly body: unknown;
}

interface WatchLike {
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, object: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController>;
}

class KubeClient implements Cluster {
  private readonly ttlMs: number;
  private readonly cache = new Map<string, Entry>();
  private readonly watches = new Map<ResourceType, AbortController | "starting" | "off">();
  private readonly timers = new Set<NodeJS.Timeout>();
  private agent: HttpAgent | undefined;
  private closed = false;
  private lastReachable: { at: number; ok: Promise<boolean> } | undefined;

  constructor(
    private readonly config: KubeConfig,
    private readonly source: string,
    private readonly server: string,
    private readonly options: ClusterOptions,
    private readonly newWatch: (config: KubeConfig) => WatchLike,
  ) {
    this.ttlMs = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
  }

  /** Builds the connection settings once (a keep-alive agent); client-node's own agent is kept when the kubeconfig names a proxy. */
  async init(): Promise<void> {
    const probe: RequestOptions = {};
    try {
      await this.config.applyToHTTPSOptions(probe);
    } catch (err) {
      throw new ClusterError(`cannot use ${this.source} for ${this.server}: ${oneLine(err)}; fix the kubeconfig or pass another --kubeconfig`);
    }
    const cluster = this.config.getCurrentCluster();
    if (cluster?.proxyUrl) {
      this.agent = probe.agent as HttpAgent;
    } else if (this.server.startsWith("http:")) {
      (probe.agent as HttpAgent | undefined)?.destroy();
      this.agent = new HttpAgent({ keepAlive: true });
    } else {
      (probe.agent as HttpAgent | undefined)?.destroy();
      this.agent = new HttpsAgent({
        keepAlive: true,
        ca: probe.ca,
        cert: probe.cert,
        key: probe.key,
        pfx: probe.pfx,
        passphrase: probe.passphrase,
        servername: probe.servername,
        ...(probe.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: probe.rejectUnauthorized }),
      });
    }
  }

  secret(namespace: string, name: string): Promise<KubeObject | undefined> {
    return this.read(SECRETS, namespace, name);
  }

  serviceAccount(namespace: string, name: string): Promise<KubeObject | undefined> {
    return this.read(SERVICE_ACCOUNTS, namespace, name);
  }

  async setWebhookCABundle(configurationName: string, caPem: string): Promise<void> {
    const fresh = pemCertificates(caPem);
    if (fresh.length === 0) throw new ClusterError(`setWebhookCABundle(${configurationName}): the CA given holds no PEM certificate`);
    const path = `${WEBHOOK_CONFIGURATIONS.collection}/${encodeURIComponent(configurationName)}`;
    const label = `MutatingWebhookConfiguration ${configurationName}`;
    // Another replica may patch at the same moment: the patch tests the resourceVersion it was computed from, and is redone on a conflict.
    for (let attempt = 1; ; attempt++) {
      const got = await this.call("GET", path, label, WEBHOOK_CONFIGURATIONS, "get", configurationName);
      if (got.status === 404) {
        throw new ClusterError(
          `${label} does not exist, so its caBundle cannot be written; apply the webhook's manifests (deploy/) first, ` +
            `or use --disable-cert-rotation with certificates you provide`,
        );
      }
      if (got.status !== 200) throw this.failure(got, label, WEBHOOK_CONFIGURATIONS, "get", configurationName);
      const object = asRecord(got.body);
      const webhooks = Array.isArray(object.webhooks) ? (object.webhooks as unknown[]).map(asRecord) : [];
      const existing = webhooks.flatMap((w) => pemCertificates(decodeBundle(asRecord(w.clientConfig).caBundle)));
      const bundle = mergeBundle(fresh, existing, Date.now());
      const encoded = Buffer.from(bundle).toString("base64");
      const changes = webhooks.flatMap((w, i) =>
        asRecord(w.clientConfig).caBundle === encoded ? [] : [{ op: "add", path: `/webhooks/${i}/clientConfig/caBundle`, value: encoded }],
      );
      if (changes.length === 0) return;
      const patch = [{ op: "test", path: "/metadata/resourceVersion", value: asRecord(object.metadata).resourceVersion }, ...changes];
      const res = await this.call("PATCH", path, label, WEBHOOK_CONFIGURATIONS, "patch", configurationName, patch, "application/json-patch+json");
      if (res.status === 200) return;
      if ((res.status === 409 || res.status === 422) && attempt < 5) continue;
      throw this.failure(res, label, WEBHOOK_CONFIGURATIONS, "patch", configurationName);
    }
  }

  reachable(): Promise<boolean> {
    const now = Date.now();
    if (this.lastReachable && now - this.lastReachable.at < REACHABLE_CACHE_MS) return this.lastReachable.ok;
    // /readyz is open to every client (system:public-info-viewer); any HTTP answer means the API server is there.
    const ok = this.send("GET", "/readyz", undefined, undefined, 2_000).then(
      (res) => res.status === 200,
      () => false,
    );
    this.lastReachable = { at: now, ok };
    return ok;
  }

  close(): Promise<void> {
    this.closed = true;
    for (const w of this.watches.values()) if (w instanceof AbortController) w.abort();
    this.watches.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.agent?.destroy();
    return Promise.resolve();
  }

  private read(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
    if (this.closed) return Promise.reject(new ClusterError(`cannot read ${type.kind} ${namespace}/${name}: the cluster connection is closed`));
    if (this.options.watch) this.startWatch(type);
    const key = cacheKey(type, namespace, name);
    const now = Date.now();
    const entry = this.cache.get(key);
    if (entry?.pending) return entry.pending;
    if (entry && entry.expires > now) return Promise.resolve(entry.value);
    const label = `${type.kind} ${namespace}/${name}`;
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/${type.resource}/${encodeURIComponent(name)}`;
    const pending = this.call("GET", path, `cannot read ${label}`, type, "get", name, undefined, undefined, namespace)
      .then((res) => {
        if (res.status !== 200 && res.status !== 404) throw this.failure(res, `cannot read ${label}`, type, "get", name, namespace);
        const value = res.status === 200 ? (res.body as KubeObject) : undefined;
        this.store(key, value);
        return value;
      })
      .catch((err: unknown) => {
        // Failures are not cached: the next read asks again (e.g. once the RBAC rule is granted).
        this.cache.delete(key);
        throw err;
      });
    const placeholder: Entry = entry ?? { value: undefined, expires: 0, pending: undefined };
    placeholder.pending = pending;
    this.cache.set(key, placeholder);
    return pending;
  }

  private store(key: string, value: KubeObject | undefined): void {
    this.cache.delete(key); // re-inserted last: the Map's order is the eviction order
    this.cache.set(key, { value, expires: Date.now() + (value ? this.ttlMs : Math.min(this.ttlMs, NEGATIVE_TTL_MS)), pending: undefined });
    while (this.cache.size > MAX_ENTRIES) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }

  /** Starts (once) the watch that keeps this type's cached objects fresh; on 403 the cache falls back to its TTL alone. */
  private startWatch(type: ResourceType): void {
    if (this.watches.has(type) || this.closed) return;
    this.watches.set(type, "starting");
    void this.runWatch(type, undefined, 0);
  }

  private async runWatch(type: ResourceType, fromVersion: string | undefined, failures: number): Promise<void> {
    if (this.closed) return;
    const selector = type.watchSelector ? `?fieldSelector=${encodeURIComponent(type.watchSelector)}&limit=1` : "?limit=1";
    let version = fromVersion;
    const retry = (): void => {
      if (this.closed) return;
      // 1 s, 2 s, 4 s … 30 s between failed attempts; the TTL keeps reads correct meanwhile.
      const delay = Math.min(30_000, 1_000 * 2 ** Math.min(failures, 5));
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.runWatch(type, version, failures + 1);
      }, delay);
      timer.unref();
      this.timers.add(timer);
    };
    try {
      if (version === undefined) {
        // A one-item list gives the collection's current resourceVersion: the watch starts from now
        // without first receiving every existing object.
        const res = await this.send("GET", `${type.collection}${selector}`, undefined, undefined, REQUEST_TIMEOUT_MS);
        if (res.status === 403 || res.status === 401) {
          this.watches.set(type, "off");
          return;
        }
        if (res.status !== 200) return retry();
        const listed = asRecord(asRecord(res.body).metadata).resourceVersion;
        version = typeof listed === "string" ? listed : "";
        // Objects read before the watch began may have changed since: they expire by their TTL.
      }
      let expired = false;
      let sawEvent = false;
      const controller = await this.newWatch(this.config).watch(
        type.collection,
        { resourceVersion: version, allowWatchBookmarks: true, fieldSelector: type.watchSelector, timeoutSeconds: 300 },
        (phase, raw) => {
          const object = asRecord(raw);
          const metadata = asRecord(object.metadata);
          if (typeof metadata.resourceVersion === "string" && phase !== "ERROR") version = metadata.resourceVersion;
          sawEvent = true;
          if (phase === "ERROR") {
            // 410 Expired: the version is older than the API server's history; list again from now.
            if (object.code === 410) expired = true;
            return;
          }
          if (phase === "BOOKMARK" || typeof metadata.name !== "string" || typeof metadata.namespace !== "string") return;
          const key = cacheKey(type, metadata.namespace, metadata.name);
          if (!this.cache.has(key) || this.cache.get(key)?.pending) return;
          this.store(key, phase === "DELETED" ? undefined : object);
        },
        (err: unknown) => {
          if (this.closed) return;
          const status = (err as { statusCode?: unknown } | null)?.statusCode;
          if (status === 403 || status === 401) {
            this.watches.set(type, "off");
            return;
          }
          if (expired) {
            // Changes between the old version and now are lost: forget this type's cached objects.
            for (const key of this.cache.keys()) if (key.startsWith(`${type.kind}\n`)) this.cache.delete(key);
            version = undefined;
          }
          if (err || expired) {
            retry();
          } else {
            // A normal end (the server's timeout): go on from the last version seen at once.
            void this.runWatch(type, version, sawEvent ? 0 : failures);
          }
        },
      );
      if (this.closed) controller.abort();
      else this.watches.set(type, controller);
    } catch {
      retry();
    }
  }

  /** One API request; a ClusterError for anything but an HTTP answer (the label says what was being done). */
  private async call(
    method: string,
    path: string,
    label: string,
    type: ResourceType,
    verb: string,
    name: string,
    body?: unknown,
    contentType?: string,
    namespace?: string,
  ): Promise<Response> {
    try {
      const res = await this.send(method, path, body, contentType, REQUEST_TIMEOUT_MS);
      if (res.status === 401) throw this.failure(res, label, type, verb, name, namespace);
      return res;
    } catch (err) {
      if (err instanceof ClusterError) throw err;
      throw new ClusterError(
        `${label}: the Kubernetes API at ${this.server} ${networkCause(err)} (${this.source}); ` +
          `check that the cluster is up and the kubeconfig's server and certificate-authority are right, or run with --offline`,
      );
    }
  }

  private failure(res: Response, label: string, type: ResourceType, verb: string, name: string, namespace?: string): ClusterError {
    const status = asRecord(res.body);
    const message = typeof status.message === "string" ? status.message : "";
    const reason = typeof status.reason === "string" ? status.reason : `HTTP ${res.status}`;
    if (res.status === 403) {
      const where = namespace ? "a ClusterRole (or a Role in that namespace)" : "a ClusterRole";
      const names = type === WEBHOOK_CONFIGURATIONS ? `, resourceNames: [${JSON.stringify(name)}]` : "";
      return new ClusterError(
        `${label}: forbidden (403: ${message || "no message"}); grant it with ${where} bound to that user: ` +
          `apiGroups: [${JSON.stringify(type.group)}], resources: [${JSON.stringify(type.resource)}]${names}, verbs: [${JSON.stringify(verb)}] ` +
          `(deploy/base/rbac.yaml has the webhook's rules)`,
      );
    }
    if (res.status === 401) {
      return new ClusterError(
        `${label}: the Kubernetes API rejected the credentials of ${this.source} (401 ${message || "Unauthorized"}); ` +
          `the token may have expired: refresh it, or pass another --kubeconfig`,
      );
    }
    return new ClusterError(`${label}: the Kubernetes API answered ${res.status} ${reason}${message ? `: ${message}` : ""}`);
  }

  private async send(method: string, path: string, body: unknown, contentType: string | undefined, timeoutMs: number): Promise<Response> {
    // Credentials are applied to every request: tokens from files and exec plugins change.
    const opts: RequestOptions = { method, headers: { accept: "application/json" } };
    await this.config.applyToHTTPSOptions(opts);
    if (opts.agent !== this.agent) (opts.agent as HttpAgent | undefined)?.destroy();
    const url = new URL(this.server.replace(/\/+$/, "") + path);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | string[] | number | undefined> = { ...(opts.headers as Record<string, string>) };
    if (opts.auth) headers.authorization = `Basic ${Buffer.from(opts.auth).toString("base64")}`;
    if (payload !== undefined) {
      headers["content-type"] = contentType ?? "application/json";
      headers["content-length"] = Buffer.byteLength(payload);
    }
    const send = url.protocol === "http:" ? httpRequest : httpsRequest;
    return new Promise<Response>((resolve, reject) => {
      const req = send(url, { method, headers, agent: this.agent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON (e.g. "ok" from /readyz)
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: "ETIMEDOUT" })));
      req.on("error", reject);
      req.end(payload);
    });
  }
}

function cacheKey(type: ResourceType, namespace: string, name: string): string {
  return `${type.kind}\n${namespace}\n${name}`;
}

function networkCause(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = oneLine(err);
  switch (code) {
    case "ECONNREFUSED":
      return "is unreachable (connection refused)";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `is unreachable (its host name does not resolve: ${message})`;
    case "ETIMEDOUT":
      return `did not answer (${message})`;
    case "ECONNRESET":
      return "closed the connection";
    default:
      if (typeof code === "string" && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
        return `failed TLS verification (${message}): its certificate does not match the kubeconfig's certificate-authority or server name`;
      }
      return `could not be reached (${message})`;
  }
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function decodeBundle(value: unknown): string {
  return typeof value === "string" ? Buffer.from(value, "base64").toString("utf8") : "";
}

function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/**
 * The new CA certificates first, then those already trusted that are still valid
 * (another replica's CA, the CA before a rotation), without duplicates or expired ones.
 */
export function mergeBundle(fresh: readonly string[], existing: readonly string[], now: number): string {
  const seen = new Set<string>();
  const kept: string[] = [];
  for (const pem of [...fresh, ...existing]) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      continue; // not a certificate: the API server could not use it either
    }
    if (seen.has(cert.fingerprint256) || Date.parse(cert.validTo) <= now) continue;
    seen.add(cert.fingerprint256);
    kept.push(`${pem.trim()}\n`);
  }
  return kept.slice(0, MAX_BUNDLE_CERTS).join("");
}
