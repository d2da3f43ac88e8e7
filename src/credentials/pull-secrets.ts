// Kubernetes pull secrets in the ResourceList, read as the kubelet would:
// the Secrets a pod spec names in `imagePullSecrets` (or, when it names none,
// those of its ServiceAccount in the package), from the pod's own namespace;
// all their keys in one keyring, most specific key first, globbed hosts and
// path prefixes allowed. Local data only: no cluster is contacted.
import { createHash } from "node:crypto";
import { isMap } from "yaml";
import type { Document, YAMLMap } from "yaml";
import type { ImageReference } from "../name/reference.js";
import type { Credential } from "../registry/credentials.js";
import type { CredentialSource, Match } from "./chain.js";
import { EntryError, credentialOf } from "./entry.js";
import { jsonPosition } from "./file.js";
import { bySpecificity, kubeletMatch, parseKey } from "./keys.js";
import type { RegistryKey } from "./keys.js";
import { CONTAINER_LISTS, POD_SPEC_PATHS } from "../workloads.js";
import { quoteShort } from "../registry/text.js";

const DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson";
const DOCKER_CFG = "kubernetes.io/dockercfg";

/** The pull-secret credential that applies to one image of one workload. */
export interface CredentialScope {
  /** Which secret entry is used: lookups with equal ids share one request. */
  readonly id: string;
  /** The entry itself; its matching rule is checked again for every registry asked. */
  readonly entry: SecretEntry;
}

export interface SecretEntry {
  /** "prod/regcred", or "regcred" for a Secret without namespace. */
  readonly secret: string;
  /** The key as written in the Secret. */
  readonly key: string;
  readonly match: RegistryKey;
  readonly credential: Credential;
}

/** Something wrong with a Secret a workload uses, reported as a warning on that Secret. */
export interface SecretProblem {
  readonly item: YAMLMap;
  readonly message: string;
}

interface Indexed {
  readonly item: YAMLMap;
  readonly label: string;
  entries?: readonly SecretEntry[];
}

export class PullSecrets {
  private readonly secrets = new Map<string, Indexed>();
  private readonly accounts = new Map<string, string[]>();
  private readonly reported = new Set<string>();
  private pending: SecretProblem[] = [];

  /** Indexes the Secrets and ServiceAccounts among `items`; nothing is decoded until a workload uses it. */
  constructor(
    items: readonly unknown[],
    private readonly document: Document.Parsed,
  ) {
    for (const item of items) {
      if (!isMap(item) || item.get("apiVersion") !== "v1") continue;
      const kind = item.get("kind");
      if (kind !== "Secret" && kind !== "ServiceAccount") continue;
      const { name, namespace } = identity(item);
      if (name === undefined) continue;
      const key = namespaced(namespace, name);
      if (kind === "Secret") {
        if (!this.secrets.has(key)) this.secrets.set(key, { item, label: namespace ? `${namespace}/${name}` : name });
      } else if (!this.accounts.has(key)) {
        this.accounts.set(key, secretNames(asRecord(item.toJS(document) as unknown).imagePullSecrets));
      }
    }
  }

  /** Problems found since the last call, each reported once per run. */
  takeProblems(): SecretProblem[] {
    const problems = this.pending;
    this.pending = [];
    return problems;
  }

  /**
   * The pull-secret entries each pod spec of `item` may use, keyed by the pod
   * spec's path ("spec.template.spec"), most specific key first.
   */
  forWorkload(item: YAMLMap): WorkloadSecrets {
    // No Secret in the package: every name resolves to nothing, so skip converting the item
    // (a toJS per workload was a tenth of the CPU of a 600-workload run).
    if (this.secrets.size === 0) return NO_SECRETS;
    const { namespace } = identity(item);
    const object = asRecord(item.toJS(this.document) as unknown);
    const byPath = new Map<string, readonly SecretEntry[]>();
    for (const path of POD_SPEC_PATHS) {
      const spec = asRecord(path.reduce<unknown>((node, key) => asRecord(node)[key], object));
      if (!CONTAINER_LISTS.some((list) => list in spec)) continue;
      let names = secretNames(spec.imagePullSecrets);
      if (names.length === 0) {
        // The ServiceAccount admission controller copies its secrets only into pods that name none.
        const named = [spec.serviceAccountName, spec.serviceAccount].find((n): n is string => typeof n === "string" && n !== "");
        const account = named ?? "default";
        names = this.accounts.get(namespaced(namespace, account)) ?? [];
      }
      const entries = names.flatMap((name) => this.entries(namespace, name));
      byPath.set(path.join("."), [...entries].sort((a, b) => bySpecificity(a.match, b.match)));
    }
    return new WorkloadSecrets(byPath);
  }

  private entries(namespace: string | undefined, name: string): readonly SecretEntry[] {
    // Secrets in another namespace (or named but not in the package) are not the pod's.
    const indexed = this.secrets.get(namespaced(namespace, name));
    if (!indexed) return [];
    indexed.entries ??= this.decode(indexed);
    return indexed.entries;
  }

