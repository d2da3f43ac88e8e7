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

let typedTests: readonly RegExp[] | undefined;

/** The core schema's tests for null, bool, int and float: a string they match must be quoted. */
function typed(): readonly RegExp[] {
  typedTests ??= new Document().schema.tags.flatMap((t) =>
    t.default === true && t.tag !== "tag:yaml.org,2002:str" && "test" in t && t.test instanceof RegExp ? [t.test] : [],
  );
  return typedTests;
}

function plain(value: string): boolean {
  return value !== "" && !value.includes("\n") && !NOT_PLAIN.test(value) && !CONTROL.test(value) && !MARKER.test(value) && !typed().some((t) => t.test(value));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/** Lines of a block mapping at `indent`; false when some part is not ours to write. */
function mapping(object: Record<string, unknown>, indent: string, out: string[]): boolean {
  let written = 0;
  for (const key of Object.keys(object)) {
    const value = object[key];
    if (value === undefined) continue; // yaml leaves undefined values out too
    if (!plain(key)) return false;
    written++;
    if (typeof value === "string") {
      if (!plain(value)) return false;
      out.push(`${indent}${key}: ${value}\n`);
    } else if (typeof value === "number") {
      if (!Number.isSafeInteger(value) || Object.is(value, -0)) return false;
      out.push(`${indent}${key}: ${value}\n`);
    } else if (typeof value === "boolean") {
      out.push(`${indent}${key}: ${value}\n`);
    } else if (isPlainObject(value)) {
      out.push(`${indent}${key}:\n`);
      if (!mapping(value, `${indent}  `, out)) return false;
    } else return false;
  }
  return written > 0; // an empty mapping is written `{}`
}

/** `list` as yaml's stringify(list, { lineWidth: 0 }) writes it, or undefined to leave it to yaml. */
export function blockListOfMappings(list: readonly unknown[]): string | undefined {
  if (list.length === 0) return undefined;
  const out: string[] = [];
  for (const item of list) {
    if (!isPlainObject(item)) return undefined;
    const start = out.length;
    if (!mapping(item, "  ", out)) return undefined;
    out[start] = `- ${out[start]!.slice(2)}`;
  }
  return out.join("");
}
