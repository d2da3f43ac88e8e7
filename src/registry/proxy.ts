// Which proxy, if any, a request goes through: HTTPS_PROXY / HTTP_PROXY /
// NO_PROXY and their lower-case forms, read the way Go's net/http reads them
// (docker, crane and k8s-digester users set them for those tools):
// - https URLs use HTTPS_PROXY only, http URLs HTTP_PROXY only;
// - of the two spellings the first non-empty wins, upper case first;
// - a value without a scheme means http:// ("proxy:3128");
// - NO_PROXY: "*", host names (matching subdomains too, with or without a
//   leading "." or "*."), IP addresses, CIDR ranges, each with an optional port;
// - loopback hosts are never proxied.
// undici's EnvHttpProxyAgent reads lower case first, lets an empty variable
// hide the other spelling, sends https through HTTP_PROXY, and knows neither
// CIDR ranges nor the loopback rule, so the choice is made here and undici's
// ProxyAgent does the tunnelling.
import { BlockList, isIP } from "node:net";
import { isLoopback } from "../name/reference.js";

export interface Proxy {
  readonly url: URL;
  /** The variable it came from, e.g. "HTTPS_PROXY". */
  readonly variable: string;
  /** scheme://host:port, never the credentials. */
  readonly display: string;
}

export interface ProxySettings {
  readonly http: Proxy | undefined;
  readonly https: Proxy | undefined;
  /** Variables set to something that is not a usable proxy URL, with why. */
  readonly invalid: readonly { readonly variable: string; readonly scheme: "http:" | "https:"; readonly problem: string }[];
  /** Whether the host (as in a URL's `host`, with port) bypasses the proxies. */
  bypass(host: string, defaultPort: number): boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

const SCHEMES = new Set(["http:", "https:", "socks:", "socks5:"]);

export function proxySettings(env: Env): ProxySettings {
  const invalid: { variable: string; scheme: "http:" | "https:"; problem: string }[] = [];
  const read = (scheme: "http:" | "https:", names: readonly string[]): Proxy | undefined => {
    const variable = names.find((n) => (env[n] ?? "").trim() !== "");
    if (variable === undefined) return undefined;
    const value = (env[variable] ?? "").trim();
    let url: URL;
    try {
      url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
    } catch {
      invalid.push({ variable, scheme, problem: `${variable} is not a URL` });
      return undefined;
    }
    if (!SCHEMES.has(url.protocol) || url.hostname === "") {
      invalid.push({ variable, scheme, problem: `${variable} must be an http://, https:// or socks5:// URL with a host` });
      return undefined;
    }
    return { url, variable, display: `${url.protocol}//${url.host}` };
  };
  const https = read("https:", ["HTTPS_PROXY", "https_proxy"]);
  const http = read("http:", ["HTTP_PROXY", "http_proxy"]);
  const noProxy = ["NO_PROXY", "no_proxy"].map((n) => env[n] ?? "").find((v) => v.trim() !== "") ?? "";
  return { http, https, invalid, bypass: noProxyMatcher(noProxy) };
}

/** The proxy for a request to this URL, or undefined to connect directly. */
export function proxyFor(url: URL, settings: ProxySettings): Proxy | undefined {
  const proxy = url.protocol === "https:" ? settings.https : url.protocol === "http:" ? settings.http : undefined;
  if (proxy === undefined) return undefined;
  if (isLoopback(url.host) || settings.bypass(url.host, url.protocol === "https:" ? 443 : 80)) return undefined;
  return proxy;
}

interface Entry {
  readonly port: number | undefined;
  matches(host: string, ip: string | undefined): boolean;
}

function noProxyMatcher(value: string): (host: string, defaultPort: number) => boolean {
  const raw = value.split(/[,\s]+/).map((e) => e.trim().toLowerCase()).filter(Boolean);
  if (raw.includes("*")) return () => true;
  const entries = raw.map(parseEntry).filter((e): e is Entry => e !== undefined);
  return (hostWithPort, defaultPort) => {
    const { host, port } = splitHost(hostWithPort.toLowerCase());
    const ip = isIP(host) ? host : undefined;
    const effectivePort = port ?? defaultPort;
    return entries.some((e) => (e.port === undefined || e.port === effectivePort) && e.matches(host, ip));
  };
}

function parseEntry(entry: string): Entry | undefined {
  const slash = entry.indexOf("/");
  if (slash > 0) {
    const base = entry.slice(0, slash).replace(/^\[|\]$/g, "");
    const bits = Number(entry.slice(slash + 1));
    const family = isIP(base);
    if (family === 0 || !Number.isInteger(bits)) return undefined;
    const list = new BlockList();
    try {
      list.addSubnet(base, bits, family === 6 ? "ipv6" : "ipv4");
    } catch {
      return undefined;
    }
    return { port: undefined, matches: (_host, ip) => ip !== undefined && list.check(ip, isIP(ip) === 6 ? "ipv6" : "ipv4") };
  }
  const { host, port } = splitHost(entry);
  if (isIP(host)) return { port, matches: (_h, ip) => ip === host };
  const domain = host.replace(/^\*?\./, "");
  if (domain === "") return undefined;
  return { port, matches: (h) => h === domain || h.endsWith(`.${domain}`) };
}

/** "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 address; brackets dropped. */
function splitHost(value: string): { host: string; port: number | undefined } {
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    const rest = value.slice(end + 1);
    return { host: value.slice(1, end), port: /^:\d+$/.test(rest) ? Number(rest.slice(1)) : undefined };
  }
  if (isIP(value) === 6) return { host: value, port: undefined };
  const m = /^(.*):(\d+)$/.exec(value);
  return m ? { host: m[1] ?? value, port: Number(m[2]) } : { host: value, port: undefined };
}
