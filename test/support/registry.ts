// A real CNCF distribution registry (Debian's `docker-registry`, 2.8.2) for
// tests: one process per call on 127.0.0.1 with a random port, in its own temp
// dir, configured by a written config.yml (one file to read when debugging).
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { mkdtemp, open, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Agent, request } from "undici";
import { stringify } from "yaml";

const run = promisify(execFile);

export interface TokenAuthConfig {
  /** Where clients get tokens (the registry only names it in its 401 challenge). */
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM of the certificate(s) that sign the tokens (their `x5c` leaf must chain to it). */
  readonly rootCertFile: string;
}

export interface RegistryOptions {
  /** Serve HTTPS with a throwaway CA + server cert for 127.0.0.1 and localhost. */
  readonly tls?: boolean;
  /** Basic auth (bcrypt htpasswd) for this one user. */
  readonly htpasswd?: { readonly user: string; readonly password: string };
  /** Bearer token auth against a token server (see token-server.ts). */
  readonly token?: TokenAuthConfig;
  /**
   * Run as a pull-through cache (mirror) of this upstream, which must already
   * be up: 2.8.2 pings it at start-up and panics if it can't (a TLS upstream
   * needs `env: { SSL_CERT_FILE: upstream.caFile }`). Pushes to a proxy get 405.
   */
  readonly proxyRemoteUrl?: string;
  /** Credentials the proxy uses upstream: work with token upstreams, not htpasswd ones (2.8.2 answers 404). */
  readonly proxyUsername?: string;
  readonly proxyPassword?: string;
  /** Extra environment for the process; REGISTRY_* variables override config.yml. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * "inmemory" (default): the registry's in-memory driver, about twice as fast
   * to seed as ext4 and nothing to clean; "filesystem": blobs under `dir`/data.
   */
  readonly storage?: "inmemory" | "filesystem";
  /** How long to wait for `GET /v2/` to answer; default 20 s. */
  readonly startTimeoutMs?: number;
}

export interface Registry {
  /** "127.0.0.1:PORT", the host part of image references. */
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT". */
  readonly url: string;
  /** Keep-alive agent that trusts `caPem` when TLS is on; destroyed by stop(). */
  readonly dispatcher: Agent;
  /** `Basic …` header value for an htpasswd registry. */
  readonly authorization: string | undefined;
  /** Temp dir holding config.yml, registry.log, TLS and htpasswd files, data/. */
  readonly dir: string;
  readonly configFile: string;
  readonly logFile: string;
  readonly caFile: string | undefined;
  readonly caPem: string | undefined;
  /** The registry's log so far (its stdout and stderr). */
  log(): Promise<string>;
  /** Kills the process and removes the temp dir; safe to call twice. */
  stop(): Promise<void>;
}

// Cleanups run, last registered first, when this process exits or is told to
// stop (SIGINT/SIGTERM) before a test's after() ran; setpriv's parent-death
// signal kills the registry even if node itself is SIGKILLed.
const exitCleanups = new Set<() => void>();
let exitHooked = false;

function runExitCleanups(): void {
  for (const fn of [...exitCleanups].reverse()) {
    try {
      fn();
    } catch {
      // best effort: the process is going away
    }
  }
  exitCleanups.clear();
}

/** Runs `fn` synchronously if the process ends first; returns a function that unregisters it. */
export function cleanupOnExit(fn: () => void): () => void {
  if (!exitHooked) {
    exitHooked = true;
    process.on("exit", runExitCleanups);
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        runExitCleanups();
        // Re-raise so the default action (exit) still happens when nobody else listens.
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      });
    }
  }
  exitCleanups.add(fn);
  return () => void exitCleanups.delete(fn);
}

const withParentDeathSignal = existsSync("/usr/bin/setpriv");

/** A port that was free a moment ago (the caller must cope with losing the race). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("no port assigned"))));
    });
  });
}

/** Throwaway CA plus a server cert for 127.0.0.1/localhost signed by it (EC keys: fast). */
async function makeTls(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const p = (name: string): string => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", [
    "req", "-x509", ...ec, "-keyout", p("ca-key.pem"), "-out", p("ca.pem"), "-days", "2",
    "-subj", "/CN=krm-digester test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await run("openssl", ["req", ...ec, "-keyout", p("key.pem"), "-out", p("server.csr"), "-subj", "/CN=localhost"]);
  await writeFile(
    p("server.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
  );
  await run("openssl", [
    "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca-key.pem"),
    "-CAcreateserial", "-days", "2", "-extfile", p("server.ext"), "-out", p("cert.pem"),
  ]);
  return { caFile: p("ca.pem"), certFile: p("cert.pem"), keyFile: p("key.pem") };
}

const INSTANCE_HEADER = "x-krm-digester-instance";

