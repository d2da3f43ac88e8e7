// The output: the input text with the image edits and the results applied,
// read back before it is returned. Edits are made on the text so that every
// other byte stays as it was; reading the result back proves that the text
// still says what the input said, except the pinned image fields and the
// results. Output that would not is refused (InputError: exit 2, nothing on
// stdout), never written: a corrupt manifest is worse than no output.
import { isMap, isSeq } from "yaml";
import type { Document, Scalar } from "yaml";
import type { Result } from "../results.js";
import { imageSlots } from "../workloads.js";
import { applyEdits } from "./edits.js";
import type { TextEdit } from "./edits.js";
import { InputError } from "./errors.js";
import { isLocalConfig, resourceRef } from "./identity.js";
import { MEASURED, formatPath } from "./limits.js";
import { parseOne, resultsEdit } from "./resource-list.js";
import type { ResourceList } from "./resource-list.js";
import type { ScalarEdit } from "./scalar-text.js";

type Path = (string | number)[];

/** The output text for `list` with `edits` and `results` applied; throws InputError when it would not read back exactly. */
export function writeResourceList(list: ResourceList, edits: readonly TextEdit[], results: readonly Result[]): string {
  const all = [...edits];
  const written = resultsEdit(list, results);
  if (written) all.push(written);
  if (all.length === 0) return list.source;
  const output = applyEdits(list.source, all);
  verify(list, output, edits.filter(isScalarEdit), results);
  return output;
}

function isScalarEdit(edit: TextEdit): edit is ScalarEdit {
  return "node" in edit && "value" in edit;
}

function verify(list: ResourceList, output: string, edits: readonly ScalarEdit[], results: readonly Result[]): void {
  let reread: Document.Parsed;
  try {
    reread = parseOne(output);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw refusal(`the edited text does not read back as YAML (${detail})`, PLEASE_REPORT);
  }
  const pinned = new Map<Scalar, string>(edits.map((e) => [e.node, e.value]));
  const before = list.document.toJS(MEASURED) as Record<string, unknown>;
  const after = reread.toJS(MEASURED) as unknown;
  if (typeof after !== "object" || after === null || Array.isArray(after)) throw refusal("the edited text is no longer a mapping", PLEASE_REPORT);

  // What the data must be: the input's, with each pinned field's new value at every path that
  // reads it (aliases and merge keys included) and nowhere else.
  let expected: unknown = withoutResults(before);
  (list.items?.items ?? []).forEach((item, index) => {
    if (!isMap(item) || isLocalConfig(item)) return;
    for (const slot of imageSlots(item, list.document)) {
      if (slot.kind !== "image") continue;
      const value = pinned.get(slot.node);
      if (value !== undefined) expected = setPath(expected, ["items", index, ...parsePath(slot.path)], value);
    }
  });
  const difference = firstDifference(expected, withoutResults(after as Record<string, unknown>), []);
  if (difference) {
    throw refusal(
      `${describePath(list, difference)} would change too, but it is not a pinned image field: it shares its value with one (an anchor and alias, or a merge key)`,
      "Write the value out in each field, or list the image in skipPrefixes, and run again",
    );
  }

  const earlier = isSeq(list.root.get("results", true)) ? (before.results as unknown[]) : [];
  const wanted = [...earlier, ...(JSON.parse(JSON.stringify(results)) as unknown[])];
  const got = (after as Record<string, unknown>).results;
  const resultDifference = firstDifference(wanted, got, ["results"]);
  if (resultDifference) throw refusal(`the results would not read back as written (${formatPath(resultDifference)} differs)`, PLEASE_REPORT);
}

function withoutResults(data: Record<string, unknown>): Record<string, unknown> {
  const rest = { ...data };
  delete rest.results;
  return rest;
}

/** "spec.template.spec.containers[0].image" as path parts. */
function parsePath(path: string): Path {
  const out: Path = [];
  for (const part of path.split(".")) {
    const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) throw new Error(`unexpected image path ${path}`);
    if (m[1]) out.push(m[1]);
    for (const index of m[2]?.matchAll(/\[(\d+)\]/g) ?? []) out.push(Number(index[1]));
  }
  return out;
}

/** `data` with `value` at `path`, copying only the objects on the way (others may be shared through aliases). */
function setPath(data: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string | number, ...Path];
  if (Array.isArray(data)) {
    const copy = [...(data as unknown[])];
    copy[head as number] = setPath(copy[head as number], rest, value);
    return copy;
  }
  if (typeof data === "object" && data !== null) {
    const copy = { ...(data as Record<string, unknown>) };
    copy[head] = setPath(copy[head], rest, value);
    return copy;
  }
  throw new Error(`no ${String(head)} to set`);
}

/**
 * The path of the first difference between two values read from YAML, or
 * undefined. Pairs already compared are not compared again, so data that
 * aliases share is walked once.
 */
function firstDifference(a: unknown, b: unknown, path: Path, seen = new Map<object, Set<object>>()): Path | undefined {
  if (Object.is(a, b)) return undefined;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return path;
  const pairs = seen.get(a);
  if (pairs?.has(b)) return undefined;
  if (pairs) pairs.add(b);
  else seen.set(a, new Set([b]));
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return path;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], [...path, i], seen);
      if (d) return d;
    }
    return undefined;
  }
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime() ? undefined : path;
  if (a instanceof Map || b instanceof Map || a instanceof Set || b instanceof Set || ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    // !!omap, !!set, !!binary: compared as their entries.
    const entries = (v: object): unknown[] => (ArrayBuffer.isView(v) ? [...(v as Uint8Array)] : [...(v as Iterable<unknown>)]);
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return path;
    return firstDifference(entries(a), entries(b), path, seen);
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return path;
  for (const key of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, key)) return [...path, key];
    const d = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], [...path, key], seen);
    if (d) return d;
  }
  return undefined;
}

function describePath(list: ResourceList, path: Path): string {
  if (path[0] === "items" && typeof path[1] === "number") {
    const item = list.items?.items[path[1]];
    const ref = isMap(item) ? resourceRef(item) : {};
    const who = [ref.kind, [ref.namespace, ref.name].filter(Boolean).join("/")].filter(Boolean).join(" ");
    const rest = formatPath(path.slice(2));
    return `items[${path[1]}]${who ? ` (${who})` : ""}${rest ? ` ${rest}` : ""}`;
  }
  return path.length === 0 ? "the ResourceList" : formatPath(path);
}

const PLEASE_REPORT = "This YAML shape is one krm-digester cannot edit exactly; please report it with the input";

function refusal(why: string, what: string): InputError {
  return new InputError(`cannot write the pinned list exactly, so nothing was written: ${why}. ${what}.`);
}
