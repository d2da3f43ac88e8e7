// The serving certificate from --cert-dir (tls.crt, tls.key: cert-manager's
// and the Secret volume's layout), re-read when the files change. Kubernetes
// swaps a Secret volume's files through a symlink, which file watches miss;
// a stat of both files every interval catches every kind of change.
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { createSecureContext } from "node:tls";

export interface KeyPair {
  readonly key: Buffer;
  readonly cert: Buffer;
}

export class CertFiles {
  private pair: KeyPair | undefined;
  private stamp = "";
  private fingerprint = "";
  private timer: NodeJS.Timeout | undefined;
  private waiting: ((pair: KeyPair) => void)[] = [];

  constructor(
    readonly dir: string,
    private readonly onChange: (pair: KeyPair) => void,
    private readonly log: (line: Record<string, unknown>) => void,
    private readonly pollMs = 2000,
  ) {}

  get loaded(): boolean {
    return this.pair !== undefined;
  }

  /** Starts watching; resolves with the first usable pair (waits for the files to appear). */
  start(): Promise<KeyPair> {
    const first = new Promise<KeyPair>((resolve) => this.waiting.push(resolve));
    const tick = (): void => {
      void this.check().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, this.pollMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
    return first;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async check(): Promise<void> {
    const certFile = join(this.dir, "tls.crt");
    const keyFile = join(this.dir, "tls.key");
    let stamp: string;
    try {
      const [c, k] = await Promise.all([stat(certFile), stat(keyFile)]);
      stamp = [c.ino, c.size, c.mtimeMs, k.ino, k.size, k.mtimeMs].join(":");
    } catch (error) {
      if (this.stamp !== "missing") this.log({ level: "error", msg: `serving certificate not readable in ${this.dir}: ${message(error)}` });
      this.stamp = "missing";
      return;
    }
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    let pair: KeyPair;
    try {
      const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
      pair = { cert, key };
      // A half-written or mismatched pair is not taken: the one loaded stays in use.
      createSecureContext(pair);
    } catch (error) {
      // Read again at the next change of either file (e.g. the key arriving after the certificate).
      this.log({ level: "error", msg: `serving certificate in ${this.dir} not loaded: ${message(error)}; keeping the previous one` });
      return;
    }
    const fingerprint = createHash("sha256").update(pair.cert).update(pair.key).digest("hex");
    if (fingerprint === this.fingerprint) return;
    this.fingerprint = fingerprint;
    const reloaded = this.pair !== undefined;
    this.pair = pair;
    this.onChange(pair);
    this.log({ level: "info", msg: reloaded ? "serving certificate reloaded" : "serving certificate loaded", dir: this.dir });
    for (const resolve of this.waiting.splice(0)) resolve(pair);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
