// Every failure of the registry client is a RegistryError: a stable `code`
// for callers (exit codes, best-effort modes), a one-line message naming the
// image and registry host, and a hint saying what the user can do about it.
import { networkInterfaces } from "node:os";
import { DOCKER_HUB } from "../name/reference.js";
import type { Proxy } from "./proxy.js";
import { parseRetryAfter } from "./retry.js";
import { clip } from "./text.js";

export type RegistryErrorCode =
  | "TAG_NOT_FOUND"
  | "REPOSITORY_NOT_FOUND"
  | "UNAUTHORIZED"
  | "DENIED"
  | "UNREACHABLE"
  | "TIMEOUT"
  | "TLS"
  | "RATE_LIMITED"
  | "SERVER"
  | "PROTOCOL"
  /** The HTTP(S) proxy failed: unreachable, wants credentials, or could not reach the registry. */
  | "PROXY"
  /** `platform` is set and the tag's image index has no entry for it. */
  | "PLATFORM_NOT_FOUND"
  /** `platform` is set and several entries of the index, for different os.versions, match it. */
  | "PLATFORM_AMBIGUOUS";

/** What is being resolved; every error is built against one. */
export interface ErrorContext {
  /** Registry as the user wrote it ("docker.io" when omitted), or the mirror being asked. */
  readonly registry: string;
  readonly repository: string;
  readonly tag: string;
  /** The image reference exactly as written. */
  readonly image: string;
}

export interface ErrorDetails {
  /** HTTP status, when the registry (or token service) answered. */
  readonly status?: number;
  /** Who failed when it is not the registry itself, e.g. "token service auth.docker.io". */
  readonly subject?: string;
  readonly cause?: unknown;
  /** Replaces the code's general hint when the cause calls for a more specific one. */
  readonly hint?: string;
  /** The proxy the request went through, as scheme://host:port (never its credentials). */
  readonly proxy?: string;
  /** Retries made before giving up. */
  readonly retries?: number;
  /** Whether a new attempt may succeed (a reset connection, a DNS hiccup); retrying is the transport's call. */
  readonly transient?: boolean;
  /** Appended to the message, e.g. what the mirrors answered before the registry itself was asked. */
  readonly note?: string;
}

export class RegistryError extends Error {
  override readonly name = "RegistryError";
  readonly registry: string;
  readonly image: string;
  readonly hint: string;
  readonly status: number | undefined;
  readonly transient: boolean;
  /** Retries made before this failure was final. */
  readonly retries: number;

  constructor(
    readonly code: RegistryErrorCode,
    private readonly context: ErrorContext,
    /** The cause in a few words ("connection refused"); part of the message. */
    readonly detail: string,
    private readonly details: ErrorDetails = {},
  ) {
    super(describe(code, context, detail, details), details.cause === undefined ? undefined : { cause: details.cause });
    this.registry = context.registry;
    this.image = context.image;
    this.hint = details.hint ?? HINTS[code];
    this.status = details.status;
    this.transient = details.transient ?? false;
    this.retries = details.retries ?? 0;
  }

  /** The same failure reported for another image (shared pings and token fetches fail for all their waiters). */
  rebind(context: ErrorContext): RegistryError {
    return new RegistryError(this.code, context, this.detail, this.details);
  }

  /** The same failure with more said about it. */
  with(details: Pick<ErrorDetails, "retries" | "note">): RegistryError {
    return new RegistryError(this.code, this.context, this.detail, { ...this.details, ...details });
  }
}

