// The KRM function's command line: arguments, stdin, stdout, stderr and the
// exit code. Everything a user can get wrong ends in a one-line message.
import { lookupsAhead, runFunction } from "../function.js";
import { startAhead } from "../core/ahead.js";
import type { FunctionFlags } from "../function.js";
import { RegistryStack } from "../core/registry-stack.js";
import { formatResult } from "../results.js";
import { VERSION, VERSION_LINE } from "../version.js";
import { connect } from "./cluster.js";
import { parseBool, parseFlags, splitSkipPrefixes } from "./flags.js";
import type { FlagSpec } from "./flags.js";

export const FUNCTION_HELP = `krm-digester ${VERSION}: pins container images in Kubernetes manifests to their registry digests.

A KRM function: reads a ResourceList on stdin, writes it on stdout with every
image in containers, initContainers and ephemeralContainers resolved against
its registry (repo:tag -> repo:tag@sha256:...). Logs go to stderr.

Usage:
  kpt fn eval DIR --exec krm-digester [-- key=value ...]
  kpt fn render DIR --allow-exec          (Kptfile pipeline step)
  kustomize build --enable-alpha-plugins --enable-exec DIR
  krm-digester < resource-list.yaml > out.yaml
  krm-digester webhook [flags]            the mutating admission webhook (krm-digester webhook --help)
  krm-digester pin [--check] [--diff] [--config FILE] PATH...
                                          files mode, no kpt needed (krm-digester pin --help)
  krm-digester images --kustomization FILE [--config FILE] PATH...
                                          digests into a kustomization's images: (images --help)

Config (ConfigMap data, or kind DigesterConfig, apiVersion fn.krm-digester.dev/v1alpha1):
  skipPrefixes        images starting with one of these are left alone
  concurrency         references resolved at once (default 128)
  timeout             per registry request, e.g. 30s (default 30s)
  insecureRegistries  hosts reached over plain HTTP when HTTPS fails
  connectTimeout      per connection to a registry (default 10s)
  runTimeout          whole run; lookups still open then fail (default 5m)
  registryConcurrency requests in flight per registry host, HTTP/1.1 (default 128,
                      on up to 16 connections, pipelined beyond 16)
  registryStreams     the same over HTTP/2, within what the server allows (default 250)
  registryMirrors     mirrors asked first, e.g. docker.io=mirror.local:5000
  mode                pin (default: ask registries), check (no network: an image
                      without digest is an error), frozen (no network: digests from
                      the DigestLock and buildArtifacts only)
  lock                true: write the DigestLock (digests.lock.yaml) in pin mode
  buildArtifacts      skaffold build --file-output files (relative to the working
                      directory), e.g. artifacts.json
  cacheTTL            remember tag lookups across runs this long, e.g. 1h; cache in
                      $KRM_DIGESTER_CACHE_DIR, $XDG_CACHE_HOME/krm-digester or
                      ~/.cache/krm-digester (default: no cache)
  format              how pins are written: tag-and-digest (default, repo:tag@sha256:...),
                      digest-only (repo@sha256:...), canonical (docker.io/library/nginx:1.27@sha256:...)
  existingDigests     digests already written: keep (default, no request), verify
                      (error when the tag moved or the digest is gone), refresh
  skipImages          image globs left alone (* within a path segment, ** across),
                      matched as written and canonical, e.g. gcr.io/distroless/**
  platform            pin one platform's manifest of multi-platform images instead of
                      the index: linux/arm64, linux/arm/v7, windows(10.0.17763.1234)/amd64
                      or windows/amd64:10.0.17763.1234 (default: the index digest)
  fieldSpecs          more image fields, kustomize's {group, version, kind, path}
                      with / between keys, lists walked implicitly; in a ConfigMap
                      one YAML string, e.g. '[{kind: Runner, path: spec/runner/image}]'
Built in beyond pod specs: image volumes, Tekton (tekton.dev) and Argo
Workflows (argoproj.io) kinds (README "What we pin where").
Annotations: krm-digester.dev/skip: "true" leaves a resource (or, on a pod
template's metadata, that template) alone;
krm-digester.dev/skip-containers: "istio-proxy,linkerd-proxy" those containers.
Every skipped field gets an info result naming the rule; ko:// placeholders are
left alone with a warning.
Environment: HTTPS_PROXY, HTTP_PROXY, NO_PROXY; SSL_CERT_FILE, SSL_CERT_DIR,
NODE_EXTRA_CA_CERTS for extra CAs (docs/config.md).

Credentials, first match wins (docs/credentials.md): the workload's pull
secrets in the package (imagePullSecrets, or its ServiceAccount's), then
$DOCKER_CONFIG/config.json or ~/.docker/config.json (auths, credHelpers,
credsStore), then containers auth.json ($REGISTRY_AUTH_FILE, …), then none.

Exit status: 0 when every image was pinned or skipped, 1 when any result is
an error (each is in the output's results and on stderr), 2 on bad input.

Options (k8s-digester's, for kpt fn eval --exec "krm-digester --offline=false"):
  --offline[=true|false]  true (default): no Kubernetes API; false: pull secrets and
                          service accounts the package lacks are read from the cluster
  --skip-prefixes=P1:P2   colon-separated, added to skipPrefixes; a piece that starts
                          with a port joins the one before: reg.local:5000/team:gcr.io
                          is reg.local:5000/team and gcr.io
  --kubeconfig=PATH       the cluster for --offline=false (default $KUBECONFIG,
                          ~/.kube/config, then in-cluster)
  --help, --version
Environment: OFFLINE, SKIP_PREFIXES (as the flags; flags win), DEBUG=true (info
results on stderr too, stack traces on internal errors).
`;

