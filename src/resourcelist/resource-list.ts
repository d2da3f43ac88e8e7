// The ResourceList layer: parse stdin text into a yaml Document whose nodes
// carry source offsets, check its shape, and turn changes into text edits.
import { Document, isMap, isScalar, isSeq, parseAllDocuments, stringify } from "yaml";
import type { Node, Pair, YAMLMap, YAMLSeq } from "yaml";
import { blockListOfMappings } from "./emit-yaml.js";
import { InputError } from "./errors.js";
import { fastParse } from "./fast-parse.js";
import type { TextEdit } from "./edits.js";

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

const PARSE_OPTIONS = { keepSourceTokens: false, prettyErrors: true } as const;

/** Parses the function's input; throws InputError for anything that is not one ResourceList. */
export function parseResourceList(input: string): ResourceList {
  if (input.trim() === "") {
    throw new InputError("no input on stdin: expected a ResourceList (apiVersion: config.kubernetes.io/v1, kind: ResourceList)");
  }
  let source = input;
  let document = parseOne(source);
  // JSON (and any flow-style list) is written back as block YAML: kpt would
  // otherwise write the user's files in flow style.
  if (isMap(document.contents) && document.contents.flow) {
    source = new Document(document.toJS({ maxAliasCount: -1 })).toString({ lineWidth: 0, indentSeq: false });
    document = parseOne(source);
  }

  const root = document.contents;
  if (!isMap(root)) {
    throw new InputError(`input is not a ResourceList: expected a YAML mapping with kind: ${RESOURCE_LIST_KIND}, got ${describe(root)}`);
  }
  const kind = scalarString(root.get("kind", true));
  if (kind !== RESOURCE_LIST_KIND) {
    throw new InputError(`input is not a ResourceList: kind is ${kind === undefined ? "missing" : JSON.stringify(kind)}, expected ${RESOURCE_LIST_KIND}`);
  }
  const apiVersion = scalarString(root.get("apiVersion", true));
  if (apiVersion === undefined || !API_VERSIONS.has(apiVersion)) {
    throw new InputError(
      `ResourceList apiVersion is ${apiVersion === undefined ? "missing" : JSON.stringify(apiVersion)}, expected config.kubernetes.io/v1`,
    );
  }
  if (!root.has("items")) throw new InputError("ResourceList has no items: the field `items` (a list) is required");
  const itemsNode = root.get("items", true);
  let items: YAMLSeq | undefined;
  if (isSeq(itemsNode)) items = itemsNode;
  else if (!(isScalar(itemsNode) && itemsNode.value === null)) {
    throw new InputError(`ResourceList items must be a list, got ${describe(itemsNode)}`);
  }
  const fc = root.get("functionConfig", true);
  const functionConfig = fc === undefined || (isScalar(fc) && fc.value === null) ? undefined : (fc as Node);
  return { source, document, root, items, functionConfig };
}

function parseOne(source: string): Document.Parsed {
  // The common block-style list without the library's parser (same nodes; see fast-parse.ts).
  const fast = fastParse(source, PARSE_OPTIONS);
  if (fast) return fast;
  const docs = parseAllDocuments(source, PARSE_OPTIONS);
  if (!Array.isArray(docs)) throw new InputError("input is empty: expected a ResourceList");
  const nonEmpty = docs.filter((d) => d.contents !== null || d.errors.length > 0);
  const first = nonEmpty[0];
  if (first === undefined) throw new InputError("input holds no YAML document: expected a ResourceList");
  for (const doc of nonEmpty) {
    const error = doc.errors[0];
    if (error) throw new InputError(`input is not valid YAML: ${error.message.split("\n")[0] ?? error.code}`);
  }
  if (nonEmpty.length > 1) {
    throw new InputError(`input holds ${nonEmpty.length} YAML documents: expected exactly one ResourceList`);
  }
  return first;
}

/** The string value of a scalar node, or undefined for anything else. */
export function scalarString(node: unknown): string | undefined {
  return isScalar(node) && typeof node.value === "string" ? node.value : undefined;
}

/** A short description of a node's type for error messages. */
export function describe(node: unknown): string {
  if (node === undefined || node === null) return "nothing";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    if (node.value === null) return "null";
    const value: unknown = node.value;
    if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
    return typeof value === "number" || typeof value === "boolean" || typeof value === "bigint" ? `the ${typeof value} ${value}` : `a ${typeof value}`;
  }
  return "an alias or unknown node";
}

/**
 * The edit that writes `results` into the ResourceList: appended to an
 * existing block list, or as a new top-level key after the last one.
 */
export function resultsEdit(list: ResourceList, results: readonly object[]): TextEdit | undefined {
  if (results.length === 0) return undefined;
  const { source, root } = list;
  // The usual results are written directly (yaml's exact text, much faster); anything unusual by yaml.
  const body = blockListOfMappings(results) ?? stringify(results, { lineWidth: 0, aliasDuplicateObjects: false });
  const pair = root.items.find((p: Pair) => scalarString(p.key) === "results");
  const keyIndent = columnOf(source, rangeOf(root.items[0]?.key)?.[0] ?? 0);
  const existing = pair?.value;
  if (isSeq(existing) && !existing.flow && existing.items.length > 0 && existing.range) {
    const at = afterLine(source, existing.range[1]);
    return { start: at.offset, end: at.offset, text: at.prefix + indent(body, columnOf(source, existing.range[0])) };
  }
  const text = indent(`results:\n${body}`, keyIndent);
  if (pair) {
    const start = rangeOf(pair.key)?.[0] ?? 0;
    const end = afterLine(source, rangeOf(pair.value)?.[1] ?? rangeOf(pair.key)?.[1] ?? start);
    return { start: start - columnOf(source, start), end: end.offset, text: end.prefix + text };
  }
  const at = afterLine(source, root.range?.[1] ?? source.length);
  return { start: at.offset, end: at.offset, text: at.prefix + text };
}

function rangeOf(node: unknown): readonly [number, number, number] | undefined {
  return node && typeof node === "object" && "range" in node ? (node.range as [number, number, number] | undefined) : undefined;
}

/**
 * The offset after the line that ends at or holds `offset` (node ranges may
 * or may not include the line break), with a newline to add first at the end
 * of a file without one.
 */
function afterLine(source: string, offset: number): { offset: number; prefix: string } {
  if (offset > 0 && source[offset - 1] === "\n") return { offset, prefix: "" };
  const nl = source.indexOf("\n", offset);
  return nl < 0 ? { offset: source.length, prefix: "\n" } : { offset: nl + 1, prefix: "" };
}

function columnOf(source: string, offset: number): number {
  return offset - (source.lastIndexOf("\n", offset - 1) + 1);
}

function indent(text: string, columns: number): string {
  if (columns === 0) return text;
  const pad = " ".repeat(columns);
  return text.replace(/^(?=.)/gm, pad);
}
