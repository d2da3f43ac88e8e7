// The ResourceList layer: parse stdin text into a yaml Document whose nodes
// carry source offsets, check its shape, and turn changes into text edits.
import { isDeepStrictEqual } from "node:util";
import { Document, isMap, isScalar, isSeq, parseAllDocuments, stringify } from "yaml";
import type { Node, Pair, YAMLMap, YAMLSeq } from "yaml";
import { quote } from "../quote.js";
import { blockDocument, blockListOfMappings } from "./emit-yaml.js";
import { InputError } from "./errors.js";
import { fastParse, fastParseSteps, fastParseStreamed, jsonData } from "./fast-parse.js";
import type { EntryVisitor } from "./fast-parse.js";
import type { TextEdit } from "./edits.js";
import { MEASURED, checkExpansion } from "./limits.js";
import { describe, scalarString } from "./nodes.js";
import { columnOf } from "./offsets.js";

export { describe, scalarString } from "./nodes.js";

export const RESOURCE_LIST_KIND = "ResourceList";
const API_VERSIONS = new Set(["config.kubernetes.io/v1", "config.kubernetes.io/v1alpha1"]);

export interface ResourceList {
  /** The block-style YAML text that edits apply to: the input itself, unless it was JSON or flow style. */
  readonly source: string;
  readonly document: Document.Parsed;
  readonly root: YAMLMap;
  /** `items`, or undefined for an empty `items:` (null). */
  readonly items: YAMLSeq | undefined;
  /** The `functionConfig` node, if any. */
  readonly functionConfig: Node | undefined;
}

/** A list whose items were read and dropped (parseResourceListStreamed): its text and its other keys. */
export type ListText = Pick<ResourceList, "source" | "document" | "root">;

/** What parseResourceListStreamed hands `begin`, before any item is read. */
export interface ListHead {
  readonly document: Document.Parsed;
  readonly functionConfig: Node | undefined;
}

/**
 * How every input is read. `merge: true`: Kubernetes reads YAML with merge
 * keys (`<<: *base`), so a container may inherit its image through one.
 */
export const PARSE_OPTIONS = { keepSourceTokens: false, prettyErrors: true, merge: true } as const;

/** Parses the function's input; throws InputError for anything that is not one ResourceList. */
export function parseResourceList(input: string): ResourceList {
  nonEmpty(input);
  // JSON (and any flow-style list) is written back as block YAML: kpt would
  // otherwise write the user's files in flow style. The input's byte-order
  // mark and line breaks are kept; the new text must read back as the same data.
  const json = jsonInput(input);
  return checkedList(json ? fromJson(input, json) : fromYaml(input, parseOne(input)));
}

/**
 * parseResourceList, pausing between groups of items (`pause`: one turn of
 * the event loop) so that the function's registry lookups, started from the
 * read-ahead, make progress while it parses. The result is the same.
 */
export async function parseResourceListPausing(input: string, pause: () => Promise<void>): Promise<ResourceList> {
  nonEmpty(input);
  const json = jsonInput(input);
  if (json) {
    // JSON.parse takes a few milliseconds; reading the block YAML written from it is a parse like
    // any other (600 items: ~0.2 s in one piece, before the probe could go), so it pauses too.
    const source = blockText(input, json, true);
    let document: Document.Parsed | undefined;
    try {
      const parsed = await parsePausing(source, pause);
      if (readsAs(parsed, json)) document = parsed;
    } catch {
      // As rewritten(): the library's own writing decides.
    }
    return checkedList(document ? { source, document } : rewritten(input, json, false));
  }
  return checkedList(fromYaml(input, await parsePausing(input, pause)));
}

/** parseOne, pausing between groups of items where the fast path reads the text. */
async function parsePausing(input: string, pause: () => Promise<void>): Promise<Document.Parsed> {
  const steps = fastParseSteps(input, PARSE_OPTIONS);
  try {
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value ?? parseByLibrary(input);
      await pause();
    }
  } catch (error) {
    // Nesting deep enough to exhaust the stack is bad input, not a bug (as parseOne).
    if (error instanceof RangeError) throw new InputError(`input is nested too deeply to read (${error.message})`);
    throw error;
  }
}