const FLAGS: readonly FlagSpec[] = [
  { name: "offline", kind: "bool" },
  { name: "skip-prefixes", kind: "string" },
  { name: "kubeconfig", kind: "string" },
  { name: "help", kind: "bool" },
  { name: "h", kind: "bool" },
  { name: "version", kind: "bool" },
];

/** DEBUG as k8s-digester reads it: any true value of Go's ParseBool. */
export function debugEnabled(env: NodeJS.ProcessEnv): boolean {
  const value = env.DEBUG ?? "";
  try {
    return value !== "" && parseBool(value, "DEBUG");
  } catch {
    return false;
  }
}

async function readStdin(): Promise<string> {
  // Decoded chunk by chunk (a character split between chunks is kept whole), then joined: a Buffer
  // of the whole input beside its chunks and the string was 48 MB for 20,000 items, never given back.
  process.stdin.setEncoding("utf8");
  const chunks: string[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as string);
  return chunks.join("");
}

/** Pieces a large output is written in: one string written whole becomes one Buffer as large (37 MB for 20,000 items). */
const WRITE_PIECE = 1 << 20;

export async function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  // At least one write, so that an empty text is written (and waited for) too.
  let at = 0;
  do {
    let end = Math.min(text.length, at + WRITE_PIECE);
    // Never between the two halves of a surrogate pair: each piece is encoded as UTF-8 on its own.
    const c = text.charCodeAt(end);
    if (c >= 0xdc00 && c <= 0xdfff) end++;
    const piece = at === 0 && end === text.length ? text : text.slice(at, end);
    await new Promise<void>((resolve, reject) => stream.write(piece, (error) => (error ? reject(error) : resolve())));
    at = end;
  } while (at < text.length);
}

