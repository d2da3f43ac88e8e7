// Runs the built function (dist/krm-digester) as kpt would: ResourceList on
// stdin, captured stdout, stderr and exit code.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The repository root (tests run from build/test/...). */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const BUNDLE = `${ROOT}dist/krm-digester`;
export const STANDALONE = `${ROOT}dist/krm-digester-linux-x64`;

export interface FnRun {
  stdout: string;
  stderr: string;
  code: number | null;
}

export function runFn(input: string, options: { bin?: string; args?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<FnRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.bin ?? BUNDLE, options.args ?? [], { env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), code }));
    child.stdin.end(input);
  });
}
