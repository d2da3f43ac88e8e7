// `npm run bench`: krm-digester against a real registry behind injected
// latency, next to its lower bound and to sequential skopeo, one table row
// per workload. Writes bench/out/results.json and bench/RESULTS.md.
//
//   npm run bench -- [--runs 5] [--latency 25] [--only a,b,c,d,e,sweep] [--skopeo-sample 100]
//
// See docs/benchmarks.md for what each row means.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createCa } from "../test/support/certs.js";
import { startRegistry } from "../test/support/registry.js";
import { Agent, request } from "undici";
import { ACCEPT_ALL_MANIFESTS, IMAGE_KINDS, seedImages } from "../test/support/seed.js";
import type { ImageKind, SeedTarget } from "../test/support/seed.js";
import { startTokenServer } from "../test/support/token-server.js";
import type { TokenServer } from "../test/support/token-server.js";
import { startLatencyProxy } from "./latency-proxy.js";
import type { LatencyProxy } from "./latency-proxy.js";
import { median, run } from "./measure.js";
import { profileRun } from "./profile.js";
import type { ProfileSummary } from "./profile.js";
import type { RunResult } from "./measure.js";
import { fakeDigest, flowResourceList, imageSpecs, repeated, resourceList } from "./workloads.js";
import type { ImageSpec } from "./workloads.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const OUT = join(ROOT, "bench", "out");
const BARE_CLIENT = fileURLToPath(new URL("./bare-client.js", import.meta.url));

/**
 * The bare client as the function itself starts: one bundle (no module
 * files to resolve and read), on the Node the standalone executable is made
 * of, with its flags (sea-config.json's execArgv). Run from build/'s module
 * files on Node 20, its start and module load were ~120 ms of its ~300 at
 * 25 ms, and it was no bound.
 */
async function bareClient(scratch: string): Promise<{ node: string; args: string[] }> {
  const script = join(scratch, "bare-client.cjs");
  const { build } = await import("esbuild");
  await build({ entryPoints: [BARE_CLIENT], outfile: script, bundle: true, platform: "node", target: "node20.18", format: "cjs", logLevel: "warning" });
  const nodeBinaryModule = join(ROOT, "scripts", "node-binary.mjs");
  const { nodeBinary } = (await import(nodeBinaryModule)) as { nodeBinary: () => Promise<{ node: string }> };
  const { node } = await nodeBinary();
  const sea = JSON.parse(readFileSync(join(ROOT, "sea-config.json"), "utf8")) as { execArgv?: string[] };
  return { node, args: [...(sea.execArgv ?? []), script] };
}

// ---------------------------------------------------------------- options

interface Options {
  readonly runs: number;
  /** The first latency: every row runs at it. */
  readonly latencyMs: number;
  /** Row a (plain HTTP and HTTPS) runs at each of these, side by side in one run. */
  readonly latencies: readonly number[];
  readonly only: ReadonlySet<string> | undefined;
  readonly skopeoSample: number;
  /** Sweep settings: [concurrency, registryConcurrency]. */
  readonly concurrencies: readonly (readonly [number, number])[];
  /** Which workloads the sweep runs over. */
  readonly sweepOver: readonly string[];
  /** Also run the bundle once under --cpu-prof per row and report where the time goes. */
  readonly profile: boolean;
  /** Where the executables are: another checkout's dist/ compares builds. */
  readonly dist: string;
  /** Item counts of workload (c). */
  readonly pinnedSizes: readonly number[];
  /** Skip sequential skopeo (when comparing builds of ours). */
  readonly skopeo: boolean;
}