function describe(code: RegistryErrorCode, c: ErrorContext, detail: string, d: ErrorDetails): string {
  const repo = `${c.registry}/${c.repository}`;
  const peer = d.subject ?? `registry ${c.registry}`;
  const subject = d.proxy && code !== "PROXY" ? `${peer} (through proxy ${d.proxy})` : peer;
  const of = ` (image ${c.image})`;
  const note = d.note ? `; ${d.note}` : "";
  if (d.retries) detail += `, after ${d.retries} ${d.retries === 1 ? "retry" : "retries"}`;
  switch (code) {
    case "TAG_NOT_FOUND":
      return `tag ${JSON.stringify(c.tag)} not found in repository ${repo}${note}`;
    case "REPOSITORY_NOT_FOUND":
      return `repository ${repo} not found${of}${note}`;
    case "UNAUTHORIZED":
      return `${subject} refused to authorize pulling ${repo}: ${detail}${of}${note}`;
    case "DENIED":
      return `${subject} denied access to ${repo}: ${detail}${of}${note}`;
    case "UNREACHABLE":
      return `${subject} is unreachable: ${detail}${of}${note}`;
    case "TIMEOUT":
      return `${subject} did not answer in time: ${detail}${of}${note}`;
    case "TLS":
      return `TLS connection to ${subject} failed: ${detail}${of}${note}`;
    case "RATE_LIMITED":
      return `${subject} rate-limited the request: ${detail}${of}${note}`;
    case "SERVER":
      return `${subject} failed: ${detail}${of}${note}`;
    case "PROTOCOL":
      return `${subject} sent an unexpected response: ${detail}${of}${note}`;
    case "PROXY":
      return `cannot reach ${subject} through proxy ${d.proxy ?? "(unknown)"}: ${detail}${of}${note}`;
    case "PLATFORM_NOT_FOUND":
    case "PLATFORM_AMBIGUOUS":
      return `${c.image} has ${detail}${note}`;
  }
}

const TRUST_HINT =
  "Trust the CA that signed the registry's certificate: set SSL_CERT_FILE (or NODE_EXTRA_CA_CERTS) to a PEM file " +
  "holding it, or SSL_CERT_DIR to a directory of such files; when the function runs in a container, mount the file " +
  "into it and set the variable to the mounted path. A registry without TLS must be listed in insecureRegistries.";

const HINTS: Readonly<Record<RegistryErrorCode, string>> = {
  TAG_NOT_FOUND: "Check the tag for typos, or push the image before pinning it.",
  REPOSITORY_NOT_FOUND: "Check the registry host and repository path of the image reference.",
  UNAUTHORIZED: "Log in to the registry (docker login or a pull secret) or check that the stored credentials are valid.",
  DENIED: "Check that the credentials have pull access to this repository and that the repository exists.",
  UNREACHABLE: "Check the registry host and port, DNS, network and proxy settings (HTTPS_PROXY, NO_PROXY).",
  TIMEOUT: "Check that the registry is up and reachable, or raise the request timeout (function config key timeout).",
  TLS: TRUST_HINT,
  RATE_LIMITED: "Wait and retry, or authenticate to the registry for a higher pull limit.",
  SERVER: "The registry failed on its side; retry later or check the registry's status.",
  PROTOCOL: "The registry does not answer as the distribution API specifies; report this with the image name.",
  PLATFORM_NOT_FOUND: "Set platform to one of the platforms the index has, or leave platform unset to pin the index itself.",
  PLATFORM_AMBIGUOUS: "Name the os.version too, e.g. windows(10.0.17763.1234)/amd64.",
  PROXY: "Check HTTPS_PROXY / HTTP_PROXY (scheme://[user:password@]host:port) and that the proxy runs; NO_PROXY lists hosts reached directly.",
};

// ---- HTTP answers ----------------------------------------------------------

/** `{"errors":[{"code","message","detail"}]}` as distribution and most registries send it. */
export function registryErrorCodes(body: Uint8Array | undefined): { code: string; message: string }[] {
  if (!body || body.length === 0) return [];
  try {
    const parsed: unknown = JSON.parse(Buffer.from(body).toString("utf8"));
    if (!isRecord(parsed) || !Array.isArray(parsed.errors)) return [];
    return parsed.errors.filter(isRecord).map((e) => ({
      code: typeof e.code === "string" ? e.code : "",
      message: typeof e.message === "string" ? e.message : "",
    }));
  } catch {
    return [];
  }
}

