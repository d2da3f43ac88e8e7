// The function's results as block YAML, written directly: yaml's stringify
// took a sixth of a run that pins 600 fields. Only what has a single plain
// spelling is written here (mappings of plain-safe strings, integers and
// booleans, in a list); for anything else (a string yaml would quote or fold,
// null, an empty mapping, a nested list) the answer is undefined and the
// caller uses yaml, so the text is always yaml's own.
import { Document } from "yaml";

/** yaml's plainString(): strings that cannot be written plain in block context. */
const NOT_PLAIN = /^[\n\t ,[\]{}#&*!|>'"%@`]|^[?-]$|^[?-][ \t]|[\n:][ \t]|[ \t]\n|[\n\t ]#|[\n\t :]$/;
/** yaml's stringifyString(): control characters and lone surrogates force double quotes. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u{D800}-\u{DFFF}]/u;
/** A document marker at the start of a line. */
const MARKER = /^(?:%|---|\.\.\.)/;

let typedTest: RegExp | ((value: string) => boolean) | undefined;

/**
 * The core schema's tests for null, bool, int and float, as one: a string they match must be
 * quoted. One regular expression (their alternation: it matches where any of them does) when
 * they can be joined, which is ~8 calls fewer per value.
 */
function typed(value: string): boolean {
  if (typedTest === undefined) {
    const tests = new Document().schema.tags.flatMap((t) =>
      t.default === true && t.tag !== "tag:yaml.org,2002:str" && "test" in t && t.test instanceof RegExp ? [t.test] : [],
    );
    // Flags or numbered back-references would change meaning in an alternation.
    typedTest = tests.every((t) => t.flags === "" && !/\\[1-9]/.test(t.source)) ? new RegExp(tests.map((t) => `(?:${t.source})`).join("|")) : (v: string) => tests.some((t) => t.test(v));
  }
  return typeof typedTest === "function" ? typedTest(value) : typedTest.test(value);
}

/** NOT_PLAIN and MARKER as one expression. */
const NOT_PLAIN_OR_MARKER = new RegExp(`${NOT_PLAIN.source}|${MARKER.source}`);

function plain(value: string): boolean {
  return value !== "" && !value.includes("\n") && !NOT_PLAIN_OR_MARKER.test(value) && !CONTROL.test(value) && !typed(value);
}

/** Verdicts on keys: a run's results repeat a dozen keys thousands of times. */
const plainKeys = new Map<string, boolean>();

function plainKey(key: string): boolean {
  let verdict = plainKeys.get(key);
  if (verdict === undefined) {
    verdict = plain(key);
    if (plainKeys.size < 1024) plainKeys.set(key, verdict);
  }
  return verdict;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * The lines of a block mapping at `indent` (`first`: the indentation of its first line, "- " for
 * a list entry), appended to one string; undefined when some part is not ours to write.
 */
function mapping(object: Record<string, unknown>, first: string, indent: string, out: string): string | undefined {
  let lead = first;
  const start = out.length;
  for (const key in object) {
    if (!Object.hasOwn(object, key)) continue;
    const value = object[key];
    if (value === undefined) continue; // yaml leaves undefined values out too
    if (!plainKey(key)) return undefined;
    if (typeof value === "string") {
      if (!plain(value)) return undefined;
      out += `${lead}${key}: ${value}\n`;
    } else if (typeof value === "number") {
      if (!Number.isSafeInteger(value) || Object.is(value, -0)) return undefined;
      out += `${lead}${key}: ${value}\n`;
    } else if (typeof value === "boolean") {
      out += `${lead}${key}: ${value}\n`;
    } else if (isPlainObject(value)) {
      out += `${lead}${key}:\n`;
      const nested = `${indent}  `;
      const inner = mapping(value, nested, nested, out);
      if (inner === undefined) return undefined;
      out = inner;
    } else return undefined;
    lead = indent;
  }
  return out.length > start ? out : undefined; // an empty mapping is written `{}`
}

/** `list` as yaml's stringify(list, { lineWidth: 0 }) writes it, or undefined to leave it to yaml. */
export function blockListOfMappings(list: readonly unknown[]): string | undefined {
  if (list.length === 0) return undefined;
  let out: string | undefined = "";
  for (const item of list) {
    if (!isPlainObject(item)) return undefined;
    out = mapping(item, "- ", "  ", out);
    if (out === undefined) return undefined;
  }
  return out;
}

// A whole document, for JSON input rewritten as block YAML: yaml's
// `new Document(data).toString({ lineWidth: 0, indentSeq: false })` took a
// fifth of a JSON run. Written here: plain and one-line quoted strings,
// numbers, booleans, null, nested mappings and lists, empty ones in flow
// style. An item of `items` with anything else (a multi-line string, a
// control character, a key yaml would write explicitly) is written by
// yaml on its own; anything else outside `items` leaves the whole document
// to yaml. The caller reads the text back and compares it with the data.

const DOCUMENT_OPTIONS = { lineWidth: 0, indentSeq: false } as const;

/** How yaml writes a string it cannot write plain (no line break, no control character), or undefined. */
function quoted(value: string): string | undefined {
  if (value.includes("\n") || CONTROL.test(value) || MARKER.test(value)) return undefined;
  // yaml's quotedString(): single quotes when only double quotes would need escaping.
  if (value.includes('"') && !value.includes("'")) return `'${value}'`;
  return JSON.stringify(value);
}

/** A scalar's text, or undefined for a collection or what is not written here. */
function scalar(value: unknown): string | undefined {
  if (typeof value === "string") return plain(value) ? value : quoted(value);
  if (typeof value === "number") return Number.isFinite(value) ? (Object.is(value, -0) ? "-0" : JSON.stringify(value)) : undefined;
  if (typeof value === "boolean") return String(value);
  if (value === null) return "null";
  return undefined;
}

function keyText(key: string): string | undefined {
  // yaml writes a key of over 1024 characters as an explicit key (`? …`).
  if (key.length > 1000) return undefined;
  return plain(key) ? key : quoted(key);
}

/** The text after `key:` or `- ` for a scalar or an empty collection; "" for a collection with content. */
function inline(value: unknown): string | undefined {
  if (Array.isArray(value)) return value.length === 0 ? " []" : "";
  if (isPlainObject(value)) return Object.keys(value).length === 0 ? " {}" : "";
  const text = scalar(value);
  return text === undefined ? undefined : ` ${text}`;
}

/** Lines of a block mapping or list at `indent`; false when some part is not written here. */
function block(value: unknown, indent: string, out: string[]): boolean {
  if (Array.isArray(value)) {
    for (const item of value) {
      const rest = inline(item);
      if (rest === undefined) return false;
      if (rest !== "") {
        out.push(`${indent}-${rest}\n`);
        continue;
      }
      // A collection as an item: its first line after the dash, the others two columns in.
      const start = out.length;
      if (!block(item, `${indent}  `, out)) return false;
      out[start] = `${indent}- ${out[start]!.slice(indent.length + 2)}`;
    }
    return true;
  }
  if (!isPlainObject(value)) return false;
  for (const key of Object.keys(value)) {
    const child = value[key];
    const name = keyText(key);
    const rest = inline(child);
    if (name === undefined || rest === undefined) return false;
    out.push(`${indent}${name}:${rest}\n`);
    // indentSeq: false: a list sits in its key's column, a mapping two columns in.
    if (rest === "" && !block(child, Array.isArray(child) ? indent : `${indent}  `, out)) return false;
  }
  return true;
}

/** `data` (a JSON-shaped mapping) as yaml's Document.toString writes it: block style, `items` one by one. */
export function blockDocument(data: Record<string, unknown>): string {
  return directDocument(data) ?? new Document(data).toString(DOCUMENT_OPTIONS);
}

/** blockDocument's text when every part but items of `items` is written here, else undefined. */
export function directDocument(data: Record<string, unknown>): string | undefined {
  const out: string[] = [];
  for (const key of Object.keys(data)) {
    const value = data[key];
    if (key === "items" && Array.isArray(value) && value.length > 0) {
      out.push("items:\n");
      for (const item of value) {
        const start = out.length;
        if (block([item], "", out)) continue;
        out.length = start;
        // An item at column 0 of a list: written alone, yaml gives it the same text as inside `items`.
        out.push(new Document([item]).toString(DOCUMENT_OPTIONS));
      }
      continue;
    }
    if (!block({ [key]: value }, "", out)) return undefined;
  }
  return out.length === 0 ? undefined : out.join("");
}

/** A JSON-shaped value as the lines of a block list item (`- …`), or undefined when yaml must write it. */
export function directItem(item: unknown): string | undefined {
  const out: string[] = [];
  return block([item], "", out) ? out.join("") : undefined;
}
