// A small Kubernetes API server of ours for tests (no kube-apiserver runs on
// these machines). It serves the few resources krm-digester reads and writes,
// shaped as the API serves them (docs: "Kubernetes API Concepts"):
//   /api/v1/namespaces/NS/{secrets,serviceaccounts}[/NAME]   GET one, list
//   /api/v1/{secrets,serviceaccounts}                        list across namespaces
//   /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations[/NAME]
//                                                            GET, list, PATCH (JSON, merge, strategic), PUT
//   ?watch=true on a list: JSON lines of {type, object}, from ?resourceVersion=,
//   410 Expired (as an ERROR event) when that version is older than the history kept.
//   /readyz, /livez, /version
// Errors are Status objects (NotFound, Forbidden, Unauthorized, Conflict, Expired).
// HTTPS with a throwaway CA, bearer-token auth, and a kubeconfig written for it.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fastJsonPatch from "fast-json-patch";
import type { Operation } from "fast-json-patch";
import { stringify } from "yaml";
import { createCa } from "./certs.js";
import type { TestCa } from "./certs.js";
import { OpenSockets } from "./open-sockets.js";

type Json = Record<string, unknown>;

interface ResourceType {
  readonly group: string; // "" for the core group
  readonly resource: string; // plural, as in URLs and RBAC rules
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespaced: boolean;
}

const TYPES: readonly ResourceType[] = [
  { group: "", resource: "secrets", kind: "Secret", apiVersion: "v1", namespaced: true },
  { group: "", resource: "serviceaccounts", kind: "ServiceAccount", apiVersion: "v1", namespaced: true },
  {
    group: "admissionregistration.k8s.io",
    resource: "mutatingwebhookconfigurations",
    kind: "MutatingWebhookConfiguration",
    apiVersion: "admissionregistration.k8s.io/v1",
    namespaced: false,
  },
];

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly contentType: string | undefined;
  readonly verb: string;
  readonly resource: string | undefined;
}

export interface Rule {
  readonly verbs: readonly string[];
  readonly resources: readonly string[];
}

interface WatchEvent {
  readonly rv: number;
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  readonly object: Json;
}

interface Watcher {
  readonly type: ResourceType;
  readonly namespace: string | undefined;
  readonly fieldSelector: readonly [string, string][];
  send(event: { type: string; object: Json }): void;
  end(): void;
}

export interface KubeApi {
  /** "https://127.0.0.1:PORT" */
  readonly url: string;
  readonly token: string;
  readonly ca: TestCa;
  /** The user the token belongs to, as it appears in Forbidden messages. */
  readonly user: string;
  /** Every request served, in order. */
  readonly requests: RequestRecord[];
  /** Creates or replaces an object (kind and apiVersion pick its type); returns it with server-set metadata. */
  put(object: Json): Json;
  /** The stored object, or undefined. */
  get(kind: string, namespace: string | undefined, name: string): Json | undefined;
  remove(kind: string, namespace: string | undefined, name: string): void;
  /** Only requests matching one of these rules are authorised (undefined: everything is). */
  rules: readonly Rule[] | undefined;
  /** Drops watch history up to now: a watch from an older resourceVersion gets 410 Expired. */
  compact(): void;
  /** Ends every open watch (as the API server does at its timeout). */
  endWatches(): void;
  /** Open watch connections. */
  readonly watchers: number;
  /** Writes a kubeconfig for this server (bearer token, CA); returns its path. */
  writeKubeconfig(options?: { token?: string; caData?: boolean }): Promise<string>;
  requestCount(filter: Partial<Pick<RequestRecord, "method" | "verb" | "resource">>): number;
  stop(): Promise<void>;
}

