// The container image for tests that run the function through podman (kpt
// --image, Kptfile image: steps, kustomize container: functions). No Docker
// engine runs on this project's machines: podman does, with the project's
// containers.conf (runc, no default ulimits), and a `docker` shim on PATH
// stands in for kustomize's `docker run`.
import { execFile, execFileSync } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT } from "./run-fn.js";

const run = promisify(execFile);

// KRM_DIGESTER_TEST_IMAGE: another tag, so that checkouts testing side by side on one
// machine do not rebuild one shared tag under each other's feet.
export const IMAGE = process.env.KRM_DIGESTER_TEST_IMAGE ?? "localhost/krm-digester:dev";

/** A shipped config or Kptfile that names the default tag, made to name IMAGE. */
export function withTestImage(text: string): string {
  return text.replaceAll("localhost/krm-digester:dev", IMAGE);
}
export const CONTAINERS_CONF = join(ROOT, "containers", "containers.conf");

/** process.env plus what podman needs here, and kpt told to use podman. */
export function containerEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  return { ...process.env, CONTAINERS_CONF, KPT_FN_RUNTIME: "podman", ...extra };
}

let ensured: Promise<void> | undefined;

/**
 * Builds IMAGE when it is missing or stale (test/support/ensure-image.sh),
 * once per process; other test files wait on the script's lock.
 */
export function ensureImage(): Promise<void> {
  ensured ??= (async () => {
    const started = Date.now();
    try {
      const { stderr } = await run("bash", [join(ROOT, "test", "support", "ensure-image.sh"), IMAGE], {
        env: containerEnv(),
        maxBuffer: 64 * 1024 * 1024,
      });
      const last = stderr.trim().split("\n").at(-1) ?? "";
      process.stderr.write(`${last} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    } catch (error) {
      const e = error as { stderr?: string; message?: string };
      throw new Error(`building ${IMAGE} failed:\n${(e.stderr ?? e.message ?? String(error)).trimEnd().split("\n").slice(-40).join("\n")}`);
    }
  })();
  return ensured;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a command to completion; a non-zero exit is a result, not an exception. */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<RunResult> {
  const child = execFile(command, [...args], { cwd: options.cwd, env: options.env ?? process.env, maxBuffer: 256 * 1024 * 1024 });
  const out = new Promise<RunResult>((resolve) => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    child.stdout?.on("data", (c: string) => stdout.push(c));
    child.stderr?.on("data", (c: string) => stderr.push(c));
    child.on("error", (err) => stderr.push(`${command}: ${err.message}\n`)); // e.g. ENOENT; "close" follows
    child.on("close", (code) => resolve({ stdout: stdout.join(""), stderr: stderr.join(""), code: code ?? 1 }));
  });
  child.stdin?.end(options.input ?? "");
  return out;
}

/**
 * A directory to put first on PATH whose `docker` runs podman (kubectl's
 * kustomize runs container functions with `docker run`), logging each call's
 * arguments to `log` so tests can see the flags kustomize chose.
 */
export interface DockerShim {
  readonly dir: string;
  readonly log: string;
  /** The logged `docker …` lines so far. */
  calls(): Promise<string[]>;
  remove(): Promise<void>;
}

export async function dockerShim(): Promise<DockerShim> {
  const dir = await mkdtemp(join(tmpdir(), "krm-digester-docker-shim-"));
  const log = join(dir, "calls.log");
  const podman = execFileSync("sh", ["-c", "command -v podman"], { encoding: "utf8" }).trim();
  const script = [
    "#!/bin/sh",
    "# docker -> podman, for kubectl kustomize's container functions",
    `export CONTAINERS_CONF="\${CONTAINERS_CONF:-${CONTAINERS_CONF}}"`,
    `printf 'docker %s\\n' "$*" >> '${log}'`,
    `exec '${podman}' "$@"`,
    "",
  ].join("\n");
  await writeFile(join(dir, "docker"), script);
  await chmod(join(dir, "docker"), 0o755);
  return {
    dir,
    log,
    calls: async () => (await readFile(log, "utf8").catch(() => "")).split("\n").filter(Boolean),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** PATH with `dir` first. */
export function pathWith(dir: string, env: NodeJS.ProcessEnv = process.env): string {
  return `${dir}:${env.PATH ?? ""}`;
}
