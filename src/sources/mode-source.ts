// Where digests come from in each mode, as a DigestSource in front of the
// registry: build artifacts first (the image was just built: its digest is
// known), then the DigestLock (frozen) or the persistent cache (pin, with
// cacheTTL), and only then a registry. Check mode asks nothing at all: an
// image without a digest is the error. The registry is opened only when a
// lookup reaches it, so a run answered from these layers opens no connection.
import { placeholderOf } from "../artifacts/build-artifacts.js";
import type { Artifact, BuildArtifacts } from "../artifacts/build-artifacts.js";
import type { DeclaredArtifacts } from "../artifacts/skaffold-config.js";
import type { DigestCache } from "../cache/digest-cache.js";
import type { CredentialScope } from "../credentials/pull-secrets.js";
import { LOCK_FILE, lockKey } from "../lock/digest-lock.js";
import type { LockEntries } from "../lock/digest-lock.js";
import { formatPinned, nameAsWritten } from "../name/format.js";
import type { ImageFormat } from "../name/format.js";
import { parseReference, repositoryKey } from "../name/reference.js";
import type { ImageReference } from "../name/reference.js";
import { lookupKey } from "../resolve.js";
import type { DigestSource, Notice, Resolved } from "../resolve.js";

import type { Mode } from "../config.js";

/** A resolution; `value` rewrites the field (a build artifact's placeholder becomes the artifact's tag). */
export type Rewritten = Resolved;

/** mode: check: an image field without a digest. */
export class NotPinnedError extends Error {
  readonly code = "NOT_PINNED";
  readonly hint = "Pin it with mode: pin (kpt fn render, or krm-digester pin PATH) and commit the result.";
  constructor(readonly reference: string) {
    super(`${reference} is not pinned to a digest (mode: check)`);
    this.name = "NotPinnedError";
  }
}

/** mode: frozen: a reference that neither the lock nor the build artifacts know. */
export class NotLockedError extends Error {
  readonly code = "NOT_LOCKED";
  readonly hint = "Add it: run once with mode: pin and lock: true, review the DigestLock's diff and commit it.";
  constructor(
    readonly reference: string,
    canonical: string,
    lockFile: string | undefined,
  ) {
    const lock = lockFile === undefined ? `the package has no DigestLock (${LOCK_FILE})` : `it is not in the DigestLock (${lockFile})`;
    super(`${reference} (${canonical}) has no locked digest: ${lock} and no build artifact has it (mode: frozen, no registry is asked)`);
    this.name = "NotLockedError";
  }
}

export interface ModeSourceOptions {
  readonly mode: Mode;
  readonly artifacts: BuildArtifacts;
  /** The artifacts a skaffold.yaml in the package declares: their bare names are skaffold's placeholders. */
  readonly declared?: DeclaredArtifacts | undefined;
  /** How a placeholder's replacement is written, as every other pin (src/name/format.ts). */
  readonly format?: ImageFormat | undefined;
  /** mode: frozen: the package's DigestLock. */
  readonly lock?: { readonly entries: LockEntries; readonly file: string | undefined } | undefined;
  /** mode: pin with cacheTTL. */
  readonly cache?: DigestCache | undefined;
  /** The registry, opened on the first lookup that needs it. */
  readonly registry: () => DigestSource;
}

/** How each lookup was answered, for the summary line and for tests. */
export interface SourceCounts {
  artifacts: number;
  lock: number;
  cache: number;
  registry: number;
}

export class ModeSource implements DigestSource {
  readonly counts: SourceCounts = { artifacts: 0, lock: 0, cache: 0, registry: 0 };
  private registry: DigestSource | undefined;
  /** By lock key: the digest found, or null when the lookup failed. */
  private readonly found = new Map<string, string | null>();
  /** Lock keys answered by build artifacts: rebuilt on every build, so not locked. */
  private readonly built = new Set<string>();

  constructor(private readonly options: ModeSourceOptions) {}

  async resolveDigest(ref: ImageReference, scope?: CredentialScope, signal?: AbortSignal): Promise<Rewritten> {
    if (this.options.mode === "check") throw new NotPinnedError(ref.original);
    const key = lockKey(ref);
    try {
      const artifact = placeholderOf(ref, this.options.artifacts);
      if (artifact) {
        this.built.add(key);
        return await this.placeholder(artifact, scope, signal);
      }
      const resolved = await this.tagDigest(ref, scope, signal);
      if (!this.built.has(key)) this.found.set(key, resolved.digest);
      return resolved;
    } catch (error) {
      if (!this.found.has(key)) this.found.set(key, null);
      throw error;
    }
  }

