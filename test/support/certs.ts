// Throwaway CAs and server certificates for TLS tests that need host names
// other than the ones test/support/registry.ts certifies (127.0.0.1, localhost).
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export interface TestCa {
  readonly dir: string;
  readonly caFile: string;
  readonly caPem: string;
  /** A server key and certificate for these DNS names / IP addresses, signed by this CA. */
  issue(names: readonly string[]): Promise<{ key: string; cert: string }>;
  remove(): void;
}

export async function createCa(name = "krm-digester test CA"): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), "krm-digester-ca-"));
  const p = (f: string): string => join(dir, f);
  await run("openssl", [
    "req", "-x509", ...EC, "-keyout", p("ca-key.pem"), "-out", p("ca.pem"), "-days", "2", "-subj", `/CN=${name}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const caPem = await readFile(p("ca.pem"), "utf8");
  let serial = 0;
  return {
    dir,
    caFile: p("ca.pem"),
    caPem,
    issue: async (names) => {
      const n = ++serial;
      const san = names.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(",");
      await run("openssl", ["req", ...EC, "-keyout", p(`key${n}.pem`), "-out", p(`req${n}.csr`), "-subj", `/CN=${names[0] ?? "server"}`]);
      await writeFile(p(`ext${n}`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
      await run("openssl", [
        "x509", "-req", "-in", p(`req${n}.csr`), "-CA", p("ca.pem"), "-CAkey", p("ca-key.pem"), "-CAcreateserial",
        "-days", "2", "-extfile", p(`ext${n}`), "-out", p(`cert${n}.pem`),
      ]);
      return { key: await readFile(p(`key${n}.pem`), "utf8"), cert: await readFile(p(`cert${n}.pem`), "utf8") };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
