// The lock of one package (a ResourceList): which DigestLock it has, what the
// lock should hold after this run, and the text edit that writes it: the
// existing lock's digests rewritten in place, or a new DigestLock item that
// kpt writes to digests.lock.yaml at the package root.
import { isMap, isSeq } from "yaml";
import type { Document, Node, Scalar } from "yaml";
import { InvalidReferenceError, parseReference } from "../name/reference.js";
import type { ImageReference } from "../name/reference.js";
import type { TextEdit } from "../resourcelist/edits.js";
import { isLocalConfig } from "../resourcelist/identity.js";
import { imageSlots } from "../workloads.js";
import type { FieldSpec } from "../workloads.js";
import { LOCK_FILE, findLocks, lockDocument, lockUpdateEdit, nextLockEntries } from "./digest-lock.js";
import type { FoundLock, LockEntries, LockProblem } from "./digest-lock.js";
import { columnOf, lineEnd } from "../resourcelist/offsets.js";

export interface PackageLock {
  /** The package's DigestLock, when it has exactly one. */
  readonly lock: FoundLock | undefined;
  /** Problems of the lock: bad entries, or more than one lock. */
  readonly problems: readonly LockProblem[];
}

/** Finds the package's lock; two or more are a problem (which one would frozen trust?). */
export function packageLock(items: readonly unknown[], document: Document.Parsed): PackageLock {
  const locks = findLocks(items, document);
  if (locks.length > 1) {
    const files = locks.map((l) => l.file?.path ?? "(no path)").join(", ");
    const problems = locks.map((l) => ({
      resourceRef: { apiVersion: "fn.krm-digester.dev/v1alpha1", kind: "DigestLock" },
      file: l.file,
      field: "kind",
      message: `the package has ${locks.length} DigestLocks (${files}); keep one`,
    }));
    return { lock: undefined, problems };
  }
  return { lock: locks[0], problems: locks[0]?.problems ?? [] };
}

/**
 * Every image reference of the package with the digest it has after this run:
 * written in the manifest already, or what this run did with the field
 * (`outcome`, by the field's node: the digest it was pinned to, null when that
 * failed, undefined when it was not looked up: a skipped image is not locked).
 */
export function usedReferences(
  items: readonly unknown[],
  document: Document.Parsed,
  outcome: (node: Scalar) => string | null | undefined,
  fieldSpecs: readonly FieldSpec[] = [],
): { ref: ImageReference; digest: string | undefined }[] {
  const used: { ref: ImageReference; digest: string | undefined }[] = [];
  for (const item of items) {
    if (!isMap(item) || isLocalConfig(item)) continue;
    for (const slot of imageSlots(item, document, fieldSpecs)) {
      if (slot.kind !== "image") continue;
      let ref: ImageReference;
      try {
        ref = parseReference(slot.value);
      } catch (error) {
        if (error instanceof InvalidReferenceError) continue;
        throw error;
      }
      if (ref.digest !== undefined) {
        used.push({ ref, digest: ref.digest });
        continue;
      }
      const now = outcome(slot.node);
      if (now !== undefined) used.push({ ref, digest: now ?? undefined });
    }
  }
  return used;
}

/**
 * The edit that brings the package's lock up to date with `used`, or undefined
 * when nothing changes (or the package has no items to lock).
 */
export function lockEdit(
  source: string,
  items: Node | undefined,
  found: FoundLock | undefined,
  used: Iterable<{ readonly ref: ImageReference; readonly digest: string | undefined }>,
): { edit: TextEdit | undefined; entries: LockEntries } {
  const entries = nextLockEntries(used, found?.entries ?? new Map());
  if (found) return { edit: lockUpdateEdit(source, found.item, found.entries, entries), entries };
  if (!isSeq(items) || items.flow || items.items.length === 0 || !items.range || entries.size === 0) return { edit: undefined, entries };
  // A new item after the last one, at the column of the list's dashes.
  const column = columnOf(source, items.range[0]);
  const at = lineEnd(source, items.range[1]);
  const prefix = at > 0 && source[at - 1] !== "\n" ? "\n" : "";
  const pad = " ".repeat(column);
  const text = lockDocument(entries, { path: LOCK_FILE })
    .split("\n")
    .filter((line) => line !== "")
    .map((line, i) => `${pad}${i === 0 ? "- " : "  "}${line}\n`)
    .join("");
  return { edit: { start: at, end: at, text: prefix + text }, entries };
}

