// `npm run bench` (webhook part; alone: `npm run bench:webhook`): the built
// webhook (dist/krm-digester webhook --offline --disable-cert-rotation) in
// its own process over HTTPS, a real registry behind bench/latency-proxy.ts,
// and next to it in the same run a baseline that does what k8s-digester
// does (bench/baseline-webhook.ts: every image of every review resolved one
// after another, no cache). Reviews are Deployments of 3 containers (2 unique
// images), shaped as the API server sends them.
//
//   node build/bench/webhook.js [--seconds 5] [--latency 25] [--clients 32] [--rate 200]
//                               [--cold 100] [--cold-only] [--compare OTHER_BUNDLE [--turns N]]
//
// --compare: another build of the webhook (e.g. the bundle before a change) in
// its own process, measured in the same run in turns with ours (cold: review
// by review; warm: before and after ours), since the machine's load moves the
// figures between runs. Cold reviews come after 2 s of warm load (V8 has
// compiled the review path, as in any webhook that has served before: cold is
// the tag cache), and next to two bounds measured in the same run: one
// registry round trip, and two at once (the review's two new images; the
// registry and proxy answer two requests a little later than one). --cold-only: the cold series alone (with
// BENCH_WEBHOOK_PROFILE=DIR, a profile of the cold path).
//
// Writes bench/out/webhook.json and bench/out/webhook.md. Other work on the
// machine moves these numbers: the load generator shares the cores.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { object, review } from "../test/support/admission.js";
import { createCa } from "../test/support/certs.js";
import { freePort, startRegistry } from "../test/support/registry.js";
import { seedImages } from "../test/support/seed.js";
import { writePair } from "../test/support/webhook.js";
import { startLatencyProxy } from "./latency-proxy.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const OUT = join(ROOT, "bench", "out");
const BASELINE = fileURLToPath(new URL("./baseline-webhook.js", import.meta.url));

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  const n = Number(i >= 0 ? process.argv[i + 1] : fallback);
  return Number.isFinite(n) && n > 0 ? n : fallback;
};
const SECONDS = arg("--seconds", 5);
const LATENCY = arg("--latency", 25);
const CLIENTS = arg("--clients", 32);
const RATE = arg("--rate", 200);
const COLD = arg("--cold", 100);
/** `--cold-only`: the cold series alone (with BENCH_WEBHOOK_PROFILE, a profile of the cold path only). */
const COLD_ONLY = process.argv.includes("--cold-only");
/**
 * `--turns N` with --compare: after the cold series, only warm closed loops of
 * --seconds each, ours and the other build in N alternating turns, and the
 * median server CPU per review of each (the load moves between turns; the
 * median of alternating turns is what a change is judged by).
 */
const TURNS = arg("--turns", 0);

interface Series {
  readonly reviews: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function series(latencies: number[], seconds: number): Series {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { reviews: latencies.length, seconds, perSecond: latencies.length / seconds, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}

async function post(agent: Agent, url: string, body: string): Promise<number> {
  const t0 = performance.now();
  const res = await request(url, { method: "POST", headers: { "content-type": "application/json" }, body, dispatcher: agent });
  const text = await res.body.text();
  if (res.statusCode !== 200 || !text.includes('"allowed":true')) throw new Error(`review failed: ${res.statusCode} ${text.slice(0, 300)}`);
  return performance.now() - t0;
}

/** `clients` in a closed loop for `seconds`. */
async function closedLoop(agent: Agent, url: string, bodies: readonly string[], clients: number, seconds: number): Promise<Series> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) latencies.push(await post(agent, url, bodies[next++ % bodies.length] ?? ""));
    }),
  );
  return series(latencies, (performance.now() - t0) / 1000);
}

/** A steady `rate` per second for `seconds`, whatever the answers take (an open loop, as a busy API server sends). */
async function openLoop(agent: Agent, url: string, bodies: readonly string[], rate: number, seconds: number): Promise<Series> {
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  const pending: Promise<number>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(post(agent, url, bodies[i % bodies.length] ?? ""));
  }
  const latencies = await Promise.all(pending);
  return series(latencies, (performance.now() - t0) / 1000);
}

