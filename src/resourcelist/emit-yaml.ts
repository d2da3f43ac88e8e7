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