  private decode({ item, label }: Indexed): SecretEntry[] {
    const secret = asRecord(item.toJS(this.document) as unknown);
    const type = secret.type;
    const field = type === DOCKER_CONFIG_JSON ? ".dockerconfigjson" : type === DOCKER_CFG ? ".dockercfg" : undefined;
    const problem = (message: string): SecretEntry[] => {
      this.problem(item, `Secret ${label} named in imagePullSecrets ${message}`);
      return [];
    };
    if (field === undefined) {
      return problem(
        `has type ${quoteShort(typeof type === "string" ? type : type === undefined ? "Opaque" : JSON.stringify(type) ?? "")}, so it holds no registry credentials and is not used; ` +
          `pull secrets have type ${DOCKER_CONFIG_JSON} (or ${DOCKER_CFG})`,
      );
    }
    let text: string | undefined;
    const stringData = asRecord(secret.stringData)[field];
    const data = asRecord(secret.data)[field];
    // The API server lets stringData win over data.
    if (typeof stringData === "string") text = stringData;
    else if (typeof data === "string") {
      const compact = data.replace(/\s+/g, "");
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return problem(`has data.${field} that is not base64; the Secret is not used`);
      text = Buffer.from(compact, "base64").toString("utf8");
    }
    if (text === undefined) {
      const present = asRecord(secret.data)[field] ?? asRecord(secret.stringData)[field];
      return problem(present === undefined ? `has no data.${field}; the Secret is not used` : `has data.${field} that is not a string; the Secret is not used`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      return problem(`has ${field} that is not valid JSON${jsonPosition(err, text)}; the Secret is not used`);
    }
    // .dockerconfigjson is a config.json ({"auths": {…}}); the legacy .dockercfg is the bare map.
    const auths = field === ".dockerconfigjson" ? asRecord(json).auths : json;
    if (typeof auths !== "object" || auths === null || Array.isArray(auths)) {
      return problem(`has ${field} without ${field === ".dockerconfigjson" ? `an "auths" object` : "a JSON object"}; the Secret is not used`);
    }
    const entries: SecretEntry[] = [];
    for (const [key, value] of Object.entries(auths)) {
      const match = parseKey(key);
      if (!match) continue;
      try {
        const credential = credentialOf(value);
        if (credential) entries.push({ secret: label, key, match, credential });
      } catch (err) {
        if (!(err instanceof EntryError)) throw err;
        this.problem(item, `Secret ${label}: ${field} key ${quoteShort(key)}: ${err.message}; the entry is not used`);
      }
    }
    return entries;
  }

  private problem(item: YAMLMap, message: string): void {
    if (this.reported.has(message)) return;
    this.reported.add(message);
    this.pending.push({ item, message });
  }
}

export class WorkloadSecrets {
  constructor(private readonly byPath: ReadonlyMap<string, readonly SecretEntry[]>) {}

  /** The scope for the image at `fieldPath` (a field under one of the pod specs), or undefined when no pull secret matches. */
  scope(fieldPath: string, ref: ImageReference): CredentialScope | undefined {
    // The innermost pod spec holding the field: "spec.template.spec" before "spec".
    let entries: readonly SecretEntry[] = [];
    let depth = -1;
    for (const [path, list] of this.byPath) {
      if (fieldPath.startsWith(`${path}.`) && path.length > depth) [entries, depth] = [list, path.length];
    }
    const entry = entries.find((e) => kubeletMatch(e.match, ref.registry, ref.repository));
    return entry && { id: scopeId(entry), entry };
  }
}

const NO_SECRETS = new WorkloadSecrets(new Map());

/** The first source of a workload's credential chain: its pull-secret entry, only where the key matches. */
export class PullSecretSource implements CredentialSource {
  readonly name: string;

  constructor(private readonly entry: SecretEntry) {
    this.name = `pull secret ${entry.secret}`;
  }

  find(registry: string, repository: string): Promise<Match> {
    const { key, match, credential } = this.entry;
    if (!kubeletMatch(match, registry, repository)) return Promise.resolve({ detail: `key ${quoteShort(key)} does not match` });
    return Promise.resolve({ credential, detail: `key ${quoteShort(key)}` });
  }
}

function scopeId(entry: SecretEntry): string {
  return createHash("sha256").update(`${entry.secret}\n${entry.key}`).digest("hex").slice(0, 16);
}

function identity(item: YAMLMap): { name: string | undefined; namespace: string | undefined } {
  const metadata = item.get("metadata");
  if (!isMap(metadata)) return { name: undefined, namespace: undefined };
  const name = metadata.get("name");
  const namespace = metadata.get("namespace");
  return {
    name: typeof name === "string" && name !== "" ? name : undefined,
    // Absent and empty are the same "no namespace": items without one match each other.
    namespace: typeof namespace === "string" && namespace !== "" ? namespace : undefined,
  };
}

function namespaced(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}\n${name}`;
}

/** The names in an `imagePullSecrets` list (`[{name}]`), anything malformed skipped. */
export function secretNames(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((ref) => {
    const name = asRecord(ref).name;
    return typeof name === "string" && name !== "" ? [name] : [];
  });
}

export function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