function parseOptions(args: readonly string[]): Options {
  const value = (name: string, env: string, fallback: string): string => {
    const i = args.indexOf(name);
    return (i >= 0 ? args[i + 1] : undefined) ?? process.env[env] ?? fallback;
  };
  const positive = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got ${JSON.stringify(text)}`);
    return n;
  };
  const only = value("--only", "BENCH_ONLY", "");
  const latencies = value("--latency", "BENCH_LATENCY_MS", "25,100")
    .split(",")
    .map((l) => positive("--latency", l.trim()));
  return {
    runs: Math.max(1, positive("--runs", value("--runs", "BENCH_RUNS", "5"))),
    latencyMs: latencies[0]!,
    latencies,
    only: only ? new Set(only.split(",").map((s) => s.trim())) : undefined,
    skopeoSample: Math.max(1, positive("--skopeo-sample", value("--skopeo-sample", "BENCH_SKOPEO_SAMPLE", "100"))),
    // "C" sets both limits to C; "C/R" sets concurrency C and registryConcurrency R.
    concurrencies: value("--concurrency", "BENCH_CONCURRENCY", "8,16,32,64,32/16,100/16")
      .split(",")
      .map((c) => {
        const [total, perRegistry] = c.split("/");
        return [positive("--concurrency", total ?? ""), positive("--concurrency", perRegistry ?? total ?? "")] as const;
      }),
    sweepOver: value("--sweep-over", "BENCH_SWEEP_OVER", "a").split(","),
    profile: args.includes("--profile") || process.env.BENCH_PROFILE === "1",
    dist: value("--dist", "BENCH_DIST", join(ROOT, "dist")),
    pinnedSizes: value("--pinned-sizes", "BENCH_PINNED_SIZES", "1000,5000,20000")
      .split(",")
      .map((n) => positive("--pinned-sizes", n)),
    skopeo: !args.includes("--no-skopeo"),
  };
}

// ---------------------------------------------------------------- results

interface Stat {
  medianMs: number;
  minMs: number;
  maxMs: number;
  runsMs: number[];
  /** Largest peak RSS over the runs, MiB. */
  peakRssMb: number;
  /** Median user + system CPU time, ms. */
  cpuMs: number;
}

interface Row {
  id: string;
  title: string;
  items: number;
  unique: number;
  /** Every measured series of this row, by name ("bundle", "standalone", "lower bound (bundle)", …). */
  series: Record<string, Stat>;
  /** Registry requests of one run of ours, by "METHOD kind", plus connections and non-HTTP (TLS) attempts. */
  requests?: Record<string, number>;
  skopeo?: { totalMs: number; timed: number; perImageMs: number; extrapolated: boolean; digestsMatch: number };
  /** `skopeo inspect` of every unique image, 16 at a time (`xargs -P16`), as a script that cares would run it: median wall time. */
  skopeoParallel?: { medianMs: number; runsMs: number[]; digestsMatch: number };
  /** The injected latency of this row's network, ms. */
  latencyMs?: number;
  /** CPU the harness spent per run of ours (median, ms): the latency proxy (in the bench process) and the registry. */
  harnessCpu?: { proxyMs: number; registryMs: number };
  /** The unique HEADs sent straight to the registry from the bench, all at once on 16 connections: the registry's own time for them. */
  registryAlone?: { medianMs: number; registryCpuMs: number };
  notes: string[];
  /** With --profile: the bundle's self time by owner and its top functions, one run. */
  profile?: ProfileSummary;
}

interface Sweep {
  workload: string;
  concurrency: number;
  registryConcurrency: number;
  stat: Stat;
  connections: number;
}

function stat(results: readonly RunResult[]): Stat {
  const ms = results.map((r) => r.wallMs);
  return {
    medianMs: median(ms),
    minMs: Math.min(...ms),
    maxMs: Math.max(...ms),
    runsMs: ms.map((m) => Math.round(m * 10) / 10),
    peakRssMb: Math.max(...results.map((r) => r.rssKb)) / 1024,
    cpuMs: median(results.map((r) => r.cpuMs)),
  };
}

// ---------------------------------------------------------------- environment

interface Bench {
  readonly options: Options;
  readonly scratch: string;
  /** A clean environment for every command: no NODE_OPTIONS/NODE_EXTRA_CA_CERTS, an empty HOME (no credentials to look up). */
  readonly env: NodeJS.ProcessEnv;
  readonly timeFile: string;
  /** The two executables measured (dist/ of this checkout, or --dist). */
  readonly bundle: string;
  readonly standalone: string;
  /** How the bare client is run (bareClient). */
  readonly bare: { readonly node: string; readonly args: readonly string[] };
}

function cleanEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, LANG: "C.UTF-8" };
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

async function ours(bench: Bench, bin: string, input: string, check?: (output: string, result: RunResult) => void): Promise<RunResult> {
  const stdoutFile = join(bench.scratch, "stdout.yaml");
  const result = await run(bin, [], { stdinFile: input, stdoutFile, env: bench.env, timeFile: bench.timeFile });
  if (result.code !== 0) throw new Error(`${bin} < ${input} exited with ${result.code}:\n${result.stderr}`);
  // Anything on stderr but our own lines (a Node warning, say) is a defect the timing would hide.
  const foreign = result.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("krm-digester: "));
  if (foreign.length > 0) throw new Error(`${bin} < ${input} wrote to stderr:\n${foreign.join("\n")}`);
  check?.(readFileSync(stdoutFile, "utf8"), result);
  return result;
}

/** The image values of the items in an output, in order. */
function imagesIn(output: string): string[] {
  const items = output.split(/^results:/m)[0] ?? "";
  return [...items.matchAll(/^\s+image: (\S+)/gm)].map((m) => m[1]!);
}

/** The image values of a list written as one-line flow maps (JSON in YAML), in order. */
function flowImagesIn(output: string): string[] {
  const items = output.split(/^results:/m)[0] ?? "";
  return [...items.matchAll(/"image":"([^"]+)"/g)].map((m) => m[1]!);
}

function expectImages(expected: readonly string[], images = imagesIn): (output: string) => void {
  return (output) => {
    const got = images(output);
    const wrong = got.findIndex((g, i) => g !== expected[i]);
    if (got.length !== expected.length || wrong >= 0) {
      throw new Error(`output images differ from the expected pins (got ${got.length}, want ${expected.length}; first difference at ${wrong}: ${got[wrong]} vs ${expected[wrong]})`);
    }
  };
}

/**
 * Runs each series `runs` times, round-robin (so a noisy moment hits all of
 * them alike), after one untimed warm-up run each.
 */
async function series(
  bench: Bench,
  plan: Record<string, () => Promise<RunResult>>,
  runs = bench.options.runs,
): Promise<Record<string, Stat>> {
  const results: Record<string, RunResult[]> = {};
  for (const [name, once] of Object.entries(plan)) {
    await once();
    results[name] = [];
  }
  for (let i = 0; i < runs; i++) for (const [name, once] of Object.entries(plan)) results[name]!.push(await once());
  return Object.fromEntries(Object.entries(results).map(([name, r]) => [name, stat(r)]));
}

/** `skopeo inspect` once per image, one after another, as a script would. */
async function skopeo(bench: Bench, host: string, images: readonly { spec: ImageSpec; digest: string }[], sampleSize: number): Promise<Row["skopeo"]> {
  const step = images.length / Math.min(sampleSize, images.length);
  const sample = Array.from({ length: Math.min(sampleSize, images.length) }, (_, i) => images[Math.floor(i * step)]!);
  let totalMs = 0;
  let digestsMatch = 0;
  for (const { spec, digest } of sample) {
    const out = join(bench.scratch, "skopeo.out");
    const r = await run("skopeo", ["inspect", "--tls-verify=false", "--format", "{{.Digest}}", `docker://${host}/${spec.repository}:${spec.tag}`], {
      stdoutFile: out,
      env: bench.env,
      timeFile: bench.timeFile,
    });
    if (r.code !== 0) throw new Error(`skopeo inspect ${spec.repository}:${spec.tag} failed: ${r.stderr}`);
    if (readFileSync(out, "utf8").trim() === digest) digestsMatch++;
    totalMs += r.wallMs;
  }
  const perImageMs = totalMs / sample.length;
  return {
    totalMs: perImageMs * images.length,
    timed: sample.length,
    perImageMs,
    extrapolated: sample.length < images.length,
    digestsMatch,
  };
}

/**
 * `skopeo inspect` of every image, 16 at a time through `xargs -P16`: the
 * parallel shell loop a user who cares would write. Median of `runs`.
 */
async function skopeoParallel(bench: Bench, host: string, images: readonly { spec: ImageSpec; digest: string }[], runs: number): Promise<Row["skopeoParallel"]> {
  const list = join(bench.scratch, "skopeo-refs.txt");
  writeFileSync(list, images.map(({ spec }) => `docker://${host}/${spec.repository}:${spec.tag}\n`).join(""));
  const out = join(bench.scratch, "skopeo-parallel.out");
  const script = `xargs -P16 -n1 skopeo inspect --tls-verify=false --format '{{.Digest}}' < '${list}'`;
  const times: number[] = [];
  let digestsMatch = 0;
  for (let i = 0; i < runs; i++) {
    const r = await run("bash", ["-c", script], { stdoutFile: out, env: bench.env, timeFile: bench.timeFile });
    if (r.code !== 0) throw new Error(`skopeo -P16 failed: ${r.stderr}`);
    times.push(r.wallMs);
    const got = new Set(readFileSync(out, "utf8").split("\n").filter(Boolean));
    digestsMatch = images.filter((i) => got.has(i.digest)).length;
  }
  return { medianMs: median(times), runsMs: times.map((t) => Math.round(t)), digestsMatch };
}

/** CPU time (user + system, ms) a process has used so far, from /proc (clock ticks of 10 ms). */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined || pid < 0) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/**
 * Every unique manifest HEAD sent straight to the registry (no proxy), all at
 * once on 16 connections, median of `runs`: how long the registry itself
 * takes to answer a run's lookups, and its CPU for them, on these cores.
 */
