// Running one command the way kpt does (ResourceList file on stdin, stdout
// captured) and measuring it: wall time from spawn to exit, peak RSS from
// /usr/bin/time, exit code and stderr.
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync } from "node:fs";

export interface RunResult {
  readonly wallMs: number;
  /** Peak resident set size of the process, KiB (GNU time's %M). */
  readonly rssKb: number;
  /** User + system CPU time, ms (GNU time's %U + %S): steadier than wall time on a busy machine. */
  readonly cpuMs: number;
  readonly code: number | null;
  readonly stderr: string;
}

export interface RunOptions {
  /** File fed to stdin; /dev/null when absent. */
  readonly stdinFile?: string;
  /** Where stdout goes; /dev/null when absent. */
  readonly stdoutFile?: string;
  readonly env: NodeJS.ProcessEnv;
  /** Scratch file for /usr/bin/time's report. */
  readonly timeFile: string;
}

export function run(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const stdin = openSync(options.stdinFile ?? "/dev/null", "r");
  const stdout = openSync(options.stdoutFile ?? "/dev/null", "w");
  rmSync(options.timeFile, { force: true });
  return new Promise<RunResult>((resolve, reject) => {
    const started = performance.now();
    const child = spawn("/usr/bin/time", ["-f", "%M %U %S", "-o", options.timeFile, command, ...args], {
      stdio: [stdin, stdout, "pipe"],
      env: options.env,
    });
    const err: Buffer[] = [];
    child.stderr?.on("data", (c: Buffer) => err.push(c));
    child.on("error", reject);
    child.on("close", (code) => {
      const wallMs = performance.now() - started;
      closeSync(stdin);
      closeSync(stdout);
      // GNU time writes "Command exited with non-zero status N" before the figure when the command fails.
      const report = readFileSync(options.timeFile, "utf8").trim().split("\n");
      const [rss, user, sys] = (report[report.length - 1] ?? "").split(" ").map(Number);
      resolve({
        wallMs,
        rssKb: rss !== undefined && Number.isFinite(rss) ? rss : 0,
        cpuMs: ((user ?? 0) + (sys ?? 0)) * 1000,
        code,
        stderr: Buffer.concat(err).toString(),
      });
    });
  });
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
