// Where the time goes: runs the bundle under `node --cpu-prof` on an input
// (or reads a .cpuprofile) and prints the functions with the most self time,
// and the same time grouped by who owns the code (yaml, undici, ours, node).
//
//   node build/bench/profile.js bench/out/inputs/c-5000-pinned.yaml [--top 25]
//   node build/bench/profile.js some.cpuprofile
//   node build/bench/profile.js --keep DIR INPUT.yaml   (also keeps the .cpuprofile, for Chrome DevTools)
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  readonly name: string;
  readonly ms: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Self time per function. */
  readonly functions: SelfTime[];
  /** Self time per owner of the code. */
  readonly owners: SelfTime[];
  /** Time with callees per function (each function counted once per sample). */
  readonly inclusive: SelfTime[];
}

/**
 * The bundle is one file, so the owner of a function comes from the esbuild
 * region comment that precedes it (`// node_modules/yaml/dist/...`, `// src/...`).
 */
function regions(bundle: string | undefined): (line: number) => string {
  if (!bundle) return () => "?";
  const starts: { line: number; owner: string }[] = [];
  bundle.split("\n").forEach((text, i) => {
    // Paths are relative to the build's directory (and may climb out of it through a symlinked node_modules).
    const m = /^\/\/ (?:\S*\/)?(?:node_modules\/((?:@[^/]+\/)?[^/]+)|(src))\/\S+$/.exec(text);
    if (m) starts.push({ line: i, owner: m[1] ?? "ours (src/)" });
  });
  return (line) => {
    let owner = "bundle prelude";
    for (const s of starts) {
      if (s.line > line) break;
      owner = s.owner;
    }
    return owner;
  };
}

export function summarise(profile: CpuProfile, bundlePath?: string): ProfileSummary {
  const bundle = bundlePath ? readFileSync(bundlePath, "utf8") : undefined;
  const ownerOf = regions(bundle);
  const ticks = new Map<number, number>();
  profile.samples.forEach((id, i) => ticks.set(id, (ticks.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const us = ticks.get(node.id) ?? 0;
    if (us === 0) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.split("/").pop() ?? "";
    const inBundle = bundlePath !== undefined && url.endsWith(bundlePath.split("/").pop() ?? "\0");
    const owner = inBundle
      ? ownerOf(lineNumber)
      : url === ""
        ? functionName.startsWith("RegExp:") ? "regular expressions" : functionName
        : "node internals";
    const name = `${functionName || "(anonymous)"} ${inBundle ? `[${owner}]` : file}${url ? `:${lineNumber + 1}` : ""}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + us);
  }
  // Inclusive time: every distinct function on a sample's stack gets the sample.
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const nameOf = (n: ProfileNode): string => {
    const { functionName, url, lineNumber } = n.callFrame;
    const inBundle = bundlePath !== undefined && url.endsWith(bundlePath.split("/").pop() ?? "\0");
    return `${functionName || "(anonymous)"} ${inBundle ? `[${ownerOf(lineNumber)}]` : (url.split("/").pop() ?? "")}${url ? `:${lineNumber + 1}` : ""}`;
  };
  const inclusive = new Map<string, number>();
  for (const [id, us] of ticks) {
    const names = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (node) names.add(nameOf(node));
    }
    for (const name of names) inclusive.set(name, (inclusive.get(name) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>): SelfTime[] =>
    [...m].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: us / 1000 }));
  return { totalMs: total / 1000, functions: sorted(byFunction), owners: sorted(byOwner), inclusive: sorted(inclusive) };
}

export function format(summary: ProfileSummary, top: number): string {
  const pct = (ms: number): string => `${((100 * ms) / summary.totalMs).toFixed(1).padStart(5)}%`;
  const lines = [`sampled ${summary.totalMs.toFixed(0)} ms`, "", "self time by owner:"];
  for (const o of summary.owners.slice(0, 12)) lines.push(`  ${o.ms.toFixed(0).padStart(7)} ms ${pct(o.ms)}  ${o.name}`);
  lines.push("", `top ${top} functions by self time:`);
  for (const f of summary.functions.slice(0, top)) lines.push(`  ${f.ms.toFixed(0).padStart(7)} ms ${pct(f.ms)}  ${f.name}`);
  lines.push("", `top ${top} functions with their callees:`);
  for (const f of summary.inclusive.slice(0, top)) lines.push(`  ${f.ms.toFixed(0).padStart(7)} ms ${pct(f.ms)}  ${f.name}`);
  return lines.join("\n");
}

/** Profiles `bundle < input` and returns the summary (asynchronously: the registry proxy may live in this process). */
export async function profileRun(bundle: string, input: string, env: NodeJS.ProcessEnv = process.env): Promise<ProfileSummary> {
  const dir = mkdtempSync(join(tmpdir(), "krm-digester-prof-"));
  try {
    const stdin = openSync(input, "r");
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, ["--cpu-prof", "--cpu-prof-dir", dir, bundle], { stdio: [stdin, "ignore", "ignore"], env });
      child.on("error", reject);
      child.on("close", resolve);
    });
    closeSync(stdin);
    if (code !== 0 && code !== 1) throw new Error(`profiled run of ${bundle} < ${input} exited with ${code}`);
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new Error("node wrote no .cpuprofile");
    return summarise(JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile, bundle);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const topAt = args.indexOf("--top");
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 25;
  const target = args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--top");
  if (!target) {
    process.stderr.write("usage: profile.js INPUT.yaml|PROFILE.cpuprofile [--top N] [--bundle dist/krm-digester]\n");
    process.exit(2);
  }
  const bundleAt = args.indexOf("--bundle");
  const bundle = bundleAt >= 0 ? args[bundleAt + 1]! : "dist/krm-digester";
  const summary = target.endsWith(".cpuprofile")
    ? summarise(JSON.parse(readFileSync(target, "utf8")) as CpuProfile, bundle)
    : await profileRun(bundle, target);
  process.stdout.write(format(summary, top) + "\n");
}