async function registryAlone(host: string, seeded: readonly { spec: ImageSpec }[], registryPid: number | undefined, runs: number): Promise<Row["registryAlone"]> {
  const agent = new Agent({ connections: 16 });
  const times: number[] = [];
  const cpu: number[] = [];
  try {
    for (let i = 0; i <= runs; i++) {
      const before = processCpuMs(registryPid);
      const start = performance.now();
      await Promise.all(
        seeded.map(async ({ spec }) => {
          const res = await request(`http://${host}/v2/${spec.repository}/manifests/${spec.tag}`, { method: "HEAD", dispatcher: agent, headers: { accept: ACCEPT_ALL_MANIFESTS } });
          await res.body.dump();
          if (res.statusCode !== 200) throw new Error(`HEAD ${spec.repository}:${spec.tag} straight to the registry: ${res.statusCode}`);
        }),
      );
      // The first round is a warm-up, as in every series.
      if (i > 0) {
        times.push(performance.now() - start);
        cpu.push(processCpuMs(registryPid) - before);
      }
    }
  } finally {
    await agent.close();
  }
  return { medianMs: median(times), registryCpuMs: median(cpu) };
}

/** The series of a row run straight against the registry (networkRow's directHost). */
const DIRECT_SERIES = "direct to the registry (standalone)";
/** Row f 20k's items as flow maps, through the standalone binary. */
const FLOW_SERIES = "flow maps (standalone)";

// ---------------------------------------------------------------- workloads

interface Seeded {
  spec: ImageSpec;
  digest: string;
}

async function seed(registry: SeedTarget, specs: readonly ImageSpec[], kinds: readonly ImageKind[]): Promise<Seeded[]> {
  const pushed = await seedImages(
    registry,
    specs.map((s, i) => ({ ...s, kind: kinds[i % kinds.length]! })),
    { concurrency: 16 },
  );
  return pushed.map((p, i) => ({ spec: specs[i]!, digest: p.digest }));
}

function trimmed(p: ProfileSummary): ProfileSummary {
  return { totalMs: p.totalMs, owners: p.owners.slice(0, 8), functions: p.functions.slice(0, 15), inclusive: p.inclusive.slice(0, 30) };
}

function writeInput(bench: Bench, name: string, text: string): string {
  const file = join(OUT, "inputs", `${name.replaceAll("/", "-")}.yaml`);
  writeFileSync(file, text);
  return file;
}

/**
 * A network row: `images` (with repeats) through the proxy, ours (bundle and
 * standalone) vs the pinned list + one round trip vs sequential skopeo.
 */
async function networkRow(
  bench: Bench,
  proxy: LatencyProxy,
  id: string,
  title: string,
  seeded: readonly Seeded[],
  uses: number,
  notes: string[],
  skopeoSample = seeded.length,
  env: NodeJS.ProcessEnv = bench.env,
  /** The proxy's CA, for the bare client over HTTPS. */
  caFile?: string,
  /** The registry's process, whose CPU is reported beside ours. */
  registryPid?: number,
  /** The registry's own "host:port": ours is also run against it directly (no proxy, no injected latency). */
  directHost?: string,
): Promise<Row> {
  const ref = (s: Seeded): string => `${proxy.host}/${s.spec.repository}:${s.spec.tag}`;
  const refs = repeated(seeded.map(ref), uses);
  const pins = repeated(seeded.map((s) => `${ref(s)}@${s.digest}`), uses);
  const input = writeInput(bench, `${id}-unpinned`, resourceList(refs));
  const pinned = writeInput(bench, `${id}-pinned`, resourceList(pins));
  log(`${id}: ${title}: ${refs.length} items, ${seeded.length} unique`);

  let requests: Record<string, number> | undefined;
  const rowBench: Bench = { ...bench, env };
  const proxyCpu: number[] = [];
  const registryCpu: number[] = [];
  const counted = (bin: string) => async (): Promise<RunResult> => {
    proxy.reset();
    const cpuBefore = process.cpuUsage();
    const registryBefore = processCpuMs(registryPid);
    const r = await ours(rowBench, bin, input, expectImages(pins));
    if (bin === bench.standalone) {
      const used = process.cpuUsage(cpuBefore);
      proxyCpu.push((used.user + used.system) / 1000);
      registryCpu.push(processCpuMs(registryPid) - registryBefore);
    }
    const c = proxy.counts();
    const now = { ...c.requests, connections: c.connections, [proxy.url.startsWith("https:") ? "plain-HTTP attempt" : "non-HTTP (TLS probe)"]: c.nonHttp };
    if (requests && JSON.stringify(requests) !== JSON.stringify(now)) notes.push(`request counts varied between runs: ${JSON.stringify(requests)} vs ${JSON.stringify(now)}`);
    requests = now;
    return r;
  };
  // Without the proxy and its latency: what a run costs when the network costs nothing but the registry's own work.
  const direct = directHost
    ? {
        input: writeInput(bench, `${id}-direct`, resourceList(refs.map((r) => r.replace(proxy.host, directHost)))),
        check: expectImages(pins.map((r) => r.replace(proxy.host, directHost))),
      }
    : undefined;
  const scheme = !proxy.url.startsWith("https:") ? "http" : id.includes("/1.1") ? "https1" : "https";
  const bare = async (): Promise<RunResult> => {
    const r = await run(bench.bare.node, [...bench.bare.args, input, scheme, ...(caFile ? [caFile] : [])], { env: bench.env, timeFile: bench.timeFile });
    if (r.code !== 0) throw new Error(`bare client on ${input} exited with ${r.code}: ${r.stderr}`);
    return r;
  };
  const stats = await series(bench, {
    bundle: counted(bench.bundle),
    standalone: counted(bench.standalone),
    "pinned (bundle)": () => ours(rowBench, bench.bundle, pinned, expectImages(pins)),
    "pinned (standalone)": () => ours(rowBench, bench.standalone, pinned, expectImages(pins)),
    // Token auth (row e) is beyond the bare client.
    ...(id === "e" ? {} : { "bare undici client": bare }),
    ...(direct ? { [DIRECT_SERIES]: () => ours(rowBench, bench.standalone, direct.input, direct.check) } : {}),
  });
  const alone = directHost ? await registryAlone(directHost, seeded, registryPid, bench.options.runs) : undefined;
  const latency = proxy.latencyMs;
  for (const bin of ["bundle", "standalone"]) {
    const p = stats[`pinned (${bin})`]!;
    stats[`lower bound (${bin})`] = { ...p, medianMs: p.medianMs + latency, minMs: p.minMs + latency, maxMs: p.maxMs + latency, runsMs: [] };
  }
  let sk: Row["skopeo"];
  let skP: Row["skopeoParallel"];
  if (bench.options.skopeo) {
    log(`${id}: skopeo, ${Math.min(skopeoSample, seeded.length)} of ${seeded.length} images`);
    sk = await skopeo(bench, proxy.host, seeded, skopeoSample);
    if (seeded.length <= 200) {
      log(`${id}: skopeo, all ${seeded.length} images 16 at a time`);
      skP = await skopeoParallel(bench, proxy.host, seeded, Math.min(3, bench.options.runs));
    }
  }
  const row: Row = {
    id,
    title,
    items: refs.length,
    unique: seeded.length,
    series: stats,
    latencyMs: latency,
    ...(requests ? { requests } : {}),
    ...(sk ? { skopeo: sk } : {}),
    ...(skP ? { skopeoParallel: skP } : {}),
    ...(alone ? { registryAlone: alone } : {}),
    ...(proxyCpu.length ? { harnessCpu: { proxyMs: median(proxyCpu), registryMs: median(registryCpu) } } : {}),
    notes,
  };
  if (bench.options.profile) row.profile = trimmed(await profileRun(bench.bundle, input, env));
  return row;
}

