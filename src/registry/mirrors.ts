// registryMirrors: registry -> mirror hosts to ask first, as docker's
// registry-mirrors and containerd's hosts.toml do. A mirror serves the same
// repository path (Docker Hub's "library/" included), optionally under a
// path prefix ("harbor.local/dockerhub-proxy" for Harbor or Artifactory
// proxy projects). Plain HTTP mirrors are allowed through insecureRegistries,
// like any registry, so there is one switch for plain HTTP.
import { DOCKER_HUB } from "../name/reference.js";
import { quote } from "../quote.js";

export interface Mirror {
  /** host[:port] to send requests to. */
  readonly host: string;
  /** Repository path prefix on the mirror, "" for none. */
  readonly prefix: string;
  /** host[:port][/prefix] as shown in results. */
  readonly display: string;
}

export type MirrorMap = Readonly<Record<string, readonly string[]>>;

const HOST = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]);

/** The registry as image references name it: Docker Hub's aliases are "docker.io". */
export function registryKey(host: string): string {
  const h = host.trim().toLowerCase().replace(/^https?:\/\//, "").replace(/\/+$/, "");
  return DOCKER_HUB_ALIASES.has(h) ? DOCKER_HUB : h;
}

export function parseMirror(value: string): Mirror | { problem: string } {
  const text = value.trim();
  if (/^http:\/\//i.test(text)) {
    return { problem: `mirror ${quote(value)}: write it without http:// and list its host in insecureRegistries to allow plain HTTP` };
  }
  const bare = text.replace(/^https:\/\//i, "").replace(/\/+$/, "");
  const slash = bare.indexOf("/");
  const host = (slash < 0 ? bare : bare.slice(0, slash)).toLowerCase();
  const prefix = slash < 0 ? "" : bare.slice(slash + 1);
  if (!HOST.test(host)) return { problem: `mirror ${quote(value)}: expected host[:port][/path], e.g. mirror.example.com:5000` };
  if (prefix !== "" && !prefix.split("/").every((c) => PATH_COMPONENT.test(c))) {
    return { problem: `mirror ${quote(value)}: the path after the host must be lower-case repository path components` };
  }
  return { host, prefix, display: prefix ? `${host}/${prefix}` : host };
}

/**
 * The config value: a map registry -> list of mirrors (or one mirror as a
 * string) in the typed kind; in ConfigMap data one string of
 * `registry=mirror` pairs separated by commas or white space, a registry
 * repeated for more mirrors ("docker.io=m1:5000,docker.io=m2:5000").
 */
export function parseMirrorConfig(value: unknown): { value: Record<string, string[]> } | { problem: string } {
  const pairs: [string, string][] = [];
  if (typeof value === "string") {
    for (const item of value.split(/[\s,]+/).filter(Boolean)) {
      const eq = item.indexOf("=");
      if (eq <= 0 || eq === item.length - 1) return { problem: `expected registry=mirror pairs such as docker.io=mirror.local:5000, got ${quote(item)}` };
      pairs.push([item.slice(0, eq), item.slice(eq + 1)]);
    }
  } else if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    for (const [registry, mirrors] of Object.entries(value)) {
      const list: unknown[] = Array.isArray(mirrors) ? mirrors : [mirrors];
      if (list.length === 0 || !list.every((m): m is string => typeof m === "string" && m.trim() !== "")) {
        return { problem: `${registry}: expected a list of mirror hosts` };
      }
      for (const m of list) pairs.push([registry, m]);
    }
  } else {
    return { problem: "expected a map of registry to mirror hosts (or, in a ConfigMap, registry=mirror pairs)" };
  }
  const out: Record<string, string[]> = {};
  for (const [registry, mirror] of pairs) {
    const key = registryKey(registry);
    if (!HOST.test(key)) return { problem: `${quote(registry)} is not a registry host[:port]` };
    const parsed = parseMirror(mirror);
    if ("problem" in parsed) return parsed;
    const list = (out[key] ??= []);
    if (!list.includes(parsed.display)) list.push(parsed.display);
  }
  return { value: out };
}

/** Mirrors by registry, parsed once; entries that do not parse are skipped (config validation reports them). */
export function mirrorTable(map: MirrorMap | undefined): ReadonlyMap<string, readonly Mirror[]> {
  const table = new Map<string, Mirror[]>();
  for (const [registry, list] of Object.entries(map ?? {})) {
    const mirrors = list.map(parseMirror).filter((m): m is Mirror => !("problem" in m));
    if (mirrors.length > 0) table.set(registryKey(registry), mirrors);
  }
  return table;
}