function started(child: ChildProcess, marker: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    child.stdout?.on("data", (c: Buffer) => {
      if (seen.includes(marker)) return;
      seen += c.toString();
      if (seen.includes(marker)) resolve();
    });
    child.on("exit", (code) => reject(new Error(`exited with ${code} before "${marker}": ${seen}`)));
  });
}

function deployment(name: string, images: readonly string[]): string {
  return JSON.stringify(review({ object: object({ kind: "Deployment", name, containers: images.map((image, i) => ({ name: `c${i}`, image })) }) }));
}

/** CPU time (user + system) a process has used so far, ms, from /proc (Linux). */
function cpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after "pid (comm) ".
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/** A series and what it cost the server in CPU per review: under contention, the figure that says what one core would do. */
async function measured(pid: number | undefined, run: () => Promise<Series>): Promise<Series & { cpuMsPerReview: number; clientCpuMsPerReview: number }> {
  const before = cpuMs(pid);
  // The load generator is this process (the registry and its proxy are idle on a warm series).
  const client = process.cpuUsage();
  const s = await run();
  const used = process.cpuUsage(client);
  return { ...s, cpuMsPerReview: (cpuMs(pid) - before) / s.reviews, clientCpuMsPerReview: (used.user + used.system) / 1000 / s.reviews };
}

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : "—");