interface SecureProxy {
  readonly proxy: LatencyProxy;
  readonly caFile: string;
}

async function startSecureProxy(upstream: string, latencyMs: number, cleanup: (() => Promise<void>)[], http2 = true): Promise<SecureProxy> {
  const ca = await createCa("krm-digester bench CA");
  cleanup.push(() => Promise.resolve(ca.remove()));
  const proxy = await startLatencyProxy({ upstream, latencyMs, tls: await ca.issue(["127.0.0.1"]), http2 });
  cleanup.push(() => proxy.close());
  return { proxy, caFile: ca.caFile };
}

/**
 * Row `<of> https`: the images of row `of` through the HTTPS proxy, its CA
 * trusted through SSL_CERT_FILE. `http1`: the proxy offers HTTP/1.1 only (row
 * `<of> https/1.1`, as registries that do not speak HTTP/2 serve), with
 * sequential skopeo on a sample of `http1` images.
 */
async function httpsRow(bench: Bench, secure: SecureProxy, of: string, seeded: readonly Seeded[], uses: number, registryPid?: number, suffix = "", http1?: number): Promise<Row> {
  return networkRow(
    bench,
    secure.proxy,
    `${of} https${http1 ? "/1.1" : ""}${suffix}`,
    http1
      ? `the images of (${of}) over HTTPS with HTTP/1.1 only (no HTTP/2 offered), the proxy's CA trusted through SSL_CERT_FILE`
      : `the images of (${of}) over HTTPS (HTTP/2 and HTTP/1.1 offered), the proxy's CA trusted through SSL_CERT_FILE`,
    seeded,
    uses,
    ["a new connection pays two handshake latencies (TCP, TLS 1.3)"],
    http1 ?? bench.options.skopeoSample,
    { ...bench.env, SSL_CERT_FILE: secure.caFile },
    secure.caFile,
    registryPid,
  );
}

/**
 * The data of row (a) in other shapes, each against block style in the same
 * series: flow maps in each item, JSON, CRLF line breaks, and an input that
 * already holds the results of an earlier run (600 of them).
 */
