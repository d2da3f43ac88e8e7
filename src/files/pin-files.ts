// Files mode: the function's transformer over YAML files on disk instead of a
// ResourceList. Each document of each file goes through the same walk and the
// same text edits as the function, so only image values change and every other
// byte of the file stays. Lookups are shared across all files (one request per
// unique reference, at most `concurrency` at once), and pull secrets anywhere
// under the paths count for workloads in any file, as in a kpt package.
import { readFile } from "node:fs/promises";
import { isMap, parseAllDocuments, YAMLMap, YAMLSeq } from "yaml";
import type { Document } from "yaml";
import type { DigesterOptions } from "../config.js";
import type { CredentialScope } from "../credentials/pull-secrets.js";
import type { ImageReference } from "../name/reference.js";
import { pinImages } from "../pin.js";
import { applyEdits } from "../resourcelist/edits.js";
import type { TextEdit } from "../resourcelist/edits.js";
import type { ResourceList } from "../resourcelist/resource-list.js";
import { lookupKey } from "../resolve.js";
import type { DigestSource, Notice, Resolved } from "../resolve.js";
import { resourceRef } from "../resourcelist/identity.js";
import type { ResourceRef, Result } from "../results.js";
import { imageSlots } from "../workloads.js";
import { displayPath } from "./walk.js";

/** A result placed in a file: `line` of the image field (1-based), when it has one. */
export interface FileResult extends Result {
  line?: number;
}

export interface YamlFile {
  readonly path: string;
  /** The name used in messages (relative to the working directory). */
  readonly display: string;
  readonly text: string;
  readonly documents: readonly Document.Parsed[];
}

export interface FilesReport {
  /** Files whose text changes, with the new text. */
  readonly changes: readonly { readonly file: YamlFile; readonly after: string }[];
  readonly results: readonly FileResult[];
  readonly stats: { files: number; fields: number; pinned: number; unique: number };
}

/** Reads and parses the files; a file that is not UTF-8 or not YAML is an error result and is left alone. */
export async function readYamlFiles(paths: readonly string[], cwd: string): Promise<{ files: YamlFile[]; results: FileResult[] }> {
  const files: YamlFile[] = [];
  const results: FileResult[] = [];
  for (const path of paths) {
    const display = displayPath(path, cwd);
    const bytes = await readFile(path);
    const text = bytes.toString("utf8");
    if (!Buffer.from(text, "utf8").equals(bytes)) {
      results.push({ severity: "error", message: "the file is not UTF-8 text; it was left as it is", file: { path: display } });
      continue;
    }
    const documents = parseAllDocuments(text, { keepSourceTokens: false, prettyErrors: true });
    const list = Array.isArray(documents) ? documents : [];
    const broken = list.find((d) => d.errors.length > 0);
    if (broken) {
      const error = broken.errors[0];
      const line = error?.linePos?.[0].line;
      const result: FileResult = { severity: "error", message: `not valid YAML: ${error?.message.split("\n")[0] ?? "parse error"}; the file was left as it is`, file: { path: display } };
      if (line !== undefined) result.line = line;
      results.push(result);
      continue;
    }
    files.push({ path, display, text, documents: list });
  }
  return { files, results };
}

/** The Secrets and ServiceAccounts among the files, each with its place: pull secrets anywhere count for workloads in any file. */
export function credentialObjects(files: readonly YamlFile[]): { item: YAMLMap; file: { path: string; index: number } }[] {
  return files.flatMap((f) =>
    f.documents.flatMap((d, index) => (isMap(d.contents) && isCredentialObject(d.contents) ? [{ item: d.contents, file: { path: f.display, index } }] : [])),
  );
}

/** The core's results for one document, placed: file, document index and the line of the field (a pull-secret warning goes on its Secret). */
export function placeResults(
  file: YamlFile,
  index: number,
  item: YAMLMap,
  document: Document.Parsed,
  results: readonly Result[],
  credentials: ReturnType<typeof credentialObjects>,
  options: Pick<DigesterOptions, "fieldSpecs">,
): FileResult[] {
  const lines = fieldLines(file.text, item, document, options);
  return results.map((result) => {
    const secret = result.field === undefined ? credentials.find((c) => sameRef(result.resourceRef, resourceRef(c.item))) : undefined;
    const placed: FileResult = { ...result, file: secret?.file ?? { path: file.display, index } };
    const line = result.field ? lines.get(result.field.path) : undefined;
    if (line !== undefined) placed.line = line;
    return placed;
  });
}