async function main(): Promise<void> {
  const cleanup: (() => Promise<void> | void)[] = [];
  try {
    const registry = await startRegistry();
    cleanup.push(() => registry.stop());
    const proxy = await startLatencyProxy({ upstream: registry.url, latencyMs: LATENCY });
    cleanup.push(() => proxy.close());
    const warmImages = Array.from({ length: 20 }, (_, i) => ({ repository: `warm/app${i}`, tag: "v1", kind: "oci-manifest" as const }));
    const coldImages = Array.from({ length: COLD * 2 + 4 }, (_, i) => ({ repository: `cold/app${i % 2}`, tag: `t${i}`, kind: "oci-manifest" as const }));
    process.stderr.write(`bench webhook: seeding ${warmImages.length + coldImages.length} images\n`);
    await seedImages(registry, [...warmImages, ...coldImages]);

    const ca = await createCa("krm-digester bench CA");
    cleanup.push(() => ca.remove());
    const certDir = mkdtempSync(join(tmpdir(), "krm-digester-bench-certs-"));
    cleanup.push(() => rmSync(certDir, { recursive: true, force: true }));
    await writePair(certDir, await ca.issue(["127.0.0.1"]));

    /** The built webhook from `bundle` in its own process; its log goes to a file, as a container runtime takes it. */
    const startOurs = async (bundle: string, name: string): Promise<{ port: number; pid: number | undefined }> => {
      const port = await freePort();
      const health = await freePort();
      // A pipe read by this busy process would block the webhook's synchronous stdout writes whenever the load generator falls behind.
      const logFile = join(certDir, `${name}.log`);
      const logFd = openSync(logFile, "w");
      const child = spawn(
        process.execPath,
        // BENCH_WEBHOOK_PROFILE=DIR: the webhook under --cpu-prof, the profile written into DIR at exit.
        [...(process.env.BENCH_WEBHOOK_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_WEBHOOK_PROFILE}`] : []),
          bundle, "webhook", "--offline", "--disable-cert-rotation", `--port=${port}`, `--cert-dir=${certDir}`,
          `--health-addr=127.0.0.1:${health}`, `--metrics-addr=127.0.0.1:${await freePort()}`],
        { stdio: ["ignore", logFd, "inherit"], env: { ...process.env, HOME: certDir } },
      );
      closeSync(logFd);
      cleanup.push(() => void child.kill("SIGTERM"));
      for (let i = 0; ; i++) {
        const ready = await request(`http://127.0.0.1:${health}/readyz`).then(
          async (r) => (await r.body.text(), r.statusCode === 200),
          () => false,
        );
        if (ready) break;
        if (i > 400 || child.exitCode !== null) throw new Error(`the webhook (${bundle}) did not start: ${readFileSync(logFile, "utf8")}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return { port, pid: child.pid };
    };
    const webhook = await startOurs(join(ROOT, "dist", "krm-digester"), "webhook");
    const ours = webhook.port;
    // --compare BUNDLE: another build of the webhook (e.g. main's dist/krm-digester), measured in the same run.
    const compareAt = process.argv.indexOf("--compare");
    const compareBundle = compareAt >= 0 ? process.argv[compareAt + 1] : undefined;
    const other = compareBundle ? await startOurs(compareBundle, "compare") : undefined;
    const theirs = await freePort();
    const baseline = spawn(process.execPath, [BASELINE, String(theirs), certDir], { stdio: ["ignore", "pipe", "inherit"] });
    cleanup.push(() => void baseline.kill("SIGTERM"));
    await started(baseline, "listening");

    const floorPort = await freePort();
    const floor = spawn(process.execPath, [BASELINE, String(floorPort), certDir, "echo"], { stdio: ["ignore", "pipe", "inherit"] });
    cleanup.push(() => void floor.kill("SIGTERM"));
    await started(floor, "listening");

    const agent = new Agent({ connect: { ca: ca.caPem }, connections: CLIENTS, keepAliveTimeout: 60_000 });
    cleanup.push(() => agent.close());
    const oursUrl = `https://127.0.0.1:${ours}/v1/mutate?timeout=10s`;
    const theirsUrl = `https://127.0.0.1:${theirs}/v1/mutate?timeout=10s`;
    const img = (i: number): string => `${proxy.host}/warm/app${i % warmImages.length}:v1`;
    // 3 containers, 2 unique images each; 1,000 bodies with their own uids and names.
    const bodies = Array.from({ length: 1000 }, (_, i) => deployment(`web-${i}`, [img(i), img(i + 1), img(i)]));

    // Round trip of one registry request through the proxy: what a cold review cannot avoid.
    // And of two at once (a cold review's two new images): the later of the two answers is what it waits for.
    const rtts: number[] = [];
    const pairs: number[] = [];
    const direct = new Agent();
    const head = async (repository: string): Promise<void> => {
      const r = await request(`${proxy.url}/v2/${repository}/manifests/v1`, {
        method: "HEAD",
        headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
        dispatcher: direct,
        reset: false,
      });
      await r.body.dump();
    };
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      await head("warm/app0");
      if (i > 0) rtts.push(performance.now() - t0);
      const t1 = performance.now();
      await Promise.all([head("warm/app0"), head("warm/app1")]);
      if (i > 0) pairs.push(performance.now() - t1);
    }
    await direct.close();
    const rtt = series(rtts, 1).p50;
    const rttPair = series(pairs, 1).p50;

    process.stderr.write("bench webhook: cold reviews (one at a time, 2 new images each)\n");
    const otherUrl = other && `https://127.0.0.1:${other.port}/v1/mutate?timeout=10s`;
    const coldBody = (i: number): string =>
      deployment(`cold-${i}`, [`${proxy.host}/cold/app0:t${2 * i}`, `${proxy.host}/cold/app1:t${2 * i + 1}`, `${proxy.host}/cold/app0:t${2 * i}`]);
    // Warm the connection and the registry probe first: "cold" is about the tag cache.
    for (const url of [oursUrl, otherUrl]) if (url) await post(agent, url, deployment("probe", [`${proxy.host}/cold/app0:t${COLD * 2}`, `${proxy.host}/cold/app1:t${COLD * 2 + 1}`]));
    // A webhook that takes cold reviews has served others before: V8 has compiled the review path.
    // Cold here is the tag cache (and the registry code, which only cold lookups run), not the JIT.
    for (const url of [oursUrl, otherUrl]) if (url) await closedLoop(agent, url, bodies, CLIENTS, 2);
    // The same review once its images are cached, one at a time: what any review costs us (TLS, HTTP, JSON, the handler).
    const alone: number[] = [];
    const cachedBody = deployment("cached", [`${proxy.host}/cold/app0:t${COLD * 2}`, `${proxy.host}/cold/app1:t${COLD * 2 + 1}`, `${proxy.host}/cold/app0:t${COLD * 2}`]);
    for (let i = 0; i < 30; i++) alone.push(await post(agent, oursUrl, cachedBody));
    const warmAlone = series(alone, 1).p50;
    proxy.reset();
    const cold: number[] = [];
    const otherCold: number[] = [];
    let coldCpu = 0;
    let otherColdCpu = 0;
    for (let i = 0; i < COLD; i++) {
      // With --compare, both see the same new tags, in turns (each has its own cache), first one then the other.
      const turns = [{ url: oursUrl, pid: webhook.pid, into: cold, cpu: (ms: number) => (coldCpu += ms) }];
      if (other && otherUrl) turns.push({ url: otherUrl, pid: other.pid, into: otherCold, cpu: (ms: number) => (otherColdCpu += ms) });
      if (i % 2 === 1) turns.reverse();
      for (const t of turns) {
        const cpu0 = cpuMs(t.pid);
        t.into.push(await post(agent, t.url, coldBody(i)));
        t.cpu(cpuMs(t.pid) - cpu0);
      }
    }
    const coldHeads = (proxy.counts().requests["HEAD manifest"] ?? 0) / (other ? 2 : 1);
    // New connections to the registry during the cold series: a cold review should need none (pools are shared).
    const coldConnections = proxy.counts().connections / (other ? 2 : 1);
    const coldSeries = series(cold, 1);
    coldCpu /= COLD;
    const coldLine = (s: Series, cpu: number): string =>
      `p50 ${fmt(s.p50, 2)} ms, p99 ${fmt(s.p99, 2)} ms; round trip ${fmt(rtt, 2)} ms (two at once ${fmt(rttPair, 2)} ms); ours ${fmt(s.p50 - rtt, 2)} ms (over two at once ${fmt(s.p50 - rttPair, 2)} ms; a cached review alone ${fmt(warmAlone, 2)} ms); server CPU ${fmt(cpu, 2)} ms per review`;
    if (COLD_ONLY) {
      process.stdout.write(`cold review, 2 new images: ${coldLine(coldSeries, coldCpu)}; ${fmt(coldHeads / COLD, 2)} HEAD per review; ${fmt(coldConnections, 0)} new registry connections in all; load ${loadavg().map((l) => l.toFixed(2)).join(" ")}\n`);
      if (other) process.stdout.write(`cold review, --compare ${compareBundle}: ${coldLine(series(otherCold, 1), otherColdCpu / COLD)}\n`);
      return;
    }

    if (TURNS > 0 && other && otherUrl) {
      process.stderr.write(`bench webhook: warm, ${CLIENTS} clients, ${TURNS} turns of ${SECONDS} s each, ours and --compare ${compareBundle}\n`);
      await closedLoop(agent, oursUrl, bodies, CLIENTS, 2);
      await closedLoop(agent, otherUrl, bodies, CLIENTS, 2);
      const turns: { ours: Series & { cpuMsPerReview: number }; theirs: Series & { cpuMsPerReview: number } }[] = [];
      for (let t = 0; t < TURNS; t++) {
        // Which goes first alternates too.
        const a = t % 2 === 0;
        const first = await measured(a ? webhook.pid : other.pid, () => closedLoop(agent, a ? oursUrl : otherUrl, bodies, CLIENTS, SECONDS));
        const second = await measured(a ? other.pid : webhook.pid, () => closedLoop(agent, a ? otherUrl : oursUrl, bodies, CLIENTS, SECONDS));
        turns.push(a ? { ours: first, theirs: second } : { ours: second, theirs: first });
      }
      // Then the steady rate, in turns the same way: p99 is a target too.
      const steadyTurns: { ours: Series; theirs: Series }[] = [];
      for (let t = 0; t < TURNS; t++) {
        const a = t % 2 === 0;
        const first = await openLoop(agent, a ? oursUrl : otherUrl, bodies, RATE, SECONDS);
        const second = await openLoop(agent, a ? otherUrl : oursUrl, bodies, RATE, SECONDS);
        steadyTurns.push(a ? { ours: first, theirs: second } : { ours: second, theirs: first });
      }
      const median = (xs: number[]): number => quantile([...xs].sort((x, y) => x - y), 0.5);
      const line = (name: string, xs: (Series & { cpuMsPerReview: number })[], st: Series[]): string =>
        `${name}: median server CPU ${fmt(median(xs.map((x) => x.cpuMsPerReview)), 3)} ms per review, median ${fmt(median(xs.map((x) => x.perSecond)), 0)}/s; ` +
        `turns ${xs.map((x) => `${fmt(x.cpuMsPerReview, 3)} ms ${fmt(x.perSecond, 0)}/s`).join(", ")}; ` +
        `steady ${RATE}/s median p50 ${fmt(median(st.map((x) => x.p50)), 2)} ms, p99 ${fmt(median(st.map((x) => x.p99)), 2)} ms (turns' p99 ${st.map((x) => fmt(x.p99, 2)).join(", ")})`;
      process.stdout.write(
        `${line("ours", turns.map((t) => t.ours), steadyTurns.map((t) => t.ours))}\n` +
          `${line(`--compare ${compareBundle}`, turns.map((t) => t.theirs), steadyTurns.map((t) => t.theirs))}\nload ${loadavg().map((l) => l.toFixed(2)).join(" ")}\n`,
      );
      return;
    }

    process.stderr.write(`bench webhook: warm, ${CLIENTS} clients, ${SECONDS} s each\n`);
    await closedLoop(agent, oursUrl, bodies, CLIENTS, 1); // connections, JIT, cache
    const warm = await measured(webhook.pid, () => closedLoop(agent, oursUrl, bodies, CLIENTS, SECONDS));
    const steady = await measured(webhook.pid, () => openLoop(agent, oursUrl, bodies, RATE, SECONDS));
    let compared: { warm: Series & { cpuMsPerReview: number }; warmAgain: Series & { cpuMsPerReview: number }; ourWarmAgain: Series & { cpuMsPerReview: number }; cold: Series & { cpuMsPerReview: number } } | undefined;
    if (other && otherUrl) {
      process.stderr.write(`bench webhook: --compare ${compareBundle}, warm, in turns with ours\n`);
      await closedLoop(agent, otherUrl, bodies, CLIENTS, 1);
      const otherWarm = await measured(other.pid, () => closedLoop(agent, otherUrl, bodies, CLIENTS, SECONDS));
      const ourWarmAgain = await measured(webhook.pid, () => closedLoop(agent, oursUrl, bodies, CLIENTS, SECONDS));
      const warmAgain = await measured(other.pid, () => closedLoop(agent, otherUrl, bodies, CLIENTS, SECONDS));
      compared = { warm: otherWarm, warmAgain, ourWarmAgain, cold: { ...series(otherCold, 1), cpuMsPerReview: otherColdCpu / COLD } };
    }
    process.stderr.write("bench webhook: baseline (k8s-digester's way)\n");
    await closedLoop(agent, theirsUrl, bodies, CLIENTS, 1);
    const baseWarm = await measured(baseline.pid, () => closedLoop(agent, theirsUrl, bodies, CLIENTS, SECONDS));
    const baseSteady = await measured(baseline.pid, () => openLoop(agent, theirsUrl, bodies, RATE, SECONDS));

    const floorUrl = `https://127.0.0.1:${floorPort}/v1/mutate?timeout=10s`;
    await closedLoop(agent, floorUrl, bodies, CLIENTS, 1);
    const floorWarm = await measured(floor.pid, () => closedLoop(agent, floorUrl, bodies, CLIENTS, SECONDS));

    const results = {
      when: new Date().toISOString(),
      cpus: cpus().length,
      load: loadavg().map((l) => Number(l.toFixed(2))),
      latencyMs: LATENCY,
      registryRoundTripMs: rtt,
      registryTwoAtOnceMs: rttPair,
      cold: { ...coldSeries, headsPerReview: coldHeads / COLD, newConnections: coldConnections, oursMs: coldSeries.p50 - rtt, oursOverTwoAtOnceMs: coldSeries.p50 - rttPair, cachedAloneMs: warmAlone, cpuMsPerReview: coldCpu },
      warm,
      steady,
      baseline: { warm: baseWarm, steady: baseSteady },
      floor: floorWarm,
      ...(compared ? { compare: { bundle: compareBundle, ...compared } } : {}),
    };
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, "webhook.json"), `${JSON.stringify(results, null, 2)}\n`);
    const md = [
      `## Webhook (${results.when}, ${results.cpus} cores, load ${results.load.join(" ")}, ${LATENCY} ms per registry request)`,
      "",
      "| series | ours | baseline (sequential, no cache) | target |",
      "| --- | --- | --- | --- |",
      `| floor: an HTTPS server that answers without looking, same client | ${fmt(floorWarm.perSecond, 0)}/s with ${CLIENTS} clients (p50 ${fmt(floorWarm.p50)} ms, p99 ${fmt(floorWarm.p99)} ms), server CPU ${fmt(floorWarm.cpuMsPerReview, 3)} ms per request | | |`,
      `| warm, ${CLIENTS} clients: reviews/s | ${fmt(warm.perSecond, 0)} (p50 ${fmt(warm.p50)} ms, p99 ${fmt(warm.p99)} ms) | ${fmt(baseWarm.perSecond, 0)} (p50 ${fmt(baseWarm.p50)} ms, p99 ${fmt(baseWarm.p99)} ms) | ≥ 3,000/s |`,
      `| steady ${RATE}/s: p50 / p99 | ${fmt(steady.p50, 2)} / ${fmt(steady.p99, 2)} ms | ${fmt(baseSteady.p50, 2)} / ${fmt(baseSteady.p99, 2)} ms | p99 < 5 ms |`,
      `| server CPU per warm review (one core's worth: 1000 / this) | ${fmt(warm.cpuMsPerReview, 3)} ms (${fmt(1000 / warm.cpuMsPerReview, 0)}/s per core) | ${fmt(baseWarm.cpuMsPerReview, 3)} ms | — |`,
      `| load generator's CPU per warm review (the floor's: ${fmt(floorWarm.clientCpuMsPerReview, 3)} ms); both together, 2 cores' worth: 2000 / (server + client) | ${fmt(warm.clientCpuMsPerReview, 3)} ms (${fmt(2000 / (warm.cpuMsPerReview + warm.clientCpuMsPerReview), 0)}/s on 2 cores; the floor ${fmt(2000 / (floorWarm.cpuMsPerReview + floorWarm.clientCpuMsPerReview), 0)}/s) | | |`,
      `| cold review, 2 new images: p50 / p99 | ${fmt(coldSeries.p50, 2)} / ${fmt(coldSeries.p99, 2)} ms; registry round trip ${fmt(rtt, 2)} ms (two at once ${fmt(rttPair, 2)} ms); ours ${fmt(results.cold.oursMs, 2)} ms (over two at once ${fmt(results.cold.oursOverTwoAtOnceMs, 2)} ms; the same review cached, alone, ${fmt(warmAlone, 2)} ms); ${fmt(results.cold.headsPerReview, 2)} HEAD per review; ${fmt(coldConnections, 0)} new registry connections; server CPU ${fmt(coldCpu, 2)} ms | every review is cold | 1 round trip per unique image + < 2 ms |`,
      ...(compared
        ? [
            `| --compare ${compareBundle}: warm, ${CLIENTS} clients (two turns, between ours) | ${fmt(compared.warm.perSecond, 0)}/s, ${fmt(compared.warmAgain.perSecond, 0)}/s; server CPU ${fmt(compared.warm.cpuMsPerReview, 3)}, ${fmt(compared.warmAgain.cpuMsPerReview, 3)} ms per review (ours in between: ${fmt(compared.ourWarmAgain.perSecond, 0)}/s, ${fmt(compared.ourWarmAgain.cpuMsPerReview, 3)} ms) | | |`,
            `| --compare ${compareBundle}: cold review (same tags, in turns with ours) | ${fmt(compared.cold.p50, 2)} / ${fmt(compared.cold.p99, 2)} ms; ours ${fmt(compared.cold.p50 - rtt, 2)} ms; server CPU ${fmt(compared.cold.cpuMsPerReview, 2)} ms | | |`,
          ]
        : []),
      "",
      "The load generator runs on the same cores as the webhook; other work on the machine moves these figures.",
      "",
    ].join("\n");
    writeFileSync(join(OUT, "webhook.md"), md);
    process.stdout.write(md);
  } finally {
    for (const fn of cleanup.reverse()) await fn();
  }
}

await main();
