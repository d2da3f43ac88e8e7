// The webhook's own serving certificate (without --disable-cert-rotation):
// a CA and a certificate for the Service's DNS names, created in memory,
// tls.crt/tls.key written into --cert-dir (each file replaced atomically;
// the server re-reads them when they change), the CA added to the
// MutatingWebhookConfiguration's caBundle, and both renewed before expiry.
//
// Each replica makes its own CA and never writes its key anywhere: the
// caBundle holds every replica's CA (and the one before a rotation) until it
// expires, so no Secret needs to be shared or written (least privilege: only
// get/patch of the one webhook configuration). A replica re-checks now and
// then that its CA is still there and adds it back if not.
//
// X.509 is @peculiar/x509 over Node's WebCrypto (node:crypto cannot build
// certificates); it is loaded only here, when rotation starts.
import { randomBytes, webcrypto } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Cluster } from "../cluster/api.js";

export const DEFAULT_VALIDITY_MS = 7 * 24 * 3600_000;
/** Renewed when this share of the validity has passed (a week's certificate: after about 4.7 days). */
const RENEW_AT = 2 / 3;
/** Backdated so that an API server whose clock is a little behind accepts it. */
const BACKDATE_MS = 5 * 60_000;
const REASSERT_MS = 10 * 60_000;
const RETRY_MS = 60_000;
const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** Where the webhook is reached: its Service and the webhook configuration whose caBundle it writes. */
export interface ServingIdentity {
  readonly service: string;
  readonly namespace: string;
  readonly webhookConfiguration: string;
}

/**
 * From the environment the Deployment sets (deploy/): KRM_DIGESTER_SERVICE,
 * POD_NAMESPACE (downward API; else the service account's namespace file),
 * KRM_DIGESTER_WEBHOOK_CONFIGURATION; each defaults to "krm-digester".
 */
export function servingIdentity(env: NodeJS.ProcessEnv = process.env): ServingIdentity {
  const fromFile = existsSync(SERVICE_ACCOUNT_NAMESPACE) ? readFileSync(SERVICE_ACCOUNT_NAMESPACE, "utf8").trim() : "";
  return {
    service: env.KRM_DIGESTER_SERVICE || "krm-digester",
    namespace: env.POD_NAMESPACE || fromFile || "krm-digester",
    webhookConfiguration: env.KRM_DIGESTER_WEBHOOK_CONFIGURATION || "krm-digester",
  };
}

/** The names the API server may use to call the Service: it dials `<svc>.<ns>.svc`. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

export interface IssuedCertificate {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** A fresh CA (its key dropped once it has signed) and a serving certificate for `dnsNames`, ECDSA P-256. */
export async function issueCertificate(dnsNames: readonly string[], validityMs = DEFAULT_VALIDITY_MS, now = new Date()): Promise<IssuedCertificate> {
  if (dnsNames.length === 0) throw new Error("issueCertificate: no DNS names");
  const x509 = await import("./x509-lib.js");
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const notAfter = new Date(now.getTime() + validityMs);
  const subtle = webcrypto.subtle;
  const caKeys = (await subtle.generateKey(ALGORITHM, false, ["sign", "verify"]));
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=krm-digester webhook CA ${dnsNames[0]}`,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keys = (await subtle.generateKey(ALGORITHM, true, ["sign", "verify"]));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${dnsNames[0]}`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingKey: caKeys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: "dns" as const, value }))),
      await x509.AuthorityKeyIdentifierExtension.create(ca, false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await subtle.exportKey("pkcs8", keys.privateKey);
  return {
    caPem: `${ca.toString("pem")}\n`,
    certPem: `${cert.toString("pem")}\n`,
    keyPem: `${x509.PemConverter.encode(pkcs8, "PRIVATE KEY")}\n`,
    notBefore,
    notAfter,
  };
}

