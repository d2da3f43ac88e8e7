// The digest lock: a local-config resource in the package that records, for
// every tagged image reference, the digest it was pinned to. Written like a
// lockfile (one line per reference, sorted, canonical names) so that a pull
// request shows one line of diff per image that changed, and read back by
// `mode: frozen` instead of asking a registry.
import { isMap, isScalar } from "yaml";
import type { Document, Pair, YAMLMap } from "yaml";
import { InvalidReferenceError, parseReference, repositoryKey, tagOf } from "../name/reference.js";
import type { ImageReference } from "../name/reference.js";
import type { TextEdit } from "../resourcelist/edits.js";
import { fileRef, resourceRef } from "../resourcelist/identity.js";
import type { FileRef, ResourceRef } from "../results.js";
import { columnOf, lineEnd } from "../resourcelist/offsets.js";

export const LOCK_API_VERSION = "fn.krm-digester.dev/v1alpha1";
export const LOCK_KIND = "DigestLock";
/** Where a new lock goes, relative to the package root. */
export const LOCK_FILE = "digests.lock.yaml";
const LOCK_NAME = "digests";
const DIGEST = /^(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$/;

/** Canonical reference ("docker.io/library/nginx:1.27") -> digest. */
export type LockEntries = ReadonlyMap<string, string>;

/** The name a reference is locked under: registry, repository and tag spelled out ("nginx" is docker.io/library/nginx:latest). */
export function lockKey(ref: ImageReference): string {
  return `${repositoryKey(ref)}:${tagOf(ref)}`;
}

export interface LockProblem {
  readonly message: string;
  /** `digests["KEY"]`, or `digests` for the whole map. */
  readonly field: string;
  readonly resourceRef: ResourceRef;
  readonly file: FileRef | undefined;
}

/** A DigestLock found among a package's items. */
export interface FoundLock {
  readonly item: YAMLMap;
  readonly entries: LockEntries;
  readonly problems: readonly LockProblem[];
  readonly file: FileRef | undefined;
}

export function isDigestLock(item: unknown): item is YAMLMap {
  return isMap(item) && item.get("apiVersion") === LOCK_API_VERSION && item.get("kind") === LOCK_KIND;
}

/** Every DigestLock among `items`, each read and checked. */
export function findLocks(items: readonly unknown[], document: Document.Parsed): FoundLock[] {
  return items.filter(isDigestLock).map((item) => readLock(item, document));
}

/** Reads one DigestLock item; bad entries are problems (naming the key), never silently dropped. */
export function readLock(item: YAMLMap, document: Document.Parsed): FoundLock {
  const entries = new Map<string, string>();
  const problems: LockProblem[] = [];
  const file = fileRef(item);
  const where = { resourceRef: resourceRef(item), file };
  const fix = `; fix or delete the line in ${file?.path ?? "the DigestLock"} and run krm-digester with lock: true to write it again`;
  const digests: unknown = item.get("digests", true);
  if (digests === undefined || (isScalar(digests) && digests.value === null)) return { item, entries, problems, file };
  if (!isMap(digests)) {
    problems.push({ ...where, field: "digests", message: `DigestLock digests must be a mapping from image reference to digest${fix}` });
    return { item, entries, problems, file };
  }
  for (const [key, value] of Object.entries(digests.toJSON(document) as Record<string, unknown>)) {
    const field = `digests[${JSON.stringify(key)}]`;
    let ref: ImageReference;
    try {
      ref = parseReference(key);
    } catch (error) {
      if (!(error instanceof InvalidReferenceError)) throw error;
      problems.push({ ...where, field, message: `DigestLock entry ${error.message}${fix}` });
      continue;
    }
    if (ref.digest !== undefined) {
      problems.push({ ...where, field, message: `DigestLock entry ${JSON.stringify(key)} has a digest in its name; the key is the tagged reference${fix}` });
      continue;
    }
    if (typeof value !== "string" || !DIGEST.test(value)) {
      problems.push({ ...where, field, message: `DigestLock entry ${JSON.stringify(key)} is not a digest (expected sha256: and 64 hex digits, got ${JSON.stringify(value)})${fix}` });
      continue;
    }
    const canonical = lockKey(ref);
    const before = entries.get(canonical);
    if (before !== undefined && before !== value) {
      problems.push({ ...where, field, message: `DigestLock has two digests for ${canonical} (${before} and ${value})${fix}` });
      continue;
    }
    entries.set(canonical, value);
  }
  return { item, entries, problems, file };
}

/** A key as YAML: plain where that reads back as the same string, double-quoted otherwise. */
function yamlKey(key: string): string {
  return /^[A-Za-z0-9][\w.\-/:]*$/.test(key) ? key : JSON.stringify(key);
}

/** The `digests:` block, sorted, one line per reference, keys at `indent` columns. */
export function digestLines(entries: LockEntries, indent: number): string {
  const pad = " ".repeat(indent);
  return [...entries]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, digest]) => `${pad}${yamlKey(key)}: ${digest}\n`)
    .join("");
}

