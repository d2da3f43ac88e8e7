// Build outputs: what `skaffold build --file-output=FILE` (and skaffold's ko
// builder) writes, {"builds":[{"imageName":"app","tag":"REPO/app:TAG@sha256:…"}]}.
// An image field that is an artifact's bare imageName is a placeholder for its
// tag, as `skaffold render --build-artifacts` treats it; a tag that carries a
// digest pins that repo:tag without asking a registry.
import { readFile } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { lockKey } from "../lock/digest-lock.js";
import { InvalidReferenceError, parseReference, repositoryKey } from "../name/reference.js";
import type { ImageReference } from "../name/reference.js";

export interface Artifact {
  readonly imageName: string;
  /** The built image as skaffold wrote it: `REPO/app:TAG@sha256:…`, or without a digest for a build that was not pushed. */
  readonly tag: string;
  /** The file it came from, as given in `buildArtifacts`. */
  readonly file: string;
}

export interface BuildArtifacts {
  /** Canonical `registry/repository` of each imageName -> its artifact. */
  readonly placeholders: ReadonlyMap<string, Artifact>;
  /** Canonical repo:tag of each artifact whose tag has a digest -> that digest. */
  readonly digests: ReadonlyMap<string, { readonly digest: string; readonly artifact: Artifact }>;
  /** The files read, as given in `buildArtifacts`. */
  readonly files: readonly string[];
}

export const NO_ARTIFACTS: BuildArtifacts = { placeholders: new Map(), digests: new Map(), files: [] };

/** A build-artifacts file that cannot be used: the message names the file and what to do. */
export class ArtifactsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArtifactsError";
  }
}

/**
 * Reads every file (relative to `cwd`, the working directory) and merges them;
 * throws ArtifactsError. `inContainer`: the message for a missing file says how
 * to mount it (a container function sees only what is mounted).
 */
export async function readBuildArtifacts(files: readonly string[], cwd: string, inContainer = false): Promise<BuildArtifacts> {
  const all: Artifact[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(resolve(cwd, file), "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "does not exist" : code === "EISDIR" ? "is a directory" : `cannot be read (${code ?? String(error)})`;
      const fix = inContainer
        ? `the function runs in a container, which sees only what is mounted: mount the file and name it as mounted, e.g. ` +
          `kpt fn eval DIR --image IMAGE --mount type=bind,src=$PWD/${basename(file)},dst=/${basename(file)} -- buildArtifacts=/${basename(file)} ` +
          `(a Kptfile image: step cannot mount files: run the function as an exec: step there)`
        : `write it with skaffold build --file-output=${file}, or fix the path`;
      throw new ArtifactsError(`buildArtifacts: ${file} ${why} (paths are relative to the working directory, ${cwd}); ${fix}`);
    }
    all.push(...parseBuildArtifacts(text, file));
  }
  return mergeArtifacts(all, files);
}

/** The artifacts in one file's text; throws ArtifactsError naming the file and the entry. */
export function parseBuildArtifacts(text: string, file: string): Artifact[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ArtifactsError(`buildArtifacts: ${file} is not JSON (${(error as Error).message}); expected what skaffold build --file-output writes`);
  }
  const builds = typeof data === "object" && data !== null && !Array.isArray(data) ? (data as { builds?: unknown }).builds : undefined;
  if (!Array.isArray(builds)) {
    throw new ArtifactsError(`buildArtifacts: ${file} has no "builds" list; expected {"builds":[{"imageName":…,"tag":…}]} as skaffold build --file-output writes`);
  }
  return builds.map((build: unknown, i): Artifact => {
    const entry = typeof build === "object" && build !== null ? (build as Record<string, unknown>) : {};
    const bad = (what: string): never => {
      throw new ArtifactsError(`buildArtifacts: ${file} builds[${i}] ${what}`);
    };
    const { imageName, tag } = entry;
    if (typeof imageName !== "string" || imageName === "") bad(`has no imageName (got ${JSON.stringify(build)})`);
    if (typeof tag !== "string" || tag === "") bad(`(${String(imageName)}) has no tag (got ${JSON.stringify(build)})`);
    for (const [field, value] of [["imageName", imageName], ["tag", tag]] as const) {
      try {
        parseReference(value as string);
      } catch (error) {
        if (error instanceof InvalidReferenceError) bad(`${field} is an ${error.message}`);
        throw error;
      }
    }
    return { imageName: imageName as string, tag: tag as string, file };
  });
}

/** Artifacts of several files as one set; throws ArtifactsError when two disagree. */
export function mergeArtifacts(artifacts: readonly Artifact[], files: readonly string[] = [...new Set(artifacts.map((a) => a.file))]): BuildArtifacts {
  const placeholders = new Map<string, Artifact>();
  const digests = new Map<string, { digest: string; artifact: Artifact }>();
  for (const artifact of artifacts) {
    const name = repositoryKey(parseReference(artifact.imageName));
    const before = placeholders.get(name);
    if (before && before.tag !== artifact.tag) {
      throw new ArtifactsError(
        `buildArtifacts: ${artifact.imageName} was built twice with different results: ${before.tag} (${before.file}) and ${artifact.tag} (${artifact.file}); ` +
          `keep one of the files`,
      );
    }
    placeholders.set(name, artifact);
    const built = parseReference(artifact.tag);
    if (built.digest !== undefined && built.tag !== undefined) digests.set(lockKey(built), { digest: built.digest, artifact });
  }
  return { placeholders, digests, files };
}

/**
 * The artifact an image field stands for, when it is a bare artifact name (no tag,
 * no digest): `skaffold-example` or `docker.io/library/skaffold-example` for imageName
 * `skaffold-example`. A name with a tag is an image of its own.
 */
export function placeholderOf(ref: ImageReference, artifacts: BuildArtifacts): Artifact | undefined {
  if (ref.tag !== undefined || ref.digest !== undefined) return undefined;
  return artifacts.placeholders.get(repositoryKey(ref));
}