/**
 * The list read one item at a time, no tree of the items kept: `begin` gets
 * the other keys (functionConfig) and gives the visitor for each item, or
 * undefined. For block-style YAML the fast path composes, without anchors,
 * aliases or merge keys; undefined for any other input, when the list is not
 * a ResourceList, or when `begin` or the visitor said no: the caller then
 * reads it with parseResourceList, which says what is wrong with it.
 */
export async function parseResourceListStreamed(
  input: string,
  begin: (head: ListHead) => Promise<EntryVisitor | undefined>,
  pause?: () => Promise<void>,
): Promise<ListText | undefined> {
  // JSON and flow style: the fast path declines them at the first line, before any JSON.parse.
  if (input.includes("*") || input.includes("<<")) return undefined;
  const steps = fastParseStreamed(input, PARSE_OPTIONS);
  let document: Document.Parsed | undefined;
  try {
    for (let step = steps.next(); ; ) {
      if (step.done) {
        document = step.value;
        break;
      }
      if (step.value) {
        const head = headOf(step.value.root, step.value.document);
        step = steps.next(head && (await begin(head)));
        continue;
      }
      if (pause) await pause();
      step = steps.next();
    }
  } catch (error) {
    // Too deep to read: parseResourceList says so.
    if (error instanceof RangeError) return undefined;
    throw error;
  }
  if (!document) return undefined;
  const root = document.contents;
  return isMap(root) ? { source: input, document, root } : undefined;
}

/** The head of a ResourceList's root, or undefined for anything else (checkedList says what). */
function headOf(root: YAMLMap, document: Document.Parsed): ListHead | undefined {
  return kindProblem(root) === undefined ? { document, functionConfig: functionConfigOf(root) } : undefined;
}

/** What is wrong with the root's kind or apiVersion for a ResourceList, or undefined. */
function kindProblem(root: YAMLMap): string | undefined {
  const kind = scalarString(root.get("kind", true));
  if (kind !== RESOURCE_LIST_KIND) {
    return `input is not a ResourceList: kind is ${kind === undefined ? "missing" : quote(kind)}, expected ${RESOURCE_LIST_KIND}`;
  }
  const apiVersion = scalarString(root.get("apiVersion", true));
  if (apiVersion === undefined || !API_VERSIONS.has(apiVersion)) {
    return `ResourceList apiVersion is ${apiVersion === undefined ? "missing" : quote(apiVersion)}, expected config.kubernetes.io/v1`;
  }
  return undefined;
}

/** The `functionConfig` node, undefined when absent or null. */
function functionConfigOf(root: YAMLMap): Node | undefined {
  const fc = root.get("functionConfig", true);
  return fc === undefined || (isScalar(fc) && fc.value === null) ? undefined : fc;
}

function nonEmpty(input: string): void {
  if (input.trim() === "") {
    throw new InputError("no input on stdin: expected a ResourceList (apiVersion: config.kubernetes.io/v1, kind: ResourceList)");
  }
}

