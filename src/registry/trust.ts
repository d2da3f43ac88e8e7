// Which CA certificates the client trusts. By default Node's store: its
// bundled roots plus NODE_EXTRA_CA_CERTS, which Node reads itself at start.
// SSL_CERT_FILE / SSL_CERT_DIR (what Go tools, hence docker, crane and
// k8s-digester, read) add PEM files on top. A `ca` option replaces Node's
// whole store for a connection, so once we pass one, the bundled roots and
// NODE_EXTRA_CA_CERTS must go into it too or they would silently stop working.
// Parsing a few hundred certificates costs ~100 ms, so it is done once, into
// one SecureContext shared by every connection, and only when TLS is needed.
import { X509Certificate } from "node:crypto";
import { readFileSync, readdirSync, realpathSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { createSecureContext, rootCertificates } from "node:tls";
import type { SecureContext } from "node:tls";

export interface TrustStore {
  /** For tls.connect, or undefined to keep Node's default store. */
  readonly secureContext: SecureContext | undefined;
  /** What is trusted, for TLS error messages, e.g. "Node's bundled CAs + SSL_CERT_FILE=/ca.pem (1 certificate)". */
  readonly description: string;
}

type Env = Readonly<Record<string, string | undefined>>;

interface Source {
  readonly label: string;
  readonly certs: readonly string[];
  readonly problem?: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
// Far larger than any CA bundle (Debian's is ~220 KiB); guards against pointing at a disk image.
const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** Reads the CA settings; `extra` is PEM given by the caller (tests, embedders). */
export function loadTrust(env: Env, extra: string | readonly string[] | undefined = undefined): TrustStore {
  const files = new Map<string, string[]>(); // by real path: bundles are often named twice
  const added: Source[] = [];
  const file = env.SSL_CERT_FILE?.trim();
  if (file) added.push(fromFile(`SSL_CERT_FILE=${file}`, file, files));
  const dirs = env.SSL_CERT_DIR?.trim();
  // Go splits SSL_CERT_DIR on the path list separator.
  if (dirs) for (const dir of dirs.split(delimiter).filter(Boolean)) added.push(fromDir(`SSL_CERT_DIR=${dir}`, dir, files));
  const given = extra === undefined ? [] : typeof extra === "string" ? [extra] : [...extra];
  if (given.length > 0) added.push({ label: "the client's ca option", certs: unique(given.flatMap(pemBlocks)) });

  const nodeExtra = env.NODE_EXTRA_CA_CERTS?.trim();
  const base = "Node's bundled CAs";
  const extraSource = nodeExtra ? fromFile(`NODE_EXTRA_CA_CERTS=${nodeExtra}`, nodeExtra, files) : undefined;
  // Node read NODE_EXTRA_CA_CERTS into its default store at start, if it saw the same value.
  const inDefault = new Set(rootCertificates.flatMap(pemBlocks));
  if (extraSource && nodeExtra === process.env.NODE_EXTRA_CA_CERTS?.trim()) for (const c of extraSource.certs) inDefault.add(c);
  if (added.every((s) => s.certs.every((c) => inDefault.has(c)))) {
    // Nothing new (often SSL_CERT_FILE names the same system bundle): Node's default store, no context to build.
    const described = [base, ...(nodeExtra ? [`NODE_EXTRA_CA_CERTS=${nodeExtra}`] : []), ...added.map(describe)];
    return { secureContext: undefined, description: described.join(" + ") };
  }
  const sources = extraSource ? [extraSource, ...added] : added;
  const extraCerts = unique(sources.flatMap((s) => s.certs));
  return { secureContext: secureContext(extraCerts), description: [base, ...sources.map(describe)].join(" + ") };
}

interface NativeContext {
  addCACert?: (pem: string) => void;
}

/**
 * One context for all connections: Node's default store plus `extra`. Certificates are added
 * to a default context's native store, which copies Node's already parsed roots; passing roots
 * and extras as `ca` parsed ~140 PEM certificates again (~85 ms of every run with a private CA).
 * The documented way stays as the fallback. A block OpenSSL rejects is dropped rather than
 * failing every TLS connection.
 */
function secureContext(extra: readonly string[]): SecureContext {
  const context = createSecureContext();
  const native = (context as { context?: NativeContext }).context;
  if (typeof native?.addCACert === "function") {
    for (const pem of extra) {
      try {
        native.addCACert(pem);
      } catch {
        // Dropped, as below.
      }
    }
    return context;
  }
  const ca = unique([...rootCertificates.flatMap(pemBlocks), ...extra]);
  try {
    return createSecureContext({ ca });
  } catch {
    return createSecureContext({ ca: ca.filter(parses) });
  }
}

function parses(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

function describe(source: Source): string {
  if (source.problem) return `${source.label} (${source.problem})`;
  const n = source.certs.length;
  return `${source.label} (${n} certificate${n === 1 ? "" : "s"})`;
}

function fromFile(label: string, path: string, cache: Map<string, string[]>): Source {
  try {
    const certs = readCerts(path, cache);
    return certs.length > 0 ? { label, certs } : { label, certs, problem: "no PEM certificate in it" };
  } catch (err) {
    return { label, certs: [], problem: `not readable: ${errorCode(err)}` };
  }
}

/** Every regular file in the directory that holds PEM certificates (hashed symlinks included, duplicates dropped). */
function fromDir(label: string, dir: string, cache: Map<string, string[]>): Source {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    return { label, certs: [], problem: `not readable: ${errorCode(err)}` };
  }
  const certs: string[] = [];
  for (const name of names.sort()) {
    try {
      certs.push(...readCerts(join(dir, name), cache));
    } catch {
      // Unreadable entries and subdirectories are skipped, as Go does; the count in messages shows what was found.
    }
  }
  const found = unique(certs);
  return found.length > 0 ? { label, certs: found } : { label, certs: found, problem: "no PEM certificate in it" };
}

function readCerts(path: string, cache: Map<string, string[]>): string[] {
  const real = realpathSync(path);
  const known = cache.get(real);
  if (known) return known;
  const stat = statSync(real);
  if (!stat.isFile()) throw Object.assign(new Error("not a file"), { code: "EISDIR" });
  if (stat.size > MAX_FILE_BYTES) throw Object.assign(new Error("too large"), { code: "EFBIG" });
  const certs = pemBlocks(readFileSync(real, "latin1"));
  cache.set(real, certs);
  return certs;
}

/** The PEM certificate blocks of a text, white space normalised; keys, comments and junk around them are ignored. */
function pemBlocks(text: string): string[] {
  return [...text.matchAll(PEM_CERT)].map((m) => {
    const body = m[0].slice(27, -25).replace(/\s+/g, "");
    return `-----BEGIN CERTIFICATE-----\n${body.replace(/(.{64})/g, "$1\n").trimEnd()}\n-----END CERTIFICATE-----\n`;
  });
}

function unique(pems: readonly string[]): string[] {
  return [...new Set(pems.map((p) => (p.endsWith("\n") ? p : `${p}\n`)))];
}

function errorCode(err: unknown): string {
  const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
  return code || (err instanceof Error ? err.message : String(err));
}
