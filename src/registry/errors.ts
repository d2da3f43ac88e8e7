// Every failure of the registry client is a RegistryError: a stable `code`
// for callers (exit codes, best-effort modes), a one-line message naming the
// image and registry host, and a hint saying what the user can do about it.

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
  | "PROTOCOL";

/** What is being resolved; every error is built against one. */
export interface ErrorContext {
  /** Registry as the user wrote it ("docker.io" when omitted). */
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
}

export class RegistryError extends Error {
  override readonly name = "RegistryError";
  readonly registry: string;
  readonly image: string;
  readonly hint: string;
  readonly status: number | undefined;

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
    this.hint = HINTS[code];
    this.status = details.status;
  }

  /** The same failure reported for another image (shared pings and token fetches fail for all their waiters). */
  rebind(context: ErrorContext): RegistryError {
    return new RegistryError(this.code, context, this.detail, this.details);
  }
}

function describe(code: RegistryErrorCode, c: ErrorContext, detail: string, d: ErrorDetails): string {
  const repo = `${c.registry}/${c.repository}`;
  const subject = d.subject ?? `registry ${c.registry}`;
  const of = ` (image ${c.image})`;
  switch (code) {
    case "TAG_NOT_FOUND":
      return `tag ${JSON.stringify(c.tag)} not found in repository ${repo}`;
    case "REPOSITORY_NOT_FOUND":
      return `repository ${repo} not found${of}`;
    case "UNAUTHORIZED":
      return `${subject} refused to authorize pulling ${repo}: ${detail}${of}`;
    case "DENIED":
      return `${subject} denied access to ${repo}: ${detail}${of}`;
    case "UNREACHABLE":
      return `${subject} is unreachable: ${detail}${of}`;
    case "TIMEOUT":
      return `${subject} did not answer in time: ${detail}${of}`;
    case "TLS":
      return `TLS connection to ${subject} failed: ${detail}${of}`;
    case "RATE_LIMITED":
      return `${subject} rate-limited the request: ${detail}${of}`;
    case "SERVER":
      return `${subject} failed: ${detail}${of}`;
    case "PROTOCOL":
      return `${subject} sent an unexpected response: ${detail}${of}`;
  }
}

const HINTS: Readonly<Record<RegistryErrorCode, string>> = {
  TAG_NOT_FOUND: "Check the tag for typos, or push the image before pinning it.",
  REPOSITORY_NOT_FOUND: "Check the registry host and repository path of the image reference.",
  UNAUTHORIZED: "Log in to the registry (docker login or a pull secret) or check that the stored credentials are valid.",
  DENIED: "Check that the credentials have pull access to this repository and that the repository exists.",
  UNREACHABLE: "Check the registry host and port, DNS, network and proxy settings (HTTPS_PROXY, NO_PROXY).",
  TIMEOUT: "Check that the registry is up and reachable, or raise the request timeout.",
  TLS: "Trust the registry's CA certificate (e.g. NODE_EXTRA_CA_CERTS); a registry without TLS must be listed as insecure.",
  RATE_LIMITED: "Wait and retry, or authenticate to the registry for a higher pull limit.",
  SERVER: "The registry failed on its side; retry later or check the registry's status.",
  PROTOCOL: "The registry does not answer as the distribution API specifies; report this with the image name.",
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

/** Maps an unsuccessful answer: the error code in the body wins, the status decides otherwise. */
export function fromResponse(
  status: number,
  body: Uint8Array | undefined,
  context: ErrorContext,
  extra: { retryAfter?: string | undefined; subject?: string } = {},
): RegistryError {
  const errors = registryErrorCodes(body);
  const known = errors.find((e) => BY_REGISTRY_CODE[e.code] !== undefined);
  const first = known ?? errors[0];
  let code: RegistryErrorCode | undefined = known ? BY_REGISTRY_CODE[known.code] : undefined;
  code ??=
    status === 404 ? "TAG_NOT_FOUND"
    : status === 401 ? "UNAUTHORIZED"
    : status === 403 ? "DENIED"
    : status === 429 ? "RATE_LIMITED"
    : status >= 500 ? "SERVER"
    : "PROTOCOL";
  let detail = first ? [first.code, first.message].filter(Boolean).join(": ") : `HTTP ${status}`;
  if (first && !detail.includes(String(status))) detail = `HTTP ${status} ${detail}`;
  if (code === "RATE_LIMITED" && extra.retryAfter) detail += ` (retry after ${extra.retryAfter}s)`;
  return new RegistryError(code, context, detail, {
    status,
    ...(extra.subject === undefined ? {} : { subject: extra.subject }),
  });
}

// ---- Network failures ------------------------------------------------------

const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH|EPROTO$)/;