export async function startKubeApi(options: { user?: string } = {}): Promise<KubeApi> {
  const ca = await createCa("krm-digester fake kube-apiserver CA");
  const { key, cert } = await ca.issue(["127.0.0.1", "localhost"]);
  const dir = await mkdtemp(join(tmpdir(), "krm-digester-kube-"));
  const token = randomUUID();
  const user = options.user ?? "system:serviceaccount:krm-digester:krm-digester";
  const store = new Map<string, Json>();
  let history: WatchEvent[] = [];
  let compactedBefore = 0;
  let revision = 1;
  const watchers = new Set<Watcher>();
  const requests: RequestRecord[] = [];

  const typeOf = (kind: string): ResourceType => {
    const type = TYPES.find((t) => t.kind === kind);
    if (!type) throw new Error(`fake kube-api does not serve kind ${kind}`);
    return type;
  };
  const keyOf = (type: ResourceType, namespace: string | undefined, name: string): string =>
    `${type.resource}/${type.namespaced ? (namespace ?? "") : ""}/${name}`;

  const record = (type: ResourceType, object: Json, eventType: WatchEvent["type"]): Json => {
    const metadata = (object.metadata ?? {}) as Json;
    const stored: Json = {
      ...object,
      apiVersion: type.apiVersion,
      kind: type.kind,
      metadata: {
        ...metadata,
        uid: metadata.uid ?? randomUUID(),
        creationTimestamp: metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        resourceVersion: String(++revision),
      },
    };
    const event: WatchEvent = { rv: revision, type: eventType, object: stored };
    history.push(event);
    for (const w of watchers) if (matches(w, type, stored)) w.send({ type: eventType, object: stored });
    return stored;
  };

  const api: KubeApi = {
    url: "",
    token,
    ca,
    user,
    requests,
    rules: undefined,
    put(object) {
      const type = typeOf(String(object.kind));
      const metadata = (object.metadata ?? {}) as Json;
      const key = keyOf(type, metadata.namespace as string | undefined, String(metadata.name));
      const stored = record(type, object, store.has(key) ? "MODIFIED" : "ADDED");
      store.set(key, stored);
      return stored;
    },
    get(kind, namespace, name) {
      return store.get(keyOf(typeOf(kind), namespace, name));
    },
    remove(kind, namespace, name) {
      const type = typeOf(kind);
      const key = keyOf(type, namespace, name);
      const existing = store.get(key);
      if (!existing) return;
      store.delete(key);
      record(type, existing, "DELETED");
    },
    compact() {
      compactedBefore = ++revision;
      history = [];
    },
    endWatches() {
      for (const w of watchers) w.end();
    },
    get watchers() {
      return watchers.size;
    },
    async writeKubeconfig(o = {}) {
      const file = join(dir, `kubeconfig-${randomUUID().slice(0, 8)}`);
      const cluster: Json = { server: api.url };
      if (o.caData === false) cluster["certificate-authority"] = ca.caFile;
      else cluster["certificate-authority-data"] = Buffer.from(ca.caPem).toString("base64");
      await writeFile(
        file,
        stringify({
          apiVersion: "v1",
          kind: "Config",
          clusters: [{ name: "fake", cluster }],
          users: [{ name: "digester", user: { token: o.token ?? token } }],
          contexts: [{ name: "fake", context: { cluster: "fake", user: "digester" } }],
          "current-context": "fake",
        }),
      );
      return file;
    },
    requestCount(filter) {
      return requests.filter((r) => Object.entries(filter).every(([k, v]) => r[k as keyof RequestRecord] === v)).length;
    },
    stop: async () => {
      for (const w of watchers) w.end();
      sockets.destroyAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      ca.remove();
      await rm(dir, { recursive: true, force: true });
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "https://localhost");
    const query = url.searchParams;
    const route = parsePath(url.pathname);
    const method = req.method ?? "GET";
    const watch = query.get("watch") === "true" || query.get("watch") === "1";
    const verb = !route
      ? method.toLowerCase()
      : method === "GET"
        ? route.name
          ? "get"
          : watch
            ? "watch"
            : "list"
        : method === "PATCH"
          ? "patch"
          : method === "PUT"
            ? "update"
            : method === "POST"
              ? "create"
              : method === "DELETE"
                ? "delete"
                : method.toLowerCase();
    requests.push({ method, path: url.pathname, query, contentType: req.headers["content-type"], verb, resource: route?.type.resource });
    const body = await readBody(req);

    if (["/readyz", "/livez", "/healthz"].includes(url.pathname)) return send(res, 200, "ok", "text/plain");
    if (req.headers.authorization !== `Bearer ${token}`) {
      return sendStatus(res, 401, "Unauthorized", "Unauthorized");
    }
    if (url.pathname === "/version") return send(res, 200, { major: "1", minor: "32", gitVersion: "v1.32.0-fake" });
    if (!route) return sendStatus(res, 404, "NotFound", "the server could not find the requested resource");
    const { type, namespace, name } = route;
    if (api.rules && !api.rules.some((r) => r.verbs.includes(verb) && r.resources.includes(type.resource))) {
      const what = name ? `${type.resource} "${name}"` : type.resource;
      const scope = namespace ? ` in the namespace "${namespace}"` : type.namespaced ? " at the cluster scope" : " at the cluster scope";
      return sendStatus(
        res,
        403,
        "Forbidden",
        `${what} is forbidden: User "${user}" cannot ${verb} resource "${type.resource}" in API group "${type.group}"${scope}`,
        { name, group: type.group || undefined, kind: type.resource },
      );
    }
    if (!name) {
      if (method !== "GET") return sendStatus(res, 405, "MethodNotAllowed", `the server does not allow this method on the requested resource`);
      const fieldSelector = parseFieldSelector(query.get("fieldSelector"));
      if (fieldSelector === undefined) return sendStatus(res, 400, "BadRequest", `unable to parse requirement: fieldSelector ${query.get("fieldSelector")}`);
      const filter: Watcher = { type, namespace, fieldSelector, send: () => {}, end: () => {} };
      if (watch) return serveWatch(req, res, filter, query);
      const items = [...store.values()].filter((o) => matches(filter, type, o));
      const limit = Number(query.get("limit") ?? "0");
      const shown = limit > 0 ? items.slice(0, limit) : items;
      // Items of a list carry no apiVersion/kind; the list's resourceVersion is the store's now.
      const metadata: Json = { resourceVersion: String(revision) };
      if (shown.length < items.length) {
        metadata.continue = Buffer.from(JSON.stringify({ rv: revision, start: shown.length })).toString("base64");
        metadata.remainingItemCount = items.length - shown.length;
      }
      return send(res, 200, {
        kind: `${type.kind}List`,
        apiVersion: type.apiVersion,
        metadata,
        items: shown.map(({ apiVersion: _a, kind: _k, ...rest }) => rest),
      });
    }
    const key = keyOf(type, namespace, name);
    const existing = store.get(key);
    const notFound = (): void => sendStatus(res, 404, "NotFound", `${type.resource} "${name}" not found`, { name, group: type.group || undefined, kind: type.resource });
    if (method === "GET") return existing ? send(res, 200, existing) : notFound();
    if (method === "PATCH" || method === "PUT") {
      if (!existing) return notFound();
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return sendStatus(res, 400, "BadRequest", "the request body is not JSON");
      }
      let next: Json;
      if (method === "PUT") {
        next = parsed as Json;
        const rv = (next.metadata as Json | undefined)?.resourceVersion;
        if (rv !== undefined && rv !== (existing.metadata as Json).resourceVersion) {
          return sendStatus(
            res,
            409,
            "Conflict",
            `Operation cannot be fulfilled on ${type.resource}.${type.group} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
            { name, group: type.group || undefined, kind: type.resource },
          );
        }
      } else {
        const contentType = (req.headers["content-type"] ?? "").split(";")[0]?.trim();
        const copy = structuredClone(existing);
        try {
          if (contentType === "application/json-patch+json") {
            next = fastJsonPatch.applyPatch(copy, parsed as Operation[], true, true).newDocument;
          } else if (contentType === "application/merge-patch+json") {
            next = mergePatch(copy, parsed) as Json;
          } else if (contentType === "application/strategic-merge-patch+json") {
            next = strategicMerge(copy, parsed) as Json;
          } else {
            return sendStatus(res, 415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
          }
        } catch (err) {
          // A failed "test" operation is a 422 Invalid in the real API server.
          return sendStatus(res, 422, "Invalid", `the server rejected our request due to an error in our request: ${(err as Error).message.split("\n")[0]}`);
        }
      }
      const stored = record(type, { ...next, metadata: { ...(next.metadata as Json), name, namespace } }, "MODIFIED");
      store.set(key, stored);
      return send(res, 200, stored);
    }
    return sendStatus(res, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  };

  const serveWatch = (req: IncomingMessage, res: ServerResponse, filter: Watcher, query: URLSearchParams): void => {
    const from = query.get("resourceVersion");
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    const write = (event: { type: string; object: Json }): void => {
      res.write(`${JSON.stringify(event)}\n`);
    };
    let ended = false;
    const watcher: Watcher = {
      ...filter,
      send: write,
      end: () => {
        if (ended) return;
        ended = true;
        watchers.delete(watcher);
        res.end();
      },
    };
    if (from === null || from === "" || from === "0") {
      // No version (or "any"): the current state as synthetic ADDED events first.
      for (const o of store.values()) if (matches(filter, filter.type, o)) write({ type: "ADDED", object: o });
    } else {
      const rv = Number(from);
      if (!Number.isInteger(rv) || rv < compactedBefore) {
        write({
          type: "ERROR",
          object: {
            kind: "Status",
            apiVersion: "v1",
            metadata: {},
            status: "Failure",
            message: `too old resource version: ${from} (${compactedBefore})`,
            reason: "Expired",
            code: 410,
          },
        });
        res.end();
        return;
      }
      for (const e of history) if (e.rv > rv && matches(filter, filter.type, e.object)) write({ type: e.type, object: e.object });
    }
    watchers.add(watcher);
    const timeout = Number(query.get("timeoutSeconds") ?? "0");
    if (timeout > 0) setTimeout(() => watcher.end(), timeout * 1000).unref();
    req.socket.on("close", () => watcher.end());
  };

  const server = createServer({ key, cert }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendStatus(res, 500, "InternalError", String(err));
    });
  });
  const sockets = new OpenSockets();
  server.on("secureConnection", (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("no address");
  (api as { url: string }).url = `https://127.0.0.1:${address.port}`;
  return api;
}

function parsePath(path: string): { type: ResourceType; namespace: string | undefined; name: string | undefined } | undefined {
  const core = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?([a-z]+)(?:\/([^/]+))?$/.exec(path);
  const grouped = /^\/apis\/([^/]+)\/v1\/(?:namespaces\/([^/]+)\/)?([a-z]+)(?:\/([^/]+))?$/.exec(path);
  const [group, namespace, resource, name] = core
    ? ["", core[1], core[2], core[3]]
    : grouped
      ? [grouped[1], grouped[2], grouped[3], grouped[4]]
      : [undefined, undefined, undefined, undefined];
  const type = TYPES.find((t) => t.group === group && t.resource === resource);
  if (!type || (namespace !== undefined && !type.namespaced)) return undefined;
  if (type.namespaced && name !== undefined && namespace === undefined) return undefined;
  return { type, namespace: namespace && decodeURIComponent(namespace), name: name && decodeURIComponent(name) };
}

function parseFieldSelector(text: string | null): [string, string][] | undefined {
  if (!text) return [];
  const pairs: [string, string][] = [];
  for (const part of text.split(",")) {
    const m = /^([a-zA-Z.]+)==?(.*)$/.exec(part);
    if (!m?.[1] || m[2] === undefined || !["metadata.name", "metadata.namespace", "type"].includes(m[1])) return undefined;
    pairs.push([m[1], m[2]]);
  }
  return pairs;
}

function matches(filter: Pick<Watcher, "type" | "namespace" | "fieldSelector">, type: ResourceType, object: Json): boolean {
  if (filter.type !== type || object.kind !== type.kind) return false;
  const metadata = object.metadata as Json;
  if (filter.namespace !== undefined && metadata.namespace !== filter.namespace) return false;
  return filter.fieldSelector.every(([field, value]) => {
    const actual = field === "type" ? object.type : field === "metadata.name" ? metadata.name : metadata.namespace;
    return actual === value;
  });
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const out: Json = typeof target === "object" && target !== null && !Array.isArray(target) ? { ...(target as Json) } : {};
  for (const [k, v] of Object.entries(patch as Json)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Strategic merge for what we send: lists of objects merge by their `name` (webhooks, containers); null deletes. */
function strategicMerge(target: unknown, patch: unknown): unknown {
  if (Array.isArray(patch) && Array.isArray(target) && patch.every((p) => typeof (p as Json | null)?.name === "string")) {
    const out: Json[] = (target as unknown[]).map((t) => t as Json);
    for (const p of patch as Json[]) {
      const i = out.findIndex((t) => t.name === p.name);
      if (i >= 0) out[i] = strategicMerge(out[i], p) as Json;
      else out.push(p);
    }
    return out;
  }
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const out: Json = typeof target === "object" && target !== null && !Array.isArray(target) ? { ...(target as Json) } : {};
  for (const [k, v] of Object.entries(patch as Json)) {
    if (v === null) delete out[k];
    else out[k] = strategicMerge(out[k], v);
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, code: number, body: unknown, contentType = "application/json"): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(code, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** A metav1.Status as the API server sends it with an error. */
function sendStatus(
  res: ServerResponse,
  code: number,
  reason: string,
  message: string,
  details?: { name: string | undefined; group: string | undefined; kind: string },
): void {
  const status: Json = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
  if (details) status.details = JSON.parse(JSON.stringify(details)) as Json;
  send(res, code, status);
}