const BY_REGISTRY_CODE: Readonly<Record<string, RegistryErrorCode>> = {
  MANIFEST_UNKNOWN: "TAG_NOT_FOUND",
  NAME_UNKNOWN: "REPOSITORY_NOT_FOUND",
  UNAUTHORIZED: "UNAUTHORIZED",
  DENIED: "DENIED",
  TOOMANYREQUESTS: "RATE_LIMITED",
};

/** What fromResponse needs of an answer beyond status and body. */
export interface ResponseExtra {
  /** The Retry-After header, seconds or an HTTP date. */
  readonly retryAfter?: string | undefined;
  readonly subject?: string | undefined;
  readonly proxy?: string | undefined;
  readonly retries?: number | undefined;
}

/** Maps an unsuccessful answer: the error code in the body wins, the status decides otherwise. */
export function fromResponse(status: number, body: Uint8Array | undefined, context: ErrorContext, extra: ResponseExtra = {}): RegistryError {
  const errors = registryErrorCodes(body);
  const known = errors.find((e) => BY_REGISTRY_CODE[e.code] !== undefined);
  const first = known ?? errors[0];
  let code: RegistryErrorCode | undefined = known ? BY_REGISTRY_CODE[known.code] : undefined;
  code ??=
    status === 404 ? "TAG_NOT_FOUND"
    : status === 401 ? "UNAUTHORIZED"
    : status === 403 ? "DENIED"
    : status === 429 ? "RATE_LIMITED"
    : status === 408 ? "TIMEOUT"
    : status >= 500 ? "SERVER"
    : "PROTOCOL";
  // The registry's own words, cut short: an error body is up to 64 KiB of whatever it chose to send.
  let detail = first ? clip([first.code, first.message].filter(Boolean).join(": ")) : `HTTP ${status}`;
  if (first && !detail.includes(String(status))) detail = `HTTP ${status} ${detail}`;
  let hint: string | undefined;
  if (code === "RATE_LIMITED") {
    const wait = parseRetryAfter(extra.retryAfter);
    if (wait !== undefined) detail += ` (Retry-After: ${formatDuration(wait)})`;
    if (context.registry === DOCKER_HUB) {
      hint =
        "Docker Hub limits pulls per IP address for anonymous users: log in (docker login, or a pull secret) for a " +
        "higher limit, or set registryMirrors to a mirror of docker.io" +
        (wait === undefined ? "." : `; or wait ${formatDuration(wait)}.`);
    } else if (wait !== undefined) {
      hint = `Wait ${formatDuration(wait)} and run again, or authenticate to the registry for a higher limit.`;
    }
  }
  if (code === "TIMEOUT") hint = "The registry gave up waiting for the request (HTTP 408); check the network between here and the registry.";
  return new RegistryError(code, context, detail, {
    status,
    ...(extra.subject === undefined ? {} : { subject: extra.subject }),
    ...(extra.proxy === undefined ? {} : { proxy: extra.proxy }),
    ...(extra.retries ? { retries: extra.retries } : {}),
    ...(hint === undefined ? {} : { hint }),
  });
}

/** Go-style: "250ms", "1.5s", "2m", "1m30s", "1h", "2h5m". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const total = Math.round(ms / 1000);
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  return [h ? `${h}h` : "", m ? `${m}m` : "", s ? `${s}s` : ""].join("");
}

// ---- Network failures ------------------------------------------------------

/** Where a failed request stood and what was in effect, for a message the user can act on. */
export interface NetworkSituation {
  /** host:port the request was for. */
  readonly host: string;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Whether the response headers had arrived (a stall is then in the body). */
  readonly phase: "response" | "body";
  /** What CA certificates were trusted (TrustStore.description). */
  readonly trust: string;
  readonly proxy?: Proxy | undefined;
  readonly subject?: string | undefined;
}

/** The abort reason of the whole-run deadline. */
export class RunDeadlineError extends Error {
  override readonly name = "RunDeadlineError";
  constructor(readonly ms: number) {
    super(`the run deadline of ${formatDuration(ms)} passed`);
  }
}