function configFor(options: RegistryOptions, dir: string, port: number, instance: string, tls: Tls | undefined): unknown {
  const { htpasswd, token, proxyRemoteUrl: remoteurl } = options;
  return {
    version: 0.1,
    log: { level: "info" },
    storage: {
      ...(options.storage === "filesystem" ? { filesystem: { rootdirectory: join(dir, "data") } } : { inmemory: {} }),
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: `127.0.0.1:${port}`,
      secret: "krm-digester-test", // a random one per start would only add a warning
      // Lets the readiness probe tell our process from whatever else grabbed the port.
      headers: { [INSTANCE_HEADER]: [instance] },
      ...(tls ? { tls: { certificate: tls.certFile, key: tls.keyFile } } : {}),
    },
    ...(htpasswd ? { auth: { htpasswd: { realm: "test-realm", path: join(dir, "htpasswd") } } } : {}),
    ...(token
      ? { auth: { token: { realm: token.realm, service: token.service, issuer: token.issuer, rootcertbundle: token.rootCertFile } } }
      : {}),
    ...(remoteurl ? { proxy: { remoteurl, username: options.proxyUsername, password: options.proxyPassword } } : {}),
  };
}

type Tls = Awaited<ReturnType<typeof makeTls>>;

class AddressInUse extends Error {}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startRegistry(options: RegistryOptions = {}): Promise<Registry> {
  if (options.htpasswd && options.token) throw new Error("registry: htpasswd and token auth are exclusive");
  const dir = await mkdtemp(join(tmpdir(), "krm-digester-registry-"));
  const forgetDir = cleanupOnExit(() => rmSync(dir, { recursive: true, force: true }));
  let dispatcher: Agent | undefined;
  try {
    const tls = options.tls ? await makeTls(dir) : undefined;
    let authorization: string | undefined;
    if (options.htpasswd) {
      const { user, password } = options.htpasswd;
      const { stdout } = await run("htpasswd", ["-Bbn", user, password]);
      await writeFile(join(dir, "htpasswd"), stdout.trim() + "\n");
      authorization = "Basic " + Buffer.from(`${user}:${password}`).toString("base64");
    }
    const caPem = tls ? await readFile(tls.caFile, "utf8") : undefined;
    dispatcher = new Agent(caPem ? { connect: { ca: caPem } } : {});
    const configFile = join(dir, "config.yml");
    const logFile = join(dir, "registry.log");

    // The port can be taken between our probe and the registry's bind: retry.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const instance = randomUUID();
      await writeFile(configFile, stringify(configFor(options, dir, port, instance, tls)));
      const url = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
      try {
        const { child, forgetChild } = await spawnAndWait(url, instance, configFile, logFile, dispatcher, options);
        const agent = dispatcher;
        let stopped: Promise<void> | undefined;
        const stop = async (): Promise<void> => {
          const gone = new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) resolve();
            else child.once("exit", () => resolve());
          });
          child.kill("SIGKILL");
          await gone;
          await agent.destroy();
          rmSync(dir, { recursive: true, force: true });
          forgetChild();
          forgetDir();
        };
        return {
          host: `127.0.0.1:${port}`,
          port,
          pid: child.pid ?? -1,
          url,
          dispatcher,
          authorization,
          dir,
          configFile,
          logFile,
          caFile: tls?.caFile,
          caPem,
          log: () => readFile(logFile, "utf8"),
          stop: () => (stopped ??= stop()),
        };
      } catch (err) {
        if (err instanceof AddressInUse && attempt < 5) continue;
        throw err;
      }
    }
  } catch (err) {
    await dispatcher?.destroy();
    rmSync(dir, { recursive: true, force: true });
    forgetDir();
    throw err;
  }
}

async function spawnAndWait(
  url: string,
  instance: string,
  configFile: string,
  logFile: string,
  dispatcher: Agent,
  options: RegistryOptions,
): Promise<{ child: ChildProcess; forgetChild: () => void }> {
  // A file, not a pipe: nothing to drain, and the log outlives a crash.
  const log = await open(logFile, "w");
  const command = ["docker-registry", "serve", configFile];
  if (withParentDeathSignal) command.unshift("setpriv", "--pdeathsig", "SIGKILL");
  const [cmd = "", ...args] = command;
  // GOGC=400: the registry, not node, is what limits seeding; this saves it about a quarter of its CPU.
  const env = { GOGC: "400", ...process.env, ...options.env };
  const child = spawn(cmd, args, { stdio: ["ignore", log.fd, log.fd], env });
  await log.close();
  const forgetChild = cleanupOnExit(() => child.kill("SIGKILL"));
  let exited: string | undefined;
  child.once("exit", (code, signal) => (exited = `exited with ${signal ?? `code ${String(code)}`}`));
  child.once("error", (err) => (exited = `failed to start: ${err.message}`));

  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  while (!exited && Date.now() < deadline) {
    try {
      const res = await request(`${url}/v2/`, { dispatcher, headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      if (res.headers[INSTANCE_HEADER] === instance) return { child, forgetChild };
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  child.kill("SIGKILL");
  forgetChild();
  const text = await readFile(logFile, "utf8").catch(() => "");
  const why = exited ?? "did not answer GET /v2/ in time";
  const Err = text.includes("address already in use") ? AddressInUse : Error;
  throw new Err(`docker-registry at ${url} ${why}; log tail:\n${text.trimEnd().split("\n").slice(-30).join("\n")}`);
}
