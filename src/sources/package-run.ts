// What mode, lock, buildArtifacts and cacheTTL mean for one run over one
// package (a ResourceList): the digest source to pin with, the problems to
// report first, and, after pinning, the edit that writes the DigestLock.
// The function calls this around the core; it never opens the registry
// itself (check and frozen runs open no connection at all).
import { homedir } from "node:os";
import type { Document, Node } from "yaml";
import { ArtifactsError, NO_ARTIFACTS, readBuildArtifacts } from "../artifacts/build-artifacts.js";
import type { BuildArtifacts } from "../artifacts/build-artifacts.js";
import { declaredArtifacts } from "../artifacts/skaffold-config.js";
import { DigestCache, cacheDirectory } from "../cache/digest-cache.js";
import type { DigesterOptions } from "../config.js";
import { lockEdit, packageLock, usedReferences } from "../lock/package-lock.js";
import { parseReference } from "../name/reference.js";
import type { TextEdit } from "../resourcelist/edits.js";
import type { DigestSource } from "../resolve.js";
import type { Result } from "../results.js";
import { ModeSource } from "./mode-source.js";

export interface ClosableDigestSource extends DigestSource {
  close(): Promise<void>;
}

export interface PackageInput {
  /** The text edits apply to. */
  readonly source: string;
  readonly document: Document.Parsed;
  /** The `items` node (a block list), where a new DigestLock item goes. */
  readonly itemsNode: Node | undefined;
  readonly items: readonly unknown[];
}

export interface RunEnvironment {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly home: string;
}

export interface PackageRun {
  /** Where digests come from in this run. */
  readonly source: ModeSource;
  /** Errors and warnings found before pinning (a bad lock, an unreadable build artifacts file). */
  readonly problems: Result[];
  /** A problem that means nothing should be resolved (like a bad config). */
  readonly fatal: boolean;
  /** After pinning: the lock edit (lock: true, mode: pin) and warnings (cache); closes what was opened. */
  finish(): Promise<{ edit: TextEdit | undefined; results: Result[] }>;
}

/** The container image says so (Dockerfile: KRM_DIGESTER_IN_CONTAINER=1). */
export function inContainer(env: NodeJS.ProcessEnv): boolean {
  return env.KRM_DIGESTER_IN_CONTAINER === "1";
}

/**
 * The persistent cache of a run with cacheTTL (pin mode only). In a container,
 * `~/.cache` is the container's own and gone when it ends (for the image's user,
 * nobody, it is /nonexistent): the cache is used only where the user pointed it
 * (KRM_DIGESTER_CACHE_DIR or XDG_CACHE_HOME, at a mounted directory), else the
 * run goes on without it and a warning says how to mount one.
 */
export function persistentCache(
  options: Pick<DigesterOptions, "cacheTtlMs"> & Partial<Pick<DigesterOptions, "platform">>,
  mode: DigesterOptions["mode"],
  environment: Pick<RunEnvironment, "env" | "home">,
): { cache: DigestCache | undefined; warning: string | undefined } {
  if (options.cacheTtlMs === undefined || mode !== "pin") return { cache: undefined, warning: undefined };
  const { env, home } = environment;
  if (inContainer(env) && !env.KRM_DIGESTER_CACHE_DIR && !env.XDG_CACHE_HOME) {
    return {
      cache: undefined,
      warning:
        "cacheTTL: the function runs in a container, whose own files are gone when it ends, so no cache was used; mount a directory for it and set KRM_DIGESTER_CACHE_DIR " +
        "to the mounted path, e.g. kpt fn eval DIR --image IMAGE --network --as-current-user --mount type=bind,src=$HOME/.cache/krm-digester,dst=/cache,rw=true " +
        "--env KRM_DIGESTER_CACHE_DIR=/cache (the directory must be writable by the container's user)",
    };
  }
  return { cache: new DigestCache({ dir: cacheDirectory(env, home), ttlMs: options.cacheTtlMs, platform: options.platform }), warning: undefined };
}

const hostEnvironment = (): RunEnvironment => ({ cwd: process.cwd(), env: process.env, home: homedir() });

export async function openPackageRun(
  input: PackageInput,
  options: DigesterOptions,
  openRegistry: () => ClosableDigestSource,
  environment: RunEnvironment = hostEnvironment(),
): Promise<PackageRun> {
  const problems: Result[] = [];
  let fatal = false;
  let artifacts: BuildArtifacts = NO_ARTIFACTS;
  if (options.buildArtifacts.length > 0) {
    try {
      artifacts = await readBuildArtifacts(options.buildArtifacts, environment.cwd, inContainer(environment.env));
    } catch (error) {
      if (!(error instanceof ArtifactsError)) throw error;
      problems.push({ severity: "error", message: `functionConfig: ${error.message}`, field: { path: "functionConfig.buildArtifacts" } });
      fatal = true;
    }
  }
  const { lock, problems: lockProblems } = packageLock(input.items, input.document);
  for (const p of lockProblems) {
    const result: Result = { message: p.message, severity: "error", resourceRef: p.resourceRef, field: { path: p.field } };
    if (p.file) result.file = p.file;
    problems.push(result);
  }
  const { cache, warning } = persistentCache(options, options.mode, environment);
  if (warning) problems.push({ severity: "warning", message: warning, field: { path: "functionConfig.cacheTTL" } });
  let registry: ClosableDigestSource | undefined;
  const source = new ModeSource({
    mode: options.mode,
    artifacts,
    declared: declaredArtifacts(input.items.map((item) => ({ item, document: input.document }))),
    format: options.format,
    lock: lock && { entries: lock.entries, file: lock.file?.path },
    cache,
    registry: () => (registry = openRegistry()),
  });
  return {
    source,
    problems,
    fatal,
    finish: async () => {
      await registry?.close();
      const results: Result[] = [];
      if (cache) {
        await cache.prune();
        for (const w of cache.warnings) results.push({ severity: "warning", message: `cacheTTL: ${w}` });
      }
      // frozen never writes the lock (like npm ci), check writes nothing.
      if (!options.lock || options.mode !== "pin" || fatal) return { edit: undefined, results };
      const used = usedReferences(input.items, input.document, (node) => source.lockOutcome(parseReference(String(node.value))), options.fieldSpecs);
      const { edit } = lockEdit(input.source, input.itemsNode, lock, used);
      return { edit, results };
    },
  };
}