export async function functionMain(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const flags = parseFlags(args, FLAGS, "");
  if (flags.get("help") || flags.get("h")) {
    await write(process.stdout, FUNCTION_HELP);
    return 0;
  }
  if (flags.get("version")) {
    await write(process.stdout, `${VERSION_LINE}\n`);
    return 0;
  }
  const offlineFlag = flags.get("offline");
  const offline = typeof offlineFlag === "boolean" ? offlineFlag : env.OFFLINE ? parseBool(env.OFFLINE, "OFFLINE") : true;
  const skipFlag = flags.get("skip-prefixes");
  const skip = typeof skipFlag === "string" ? skipFlag : env.SKIP_PREFIXES;
  const kubeconfig = flags.get("kubeconfig");
  if (process.stdin.isTTY) {
    process.stderr.write("krm-digester: expected a ResourceList on stdin (run it through kpt or kustomize, or pipe a file in; see --help)\n");
    return 2;
  }
  const debug = debugEnabled(env);
  const started = performance.now();
  const input = await readStdin();
  const extra: { -readonly [K in keyof FunctionFlags]: FunctionFlags[K] } = {};
  if (skip !== undefined) extra.skipPrefixes = splitSkipPrefixes(skip);
  let closeCluster: (() => Promise<void>) | undefined;
  if (!offline) {
    extra.readCredentials = async (workloads) => {
      const access = await connect({ kubeconfig: typeof kubeconfig === "string" ? kubeconfig : undefined });
      closeCluster = () => access.cluster.close();
      const lists = await Promise.all(
        workloads.map(async (w) => {
          // Items without a namespace are read against "default"; what comes back loses the
          // namespace again, so that it matches them as a namespace-less Secret in the package would.
          if (w.namespace !== "") return access.pullSecretObjects(w.namespace, w.podSpecs);
          const objects = await access.pullSecretObjects("default", w.podSpecs);
          return objects.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: undefined } }));
        }),
      );
      return lists.flat();
    };
  }
  let stack: RegistryStack | undefined;
  // The registries this run will ask, read from the raw text: their probes and connections
  // get under way now, while the list is parsed (docs/benchmarks.md), on the stack the run then uses.
  const ahead = lookupsAhead(input, extra);
  // The probes, and the lookups themselves where the text shows them all, start now; the parse
  // pauses between groups of items (one turn of the event loop each) to let them go on.
  const opened = ahead ? await startAhead(ahead) : undefined;
  const early = opened?.stack;
  const prefetched = opened?.prefetched;
  let result;
  try {
    result = await runFunction(
      input,
      (options) => {
        // Only if the full parse read the same options: otherwise the early probes were for another run.
        if (early && ahead && JSON.stringify(options) === JSON.stringify(ahead.options)) {
          const source = (stack = early);
          return prefetched ? { resolveDigest: prefetched.resolveDigest.bind(prefetched), close: () => source.close() } : source;
        }
        return (stack = new RegistryStack({ ...options, shortRun: true }));
      },
      extra,
      ahead ? () => new Promise<void>((resolve) => setImmediate(resolve)) : undefined,
    );
  } finally {
    await closeCluster?.();
    // Early probes the run did not use (its full parse read other options) keep no connection open.
    if (early && early !== stack) await early.close();
  }
  // The whole list reaches stdout before anything else happens: kpt writes
  // whatever it receives, so a cut-off output would delete manifests.
  await write(process.stdout, result.output);
  for (const r of result.results) if (debug || r.severity !== "info") process.stderr.write(`krm-digester: ${formatResult(r)}\n`);
  const { fields, pinned, unique } = result.stats;
  const s = stack?.stats;
  const extraCounts = s ? [s.retries ? `${s.retries} retried` : "", s.mirrored ? `${s.mirrored} through mirrors` : ""].filter(Boolean) : [];
  const requests = s ? ` (${s.head} HEAD, ${s.get} GET, ${s.token} token requests${extraCounts.map((e) => `, ${e}`).join("")})` : "";
  if (debug && prefetched) {
    process.stderr.write(`krm-digester: ${prefetched.count} lookups started ahead of the parse, ${prefetched.unused} of them not asked for by the run\n`);
  }
  const errors = result.results.filter((r) => r.severity === "error").length;
  process.stderr.write(
    `krm-digester: ${pinned} of ${fields} image fields pinned, ${unique} unique references resolved${requests}, ` +
      `${errors} error${errors === 1 ? "" : "s"}, ${Math.round(performance.now() - started)} ms\n`,
  );
  return result.exitCode;
}