const NETWORK: Readonly<Record<string, [RegistryErrorCode, string]>> = {
  ECONNREFUSED: ["UNREACHABLE", "connection refused"],
  ENOTFOUND: ["UNREACHABLE", "host name not found (DNS)"],
  EAI_AGAIN: ["UNREACHABLE", "host name lookup failed temporarily (DNS)"],
  ECONNRESET: ["UNREACHABLE", "connection reset"],
  EPIPE: ["UNREACHABLE", "connection closed while sending"],
  EHOSTUNREACH: ["UNREACHABLE", "no route to host"],
  ENETUNREACH: ["UNREACHABLE", "network unreachable"],
  EADDRNOTAVAIL: ["UNREACHABLE", "address not available"],
  UND_ERR_SOCKET: ["UNREACHABLE", "connection closed by the other side"],
  UND_ERR_CLOSED: ["UNREACHABLE", "client closed"],
  UND_ERR_DESTROYED: ["UNREACHABLE", "client closed"],
  ETIMEDOUT: ["TIMEOUT", "connection timed out"],
  UND_ERR_CONNECT_TIMEOUT: ["TIMEOUT", "connection timed out"],
  UND_ERR_HEADERS_TIMEOUT: ["TIMEOUT", "no response headers in time"],
  UND_ERR_BODY_TIMEOUT: ["TIMEOUT", "response body stalled"],
};

/** Classifies a thrown network error (Node, undici, or an AbortSignal reason). */
export function fromNetworkError(err: unknown, context: ErrorContext, timeoutMs: number, subject?: string): RegistryError {
  if (err instanceof RegistryError) return err;
  const { code, detail } = classify(err, timeoutMs);
  return new RegistryError(code, context, detail, { cause: err, ...(subject === undefined ? {} : { subject }) });
}

function classify(err: unknown, timeoutMs: number): { code: RegistryErrorCode; detail: string } {
  // Walk wrappers (fetch's TypeError cause, happy-eyeballs AggregateError) to the first coded error.
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (isRecord(e) && !seen.has(e)) {
    seen.add(e);
    const name = typeof e.name === "string" ? e.name : "";
    if (name === "TimeoutError") return { code: "TIMEOUT", detail: `no answer within ${timeoutMs} ms` };
    const code = typeof e.code === "string" ? e.code : "";
    const message = typeof e.message === "string" ? e.message : code;
    const mapped = NETWORK[code];
    if (mapped) {
      const [kind, words] = mapped;
      return { code: kind, detail: kind === "TIMEOUT" ? `${words} (limit ${timeoutMs} ms)` : words };
    }
    if (TLS_CODE.test(code)) return { code: "TLS", detail: tlsDetail(code, message) };
    if (Array.isArray(e.errors) && e.errors.length > 0) e = e.errors[0];
    else if (e.cause !== undefined) e = e.cause;
    else break;
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: "UNREACHABLE", detail: message.split("\n")[0] ?? message };
}

function tlsDetail(code: string, message: string): string {
  if (code === "ERR_SSL_WRONG_VERSION_NUMBER" || code === "ERR_SSL_PACKET_LENGTH_TOO_LONG") {
    return "the server does not speak TLS on this port";
  }
  if (code === "DEPTH_ZERO_SELF_SIGNED_CERT" || code === "SELF_SIGNED_CERT_IN_CHAIN") {
    return `certificate is self-signed or signed by an untrusted CA (${code})`;
  }
  if (code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE" || code === "UNABLE_TO_GET_ISSUER_CERT_LOCALLY") {
    return `certificate issuer is not trusted (${code})`;
  }
  if (code === "CERT_HAS_EXPIRED") return "certificate has expired";
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return "certificate does not name this host";
  return `${message.split("\n")[0] ?? code} (${code})`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}