/**
 * undici's limit on a response head: Node's http.maxHeaderSize, 16 KiB unless
 * --max-http-header-size says otherwise (not read here: node:http is not loaded at start-up).
 */
const MAX_HEADER_KIB = 16;

const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH|EPROTO$)/;

// Failures on the way to a host; through a proxy they are the proxy's.
const CONNECT: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host name not found (DNS)",
  EAI_AGAIN: "host name lookup failed temporarily (DNS)",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "network unreachable",
  EADDRNOTAVAIL: "address not available",
};

// Failures of an open connection; a new connection may well succeed.
const DROPPED: Readonly<Record<string, string>> = {
  ECONNRESET: "connection reset",
  ECONNABORTED: "connection aborted",
  EPIPE: "connection closed while sending",
  UND_ERR_SOCKET: "connection closed by the other side",
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: "connection closed before the whole response arrived",
  // undici's HTTP/2 client: a stream reset or ended early, a frame error (GOAWAY is UND_ERR_SOCKET).
  UND_ERR_INFO: "HTTP/2 stream ended early",
};

const TRANSIENT = new Set([...Object.keys(DROPPED), "EAI_AGAIN"]);

/** Classifies a thrown network error (Node, undici, or an AbortSignal reason). */
export function fromNetworkError(err: unknown, context: ErrorContext, situation: NetworkSituation): RegistryError {
  if (err instanceof RegistryError) return err;
  const c = classify(err, situation);
  const container = c.connect ? containerNetworkHint(c.hint ?? HINTS[c.code]) : undefined;
  const hint = container ?? c.hint;
  return new RegistryError(c.code, context, c.detail, {
    cause: err,
    transient: c.transient,
    ...(hint === undefined ? {} : { hint }),
    ...(situation.subject === undefined ? {} : { subject: situation.subject }),
    ...(situation.proxy === undefined ? {} : { proxy: situation.proxy.display }),
  });
}

interface Classified {
  code: RegistryErrorCode;
  detail: string;
  hint?: string;
  transient: boolean;
  /** No connection could be opened (refused, DNS, no route, connect timeout): no network at all is one cause. */
  connect?: boolean;
}

/**
 * The project's image sets KRM_DIGESTER_IN_CONTAINER=1. kpt and kustomize
 * start container functions without network unless asked (even 127.0.0.1 is
 * then the container's own loopback), so a failure to connect there says how
 * to ask, ahead of the usual hint.
 */
export function containerNetworkHint(usual: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.KRM_DIGESTER_IN_CONTAINER !== "1") return undefined;
  const loopbackOnly = Object.values(networkInterfaces()).every((addresses) => (addresses ?? []).every((a) => a.internal));
  const flags =
    "give it network: kpt fn eval --network, kpt fn render --allow-network (Kptfile image: steps), " +
    "or network: true in the kustomize function annotation (kubectl kustomize / kustomize build --network).";
  if (loopbackOnly) return `The function runs in a container that has no network (loopback only): ${flags}`;
  return `If the container has no network, ${flags} ${usual}`;
}

function classify(err: unknown, s: NetworkSituation): Classified {
  // Walk wrappers (fetch's TypeError cause, happy-eyeballs AggregateError) to the first coded error.
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (isRecord(e) && !seen.has(e)) {
    seen.add(e);
    const found = classifyOne(e, s);
    if (found) return found;
    if (Array.isArray(e.errors) && e.errors.length > 0) e = e.errors[0];
    else if (e.cause !== undefined) e = e.cause;
    else break;
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: "UNREACHABLE", detail: message.split("\n")[0] ?? message, transient: false };
}

