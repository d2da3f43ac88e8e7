// `krm-digester pin PATH...`: files mode for users without kpt. Arguments in,
// files pinned in place (or checked, or a diff printed), an exit code out.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from "diff";
import { parseDocument } from "yaml";
import { parseConfig } from "../config.js";
import type { DigesterOptions, Mode } from "../config.js";
import type { ClosableSource } from "../function.js";
import { homedir } from "node:os";
import { ArtifactsError, NO_ARTIFACTS, readBuildArtifacts } from "../artifacts/build-artifacts.js";
import type { BuildArtifacts } from "../artifacts/build-artifacts.js";
import { declaredArtifacts } from "../artifacts/skaffold-config.js";
import { inContainer, persistentCache } from "../sources/package-run.js";
import { findFilesLock, lockChange, newLockPath } from "./files-lock.js";
import type { FilesLock } from "./files-lock.js";
import { ModeSource } from "../sources/mode-source.js";
import { formatResult } from "../results.js";
import { imageDigests, KustomizationError, setImages } from "./kustomize-images.js";
import { pinFiles, readYamlFiles } from "./pin-files.js";
import type { FileResult, YamlFile } from "./pin-files.js";
import { PathError, yamlFiles } from "./walk.js";
import { writeInPlace } from "./write.js";

/** Request counts of the registry client, for the summary line. */
export interface RequestStats {
  readonly head: number;
  readonly get: number;
  readonly token: number;
  readonly retries: number;
  readonly mirrored: number;
}

export interface FilesDeps {
  /** The registry, as the function opens it (credentials, network, mirrors). */
  readonly openRegistry: (options: DigesterOptions) => ClosableSource & { readonly stats?: RequestStats };
  readonly cwd: string;
  /** For the cache directory ($KRM_DIGESTER_CACHE_DIR, $XDG_CACHE_HOME, ~/.cache). */
  readonly env?: NodeJS.ProcessEnv;
  readonly home?: string;
  readonly stdout: (text: string) => Promise<void>;
  readonly stderr: (text: string) => void;
  /** How often a long run says how far it got on stderr; default every 2 s. */
  readonly progressEveryMs?: number;
}

export const PIN_USAGE = `Usage: krm-digester pin [--check] [--diff] [--config FILE] PATH...
  Pins the images in YAML files in place: files named, and *.yaml / *.yml files under
  directories named (recursively; hidden directories and node_modules are skipped).
  Multi-document files are fine; only image values change, every other byte stays.
  --check        no network, change nothing: exit 1 listing every image not pinned (file:line)
  --diff         print a unified diff of what would change instead of writing
  --config FILE  a function config (ConfigMap or DigesterConfig), as for the function
`;