/** JSON input as data, where JSON.parse reads what yaml would (fast-parse.ts jsonData). */
function jsonInput(input: string): Record<string, unknown> | undefined {
  return /^\ufeff?\s*\{/.test(input) ? jsonData(input) : undefined;
}

/** The parsed input checked to be one ResourceList. */
function checkedList({ source, document }: { source: string; document: Document.Parsed }): ResourceList {
  const root = document.contents;
  if (!isMap(root)) {
    throw new InputError(`input is not a ResourceList: expected a YAML mapping with kind: ${RESOURCE_LIST_KIND}, got ${describe(root)}`);
  }
  const problem = kindProblem(root);
  if (problem !== undefined) throw new InputError(problem);
  if (!root.has("items")) throw new InputError("ResourceList has no items: the field `items` (a list) is required");
  const itemsNode = root.get("items", true);
  let items: YAMLSeq | undefined;
  if (isSeq(itemsNode)) items = itemsNode;
  else if (!(isScalar(itemsNode) && itemsNode.value === null)) {
    throw new InputError(`ResourceList items must be a list, got ${describe(itemsNode)}`);
  }
  return { source, document, root, items, functionConfig: functionConfigOf(root) };
}

/** The list as parsed from YAML text, rewritten as block YAML when it is flow style. */
function fromYaml(input: string, document: Document.Parsed): { source: string; document: Document.Parsed } {
  // Only aliases (`*name`) and merge keys (`<<`) expand: most lists have neither, and skip the walk.
  if (input.includes("*") || input.includes("<<")) checkExpansion(document);
  if (!(isMap(document.contents) && document.contents.flow)) return { source: input, document };
  return rewritten(input, document.toJS(MEASURED) as Record<string, unknown>, false);
}

/** JSON read as data (by JSON.parse, where yaml reads the same: fast-parse.ts jsonData), rewritten as block YAML. */
function fromJson(input: string, data: Record<string, unknown>): { source: string; document: Document.Parsed } {
  return rewritten(input, data, true);
}

/**
 * `data` as block YAML text with the input's byte-order mark and line
 * breaks, and its parse, which must read as `data`. `direct`: written by
 * blockDocument, else by yaml (the fallback when the direct text does not read back).
 */
function rewritten(input: string, data: Record<string, unknown>, direct: boolean): { source: string; document: Document.Parsed } {
  const source = blockText(input, data, direct);
  let document: Document.Parsed | undefined;
  try {
    const parsed = parseOne(source);
    if (readsAs(parsed, data)) document = parsed;
  } catch {
    // A string key "<<" comes back as a merge key; yaml throws on its value.
  }
  if (document) return { source, document };
  if (direct) return rewritten(input, data, false);
  throw new InputError("this flow-style input cannot be rewritten as block YAML with the same data (a quoted \"<<\" key?); write it in block style");
}

/** `data` as block YAML text (see rewritten) with the input's byte-order mark and line breaks. */
function blockText(input: string, data: Record<string, unknown>, direct: boolean): string {
  const text = direct ? blockDocument(data) : new Document(data).toString({ lineWidth: 0, indentSeq: false });
  return (input.charCodeAt(0) === 0xfeff ? "\ufeff" : "") + withBreaks(text, lineBreakOf(input));
}

/** Whether the parse of rewritten text reads as the data it was written from. */
function readsAs(parsed: Document.Parsed, data: Record<string, unknown>): boolean {
  return readsAsData(parsed.contents, data) || isDeepStrictEqual(parsed.toJS(MEASURED), data);
}

/** Whether a node without aliases, tags or merge keys reads as `value` (JSON-shaped data), without making the data. */
function readsAsData(node: unknown, value: unknown): boolean {
  if (isSeq(node)) {
    if (!Array.isArray(value) || node.items.length !== value.length || node.anchor !== undefined || node.tag !== undefined) return false;
    for (let i = 0; i < value.length; i++) if (!readsAsData(node.items[i], value[i])) return false;
    return true;
  }
  if (isMap(node)) {
    if (typeof value !== "object" || value === null || Array.isArray(value) || node.anchor !== undefined || node.tag !== undefined) return false;
    const record = value as Record<string, unknown>;
    if (node.items.length !== Object.keys(record).length) return false;
    for (const pair of node.items) {
      const key = pair.key;
      if (!isScalar(key) || typeof key.value !== "string" || key.value === "<<" || !Object.hasOwn(record, key.value)) return false;
      if (!readsAsData(pair.value, record[key.value])) return false;
    }
    return true;
  }
  return isScalar(node) && node.anchor === undefined && node.tag === undefined && Object.is(node.value, value);
}

/** The one YAML document in `source`; throws InputError for none, several, or invalid YAML. */
export function parseOne(source: string): Document.Parsed {
  try {
    return parseOrThrow(source);
  } catch (error) {
    // Nesting deep enough to exhaust the stack is bad input, not a bug.
    if (error instanceof RangeError) throw new InputError(`input is nested too deeply to read (${error.message})`);
    throw error;
  }
}

function parseOrThrow(source: string): Document.Parsed {
  // The common block-style list without the library's parser (same nodes; see fast-parse.ts).
  const fast = fastParse(source, PARSE_OPTIONS);
  if (fast) return fast;
  return parseByLibrary(source);
}

/** What the fast path does not take: the library's parse, checked to hold one document. */
function parseByLibrary(source: string): Document.Parsed {
  const docs = parseAllDocuments(source, PARSE_OPTIONS);
  if (!Array.isArray(docs)) throw new InputError("input is empty: expected a ResourceList");
  const nonEmpty = docs.filter((d) => d.contents !== null || d.errors.length > 0);
  const first = nonEmpty[0];
  if (first === undefined) throw new InputError("input holds no YAML document: expected a ResourceList");
  for (const doc of nonEmpty) {
    const error = doc.errors[0];
    if (error) throw new InputError(`input is not valid YAML: ${cut(error.message.split("\n")[0] ?? error.code)}`);
  }
  if (nonEmpty.length > 1) {
    throw new InputError(`input holds ${nonEmpty.length} YAML documents: expected exactly one ResourceList`);
  }
  return first;
}

/**
 * The edit that writes `results` into the ResourceList: appended to an
 * existing block list, or as a new top-level key after the last one, in the
 * root mapping's column and with the input's line breaks.
 */
export function resultsEdit(list: ListText, results: readonly object[]): TextEdit | undefined {
  if (results.length === 0) return undefined;
  const { source, root } = list;
  const pair = root.items.find((p: Pair) => scalarString(p.key) === "results");
  const existing = pair?.value;
  const eol = lineBreakOf(source);
  const schema = list.document.schema.name;
  const body = (entries: readonly unknown[]): string => withBreaks(resultsBody(entries, schema), eol);
  if (isSeq(existing) && !existing.flow && existing.items.length > 0 && existing.range) {
    const at = afterLine(source, existing.range[1], eol);
    return { start: at.offset, end: at.offset, text: at.prefix + indent(body(results), columnOf(source, existing.range[0])) };
  }
  // Results already in flow style are kept, in the block list that replaces them.
  const earlier = isSeq(existing) && existing.items.length > 0 ? (existing.toJS(list.document, MEASURED) as unknown[]) : [];
  const text = indent(`results:${eol}${body([...earlier, ...results])}`, columnOf(source, root.range?.[0] ?? 0));
  if (pair) {
    const start = rangeOf(pair.key)?.[0] ?? 0;
    const end = afterLine(source, rangeOf(pair.value)?.[1] ?? rangeOf(pair.key)?.[1] ?? start, eol);
    return { start: start - columnOf(source, start), end: end.offset, text: (end.offset === source.length ? end.prefix : "") + text };
  }
  const at = afterLine(source, root.range?.[1] ?? source.length, eol);
  return { start: at.offset, end: at.offset, text: at.prefix + text };
}

/** The results as a block list: written directly when they can be (yaml's exact text, much faster), else by yaml. */
function resultsBody(results: readonly unknown[], schema: string): string {
  // The direct writer knows which plain strings YAML 1.2's core schema reads as strings; under
  // `%YAML 1.1` (yes/no booleans, 0755 octals, 1:20 sexagesimals) yaml writes them for that version.
  if (schema === "core") {
    const direct = blockListOfMappings(results);
    if (direct !== undefined) return direct;
  }
  return stringify(results, { lineWidth: 0, aliasDuplicateObjects: false, version: schema === "core" ? "1.2" : "1.1" });
}

/** The input's line break: CRLF when its first line ends with one. */
function lineBreakOf(source: string): string {
  const nl = source.indexOf("\n");
  return nl > 0 && source[nl - 1] === "\r" ? "\r\n" : "\n";
}

function withBreaks(text: string, eol: string): string {
  return eol === "\n" ? text : text.replace(/\r?\n/g, eol);
}

function rangeOf(node: unknown): readonly [number, number, number] | undefined {
  return node && typeof node === "object" && "range" in node ? (node.range as [number, number, number] | undefined) : undefined;
}

/**
 * The offset after the line that ends at or holds `offset` (node ranges may
 * or may not include the line break), with a line break to add first at the
 * end of a file without one.
 */
function afterLine(source: string, offset: number, eol: string): { offset: number; prefix: string } {
  if (offset > 0 && source[offset - 1] === "\n") return { offset, prefix: "" };
  const nl = source.indexOf("\n", offset);
  return nl < 0 ? { offset: source.length, prefix: eol } : { offset: nl + 1, prefix: "" };
}

function indent(text: string, columns: number): string {
  if (columns === 0) return text;
  const pad = " ".repeat(columns);
  return text.replace(/^(?=.)/gm, pad);
}

function cut(text: string): string {
  return text.length <= 300 ? text : `${text.slice(0, 300)}… (${text.length} characters)`;
}