function classifyOne(e: Record<string, unknown>, s: NetworkSituation): Classified | undefined {
  const name = typeof e.name === "string" ? e.name : "";
  const code = typeof e.code === "string" ? e.code : "";
  const message = typeof e.message === "string" ? e.message : code;
  const timeout = formatDuration(s.timeoutMs);
  const raiseTimeout = `The registry (or the network to it) is slow or stalled: check its status, or raise the function config's timeout (now ${timeout}).`;

  if (e instanceof RunDeadlineError) {
    return {
      code: "TIMEOUT",
      detail: `the run's deadline (runTimeout ${formatDuration(e.ms)}) passed before it answered`,
      hint: `Raise runTimeout in the function config (now ${formatDuration(e.ms)}), or find the slow registry: every request also has its own limit, timeout (now ${timeout}).`,
      transient: false,
    };
  }
  if (name === "TimeoutError" || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
    const body = s.phase === "body" || code === "UND_ERR_BODY_TIMEOUT";
    const detail = body ? `the response body stalled and was not complete within ${timeout}` : `no response within ${timeout}`;
    return { code: "TIMEOUT", detail, hint: raiseTimeout, transient: false };
  }
  if (code === "UND_ERR_CONNECT_TIMEOUT" || code === "ETIMEDOUT") {
    const to = s.proxy ? `proxy ${s.proxy.display}` : s.host;
    const detail = `could not connect to ${to} within ${formatDuration(s.connectTimeoutMs)}`;
    if (s.proxy) return { code: "PROXY", detail, hint: proxyHint(s.proxy), transient: false, connect: true };
    return {
      code: "TIMEOUT",
      detail,
      hint: "Check the host and port, and that no firewall drops the connection; behind a proxy, set HTTPS_PROXY. connectTimeout sets how long to wait.",
      transient: false,
      connect: true,
    };
  }

  const proxied = proxyFailure(code, message, s);
  if (proxied) return proxied;

  const connect = CONNECT[code];
  if (connect) {
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
      const host = typeof e.hostname === "string" ? e.hostname : s.host;
      return {
        code: "UNREACHABLE",
        detail: `DNS lookup of ${host} failed (${code})`,
        hint: "Check the host name for typos and that DNS resolves it from here; where only a proxy can resolve it, set HTTPS_PROXY.",
        transient: code === "EAI_AGAIN",
        connect: true,
      };
    }
    if (code === "ECONNREFUSED") {
      return { code: "UNREACHABLE", detail: `connection to ${s.host} refused`, hint: "Check the host and port of the registry and that it is running.", transient: false, connect: true };
    }
    return { code: "UNREACHABLE", detail: connect, transient: false, connect: true };
  }
  // nghttp2's verdict on an HTTP/2 answer: a header list over Node's 64 KiB (maxHeaderListSize) or a broken frame.
  const h2 = /NGHTTP2_(FRAME_SIZE|COMPRESSION|PROTOCOL)_ERROR/.exec(message);
  if (h2) {
    return {
      code: "PROTOCOL",
      detail: `the HTTP/2 response from ${s.host} was malformed or its headers larger than 64 KiB, the most krm-digester reads (${h2[0]})`,
      transient: false,
    };
  }
  const dropped = DROPPED[code];
  if (dropped) return { code: "UNREACHABLE", detail: dropped, transient: TRANSIENT.has(code) };
  if (code === "UND_ERR_CLOSED" || code === "UND_ERR_DESTROYED") return { code: "UNREACHABLE", detail: "client closed", transient: false };
  if (code === "UND_ERR_HEADERS_OVERFLOW") {
    return {
      code: "PROTOCOL",
      detail: `the response headers from ${s.host} are larger than ${MAX_HEADER_KIB} KiB, the most krm-digester reads`,
      transient: false,
    };
  }
  // llhttp's verdict on bytes that are not HTTP/1.1 (HPE_INVALID_CONSTANT, HPE_INVALID_HEADER_TOKEN, …).
  if (code.startsWith("HPE_")) return { code: "PROTOCOL", detail: `${s.host} sent a malformed HTTP response (${code})`, transient: false };
  if (TLS_CODE.test(code)) return tlsFailure(code, message, s);
  return undefined;
}