/** A bad command line: one line on stderr, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

interface PinArgs {
  check: boolean;
  diff: boolean;
  config: string | undefined;
  paths: string[];
}

export function parsePinArgs(args: readonly string[]): PinArgs {
  const out: PinArgs = { check: false, diff: false, config: undefined, paths: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--") {
      out.paths.push(...args.slice(i + 1));
      break;
    }
    if (arg === "--check") out.check = true;
    else if (arg === "--diff") out.diff = true;
    else if (arg === "--config" || arg.startsWith("--config=")) {
      const value = arg === "--config" ? args[++i] : arg.slice("--config=".length);
      if (value === undefined || value === "") throw new UsageError("pin: --config needs a file (a ConfigMap or DigesterConfig)");
      out.config = value;
    } else if (arg.startsWith("-") && arg !== "-") throw new UsageError(`pin: unknown option ${JSON.stringify(arg)} (see krm-digester pin --help)`);
    else out.paths.push(arg);
  }
  if (out.paths.length === 0) throw new UsageError("pin: name at least one file or directory (see krm-digester pin --help)");
  if (out.check && out.diff) throw new UsageError("pin: --check and --diff do not go together (--check changes nothing and shows no diff)");
  return out;
}

/** Reads a function config file; its problems are a UsageError naming the file and the key. */
export async function readConfigFile(file: string, cwd: string): Promise<DigesterOptions> {
  let text: string;
  try {
    text = await readFile(resolve(cwd, file), "utf8");
  } catch (error) {
    throw new UsageError(`--config ${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const document = parseDocument(text, { prettyErrors: true });
  const error = document.errors[0];
  if (error) throw new UsageError(`--config ${file}: not valid YAML: ${error.message.split("\n")[0] ?? error.code}`);
  const parsed = parseConfig(document.contents ?? undefined, document);
  const problem = parsed.problems[0];
  if (problem) throw new UsageError(`--config ${file}: ${problem.field}: ${problem.message}`);
  return parsed.options;
}

export async function pinCommand(args: readonly string[], deps: FilesDeps): Promise<number> {
  const started = performance.now();
  if (args.includes("--help") || args.includes("-h")) {
    await deps.stdout(PIN_USAGE);
    return 0;
  }
  const parsed = parsePinArgs(args);
  const options = parsed.config === undefined ? (parseConfig(undefined, parseDocument("")).options) : await readConfigFile(parsed.config, deps.cwd);
  const mode: Mode = parsed.check ? "check" : options.mode;
  let paths: string[];
  try {
    paths = await yamlFiles(parsed.paths, deps.cwd);
  } catch (error) {
    if (error instanceof PathError) throw new UsageError(`pin: ${error.message}`);
    throw error;
  }
  const read = await readYamlFiles(paths, deps.cwd);
  const { lock, problems: lockProblems } = findFilesLock(read.files);
  const opened = await openSources(options, mode, deps, lock, read.files);
  // Progress for long runs, every two seconds on stderr.
  let done = 0;
  const ticker = setInterval(() => deps.stderr(`krm-digester: ${done} of ${read.files.length} files done\n`), deps.progressEveryMs ?? 2000);
  ticker.unref();
  let report;
  let warnings: string[];
  try {
    report = await pinFiles(read.files, options, opened.source, (n) => (done = n));
  } finally {
    clearInterval(ticker);
    warnings = await opened.close();
  }
  const changes = [...report.changes];
  if (options.lock && mode === "pin") {
    const change = lockChange(read.files, lock, opened.source, await newLockPath(parsed.paths, deps.cwd), deps.cwd, options.fieldSpecs);
    if (change) changes.push(change);
  }
  const results: FileResult[] = [...read.results, ...lockProblems, ...report.results, ...warnings.map((w): FileResult => ({ severity: "warning", message: w }))];
  if (parsed.diff) {
    const patches = changes.map(({ file, after }) =>
      createTwoFilesPatch(`a/${file.display}`, `b/${file.display}`, file.text, after, undefined, undefined, { headerOptions: FILE_HEADERS_ONLY }),
    );
    await deps.stdout(patches.join(""));
  } else if (mode !== "check") {
    for (const { file, after } of changes) await writeInPlace(file.path, after);
  }
  for (const r of byPlace(results)) if (r.severity !== "info") deps.stderr(`krm-digester: ${placed(r)}\n`);
  const errors = results.filter((r) => r.severity === "error").length;
  const { fields, pinned, unique } = report.stats;
  const verb = parsed.diff ? "would change" : mode === "check" ? "checked" : "changed";
  const changed = mode === "check" ? `${read.files.length + read.results.length} files checked` : `${changes.length} of ${paths.length} files ${verb}`;
  deps.stderr(`krm-digester: ${changed}\n`);
  const s = opened.stats();
  const extra = s ? [s.retries ? `${s.retries} retried` : "", s.mirrored ? `${s.mirrored} through mirrors` : ""].filter(Boolean) : [];
  const requests = s ? ` (${s.head} HEAD, ${s.get} GET, ${s.token} token requests${extra.map((e) => `, ${e}`).join("")})` : "";
  deps.stderr(
    `krm-digester: ${pinned} of ${fields} image fields pinned, ${unique} unique references resolved${requests}, ` +
      `${errors} error${errors === 1 ? "" : "s"}, ${Math.round(performance.now() - started)} ms\n`,
  );
  return errors > 0 ? 1 : 0;
}

/** The digest source of a files run: build artifacts, the lock (frozen), the cache (cacheTTL), the registry last. */
async function openSources(
  options: DigesterOptions,
  mode: Mode,
  deps: FilesDeps,
  lock: FilesLock | undefined,
  files: readonly YamlFile[],
): Promise<{ source: ModeSource; stats: () => RequestStats | undefined; close: () => Promise<string[]> }> {
  let artifacts: BuildArtifacts = NO_ARTIFACTS;
  try {
    if (options.buildArtifacts.length > 0) artifacts = await readBuildArtifacts(options.buildArtifacts, deps.cwd, inContainer(deps.env ?? process.env));
  } catch (error) {
    if (error instanceof ArtifactsError) throw new UsageError(error.message);
    throw error;
  }
  const env = deps.env ?? process.env;
  const { cache, warning } = persistentCache(options, mode, { env, home: deps.home ?? homedir() });
  let registry: ReturnType<FilesDeps["openRegistry"]> | undefined;
  const source = new ModeSource({
    mode,
    artifacts,
    declared: declaredArtifacts(files.flatMap((f) => f.documents.map((document) => ({ item: document.contents, document, file: f.display })))),
    format: options.format,
    cache,
    lock: lock && { entries: lock.found.entries, file: lock.file.display },
    registry: () => (registry = deps.openRegistry(options)),
  });
  return {
    source,
    stats: () => registry?.stats,
    close: async () => {
      await registry?.close();
      await cache?.prune();
      return [...(warning ? [warning] : []), ...(cache?.warnings.map((w) => `cacheTTL: ${w}`) ?? [])];
    },
  };
}

/** `krm-digester pin …` and `krm-digester images …`: a bad command line is one line on stderr and exit 2. */
export async function runFilesCommand(command: "pin" | "images", args: readonly string[], deps: FilesDeps): Promise<number> {
  try {
    return await (command === "pin" ? pinCommand(args, deps) : imagesCommand(args, deps));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    deps.stderr(`krm-digester: ${error.message}\n`);
    return 2;
  }
}

/** Results in file order, then line order within a file (the walk visits containers before initContainers). */
function byPlace(results: readonly FileResult[]): FileResult[] {
  return results
    .map((r, i) => ({ r, i }))
    .sort((a, b) => {
      const fa = a.r.file?.path;
      const fb = b.r.file?.path;
      if (fa === undefined || fb === undefined || fa !== fb) return a.i - b.i;
      return (a.r.line ?? 0) - (b.r.line ?? 0) || a.i - b.i;
    })
    .map(({ r }) => r);
}

/** "path:line: error: Kind ns/name field: message", the form editors and pre-commit users read. */
function placed(result: FileResult): string {
  const { file, line, ...rest } = result;
  const at = file ? `${file.path}${line !== undefined ? `:${line}` : ""}: ` : "";
  return at + formatResult(rest);
}

export const IMAGES_USAGE = `Usage: krm-digester images --kustomization FILE [--config FILE] PATH...
  Resolves every image used in the YAML files under PATH and writes them into the
  kustomization FILE as images: entries (name and digest), as kustomize edit set image
  does; the resources are not changed. kustomize build then applies the digests.
  Resolved as pin resolves them: pull secrets among the files, skip rules, buildArtifacts
  (a placeholder's entry gets newName), the DigestLock in mode: frozen.
  --kustomization FILE  the kustomization.yaml to write (it must exist)
  --config FILE         a function config (ConfigMap or DigesterConfig), as for the function
`;

export async function imagesCommand(args: readonly string[], deps: FilesDeps): Promise<number> {
  const started = performance.now();
  if (args.includes("--help") || args.includes("-h")) {
    await deps.stdout(IMAGES_USAGE);
    return 0;
  }
  let kustomization: string | undefined;
  let config: string | undefined;
  const paths: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    const value = (flag: string): string => {
      const v = arg === flag ? args[++i] : arg.slice(flag.length + 1);
      if (v === undefined || v === "") throw new UsageError(`images: ${flag} needs a file`);
      return v;
    };
    if (arg === "--kustomization" || arg.startsWith("--kustomization=")) kustomization = value("--kustomization");
    else if (arg === "--config" || arg.startsWith("--config=")) config = value("--config");
    else if (arg === "--") {
      paths.push(...args.slice(i + 1));
      break;
    }
    else if (arg.startsWith("-")) throw new UsageError(`images: unknown option ${JSON.stringify(arg)} (see krm-digester images --help)`);
    else paths.push(arg);
  }
  if (kustomization === undefined) throw new UsageError("images: --kustomization FILE is required (the kustomization.yaml to write the images into)");
  if (paths.length === 0) throw new UsageError("images: name at least one file or directory holding the resources (see krm-digester images --help)");
  const options = config === undefined ? parseConfig(undefined, parseDocument("")).options : await readConfigFile(config, deps.cwd);
  const kustomizationPath = resolve(deps.cwd, kustomization);
  let text: string;
  try {
    text = await readFile(kustomizationPath, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`images: --kustomization ${kustomization} ${code === "ENOENT" ? "does not exist (create it first, e.g. kustomize create)" : `cannot be read (${code ?? String(error)})`}`);
  }
  let files: string[];
  try {
    files = (await yamlFiles(paths, deps.cwd)).filter((f) => f !== kustomizationPath);
  } catch (error) {
    if (error instanceof PathError) throw new UsageError(`images: ${error.message}`);
    throw error;
  }
  const read = await readYamlFiles(files, deps.cwd);
  if (options.mode === "check") throw new UsageError("images: mode: check writes nothing; use krm-digester pin --check to check, or mode: pin / frozen here");
  const { lock, problems: lockProblems } = findFilesLock(read.files);
  const opened = await openSources(options, options.mode, deps, lock, read.files);
  let found;
  let warnings: string[];
  try {
    found = await imageDigests(read.files, options, opened.source);
  } finally {
    warnings = await opened.close();
  }
  const results: FileResult[] = [...read.results, ...lockProblems, ...found.results, ...warnings.map((w): FileResult => ({ severity: "warning", message: w }))];
  const errors = results.filter((r) => r.severity === "error").length;
  for (const r of results) deps.stderr(`krm-digester: ${placed(r)}\n`);
  if (errors === 0) {
    let updated;
    try {
      updated = setImages(text, kustomization, found.digests);
    } catch (error) {
      if (error instanceof KustomizationError) throw new UsageError(`images: ${error.message}`);
      throw error;
    }
    for (const w of updated.warnings) deps.stderr(`krm-digester: warning: ${w}\n`);
    if (updated.text !== text) await writeInPlace(kustomizationPath, updated.text);
  }
  const s = opened.stats();
  const requests = s ? ` (${s.head} HEAD, ${s.get} GET, ${s.token} token requests)` : "";
  deps.stderr(
    `krm-digester: ${errors === 0 ? found.digests.size : 0} images written to ${kustomization}, ${found.unique} unique references resolved${requests}, ` +
      `${errors} error${errors === 1 ? "" : "s"}${errors > 0 ? ` (${kustomization} was not changed)` : ""}, ${Math.round(performance.now() - started)} ms\n`,
  );
  return errors > 0 ? 1 : 0;
}
