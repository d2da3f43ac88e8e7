// Docker credential helpers: `docker-credential-<name> get` with the server
// URL on stdin answers {"ServerURL","Username","Secret"} on stdout. Each
// (helper, server) is asked at most once per run, with a deadline. Failures
// name the helper, its exit code and the first line of its stderr (or of its
// stdout, where such helpers print errors, unless it looks like JSON); an
// answer's content never reaches a message.
import { spawn } from "node:child_process";
import type { Credential } from "../registry/credentials.js";
import { quoteShort } from "../registry/text.js";

export class HelperError extends Error {
  override readonly name = "HelperError";
}

/** What helpers print (on stdout, exit 1) when they have nothing for the server. */
const NOT_FOUND = /credentials not found/i;
const MAX_OUTPUT_BYTES = 1024 * 1024;
/** What docker accepts as a helper name, and short enough to be a file name (spawn fails on a longer one). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export interface HelperOptions {
  /** Deadline for one helper call, in ms. */
  readonly timeoutMs: number;
  /** Environment of the helper process (PATH finds it). */
  readonly env?: NodeJS.ProcessEnv;
}

export class CredentialHelpers {
  private readonly calls = new Map<string, Promise<Credential | undefined>>();

  constructor(private readonly options: HelperOptions) {}

  /** The credential helper `name` holds for `serverUrl`, or undefined when it has none. Throws HelperError. */
  get(name: string, serverUrl: string): Promise<Credential | undefined> {
    const key = `${name}\n${serverUrl}`;
    let call = this.calls.get(key);
    if (!call) {
      // Failures are cached too: a broken helper is not run again for every image.
      call = this.run(name, serverUrl);
      this.calls.set(key, call);
    }
    return call;
  }

  private async run(name: string, serverUrl: string): Promise<Credential | undefined> {
    const program = `docker-credential-${name}`;
    if (!NAME.test(name)) throw new HelperError(`${quoteShort(program)} is not a valid credential helper name`);
    const { code, stdout, stderr, spawnError, timedOut, overflow } = await execute(program, serverUrl, this.options);
    if (spawnError !== undefined) {
      const missing = (spawnError as NodeJS.ErrnoException).code === "ENOENT";
      throw new HelperError(missing ? `${program} is not installed (not found on PATH)` : `${program} could not be started: ${spawnError.message}`);
    }
    if (timedOut) throw new HelperError(`${program} did not answer within ${seconds(this.options.timeoutMs)}`);
    if (overflow) throw new HelperError(`${program} get printed more than ${MAX_OUTPUT_BYTES / 1024 / 1024} MiB and was stopped`);
    if (code !== 0) {
      if (NOT_FOUND.test(stdout) || NOT_FOUND.test(stderr)) return undefined;
      // Helpers built on docker-credential-helpers print their errors on stdout; a JSON line there may be a secret.
      const fromStdout = firstLine(stdout);
      const why = firstLine(stderr) || (fromStdout.startsWith("{") ? "" : fromStdout);
      const how = code === null ? "was killed" : `failed with exit code ${code}`;
      throw new HelperError(`${program} get ${how}${why ? `: ${why}` : ""}`);
    }
    return parseAnswer(stdout, program);
  }
}

/** `Username` "<token>" marks the Secret as an identity (refresh) token, as docker reads it. */
export function parseAnswer(stdout: string, program: string): Credential | undefined {
  let answer: unknown;
  try {
    answer = JSON.parse(stdout);
  } catch {
    // JSON.parse quotes the text it failed on: the secret must not end up in the message.
    throw new HelperError(`${program} get did not answer with JSON`);
  }
  if (typeof answer !== "object" || answer === null || Array.isArray(answer)) throw new HelperError(`${program} get did not answer with a JSON object`);
  const { Username: username, Secret: secret } = answer as Record<string, unknown>;
  for (const [name, value] of [["Username", username], ["Secret", secret]] as const) {
    if (value !== undefined && value !== null && typeof value !== "string") throw new HelperError(`${program} get answered with a "${name}" that is not a string`);
  }
  if (typeof secret !== "string" || secret === "") return undefined;
  if (username === "<token>") return { kind: "identityToken", token: secret };
  return { kind: "basic", username: typeof username === "string" ? username : "", password: secret };
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function firstLine(text: string): string {
  const line = text.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  spawnError?: Error;
  timedOut: boolean;
  /** It printed more than MAX_OUTPUT_BYTES and was killed. */
  overflow: boolean;
}

function execute(program: string, input: string, options: HelperOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    // Its own process group, so that a deadline also ends whatever the helper started (and holds our pipes).
    const child = spawn(program, ["get"], { env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let overflow = false;
    let spawnError: Error | undefined;
    let settled = false;
    const finish = (code: number | null, timedOut: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const outcome: Outcome = { code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), timedOut, overflow };
      if (spawnError) outcome.spawnError = spawnError;
      resolve(outcome);
    };
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT_BYTES) {
        overflow = true;
        kill();
      } else into.push(chunk);
    };
    child.stdout.on("data", collect(out));
    child.stderr.on("data", collect(err));
    const timer = setTimeout(() => {
      kill();
      child.stdout.destroy();
      child.stderr.destroy();
      finish(null, true);
    }, options.timeoutMs);
    child.on("error", (error) => {
      spawnError = error;
      finish(null, false);
    });
    // A helper that exits without reading stdin makes the write fail with EPIPE: that is its answer, not ours.
    child.stdin.on("error", () => {});
    child.stdin.end(input);
    child.on("close", (code) => finish(code, false));
  });
}
