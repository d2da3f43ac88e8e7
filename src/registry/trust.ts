// Which CA certificates the client trusts. By default Node's store: its
// bundled roots plus NODE_EXTRA_CA_CERTS, which Node reads itself at start.
// SSL_CERT_FILE / SSL_CERT_DIR (what Go tools, hence docker, crane and
// k8s-digester, read) add PEM files on top. A `ca` option replaces Node's
// whole store for a connection, so once we pass one, the bundled roots and
// NODE_EXTRA_CA_CERTS must go into it too or they would silently stop working.
import { X509Certificate } from "node:crypto";
import { rootCertificates } from "node:tls";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";

export interface TrustStore {
  /** The TLS `ca` option, or undefined to keep Node's default store. */
  readonly ca: readonly string[] | undefined;
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

/** Reads the CA settings once; `extra` is PEM given by the caller (tests, embedders). */
export function loadTrust(env: Env, extra: string | readonly string[] | undefined = undefined): TrustStore {
  const added: Source[] = [];
  const file = env.SSL_CERT_FILE?.trim();
  if (file) added.push(fromFile(`SSL_CERT_FILE=${file}`, file));
  const dirs = env.SSL_CERT_DIR?.trim();
  // Go splits SSL_CERT_DIR on the path list separator.
  if (dirs) for (const dir of dirs.split(delimiter).filter(Boolean)) added.push(fromDir(`SSL_CERT_DIR=${dir}`, dir));
  const given = extra === undefined ? [] : typeof extra === "string" ? [extra] : [...extra];
  if (given.length > 0) added.push({ label: "the client's ca option", certs: given.flatMap(certificates) });

  const nodeExtra = env.NODE_EXTRA_CA_CERTS?.trim();
  const base = ["Node's bundled CAs"];
  if (added.every((s) => s.certs.length === 0)) {
    // Nothing to add: Node's default store, which already holds NODE_EXTRA_CA_CERTS.
    if (nodeExtra) base.push(`NODE_EXTRA_CA_CERTS=${nodeExtra}`);
    return { ca: undefined, description: [...base, ...added.map(describe)].join(" + ") };
  }
  const sources = nodeExtra ? [fromFile(`NODE_EXTRA_CA_CERTS=${nodeExtra}`, nodeExtra), ...added] : added;
  const ca = unique([...rootCertificates, ...sources.flatMap((s) => s.certs)]);
  return { ca, description: [...base, ...sources.map(describe)].join(" + ") };
}

function describe(source: Source): string {
  if (source.problem) return `${source.label} (${source.problem})`;
  const n = source.certs.length;
  return `${source.label} (${n} certificate${n === 1 ? "" : "s"})`;
}

function fromFile(label: string, path: string): Source {
  try {
    const text = readText(path);
    const certs = certificates(text);
    return certs.length > 0 ? { label, certs } : { label, certs, problem: "no PEM certificate in it" };
  } catch (err) {
    return { label, certs: [], problem: `not readable: ${errorCode(err)}` };
  }
}

/** Every regular file in the directory that holds PEM certificates (hashed symlinks included, duplicates dropped). */
function fromDir(label: string, dir: string): Source {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    return { label, certs: [], problem: `not readable: ${errorCode(err)}` };
  }
  const certs: string[] = [];
  for (const name of names.sort()) {
    const path = join(dir, name);
    try {
      if (!statSync(path).isFile()) continue;
      certs.push(...certificates(readText(path)));
    } catch {
      // An unreadable entry is skipped, as Go does; the count in messages shows what was found.
    }
  }
  const found = unique(certs);
  return found.length > 0 ? { label, certs: found } : { label, certs: found, problem: "no PEM certificate in it" };
}

function readText(path: string): string {
  if (statSync(path).size > MAX_FILE_BYTES) throw Object.assign(new Error("too large"), { code: "EFBIG" });
  return readFileSync(path, "latin1");
}

/** The PEM certificate blocks in a text that parse as X.509; anything else (keys, comments, junk) is ignored. */
function certificates(text: string): string[] {
  return [...text.matchAll(PEM_CERT)]
    .map((m) => m[0])
    .filter((pem) => {
      try {
        new X509Certificate(pem);
        return true;
      } catch {
        return false;
      }
    });
}

function unique(pems: readonly string[]): string[] {
  const seen = new Set<string>();
  return pems.filter((p) => {
    const key = p.replace(/\s+/g, "");
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function errorCode(err: unknown): string {
  const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
  return code || (err instanceof Error ? err.message : String(err));
}