/** Writes tls.crt and tls.key into `dir`, each through a temporary file and a rename (a reader never sees half a file). */
export async function writeServingFiles(dir: string, issued: Pick<IssuedCertificate, "certPem" | "keyPem">): Promise<void> {
  await mkdir(dir, { recursive: true });
  const suffix = `.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const files: [string, string, number][] = [
    ["tls.key", issued.keyPem, 0o600],
    ["tls.crt", issued.certPem, 0o644],
  ];
  for (const [name, text, mode] of files) {
    const temp = join(dir, name + suffix);
    try {
      await writeFile(temp, text, { mode });
      await rename(temp, join(dir, name));
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }
}

export interface RotationOptions {
  readonly certDir: string;
  readonly cluster: Cluster;
  readonly identity?: ServingIdentity;
  readonly validityMs?: number;
  /** How often the CA's presence in the caBundle is checked (and restored). */
  readonly reassertMs?: number;
  readonly log?: (line: Record<string, unknown>) => void;
}

export interface CertificateRotation {
  /** The CA (PEM) of the certificate now in --cert-dir. */
  readonly caPem: string;
  readonly notAfter: Date;
  /** When the next renewal is due (before notAfter). */
  readonly nextRotation: Date;
  /** Renews now: new CA into the caBundle first, then the files. */
  rotate(): Promise<void>;
  stop(): void;
}

/**
 * Issues the first certificate, writes its CA into the webhook configuration
 * and the files into certDir, then renews before expiry. Rejects (with the
 * ClusterError's message) when the caBundle cannot be written at start: the
 * API server could not call a webhook it does not trust.
 */
export async function startCertificateRotation(options: RotationOptions): Promise<CertificateRotation> {
  const identity = options.identity ?? servingIdentity();
  const names = serviceDnsNames(identity.service, identity.namespace);
  const validityMs = options.validityMs ?? DEFAULT_VALIDITY_MS;
  const log = options.log ?? (() => {});
  let current: IssuedCertificate | undefined;
  let timer: NodeJS.Timeout | undefined;
  const interval: { reassert?: NodeJS.Timeout } = {};
  let stopped = false;
  let rotating: Promise<void> | undefined;

  const dueAt = (issued: IssuedCertificate): Date => {
    const start = issued.notBefore.getTime() + BACKDATE_MS;
    return new Date(start + (issued.notAfter.getTime() - start) * RENEW_AT);
  };
  const schedule = (at: number): void => {
    clearTimeout(timer);
    if (stopped) return;
    // setTimeout holds at most ~24.8 days; a longer wait is taken in steps.
    const wait = Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1);
    timer = setTimeout(() => (Date.now() >= at ? void rotation.rotate().catch(() => {}) : schedule(at)), wait).unref();
  };
  const renew = async (): Promise<void> => {
    const issued = await issueCertificate(names, validityMs);
    // The CA first: the API server must trust the new certificate before we serve it.
    await options.cluster.setWebhookCABundle(identity.webhookConfiguration, issued.caPem);
    await writeServingFiles(options.certDir, issued);
    current = issued;
    log({ level: "info", msg: "serving certificate issued", dnsNames: names, notAfter: issued.notAfter.toISOString(), certDir: options.certDir });
    schedule(dueAt(issued).getTime());
  };

  const rotation: CertificateRotation = {
    get caPem() {
      return current?.caPem ?? "";
    },
    get notAfter() {
      return current?.notAfter ?? new Date(0);
    },
    get nextRotation() {
      return current ? dueAt(current) : new Date(0);
    },
    rotate() {
      rotating ??= renew()
        .catch((err: unknown) => {
          // The certificate in use stays valid until its notAfter: try again in a minute.
          log({ level: "error", msg: `serving certificate renewal failed: ${err instanceof Error ? err.message : String(err)}; retrying in ${RETRY_MS / 1000} s` });
          schedule(Date.now() + RETRY_MS);
          throw err;
        })
        .finally(() => {
          rotating = undefined;
        });
      return rotating;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      clearInterval(interval.reassert);
    },
  };

  // At start a failure is not retried for long: without the caBundle the webhook is of no use, and the message says why.
  for (let attempt = 1; ; attempt++) {
    try {
      await renew();
      break;
    } catch (err) {
      if (attempt >= 3) {
        rotation.stop();
        throw err;
      }
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
  interval.reassert = setInterval(() => {
    if (!current || rotating) return;
    options.cluster.setWebhookCABundle(identity.webhookConfiguration, current.caPem).catch((err: unknown) => {
      log({ level: "error", msg: `caBundle check failed: ${err instanceof Error ? err.message : String(err)}` });
    });
  }, options.reassertMs ?? REASSERT_MS).unref();
  return rotation;
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive, as RFC 5280 asks
  return bytes.toString("hex");
}
