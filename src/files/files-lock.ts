// The DigestLock in files mode: a DigestLock document in any of the files
// read is the lock (updated in place); without one, `lock: true` writes
// digests.lock.yaml in the first directory named (or the working directory).
import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { isMap } from "yaml";
import type { YAMLMap } from "yaml";
import { LOCK_FILE, isDigestLock, lockDocument, lockUpdateEdit, nextLockEntries, readLock } from "../lock/digest-lock.js";
import type { FoundLock } from "../lock/digest-lock.js";
import { usedReferences } from "../lock/package-lock.js";
import type { FieldSpec } from "../workloads.js";
import { parseReference } from "../name/reference.js";
import { applyEdits } from "../resourcelist/edits.js";
import type { ModeSource } from "../sources/mode-source.js";
import type { FileResult, YamlFile } from "./pin-files.js";
import { displayPath } from "./walk.js";

export interface FilesLock {
  readonly file: YamlFile;
  readonly item: YAMLMap;
  readonly found: FoundLock;
}

export function findFilesLock(files: readonly YamlFile[]): { lock: FilesLock | undefined; problems: FileResult[] } {
  const locks: FilesLock[] = [];
  for (const file of files) {
    for (const document of file.documents) {
      if (isDigestLock(document.contents)) locks.push({ file, item: document.contents, found: readLock(document.contents, document) });
    }
  }
  if (locks.length > 1) {
    const names = locks.map((l) => l.file.display).join(", ");
    return { lock: undefined, problems: [{ severity: "error", message: `${locks.length} DigestLocks under the paths (${names}); keep one` }] };
  }
  const lock = locks[0];
  const problems: FileResult[] = (lock?.found.problems ?? []).map((p) => ({
    severity: "error",
    message: `${p.field}: ${p.message}`,
    resourceRef: p.resourceRef,
    file: { path: lock?.file.display ?? LOCK_FILE },
  }));
  return { lock, problems };
}

/** Where a new lock goes: the first directory named, else the working directory. */
export async function newLockPath(paths: readonly string[], cwd: string): Promise<string> {
  for (const path of paths) {
    const absolute = resolve(cwd, path);
    if ((await stat(absolute).catch(() => undefined))?.isDirectory()) return join(absolute, LOCK_FILE);
  }
  return join(cwd, LOCK_FILE);
}

/** The lock's new text after a pin run, or undefined when it does not change. */
export function lockChange(
  files: readonly YamlFile[],
  lock: FilesLock | undefined,
  source: ModeSource,
  newPath: string,
  cwd: string,
  fieldSpecs: readonly FieldSpec[] = [],
): { file: YamlFile; after: string } | undefined {
  const used = files.flatMap((f) =>
    f.documents.flatMap((d) => (isMap(d.contents) ? usedReferences([d.contents], d, (node) => source.lockOutcome(parseReference(String(node.value))), fieldSpecs) : [])),
  );
  const entries = nextLockEntries(used, lock?.found.entries ?? new Map());
  if (lock) {
    const edit = lockUpdateEdit(lock.file.text, lock.item, lock.found.entries, entries);
    return edit ? { file: lock.file, after: applyEdits(lock.file.text, [edit]) } : undefined;
  }
  if (entries.size === 0) return undefined;
  return { file: { path: newPath, display: displayPath(newPath, cwd), text: "", documents: [] }, after: lockDocument(entries) };
}
