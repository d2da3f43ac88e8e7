// Thin entry point: arguments, stdin, stdout, stderr and the exit code.
// Everything a user can get wrong ends in a one-line message, never a stack.
import { homedir } from "node:os";
import { setFlagsFromString } from "node:v8";
import { CredentialHelpers } from "./credentials/helper.js";
import { hostSources } from "./credentials/host.js";
import { CredentialedRegistry } from "./credentials/registry-source.js";
import { runFunction } from "./function.js";
import type { ScopedClient } from "./credentials/registry-source.js";
import type { RegistryClient } from "./registry/client.js";
import type { Network } from "./registry/network.js";
import { InputError } from "./resourcelist/errors.js";
import { formatResult } from "./results.js";
import { VERSION, VERSION_LINE } from "./version.js";

const HELP = `krm-digester ${VERSION}: pins container images in Kubernetes manifests to their registry digests.

A KRM function: reads a ResourceList on stdin, writes it on stdout with every
image in containers, initContainers and ephemeralContainers resolved against
its registry (repo:tag -> repo:tag@sha256:...). Logs go to stderr.

Usage:
  kpt fn eval DIR --exec krm-digester [-- key=value ...]
  kpt fn render DIR --allow-exec          (Kptfile pipeline step)
  kustomize build --enable-alpha-plugins --enable-exec DIR
  krm-digester < resource-list.yaml > out.yaml

Config (ConfigMap data, or kind DigesterConfig, apiVersion fn.krm-digester.dev/v1alpha1):
  skipPrefixes        images starting with one of these are left alone
  concurrency         references resolved at once (default 100)
  timeout             per registry request, e.g. 30s (default 30s)
  insecureRegistries  hosts reached over plain HTTP when HTTPS fails
  connectTimeout      per connection to a registry (default 10s)
  runTimeout          whole run; lookups still open then fail (default 5m)
  registryConcurrency requests in flight per registry host, HTTP/1.1 (default 16)
  registryStreams     the same over HTTP/2, on one connection (default 100)
  registryMirrors     mirrors asked first, e.g. docker.io=mirror.local:5000
Environment: HTTPS_PROXY, HTTP_PROXY, NO_PROXY; SSL_CERT_FILE, SSL_CERT_DIR,
NODE_EXTRA_CA_CERTS for extra CAs (docs/config.md).

Credentials, first match wins (docs/credentials.md): the workload's pull
secrets in the package (imagePullSecrets, or its ServiceAccount's), then
$DOCKER_CONFIG/config.json or ~/.docker/config.json (auths, credHelpers,
credsStore), then containers auth.json ($REGISTRY_AUTH_FILE, …), then none.

Exit status: 0 when every image was pinned or skipped, 1 when any result is
an error (each is in the output's results and on stderr), 2 on bad input.

Options:
  --help      show this text
  --version   print the version
`;

type Stats = RegistryClient["stats"];
const NO_REQUESTS: Stats = { head: 0, get: 0, token: 0, ping: 0, tags: 0, retries: 0, mirrored: 0 };

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (error) => (error ? reject(error) : resolve())));
}