async function shapesRow(bench: Bench, proxy: LatencyProxy, seeded: readonly Seeded[], uses: number): Promise<Row> {
  const ref = (s: Seeded): string => `${proxy.host}/${s.spec.repository}:${s.spec.tag}`;
  const refs = repeated(seeded.map(ref), uses);
  const pins = repeated(seeded.map((s) => `${ref(s)}@${s.digest}`), uses);
  const block = resourceList(refs);
  const { parse } = await import("yaml");
  const data = parse(block) as { items: unknown[] };
  const blockFile = writeInput(bench, "shapes-block", block);
  // An earlier run's output with its pins taken out again: the same items, and 600 results.
  const earlier = join(bench.scratch, "shapes-earlier.yaml");
  await run(bench.standalone, [], { stdinFile: blockFile, stdoutFile: earlier, env: bench.env, timeFile: bench.timeFile });
  const withResults = readFileSync(earlier, "utf8").replace(/^(\s+image: \S+)@sha256:[0-9a-f]{64}/gm, "$1");
  const inputs: Record<string, string> = {
    block: blockFile,
    "flow maps": writeInput(bench, "shapes-flow", `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${data.items.map((i) => `- ${JSON.stringify(i)}\n`).join("")}`),
    JSON: writeInput(bench, "shapes-json", JSON.stringify(data, null, 1) + "\n"),
    CRLF: writeInput(bench, "shapes-crlf", block.replace(/\n/g, "\r\n")),
    "with 600 results": writeInput(bench, "shapes-results", withResults),
  };
  log(`shapes: ${Object.keys(inputs).join(", ")}`);
  // JSON and flow input come back as block YAML, so only the image values are compared, as everywhere.
  const check = (output: string): void => {
    const got = [...output.matchAll(/image"?\s*:\s*"?([^\s",}]+)/g)].map((m) => m[1]!).filter((v) => v.includes("@"));
    const want = new Set(pins);
    if (got.length < pins.length || got.some((g) => !want.has(g))) throw new Error(`shapes: output images differ from the expected pins (${got.length} pinned)`);
  };
  const stats = await series(bench, Object.fromEntries(Object.entries(inputs).map(([name, file]) => [name, () => ours(bench, bench.standalone, file, check)])));
  return {
    id: "shapes",
    title: "the data of (a) in other shapes (standalone), each against block style in the same series",
    items: refs.length,
    unique: seeded.length,
    series: stats,
    latencyMs: proxy.latencyMs,
    notes: [],
  };
}

/** 5,000 and 20,000 items using 200 unique images through the proxy: the large end, and whether it grows linearly. */
async function largeRow(bench: Bench, proxy: LatencyProxy, seeded: readonly Seeded[], items: number, runs: number): Promise<Row> {
  const ref = (s: Seeded): string => `${proxy.host}/${s.spec.repository}:${s.spec.tag}`;
  const uses = items / seeded.length;
  const refs = repeated(seeded.map(ref), uses);
  const pins = repeated(seeded.map((s) => `${ref(s)}@${s.digest}`), uses);
  const input = writeInput(bench, `f-${items}`, resourceList(refs));
  log(`f: ${items} items, ${seeded.length} unique (${(readFileSync(input).length / 1e6).toFixed(1)} MB)`);
  const plan: Record<string, () => Promise<RunResult>> = {
    standalone: () => ours(bench, bench.standalone, input, expectImages(pins)),
    bundle: () => ours(bench, bench.bundle, input, expectImages(pins)),
  };
  if (items >= 20000) {
    // The same items in flow style: a cliff here once (each edit inside a flow map read the whole output back).
    const flow = writeInput(bench, `f-${items}-flow`, flowResourceList(refs));
    plan[FLOW_SERIES] = () => ours(bench, bench.standalone, flow, expectImages(pins, flowImagesIn));
  }
  const stats = await series(bench, plan, runs);
  return {
    id: `f ${items / 1000}k`,
    title: `${items.toLocaleString("en")} items using ${seeded.length} unique images, resolved through the proxy`,
    items,
    unique: seeded.length,
    series: stats,
    latencyMs: proxy.latencyMs,
    notes: [`input ${(readFileSync(input).length / 1e6).toFixed(1)} MB`],
  };
}

async function pinnedRow(bench: Bench, items: number, runs: number): Promise<Row> {
  // 300 distinct images, as a large platform repository would have; all carry digests.
  const images = Array.from({ length: items }, (_, i) => `registry.example.com/team-${i % 17}/svc-${i % 300}:v${i % 5}@${fakeDigest(String(i % 300))}`);
  const input = writeInput(bench, `c-${items}-pinned`, resourceList(images));
  log(`c: ${items} pinned items (${(readFileSync(input).length / 1e6).toFixed(1)} MB)`);
  const check = expectImages(images);
  const stats = await series(
    bench,
    { bundle: () => ours(bench, bench.bundle, input, check), standalone: () => ours(bench, bench.standalone, input, check) },
    runs,
  );
  const profile = bench.options.profile && items === 5000 ? trimmed(await profileRun(bench.bundle, input, bench.env)) : undefined;
  return {
    ...(profile ? { profile } : {}),
    id: `c ${items >= 1000 ? `${items / 1000}k` : items}`,
    title: `${items.toLocaleString("en")} items, every image already pinned (no network)`,
    items,
    unique: 0,
    series: stats,
    notes: [`input ${(readFileSync(input).length / 1e6).toFixed(1)} MB`],
  };
}

/** Concurrency sweep: the same list with `concurrency` and `registryConcurrency` set to each pair. */
async function sweep(bench: Bench, proxy: LatencyProxy, workload: string, seeded: readonly Seeded[], uses: number): Promise<Sweep[]> {
  const ref = (s: Seeded): string => `${proxy.host}/${s.spec.repository}:${s.spec.tag}`;
  const pins = repeated(seeded.map((s) => `${ref(s)}@${s.digest}`), uses);
  const base = resourceList(repeated(seeded.map(ref), uses));
  const out: Sweep[] = [];
  for (const [c, r] of bench.options.concurrencies) {
    const input = writeInput(
      bench,
      `sweep-${workload}-${c}-${r}`,
      `${base}functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: digester\n  data:\n` +
        `    concurrency: "${c}"\n    registryConcurrency: "${r}"\n`,
    );
    let connections = 0;
    const stats = await series(bench, {
      standalone: async () => {
        proxy.reset();
        const result = await ours(bench, bench.standalone, input, expectImages(pins));
        connections = proxy.counts().connections;
        return result;
      },
    });
    log(`sweep ${workload}: concurrency ${c}, registryConcurrency ${r}: ${stats.standalone!.medianMs.toFixed(0)} ms`);
    out.push({ workload, concurrency: c, registryConcurrency: r, stat: stats.standalone!, connections });
  }
  return out;
}

// ---------------------------------------------------------------- report

function machine(): Record<string, string> {
  const sh = (cmd: string, args: string[]): string => {
    try {
      return execFileSync(cmd, args, { encoding: "utf8" }).trim();
    } catch {
      return "?";
    }
  };
  const status = sh("git", ["-C", ROOT, "status", "--porcelain", "--", "src"]);
  return {
    date: new Date().toISOString(),
    nproc: sh("nproc", []),
    cpu: cpus()[0]?.model ?? "?",
    node: process.version,
    skopeo: sh("skopeo", ["--version"]).replace(/^skopeo version /, ""),
    registry: sh("docker-registry", ["--version"]).split(" ").pop() ?? "?",
    commit: sh("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]) + (status && status !== "?" ? " (src/ has uncommitted changes)" : ""),
  };
}

const ms = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? "–" : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
const ratio = (a: number | undefined, b: number | undefined): string => (a && b ? `${(a / b).toFixed(2)}x` : "–");

function requestsText(r: Record<string, number> | undefined): string {
  if (!r) return "none";
  const order = ["HEAD manifest", "GET manifest", "GET token", "GET probe", "GET tags"];
  const parts = Object.entries(r)
    .filter(([k, v]) => v > 0 && k !== "connections" && k !== "non-HTTP (TLS probe)" && k !== "plain-HTTP attempt")
    .sort((a, b) => (order.indexOf(a[0]) + 99) % 99 - ((order.indexOf(b[0]) + 99) % 99))
    .map(([k, v]) => `${v} ${k.replace("GET probe", "GET /v2/")}`);
  const tls = r["non-HTTP (TLS probe)"] ?? 0;
  const plain = r["plain-HTTP attempt"] ?? 0;
  return `${parts.join(", ")}${tls ? `, ${tls} HTTPS attempt` : ""}${plain ? `, ${plain} plain-HTTP attempt` : ""}; ${r.connections ?? 0} conn.`;
}

interface Target {
  name: string;
  met: boolean;
  detail: string;
}

function targets(rows: readonly Row[], latencyMs: number): Target[] {
  const out: Target[] = [];
  const row = (id: string): Row | undefined => rows.find((r) => r.id === id);
  for (const r of rows) {
    if (!r.requests) continue;
    const heads = r.requests["HEAD manifest"] ?? 0;
    const gets = r.requests["GET manifest"] ?? 0;
    const probes = r.requests["GET probe"] ?? 0;
    const tokens = r.requests["GET token"] ?? 0;
    const repos = r.id === "e" ? 6 : r.unique;
    out.push({
      name: `(${r.id}) one manifest request per unique reference, tokens <= 1 per repository, one /v2/ probe`,
      met: heads + gets === r.unique && tokens <= repos && probes === 1,
      detail: `${heads} HEAD + ${gets} GET for ${r.unique} unique; ${tokens} token; ${probes} probe`,
    });
  }
  // The issue's rows: plain HTTP/1.1 and HTTPS with HTTP/2 (not the HTTPS/1.1 row beside them).
  for (const r of rows.filter((x) => (x.id === "a" || x.id.startsWith("a ")) && !x.id.includes("/1.1"))) {
    const bound = r.series["lower bound (standalone)"]?.medianMs;
    const oursMs = r.series.standalone?.medianMs;
    out.push({
      name: `(${r.id}) 120 unique at ${r.latencyMs} ms${r.id.includes("https") ? " over HTTPS with HTTP/2" : " over plain HTTP/1.1"}: within 1.3x of the lower bound`,
      met: oursMs !== undefined && bound !== undefined && oursMs <= 1.3 * bound,
      detail: `standalone ${ms(oursMs)} vs ${ms(bound)} = ${ratio(oursMs, bound)}; bundle ${ratio(r.series.bundle?.medianMs, r.series["lower bound (bundle)"]?.medianMs)}`,
    });
    if (r.skopeoParallel) {
      out.push({
        name: `(${r.id}) at least 8x faster than skopeo 16 at a time (xargs -P16)`,
        met: oursMs !== undefined && r.skopeoParallel.medianMs >= 8 * oursMs,
        detail: `skopeo x16 ${ms(r.skopeoParallel.medianMs)} / ours ${ms(oursMs)} = ${ratio(r.skopeoParallel.medianMs, oursMs)}`,
      });
    }
  }
  const shapes = row("shapes");
  if (shapes) {
    const block = shapes.series.block?.medianMs;
    for (const [name, st] of Object.entries(shapes.series)) {
      if (name === "block") continue;
      out.push({ name: `(shapes) ${name} within 1.3x of block style`, met: block !== undefined && st.medianMs <= 1.3 * block, detail: `${ms(st.medianMs)} vs ${ms(block)} = ${ratio(st.medianMs, block)}` });
    }
  }
  const f20 = row("f 20k");
  if (f20) {
    const worst = Math.max(f20.series.standalone?.medianMs ?? Infinity, f20.series.bundle?.medianMs ?? Infinity);
    const rss = Math.max(f20.series.standalone?.peakRssMb ?? Infinity, f20.series.bundle?.peakRssMb ?? Infinity);
    out.push({ name: "(f) 20,000 items, 200 unique images, resolved in under 4 s", met: worst < 4000, detail: `standalone ${ms(f20.series.standalone?.medianMs)}, bundle ${ms(f20.series.bundle?.medianMs)}` });
    out.push({ name: "(f) 20,000 items, 200 unique images, under 350 MB peak RSS", met: rss < 350, detail: `${rss.toFixed(0)} MB` });
    const flow = f20.series[FLOW_SERIES];
    if (flow) {
      const block = f20.series.standalone?.medianMs;
      out.push({
        name: "(f) the same 20,000 items as flow maps within 1.3x of block style (standalone), and under 350 MB",
        met: block !== undefined && flow.medianMs <= 1.3 * block && flow.peakRssMb < 350,
        detail: `${ms(flow.medianMs)} vs ${ms(block)} = ${ratio(flow.medianMs, block)}; ${flow.peakRssMb.toFixed(0)} MB`,
      });
    }
  }
  const c5 = row("c 5k");
  if (c5) {
    const worst = Math.max(c5.series.bundle?.medianMs ?? Infinity, c5.series.standalone?.medianMs ?? Infinity);
    const rss = Math.max(c5.series.bundle?.peakRssMb ?? Infinity, c5.series.standalone?.peakRssMb ?? Infinity);
    out.push({ name: "(c) 5,000 pinned items under 1.5 s", met: worst < 1500, detail: `bundle ${ms(c5.series.bundle?.medianMs)}, standalone ${ms(c5.series.standalone?.medianMs)}` });
    out.push({ name: "(c) 5,000 pinned items under 300 MB peak RSS", met: rss < 300, detail: `${rss.toFixed(0)} MB` });
  }
  const d = row("d");
  if (d) {
    const sea = d.series.standalone?.medianMs;
    const start = d.series["pinned (standalone)"]?.medianMs;
    out.push({
      name: "(d) one item through the standalone binary under 150 ms: start-up (the item already pinned, no network)",
      met: start !== undefined && start < 150,
      detail: `${ms(start)} (bundle ${ms(d.series["pinned (bundle)"]?.medianMs)})`,
    });
    out.push({
      name: `(d) one item through the standalone binary under 150 ms: resolved through the ${latencyMs} ms proxy`,
      met: sea !== undefined && sea < 150,
      detail: `${ms(sea)} (bundle ${ms(d.series.bundle?.medianMs)})`,
    });
  }
  return out;
}

function markdown(info: Record<string, string>, options: Options, rows: readonly Row[], sweepRows: readonly Sweep[], load: { before: string; after: string }): string {
  const lines: string[] = [];
  lines.push("# Benchmark results", "");
  lines.push(`Generated by \`npm run bench\` (bench/run.ts); see docs/benchmarks.md for what each row means.`, "");
  lines.push("| machine | |", "| --- | --- |");
  lines.push(`| date | ${info.date} |`, `| nproc | ${info.nproc} |`, `| CPU | ${info.cpu} |`, `| node | ${info.node} |`);
  lines.push(`| skopeo | ${info.skopeo} |`, `| registry | docker-registry ${info.registry} |`, `| krm-digester | ${info.commit} |`);
  lines.push(`| load average (1 min) | ${load.before} at start, ${load.after} at end |`);
  lines.push(`| settings | ${options.latencies.join(" and ")} ms injected per request and per new connection (row a at each, the other rows at ${options.latencyMs} ms); median of ${options.runs} runs after one warm-up |`);
  if (options.dist !== join(ROOT, "dist")) lines.push(`| executables | ${options.dist} |`);
  lines.push("");

  lines.push(
    "| row | items / unique | ours: standalone | ours: bundle | lower bound (standalone / bundle) | ours / lower bound | sequential skopeo | skopeo / ours | skopeo, 16 at a time | skopeo x16 / ours | CPU time (standalone) | harness CPU per run (proxy / registry) | peak RSS (standalone / bundle) | registry requests (one run) |",
  );
  lines.push("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) {
    if (r.id === "shapes") continue;
    const s = r.series;
    const lbS = s["lower bound (standalone)"]?.medianMs;
    const lbB = s["lower bound (bundle)"]?.medianMs;
    const sk = r.skopeo ? `${ms(r.skopeo.totalMs)}${r.skopeo.extrapolated ? ` (${r.skopeo.timed} timed, extrapolated)` : ""}` : "–";
    lines.push(
      `| ${r.id} | ${r.items.toLocaleString("en")} / ${r.unique.toLocaleString("en")} | ${ms(s.standalone?.medianMs)} | ${ms(s.bundle?.medianMs)} | ` +
        `${lbS === undefined ? "–" : `${ms(lbS)} / ${ms(lbB)}`} | ${lbS === undefined ? "–" : `${ratio(s.standalone?.medianMs, lbS)} / ${ratio(s.bundle?.medianMs, lbB)}`} | ` +
        `${sk} | ${r.skopeo ? ratio(r.skopeo.totalMs, s.standalone?.medianMs) : "–"} | ` +
        `${r.skopeoParallel ? ms(r.skopeoParallel.medianMs) : "–"} | ${r.skopeoParallel ? ratio(r.skopeoParallel.medianMs, s.standalone?.medianMs) : "–"} | ` +
        `${ms(s.standalone?.cpuMs)} | ${r.harnessCpu ? `${ms(r.harnessCpu.proxyMs)} / ${ms(r.harnessCpu.registryMs)}` : "–"} | ` +
        `${s.standalone?.peakRssMb.toFixed(0) ?? "–"} / ${s.bundle?.peakRssMb.toFixed(0) ?? "–"} MB | ${requestsText(r.requests)} |`,
    );
  }
  lines.push("");
  for (const r of rows) lines.push(`- **${r.id}**: ${r.title}.${r.notes.length ? ` ${r.notes.join("; ")}.` : ""}`);
  const cs = rows.filter((r) => r.id.startsWith("c "));
  if (cs.length > 1) {
    // The cost of each further 1,000 items, between consecutive sizes: flat means linear growth.
    const steps = cs.slice(1).map((r, i) => {
      const prev = cs[i]!;
      const per = (k: number): string => ((1000 * k) / (r.items - prev.items)).toFixed(0);
      const wall = (r.series.standalone?.medianMs ?? 0) - (prev.series.standalone?.medianMs ?? 0);
      const rss = (r.series.standalone?.peakRssMb ?? 0) - (prev.series.standalone?.peakRssMb ?? 0);
      return `${prev.items.toLocaleString("en")} -> ${r.items.toLocaleString("en")}: ${per(wall)} ms and ${per(rss)} MB per further 1,000 items`;
    });
    lines.push(`- Growth of (c), standalone: ${steps.join("; ")} (the rest is start-up).`);
  }
  const shapes = rows.find((r) => r.id === "shapes");
  if (shapes) {
    const block = shapes.series.block?.medianMs;
    lines.push("", `## Shapes of the same data (row a's 600 items, ${shapes.latencyMs} ms, plain HTTP, standalone, median of ${options.runs})`, "");
    lines.push("| shape | median | / block | CPU time | peak RSS |", "| --- | --- | --- | --- | --- |");
    for (const [name, st] of Object.entries(shapes.series)) {
      lines.push(`| ${name} | ${ms(st.medianMs)} | ${ratio(st.medianMs, block)} | ${ms(st.cpuMs)} | ${st.peakRssMb.toFixed(0)} MB |`);
    }
    lines.push("");
  }
  const fs = rows.filter((r) => r.id.startsWith("f "));
  if (fs.length === 2) {
    const [small, large] = fs as [Row, Row];
    const per = (k: number): string => ((1000 * k) / (large.items - small.items)).toFixed(0);
    const wall = (large.series.standalone?.medianMs ?? 0) - (small.series.standalone?.medianMs ?? 0);
    const rss = (large.series.standalone?.peakRssMb ?? 0) - (small.series.standalone?.peakRssMb ?? 0);
    lines.push(`- Growth of (f), standalone, 200 unique images: 5,000 -> 20,000 items: ${per(wall)} ms and ${per(rss)} MB per further 1,000 items.`);
  }
  const flowRow = fs.find((r) => r.series[FLOW_SERIES]);
  if (flowRow) {
    const flow = flowRow.series[FLOW_SERIES]!;
    const block = flowRow.series.standalone;
    lines.push(
      `- (${flowRow.id}) the same items as one-line flow maps (JSON in YAML), standalone: ${ms(flow.medianMs)} (CPU ${ms(flow.cpuMs)}), ${flow.peakRssMb.toFixed(0)} MB, against block style ${ms(block?.medianMs)}, ${block?.peakRssMb.toFixed(0) ?? "–"} MB: ${ratio(flow.medianMs, block?.medianMs)}.`,
    );
  }
  const bareRows = rows.filter((r) => r.series["bare undici client"]);
  if (bareRows.length) {
    lines.push(
      `- The network part alone (bench/bare-client.ts, bundled, on the standalone's Node with its flags: Node, undici, the probe and one HEAD per unique reference, nothing else), median (CPU): ${bareRows
        .map((r) => `${r.id} ${ms(r.series["bare undici client"]?.medianMs)} (${ms(r.series["bare undici client"]?.cpuMs)})`)
        .join(", ")}.`,
    );
  }
  const directRows = rows.filter((r) => r.series[DIRECT_SERIES]);
  if (directRows.length) {
    lines.push(
      `- Ours against the registry directly (no proxy, no injected latency; standalone), median: ${directRows
        .map((r) => `${r.id} ${ms(r.series[DIRECT_SERIES]?.medianMs)} (through the proxy ${ms(r.series.standalone?.medianMs)}, the pinned list ${ms(r.series["pinned (standalone)"]?.medianMs)})`)
        .join(", ")}: where this is near the proxied run, the proxy and its latency are not what the run waits for.`,
    );
  }
  for (const r of rows.filter((x) => x.registryAlone)) {
    const a = r.registryAlone!;
    lines.push(
      `- The registry alone (${r.id}): its ${r.unique} unique HEADs sent to it straight from the bench, all at once on 16 connections, took ${ms(a.medianMs)} and ${ms(a.registryCpuMs)} of its CPU (median): time no client of it can save on these two cores, and not in the lower bound.`,
    );
  }
  const skopeoRows = rows.filter((r) => r.skopeo);
  if (skopeoRows.length) {
    lines.push(
      `- skopeo per image: ${skopeoRows.map((r) => `${r.id} ${ms(r.skopeo!.perImageMs)} (its digest equals ours for ${r.skopeo!.digestsMatch} of ${r.skopeo!.timed})`).join(", ")}.`,
    );
  }
  if (sweepRows.length) {
    lines.push("", `## Concurrency at ${options.latencyMs} ms (standalone, median of ${options.runs})`, "");
    lines.push("| workload | concurrency | registryConcurrency (= connections per registry) | median | min | connections opened |", "| --- | --- | --- | --- | --- | --- |");
    for (const s of sweepRows) {
      lines.push(`| ${s.workload} | ${s.concurrency} | ${s.registryConcurrency} | ${ms(s.stat.medianMs)} | ${ms(s.stat.minMs)} | ${s.connections} |`);
    }
  }
  const profiled = rows.filter((r) => r.profile);
  if (profiled.length) {
    lines.push("", "## Where the time goes (bundle, one run under --cpu-prof, self time)", "");
    for (const r of profiled) {
      const p = r.profile!;
      const share = (x: number): string => `${((100 * x) / p.totalMs).toFixed(0)}%`;
      lines.push(`- **${r.id}** (${ms(p.totalMs)} sampled): ${p.owners.slice(0, 5).map((o) => `${o.name} ${share(o.ms)}`).join(", ")}.`);
      lines.push(`  Top functions: ${p.functions.slice(0, 6).map((f) => `\`${f.name}\` ${share(f.ms)}`).join(", ")}.`);
    }
  }
  const t = targets(rows, options.latencyMs);
  if (t.length) {
    lines.push("", "## Targets", "", "| target | met | measured |", "| --- | --- | --- |");
    for (const x of t) lines.push(`| ${x.name} | ${x.met ? "yes" : "**no**"} | ${x.detail} |`);
  }
  return lines.join("\n") + "\n";
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const want = (id: string): boolean => options.only === undefined || options.only.has(id);
  mkdirSync(join(OUT, "inputs"), { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), "krm-digester-bench-"));
  const home = join(scratch, "home");
  mkdirSync(home);
  const bench: Bench = {
    options,
    scratch,
    env: cleanEnv(home),
    timeFile: join(scratch, "time.txt"),
    bundle: join(options.dist, "krm-digester"),
    standalone: join(options.dist, "krm-digester-linux-x64"),
    bare: await bareClient(scratch),
  };
  const info = machine();
  const loadBefore = loadavg()[0]!.toFixed(2);
  const rows: Row[] = [];
  const sweepRows: Sweep[] = [];
  const cleanup: (() => Promise<void>)[] = [];
  try {
    if (want("a") || want("b") || want("d") || want("sweep") || want("shapes") || want("f")) {
      const registry = await startRegistry();
      cleanup.push(() => registry.stop());
      const proxy = await startLatencyProxy({ upstream: registry.url, latencyMs: options.latencyMs });
      cleanup.push(() => proxy.close());
      const sweepOver = (id: string): boolean => want("sweep") && options.sweepOver.includes(id);
      // The same registry over HTTPS, HTTP/2 offered, as every public registry serves images.
      let tlsProxy: Promise<SecureProxy> | undefined;
      const secure = (): Promise<SecureProxy> => (tlsProxy ??= startSecureProxy(registry.url, options.latencyMs, cleanup));
      if (want("a") || sweepOver("a") || want("shapes")) {
        log("seeding 120 images for (a)");
        const a = await seed(registry, imageSpecs("bench-a", 120, 60), IMAGE_KINDS);
        if (want("a")) {
          for (const latencyMs of options.latencies) {
            // The first latency's rows are "a" and "a https"; the others carry theirs ("a @100").
            const first = latencyMs === options.latencyMs;
            const suffix = first ? "" : ` @${latencyMs}`;
            const plain = first ? proxy : await startLatencyProxy({ upstream: registry.url, latencyMs });
            if (!first) cleanup.push(() => plain.close());
            rows.push(
              await networkRow(
                bench,
                plain,
                `a${suffix}`,
                `120 unique images, each used by 5 of 600 Deployments, ${latencyMs} ms`,
                a,
                5,
                ["images of all four manifest kinds (OCI index/manifest, Docker list/manifest) in 60 repositories"],
                // Sequential skopeo takes ~1 s per image at 100 ms: a sample is timed there.
                first ? a.length : Math.min(options.skopeoSample, 30),
                bench.env,
                undefined,
                registry.pid,
                first ? new URL(registry.url).host : undefined,
              ),
            );
            const tls = first ? await secure() : await startSecureProxy(registry.url, latencyMs, cleanup);
            rows.push(await httpsRow(bench, tls, "a", a, 5, registry.pid, suffix));
            // Beside the targets: HTTPS without HTTP/2, where the lookups need connections of their own.
            const tls1 = await startSecureProxy(registry.url, latencyMs, cleanup, false);
            rows.push(await httpsRow(bench, tls1, "a", a, 5, registry.pid, suffix, 10));
          }
        }
        if (sweepOver("a")) sweepRows.push(...(await sweep(bench, proxy, "a", a, 5)));
        if (want("shapes")) rows.push(await shapesRow(bench, proxy, a, 5));
      }
      if (want("f")) {
        log("seeding 200 images for (f)");
        const f = await seed(registry, imageSpecs("bench-f", 200, 50), ["oci-manifest"]);
        for (const items of [5000, 20000]) rows.push(await largeRow(bench, proxy, f, items, Math.min(options.runs, 3)));
      }
      if (want("b") || sweepOver("b")) {
        log("seeding 1,000 images for (b)");
        const b = await seed(registry, imageSpecs("bench-b", 1000), ["oci-manifest"]);
        if (sweepOver("b")) sweepRows.push(...(await sweep(bench, proxy, "b", b, 1)));
        if (want("b")) {
          rows.push(
            await networkRow(
              bench,
              proxy,
              "b",
              "1,000 unique images, 1,000 Deployments",
              b,
              1,
              ["single-platform OCI manifests (quicker to seed; a HEAD costs the same for every kind)"],
              options.skopeoSample,
            ),
          );
          rows.push(await httpsRow(bench, await secure(), "b", b, 1));
        }
      }
      if (want("d")) {
        const d = await seed(registry, imageSpecs("bench-d", 1), ["oci-index"]);
        rows.push(await networkRow(bench, proxy, "d", "one Deployment, one image (start-up)", d, 1, []));
      }
    }
    if (want("c")) {
      for (const items of options.pinnedSizes) rows.push(await pinnedRow(bench, items, items > 5000 ? Math.min(options.runs, 3) : options.runs));
      rows.sort((x, y) => x.id.localeCompare(y.id, "en", { numeric: true }));
    }
    if (want("e")) {
      // The token server sits behind the same proxy: its realm is the proxy's /token, so tokens pay the latency and are counted.
      const tokens: TokenServer = await startTokenServer();
      cleanup.push(() => tokens.stop());
      const proxy = await startLatencyProxy({ upstream: "http://127.0.0.1:9", tokenUpstream: tokens.url, latencyMs: options.latencyMs });
      cleanup.push(() => proxy.close());
      const registry = await startRegistry({ token: { ...tokens.registryConfig, realm: `${proxy.url}/token` } });
      cleanup.push(() => registry.stop());
      proxy.setUpstream(registry.url);
      const specs = imageSpecs("bench-e", 24, 6);
      log("seeding 24 images in 6 repositories for (e)");
      const e = await seed(
        { url: registry.url, authorization: (repo: string) => tokens.pushAuthorization(repo) },
        specs,
        IMAGE_KINDS,
      );
      rows.push(await networkRow(bench, proxy, "e", "token-auth registry: 24 unique images in 6 repositories, 48 Deployments", e, 2, []));
    }
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  }

  const load = { before: loadBefore, after: loadavg()[0]!.toFixed(2) };
  const order = ["a", "b", "c", "d", "e", "f", "s"];
  rows.sort((x, y) => order.indexOf(x.id[0]!) - order.indexOf(y.id[0]!) || x.items - y.items);
  const report = markdown(info, options, rows, sweepRows, load);
  writeFileSync(join(OUT, "results.json"), JSON.stringify({ machine: info, load, options: { ...options, only: options.only ? [...options.only] : undefined }, rows, sweep: sweepRows, targets: targets(rows, options.latencyMs) }, null, 2) + "\n");
  if (options.only === undefined) writeFileSync(join(ROOT, "bench", "RESULTS.md"), report);
  else writeFileSync(join(OUT, "RESULTS.partial.md"), report);
  process.stdout.write(report);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
