// Image references by the distribution reference grammar
// (github.com/distribution/reference): [host[:port]/]path[:tag][@digest].
// Parsing is pure; the registry client turns a parsed name into URLs.
import { quote } from "../quote.js";

export const DOCKER_HUB = "docker.io";
/** The host that actually serves Docker Hub's registry API. */
export const DOCKER_HUB_API = "registry-1.docker.io";
export const DEFAULT_TAG = "latest";
const NAME_TOTAL_LENGTH_MAX = 255;

export interface ImageReference {
  /** The reference exactly as the user wrote it. */
  readonly original: string;
  /** Registry as written ("gcr.io", "localhost:5000", "[::1]:5000"), or "docker.io" when omitted. */
  readonly registry: string;
  /** Repository path inside the registry; Docker Hub single-segment names get "library/". */
  readonly repository: string;
  /** Tag as written, if any. */
  readonly tag: string | undefined;
  /** Digest as written ("sha256:…"), if any. */
  readonly digest: string | undefined;
}

export class InvalidReferenceError extends Error {
  constructor(
    readonly reference: string,
    readonly reason: string,
  ) {
    super(`invalid image reference ${quote(reference)}: ${reason}`);
    this.name = "InvalidReferenceError";
  }
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const PORT = /^[0-9]+$/;
// Hex and colons only: distribution excludes zone ids ("%eth0") and dotted IPv4 tails.
const IPV6 = /^\[[0-9a-fA-F:]+\]$/;
const DIGEST = /^([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):([0-9a-fA-F]{32,})$/;
const DIGEST_HEX_LENGTH: ReadonlyMap<string, number> = new Map([["sha256", 64], ["sha384", 96], ["sha512", 128]]);
/** A bare 64-hex string is an image ID, not a name (distribution's ParseNormalizedNamed). */
const IDENTIFIER = /^[a-f0-9]{64}$/;

/** Parses an image reference, or throws InvalidReferenceError saying what is wrong. */
export function parseReference(original: string): ImageReference {
  const fail = (reason: string): never => {
    throw new InvalidReferenceError(original, reason);
  };
  if (original === "") fail("it is empty");
  if (original !== original.trim()) fail("it has leading or trailing white space");
  if (/\s/.test(original)) fail("it contains white space");
  if (IDENTIFIER.test(original)) fail("a 64-character hex string is an image ID, not a repository name");

  let rest = original;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    validateDigest(digest, fail);
  }

  // A tag is whatever follows the last ":" after the last "/", so that a
  // registry port ("localhost:5000/app") is not mistaken for one.
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(":");
  if (lastColon > rest.lastIndexOf("/") && !rest.endsWith("]")) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) {
      fail(tag === "" ? "the tag after ':' is empty" : `tag ${quote(tag)} is not valid (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')`);
    }
  }
  if (rest === "") fail("the repository name is empty");

  let registry = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    // distribution's rule: the first segment is a host when it contains "."
    // or ":", is "localhost", or has upper case (paths are lower case only).
    if (/[.:]/.test(first) || first === "localhost" || first !== first.toLowerCase()) {
      validateHost(first, fail);
      registry = first === "index.docker.io" ? DOCKER_HUB : first;
      path = rest.slice(slash + 1);
    }
  }
  if (path === "") fail("the repository name is empty");
  for (const component of path.split("/")) {
    if (component === "") fail("the repository path has an empty segment ('//' or a trailing '/')");
    if (component !== component.toLowerCase()) fail("repository names must be lower case");
    if (!PATH_COMPONENT.test(component)) {
      fail(`path segment ${quote(component)} is not valid (lower-case letters and digits, separated by '.', '_', '__' or '-')`);
    }
  }
  if (registry === DOCKER_HUB && !path.includes("/")) path = `library/${path}`;
  // distribution limits the repository path (after "library/" is added), not the host.
  if (path.length > NAME_TOTAL_LENGTH_MAX) {
    fail(`the repository name is longer than ${NAME_TOTAL_LENGTH_MAX} characters (${path.length})`);
  }

  return { original, registry, repository: path, tag, digest };
}

function validateHost(host: string, fail: (reason: string) => never): void {
  let name = host;
  let port: string | undefined;
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    if (close < 0) fail(`registry host ${quote(host)} has an unclosed '['`);
    name = host.slice(0, close + 1);
    const after = host.slice(close + 1);
    if (after !== "") {
      if (!after.startsWith(":")) fail(`registry host ${quote(host)} is not valid`);
      port = after.slice(1);
    }
    if (!IPV6.test(name)) fail(`registry host ${quote(host)} is not a valid IPv6 address`);
  } else {
    const colon = host.indexOf(":");
    if (colon >= 0) {
      name = host.slice(0, colon);
      port = host.slice(colon + 1);
    }
    if (name === "" || !name.split(".").every((c) => DOMAIN_COMPONENT.test(c))) {
      fail(`registry host ${quote(host)} is not a valid host name`);
    }
  }
  if (port !== undefined && (!PORT.test(port) || Number(port) > 65535 || Number(port) === 0)) {
    fail(`registry port ${quote(port)} is not a valid port number`);
  }
}

function validateDigest(digest: string, fail: (reason: string) => never): void {
  const m = DIGEST.exec(digest);
  if (!m) fail(`digest ${quote(digest)} is not of the form algorithm:hex`);
  const [, algorithm = "", hex = ""] = m;
  const want = DIGEST_HEX_LENGTH.get(algorithm);
  // Like go-digest: only registered algorithms (case-sensitive) are accepted.
  if (want === undefined) fail(`digest algorithm ${quote(algorithm)} is unsupported (sha256, sha384 or sha512)`);
  if (hex.length !== want) fail(`a ${algorithm} digest has ${want} hex characters, this one has ${hex.length}`);
  if (hex !== hex.toLowerCase()) fail(`a ${algorithm} digest must be lower-case hex`);
}

/** "registry/repository" — the key under which a name is looked up and cached. */
export function repositoryKey(ref: Pick<ImageReference, "registry" | "repository">): string {
  return `${ref.registry}/${ref.repository}`;
}

/** What is resolved for a reference without a digest: its tag, or "latest". */
export function tagOf(ref: ImageReference): string {
  return ref.tag ?? DEFAULT_TAG;
}

/** The host:port to send registry API requests to. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/**
 * Whether plain HTTP may be tried for this registry: a loopback one, or one
 * listed in insecureRegistries (as host:port, or by host for every port).
 */
export function plainHttpAllowed(registry: string, insecure: ReadonlySet<string>): boolean {
  const host = apiHost(registry);
  return isLoopback(registry) || insecure.has(registry) || insecure.has(host) || insecure.has(withoutPort(registry)) || insecure.has(withoutPort(host));
}

/** The origins a registry's `/v2/` probe asks: HTTPS, and plain HTTP beside it where it may be tried. */
export function probeOrigins(registry: string, insecure: ReadonlySet<string>): string[] {
  const host = apiHost(registry);
  return [`https://${host}`, ...(plainHttpAllowed(registry, insecure) ? [`http://${host}`] : [])];
}

/** Whether the registry host is on the loopback interface (plain HTTP is allowed there). */
export function isLoopback(registry: string): boolean {
  const host = withoutPort(registry);
  return host === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "[::1]";
}

/** "host" of "host:port" ("[::1]" of "[::1]:5000"). */
function withoutPort(host: string): string {
  return host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:\d+$/, "");
}