async function main(args: readonly string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    await write(process.stdout, HELP);
    return 0;
  }
  if (args.includes("--version")) {
    await write(process.stdout, `${VERSION_LINE}\n`);
    return 0;
  }
  if (args.length > 0) {
    process.stderr.write(`krm-digester: unknown argument ${JSON.stringify(args[0])}; settings go in the function config (see --help)\n`);
    return 2;
  }
  if (process.stdin.isTTY) {
    process.stderr.write("krm-digester: expected a ResourceList on stdin (run it through kpt or kustomize, or pipe a file in; see --help)\n");
    return 2;
  }
  const started = performance.now();
  const input = await readStdin();
  let client: CredentialedRegistry<Stats> | undefined;
  const result = await runFunction(input, (options) => {
    // The registry stack (undici above all) loads on the first lookup: setting it up was
    // 40 % of a run with nothing to resolve (docs/benchmarks.md).
    let stack: Promise<{ network: Network; Client: typeof RegistryClient }> | undefined;
    const load = (): NonNullable<typeof stack> => {
      // undici parses HTTP with llhttp, a WebAssembly module. V8 compiles it with Liftoff and then
      // again with TurboFan on a background thread, and the process cannot exit before that second
      // compile ends: ~200 ms of CPU and of wall time on every run that looks anything up. A run
      // parses a few hundred short responses, for which Liftoff's code is plenty (docs/benchmarks.md).
      if (stack) return stack;
      setFlagsFromString("--liftoff-only");
      stack = Promise.all([import("./registry/network.js"), import("./registry/client.js")]).then(([{ Network }, { RegistryClient }]) => ({
        network: new Network({
          timeoutMs: options.timeoutMs,
          connectTimeoutMs: options.connectTimeoutMs,
          runTimeoutMs: options.runTimeoutMs,
          registryConcurrency: options.registryConcurrency,
          registryStreams: options.registryStreams,
        }),
        Client: RegistryClient,
      }));
      return stack;
    };
    // One client per pull-secret scope on one shared network, all with the user's docker config and auth.json (docs/credentials.md).
    const credentials = hostSources(process.env, homedir(), new CredentialHelpers({ timeoutMs: options.timeoutMs }));
    client = new CredentialedRegistry(credentials, {
      open: (provider): ScopedClient<Stats> => {
        let opened: Promise<RegistryClient> | undefined;
        let real: RegistryClient | undefined;
        const open = (): Promise<RegistryClient> =>
          (opened ??= load().then(({ network, Client }) => {
            real = new Client({
              network,
              insecureRegistries: options.insecureRegistries,
              mirrors: options.registryMirrors,
              userAgent: `krm-digester/${VERSION}`,
              credentials: provider,
            });
            return real;
          }));
        return {
          resolve: async (ref) => (await open()).resolve(ref),
          get stats() {
            return real?.stats ?? NO_REQUESTS;
          },
          close: async () => {
            await real?.close();
          },
        };
      },
      close: async () => {
        if (stack) await (await stack).network.close();
      },
    });
    return client;
  });
  // The whole list reaches stdout before anything else happens: kpt writes
  // whatever it receives, so a cut-off output would delete manifests.
  await write(process.stdout, result.output);
  for (const r of result.results) if (r.severity !== "info") process.stderr.write(`krm-digester: ${formatResult(r)}\n`);
  const { fields, pinned, unique } = result.stats;
  const s = client?.stats;
  const extra = s ? [s.retries ? `${s.retries} retried` : "", s.mirrored ? `${s.mirrored} through mirrors` : ""].filter(Boolean) : [];
  const requests = s ? ` (${s.head} HEAD, ${s.get} GET, ${s.token} token requests${extra.map((e) => `, ${e}`).join("")})` : "";
  const errors = result.results.filter((r) => r.severity === "error").length;
  process.stderr.write(
    `krm-digester: ${pinned} of ${fields} image fields pinned, ${unique} unique references resolved${requests}, ` +
      `${errors} error${errors === 1 ? "" : "s"}, ${Math.round(performance.now() - started)} ms\n`,
  );
  return result.exitCode;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof InputError) {
      process.stderr.write(`krm-digester: ${error.message}\n`);
      process.exit(2);
    }
    const detail = process.env.KRM_DIGESTER_DEBUG && error instanceof Error ? `\n${error.stack}` : "";
    process.stderr.write(
      `krm-digester: internal error: ${error instanceof Error ? error.message : String(error)}${detail}\n` +
        `This is a bug in krm-digester ${VERSION}. Please report it with the input that caused it ` +
        `(set KRM_DIGESTER_DEBUG=1 for a stack trace).\n`,
    );
    process.exit(3);
  },
);
