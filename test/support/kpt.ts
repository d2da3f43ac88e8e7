// kpt, where installed. Tests that need it skip loudly where it is missing;
// they are never the only tests of a feature.
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

function which(command: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export const KPT = which("kpt");
export const KUBECTL = which("kubectl");

/** The skip reason for node:test, printed loudly on stderr too. */
export function skipWithout(tool: "kpt" | "kubectl"): string | false {
  if ((tool === "kpt" ? KPT : KUBECTL) !== undefined) return false;
  const reason = `SKIPPED: ${tool} is not installed on this machine; these checks did not run`;
  process.stderr.write(`\n*** ${reason} ***\n\n`);
  return reason;
}

export interface KptRun {
  stdout: string;
  stderr: string;
  code: number;
}

export async function kpt(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<KptRun> {
  try {
    const { stdout, stderr } = await run(KPT ?? "kpt", [...args], { cwd: options.cwd, env: options.env ?? process.env, maxBuffer: 256 * 1024 * 1024 });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? "", stderr: e.stderr ?? "", code: typeof e.code === "number" ? e.code : 1 };
  }
}
