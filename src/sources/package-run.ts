// What mode, lock, buildArtifacts and cacheTTL mean for one run over one
// package (a ResourceList): the digest source to pin with, the problems to
// report first, and, after pinning, the edit that writes the DigestLock.
// The function calls this around the core; it never opens the registry
// itself (check and frozen runs open no connection at all).
import { homedir } from "node:os";
import type { Document, Node } from "yaml";
import { ArtifactsError, NO_ARTIFACTS, readBuildArtifacts } from "../artifacts/build-artifacts.js";
import type { BuildArtifacts } from "../artifacts/build-artifacts.js";
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
      artifacts = await readBuildArtifacts(options.buildArtifacts, environment.cwd);
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
  const cache =
    options.cacheTtlMs !== undefined && options.mode === "pin"
      ? new DigestCache({ dir: cacheDirectory(environment.env, environment.home), ttlMs: options.cacheTtlMs })
      : undefined;
  let registry: ClosableDigestSource | undefined;
  const source = new ModeSource({
    mode: options.mode,
    artifacts,
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
