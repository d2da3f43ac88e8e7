// Credential keys as users write them ("https://index.docker.io/v1/",
// "quay.io/team", "*.example.com:5000") and the three ways tools match them
// to an image: docker (host only: parseKey(key, true)), containers auth.json
// (namespaces: coversPath) and the kubelet (globbed host labels, path prefixes).

const DOCKER_HUB = "docker.io";
/** Every name Docker Hub's credentials are filed under; image references say "docker.io". */
const DOCKER_HUB_ALIASES: ReadonlySet<string> = new Set([DOCKER_HUB, "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]);

/** The server URL docker (and credential helpers) file Docker Hub under. */
export const DOCKER_HUB_SERVER_URL = "https://index.docker.io/v1/";

export interface RegistryKey {
  /** Lower-case host with an optional ":port"; Docker Hub's aliases are "docker.io". */
  readonly host: string;
  /** Repository path prefix without surrounding slashes; "" for the whole registry. */
  readonly path: string;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** The registry as image references name it, for comparison with keys. */
export function normalizeHost(host: string): string {
  const lower = host.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/**
 * Parses a key: optional scheme, host[:port], optional path. An API path
 * ("/v1/", "/v2/") means the registry itself, as docker and the kubelet read
 * it. With `hostOnly`, any path is dropped (docker's own matching).
 */
export function parseKey(key: string, hostOnly = false): RegistryKey | undefined {
  const rest = key.trim().replace(SCHEME, "");
  const slash = rest.indexOf("/");
  const host = normalizeHost(slash < 0 ? rest : rest.slice(0, slash));
  if (host === "") return undefined;
  let path = slash < 0 || hostOnly ? "" : rest.slice(slash + 1).replace(/^\/+|\/+$/g, "");
  if (/^v[12](\/|$)/.test(path)) path = path.slice(2).replace(/^\/+/, "");
  return { host, path };
}

/** Whether a key has a scheme: containers auth.json reads such legacy keys as host only. */
export function hasScheme(key: string): boolean {
  return SCHEME.test(key.trim());
}

/** `path` is `prefix` or lies below it (whole segments: "team" does not cover "teamx/app"). */
export function coversPath(prefix: string, path: string): boolean {
  return prefix === "" || path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * The kubelet's rule for pull secrets: same number of host labels, each
 * matching its glob label (`*` and `?` within one label), equal ports (none
 * matches none), and the key's path a prefix of the repository.
 */
export function kubeletMatch(key: RegistryKey, registry: string, repository: string): boolean {
  const [keyName, keyPort] = splitPort(key.host);
  const [name, port] = splitPort(normalizeHost(registry));
  if (keyPort !== port) return false;
  const keyLabels = keyName.split(".");
  const labels = name.split(".");
  if (keyLabels.length !== labels.length) return false;
  return keyLabels.every((glob, i) => globMatch(glob, labels[i] ?? "")) && coversPath(key.path, repository);
}

/**
 * Orders keys most specific first: deeper paths, then fewer wildcards
 * (an exact host before `*.example.com`). Equal keys keep their order.
 */
export function bySpecificity(a: RegistryKey, b: RegistryKey): number {
  return depth(b.path) - depth(a.path) || wildcards(a.host) - wildcards(b.host);
}

function depth(path: string): number {
  return path === "" ? 0 : path.split("/").length;
}

function wildcards(host: string): number {
  return host.replace(/[^*?]/g, "").length;
}

/** "host:port" -> ["host", "port"]; IPv6 "[::1]:5000" keeps its brackets. */
function splitPort(host: string): [string, string] {
  const colon = host.lastIndexOf(":");
  if (colon < 0 || colon < host.lastIndexOf("]")) return [host, ""];
  return [host.slice(0, colon), host.slice(colon + 1)];
}

/**
 * `*` (any run) and `?` (one character) within a label, everything else
 * literal. Iterative, with one backtrack point (the last `*`): a key of many
 * stars cannot make it slow, where a regular expression backtracks
 * exponentially (`*****x` against a long label). Keys come from the package.
 */
export function globMatch(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    const c = glob[g];
    if (c !== undefined && c !== "*" && (c === "?" || c === text[t])) {
      g++;
      t++;
    } else if (c === "*") {
      star = g++;
      resume = t;
    } else if (star >= 0) {
      g = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (glob[g] === "*") g++;
  return g === glob.length;
}