  /**
   * skaffold's names that this source cannot stand in for, before any lookup
   * (src/core/plan.ts reports the warning):
   * - a bare name a skaffold.yaml in the package declares as an artifact, with no
   *   build of it in buildArtifacts: skaffold render replaces it; looking it up would
   *   pin Docker Hub's `library/NAME:latest`, not what was built. Left alone.
   * - an artifact's name with a tag (`skaffold-example:v1`): skaffold replaces only
   *   the bare name, so this field is not the image just built. Looked up as written.
   */
  notice(ref: ImageReference): Notice | undefined {
    if (placeholderOf(ref, this.options.artifacts)) return undefined;
    const key = repositoryKey(ref);
    const artifact = this.options.artifacts.placeholders.get(key);
    const declared = this.options.declared?.get(key);
    if (ref.tag === undefined && ref.digest === undefined) {
      if (!declared) return undefined;
      const files = this.options.artifacts.files;
      const why =
        files.length === 0
          ? "no buildArtifacts file was given"
          : `no buildArtifacts file (${files.join(", ")}) has a build of it`;
      return {
        leave: true,
        message:
          `left skaffold artifact ${ref.original} alone: ${declared.where} declares it (build.artifacts[].image) and ${why}; ` +
          `skaffold render replaces it with the image skaffold builds. Run skaffold build --file-output=artifacts.json and set buildArtifacts: artifacts.json, ` +
          `or pin skaffold render's output`,
      };
    }
    if (ref.digest !== undefined || this.options.artifacts.digests.has(lockKey(ref))) return undefined;
    const named = artifact ? `build artifact ${artifact.imageName} (${artifact.file})` : declared ? `skaffold artifact ${declared.image} (${declared.where})` : undefined;
    if (!named) return undefined;
    return {
      leave: false,
      message:
        `${ref.original} has the name of ${named} but a tag of its own: skaffold replaces only the bare name, so this is not the image skaffold built ` +
        `and it is looked up as written. Write image: ${nameAsWritten(ref)} to use the build${artifact ? ` (${artifact.tag})` : ""}, or rename the image if it is another one`,
    };
  }

  /**
   * What this run found for a reference, as the lock records it: its digest, null
   * when the lookup failed (the lock keeps its old entry), undefined when it was not
   * looked up (skipped) or came from build artifacts (a new digest every build).
   */
  lockOutcome(ref: ImageReference): string | null | undefined {
    const key = lockKey(ref);
    return this.built.has(key) ? undefined : this.found.get(key);
  }

  private async placeholder(artifact: Artifact, scope: CredentialScope | undefined, signal: AbortSignal | undefined): Promise<Rewritten> {
    const built = parseReference(artifact.tag);
    const note = `build artifact ${artifact.imageName} from ${artifact.file}`;
    const format = this.options.format;
    if (built.digest !== undefined) {
      this.counts.artifacts++;
      return { digest: built.digest, value: builtValue(built, built.digest, format), note };
    }
    // A build that was not pushed has a tag without digest: pin that tag like any other.
    const found = await this.tagDigest(built, scope, signal);
    return { digest: found.digest, value: builtValue(built, found.digest, format), note: found.note ? `${note}; ${found.note}` : note };
  }

  private async tagDigest(ref: ImageReference, scope: CredentialScope | undefined, signal: AbortSignal | undefined): Promise<Resolved> {
    const { artifacts, lock, cache, mode } = this.options;
    const canonical = lockKey(ref);
    const built = artifacts.digests.get(canonical);
    if (built) {
      this.built.add(canonical);
      this.counts.artifacts++;
      return { digest: built.digest, note: `from build artifacts ${built.artifact.file}` };
    }
    if (mode === "frozen") {
      const locked = lock?.entries.get(canonical);
      if (locked === undefined) throw new NotLockedError(ref.original, canonical, lock?.file);
      this.counts.lock++;
      return { digest: locked, note: `from the DigestLock${lock?.file ? ` ${lock.file}` : ""}` };
    }
    const key = lookupKey(ref, scope);
    const cached = await cache?.lookup(key, ref);
    if (cached) {
      this.counts.cache++;
      return { digest: cached.digest, note: [cached.note, `from the cache, looked up ${age(Date.now() - cached.at)} ago`].filter(Boolean).join("; ") };
    }
    this.registry ??= this.options.registry();
    const found = await this.registry.resolveDigest(ref, scope, signal);
    this.counts.registry++;
    const resolved = typeof found === "string" ? { digest: found } : found;
    await cache?.remember(key, ref, resolved.digest, resolved.note);
    return resolved;
  }
}

/**
 * The built image in the field, written as `format` says: tag-and-digest is the
 * artifact's tag as skaffold wrote it (`REPO/app:TAG@sha256:…`), digest-only
 * `REPO/app@sha256:…`, canonical the full name. An artifact tagged by digest only
 * stays tagless in canonical form (its tag is not known, and is not `latest`).
 */
function builtValue(built: ImageReference, digest: string, format: ImageFormat | undefined): string {
  if (format === "canonical" && built.tag === undefined) return `${repositoryKey(built)}@${digest}`;
  return formatPinned(built, digest, format);
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}