/** Results that are the same result (one Secret's warning, reported per workload) once. */
export function uniqueResults(results: readonly FileResult[]): FileResult[] {
  const seen = new Set<string>();
  return results.filter((r) => {
    const key = JSON.stringify(r);
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

/** Pins every image field in the files' documents (the source decides where digests come from). */
export async function pinFiles(files: readonly YamlFile[], options: DigesterOptions, source: DigestSource, progress?: (done: number) => void): Promise<FilesReport> {
  const shared = new SharedSource(source, options.concurrency);
  const located = credentialObjects(files);
  const credentials = located.map((c) => c.item);
  const stats = { files: files.length, fields: 0, pinned: 0, unique: 0 };
  let done = 0;
  const perFile = await Promise.all(
    files.map(async (file) => {
      const edits: TextEdit[] = [];
      const results: FileResult[] = [];
      for (const [index, document] of file.documents.entries()) {
        const item = document.contents;
        if (!isMap(item)) continue;
        const report = await pinImages(asList(file.text, document, item, credentials), options, shared);
        stats.fields += report.stats.fields;
        stats.pinned += report.stats.pinned;
        edits.push(...report.edits);
        results.push(...placeResults(file, index, item, document, report.results, located, options));
      }
      progress?.(++done);
      return { file, edits, results };
    }),
  );
  stats.unique = shared.size;
  const changes = perFile.filter((f) => f.edits.length > 0).map((f) => ({ file: f.file, after: applyEdits(f.file.text, f.edits) })).filter((c) => c.after !== c.file.text);
  return { changes, results: uniqueResults(perFile.flatMap((f) => f.results)), stats };
}

/** One document as the list the transformer walks: its object, after the package's credential objects. */
export function asList(source: string, document: Document.Parsed, item: YAMLMap, credentials: readonly YAMLMap[]): ResourceList {
  const items = new YAMLSeq();
  for (const c of credentials) if (c !== item) items.items.push(c);
  items.items.push(item);
  return { source, document, root: new YAMLMap(), items, functionConfig: undefined };
}

function isCredentialObject(item: YAMLMap): boolean {
  const kind = item.get("kind");
  return item.get("apiVersion") === "v1" && (kind === "Secret" || kind === "ServiceAccount");
}

function sameRef(a: ResourceRef | undefined, b: ResourceRef): boolean {
  return a !== undefined && a.kind === b.kind && a.name === b.name && a.namespace === b.namespace && a.apiVersion === b.apiVersion;
}

/** Field path -> 1-based line of each image field of the object. */
function fieldLines(text: string, item: YAMLMap, document: Document.Parsed, options: Pick<DigesterOptions, "fieldSpecs">): Map<string, number> {
  const lines = new Map<string, number>();
  for (const slot of imageSlots(item, document, options.fieldSpecs)) {
    const offset = slot.kind === "image" ? slot.node.range?.[0] : undefined;
    if (offset !== undefined) lines.set(slot.path, lineOf(text, offset));
  }
  return lines;
}

export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/** Equal lookups of all files share one answer, and at most `concurrency` are in flight in all. */
export class SharedSource implements DigestSource {
  private readonly answers = new Map<string, Promise<string | Resolved>>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly source: DigestSource,
    private readonly concurrency: number,
  ) {}

  get size(): number {
    return this.answers.size;
  }

  notice(ref: ImageReference): Notice | undefined {
    return this.source.notice?.(ref);
  }

  resolveDigest(ref: ImageReference, scope?: CredentialScope, signal?: AbortSignal): Promise<string | Resolved> {
    const key = lookupKey(ref, scope);
    let answer = this.answers.get(key);
    if (!answer) {
      answer = this.limited(() => this.source.resolveDigest(ref, scope, signal));
      this.answers.set(key, answer);
    }
    return answer;
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.concurrency) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