/**
 * A new lock as a YAML document. In a ResourceList (`path`), it carries kpt's path
 * annotations so that kpt writes it to that file; a file written directly does not need them.
 */
export function lockDocument(entries: LockEntries, options: { path?: string } = {}): string {
  const paths = options.path === undefined ? "" : `    config.kubernetes.io/path: ${options.path}\n    internal.config.kubernetes.io/path: ${options.path}\n`;
  const body = entries.size === 0 ? "digests: {}\n" : `digests:\n${digestLines(entries, 2)}`;
  return (
    `apiVersion: ${LOCK_API_VERSION}\nkind: ${LOCK_KIND}\nmetadata:\n  name: ${LOCK_NAME}\n  annotations:\n` +
    `    config.kubernetes.io/local-config: "true"\n${paths}` +
    `# Written by krm-digester (lock: true): the digest of every image reference in the package.\n` +
    `# mode: frozen pins from here without asking a registry.\n${body}`
  );
}

/**
 * The edit that makes an existing lock item hold `entries`: its `digests` pair
 * rewritten in place (every other byte of the item stays), or added after its
 * last key. Undefined when nothing changes.
 */
export function lockUpdateEdit(source: string, item: YAMLMap, current: LockEntries, entries: LockEntries): TextEdit | undefined {
  if (sameEntries(current, entries)) return undefined;
  const pair = item.items.find((p: Pair) => isScalar(p.key) && p.key.value === "digests");
  const keyRange = pair && isScalar(pair.key) ? pair.key.range : undefined;
  if (pair && keyRange) {
    const column = columnOf(source, keyRange[0]);
    const valueEnd = rangeEnd(pair.value) ?? keyRange[1];
    return { start: keyRange[0], end: lineEnd(source, valueEnd), text: pairText(entries, column) };
  }
  const first = item.items[0]?.key;
  const column = isScalar(first) && first.range ? columnOf(source, first.range[0]) : 0;
  const end = lineEnd(source, item.range?.[1] ?? source.length);
  const prefix = end > 0 && source[end - 1] !== "\n" ? "\n" : "";
  return { start: end, end, text: prefix + " ".repeat(column) + pairText(entries, column) };
}

function pairText(entries: LockEntries, column: number): string {
  return entries.size === 0 ? "digests: {}\n" : `digests:\n${digestLines(entries, column + 2)}`;
}

function sameEntries(a: LockEntries, b: LockEntries): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) if (b.get(key) !== value) return false;
  return true;
}

function rangeEnd(node: unknown): number | undefined {
  return node && typeof node === "object" && "range" in node ? (node.range as [number, number, number] | undefined)?.[1] : undefined;
}

/**
 * What the lock should hold after a run: every tagged reference in the package with
 * the digest it has now (resolved in this run, or already written in the manifest),
 * and, for a reference that failed this run, its old entry. References no longer used
 * are dropped, as cargo and npm drop packages no longer depended on.
 */
export function nextLockEntries(
  used: Iterable<{ readonly ref: ImageReference; readonly digest: string | undefined }>,
  previous: LockEntries,
): Map<string, string> {
  const next = new Map<string, string>();
  const failed = new Set<string>();
  for (const { ref, digest } of used) {
    if (ref.tag === undefined && ref.digest !== undefined) continue; // repo@sha256: nothing to lock
    const key = lockKey(ref);
    if (digest === undefined) failed.add(key);
    else if (!next.has(key)) next.set(key, digest);
  }
  for (const key of failed) {
    const old = previous.get(key);
    if (!next.has(key) && old !== undefined) next.set(key, old);
  }
  return next;
}