/** Failures that only a proxy produces: its connection, its CONNECT answer, its demand for credentials. */
function proxyFailure(code: string, message: string, s: NetworkSituation): Classified | undefined {
  const proxy = s.proxy;
  if (!proxy) return undefined;
  const connect = CONNECT[code];
  // Through a proxy the only connection we open is to the proxy; it does the DNS lookup of the registry.
  if (connect) return { code: "PROXY", detail: `${connect} (${code}) connecting to the proxy`, hint: proxyHint(proxy), transient: code === "EAI_AGAIN", connect: true };
  const tunnel = /Proxy response \((\d{3})\)/.exec(message);
  const status = tunnel ? Number(tunnel[1]) : /Proxy Authentication Required/.test(message) ? 407 : undefined;
  if (status === 407) {
    const has = proxy.url.username !== "";
    return {
      code: "PROXY",
      detail: has ? `the proxy rejected the credentials in ${proxy.variable} (HTTP 407)` : "the proxy requires authentication (HTTP 407)",
      hint: `Put the proxy's credentials in ${proxy.variable}, as scheme://user:password@host:port (percent-encode special characters).`,
      transient: false,
    };
  }
  if (status !== undefined) {
    const transient = status === 502 || status === 503 || status === 504;
    return {
      code: "PROXY",
      detail: transient ? `the proxy could not connect to ${s.host} (HTTP ${status})` : `the proxy refused to connect to ${s.host} (HTTP ${status})`,
      hint: transient
        ? `Check the registry's host and port; if only this machine can reach the registry, add it to NO_PROXY.`
        : `Ask the proxy's administrators to allow ${s.host} (proxies often allow CONNECT to port 443 only), or add the registry to NO_PROXY.`,
      transient,
    };
  }
  if (code === "UND_ERR_PRX_TLS") {
    return { code: "PROXY", detail: `TLS connection to the proxy failed: ${message}`, hint: TRUST_HINT.replace("the registry's", "the proxy's"), transient: false };
  }
  return undefined;
}

function proxyHint(proxy: Proxy): string {
  return `Check ${proxy.variable} (now ${proxy.display}) and that the proxy is running and reachable; NO_PROXY lists hosts to reach directly.`;
}

function tlsFailure(code: string, message: string, s: NetworkSituation): Classified {
  const untrusted = (what: string): Classified => ({
    code: "TLS",
    detail: `the certificate of ${s.host} ${what} (${code}); trusted CAs: ${s.trust}`,
    transient: false,
  });
  switch (code) {
    case "ERR_SSL_WRONG_VERSION_NUMBER":
    case "ERR_SSL_PACKET_LENGTH_TOO_LONG":
      return {
        code: "TLS",
        detail: `${s.host} does not speak TLS on this port`,
        hint: "If the registry serves plain HTTP, list it in insecureRegistries (HTTPS is still tried first); otherwise check the port.",
        transient: false,
      };
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
      return untrusted("is self-signed and not trusted");
    case "SELF_SIGNED_CERT_IN_CHAIN":
      return untrusted("is signed by a CA that is not trusted");
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
    case "UNABLE_TO_GET_ISSUER_CERT":
      return untrusted("is issued by a CA that is not trusted");
    case "CERT_HAS_EXPIRED":
    case "CERT_NOT_YET_VALID":
      return {
        code: "TLS",
        detail: `the certificate of ${s.host} ${code === "CERT_HAS_EXPIRED" ? "has expired" : "is not valid yet"}`,
        hint: "Renew the registry's certificate, or check this machine's clock.",
        transient: false,
      };
    case "ERR_TLS_CERT_ALTNAME_INVALID":
    case "HOSTNAME_MISMATCH":
      return {
        code: "TLS",
        detail: `the certificate of ${s.host} is not issued for that name (${message.split("\n")[0] ?? code})`,
        hint: "Use the host name the certificate names (see its subjectAltName), or have it reissued for this name.",
        transient: false,
      };
    default:
      return untrusted(`could not be verified: ${message.split("\n")[0] ?? code}`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}
