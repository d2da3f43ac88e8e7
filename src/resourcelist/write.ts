// The output: the input text with the image edits and the results applied,
// read back before it is returned. Edits are made on the text so that every
// other byte stays as it was; reading the result back proves that the text
// still says what the input said, except the pinned image fields and the
// results. Output that would not is refused (InputError: exit 2, nothing on
// stdout), never written: a corrupt manifest is worse than no output.
import { isDeepStrictEqual } from "node:util";
import { isMap, isScalar, isSeq } from "yaml";
import type { Document, Scalar, YAMLMap } from "yaml";
import type { Result } from "../results.js";
import { imageSlots } from "../workloads.js";
import type { FieldSpec } from "../workloads.js";
import { applyEdits } from "./edits.js";
import type { TextEdit } from "./edits.js";
import { InputError } from "./errors.js";
import { isLocalConfig, resourceRef } from "./identity.js";
import { MEASURED, formatPath } from "./limits.js";
import { readsBackByLines } from "./read-back.js";
import { sameNodes } from "./same-nodes.js";
import { parseOne, parseResourceList, resultsEdit } from "./resource-list.js";
import { resultsReadAs, wantedResults } from "./results-check.js";
import type { ListText, ResourceList } from "./resource-list.js";
import type { ScalarEdit } from "./scalar-text.js";

type Path = (string | number)[];

/**
 * The output text for `list` with `edits` and `results` applied; throws InputError when it would not read back exactly.
 * `fieldSpecs`: the run's own image fields (the config's), walked like the built-in ones.
 */
export function writeResourceList(list: ResourceList, edits: readonly ScalarEdit[], results: readonly Result[], fieldSpecs: readonly FieldSpec[] = []): string {
  return applied(list, edits, results, (output) => readBackFully(list, output, edits, results, fieldSpecs));
}

/**
 * writeResourceList for a list read one item at a time (no tree of its
 * items kept: parseResourceListStreamed). Where the changed lines alone do
 * not prove the output, the input is parsed again whole, each edit moved
 * onto that parse's node at the same place, and read back fully as always.
 */
export function writeStreamedList(list: ListText, edits: readonly ScalarEdit[], results: readonly Result[], fieldSpecs: readonly FieldSpec[] = []): string {
  return applied(list, edits, results, (output) => {
    const whole = parseResourceList(list.source);
    const byStart = new Map(edits.map((e) => [e.node.range?.[0], e]));
    const moved = new Map<number | undefined, ScalarEdit>();
    for (const item of whole.items?.items ?? []) {
      if (!isMap(item) || isLocalConfig(item)) continue;
      for (const slot of imageSlots(item, whole.document, fieldSpecs)) {
        if (slot.kind !== "image") continue;
        const edit = byStart.get(slot.node.range?.[0]);
        if (edit) moved.set(slot.node.range?.[0], { ...edit, node: slot.node });
      }
    }
    // The same parse again: every edit's node is found; else this is a bug, not the input.
    if (moved.size !== edits.length) throw new Error(`the list read again has ${moved.size} of the ${edits.length} edited image fields`);
    readBackFully(whole, output, [...moved.values()], results, fieldSpecs);
  });
}

/**
 * The list's text with `edits` and the results edit applied. Most lists:
 * only the edited lines and the results are read again (read-back.ts); else
 * `readBack` reads the whole output (and throws InputError when it differs).
 */
function applied(list: ListText, edits: readonly ScalarEdit[], results: readonly Result[], readBack: (output: string) => void): string {
  const written = resultsEdit(list, results);
  const all: TextEdit[] = written ? [...edits, written] : [...edits];
  if (all.length === 0) return list.source;
  const output = applyEdits(list.source, all);
  if (!readsBackByLines(list, output, edits, written, results)) readBack(output);
  return output;
}

/** The full read-back: parses the whole output and compares it with the input; throws InputError when it differs. */
export function readBackFully(list: ResourceList, output: string, edits: readonly ScalarEdit[], results: readonly Result[], fieldSpecs: readonly FieldSpec[] = []): void {
  let reread: Document.Parsed;
  try {
    reread = parseOne(output);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw refusal(`the edited text does not read back as YAML (${detail})`, PLEASE_REPORT);
  }
  const root = reread.contents;
  if (!isMap(root)) throw refusal("the edited text is no longer a mapping", PLEASE_REPORT);
  const pinned = new Map<Scalar, string>(edits.map((e) => [e.node, e.value]));

  // The same nodes with the same values (the pinned ones changed) read the same data; a list that
  // shares values (aliases, merge keys) is compared as data, since an edit there reaches further.
  const shared = list.source.includes("*") || list.source.includes("<<");
  if (shared || !sameNodes(withoutResultsPair(list.root), withoutResultsPair(root), pinned)) {
    compareData(list, reread, pinned, fieldSpecs);
  }

  const before = list.root.get("results", true);
  if (results.length === 0 && !before) return;
  const wanted = wantedResults(before, list.document, results);
  const read = resultsReadAs(root.get("results", true), reread, wanted, isSeq(before));
  if (!read.same) {
    const at = firstDifference(wanted, read.got, ["results"]) ?? ["results"];
    throw refusal(`the results would not read back as written (${formatPath(at)} differs)`, PLEASE_REPORT);
  }
}

function withoutResultsPair(map: YAMLMap): unknown[] {
  return map.items.filter((p) => !(isScalar(p.key) && p.key.value === "results"));
}

/** The output's data against the input's with each pinned field's new value at every path that reads it, and nowhere else. */
function compareData(list: ResourceList, reread: Document.Parsed, pinned: ReadonlyMap<Scalar, string>, fieldSpecs: readonly FieldSpec[]): void {
  const before = withoutResults(list.document.toJS(MEASURED) as Record<string, unknown>);
  let after: Record<string, unknown>;
  try {
    after = withoutResults(reread.toJS(MEASURED) as Record<string, unknown>);
  } catch (error) {
    throw refusal(`the edited text does not read back as data (${error instanceof Error ? error.message : String(error)})`, PLEASE_REPORT);
  }
  // Copy-on-write along each pinned path; a container reached by two paths (an alias) gets a copy per path.
  const copies = new Map<string, Record<string | number, unknown>>();
  const set = (path: Path, value: string): void => {
    let parent = before as Record<string | number, unknown>;
    let key = "";
    for (const part of path.slice(0, -1)) {
      key += `/${part}`;
      let child = copies.get(key);
      if (!child) {
        const original = parent[part];
        if (typeof original !== "object" || original === null) return;
        child = (Array.isArray(original) ? [...(original as unknown[])] : { ...(original as Record<string, unknown>) }) as Record<string | number, unknown>;
        parent[part] = child;
        copies.set(key, child);
      }
      parent = child;
    }
    parent[path[path.length - 1]!] = value;
  };
  (list.items?.items ?? []).forEach((item, index) => {
    if (!isMap(item) || isLocalConfig(item)) return;
    for (const slot of imageSlots(item, list.document, fieldSpecs)) {
      const value = slot.kind === "image" ? pinned.get(slot.node) : undefined;
      if (value !== undefined) set(["items", index, ...slot.segments], value);
    }
  });
  if (isDeepStrictEqual(before, after)) return;
  const at = firstDifference(before, after, []) ?? [];
  const was = valueAt(list.document.toJS(MEASURED), at);
  const now = valueAt(after, at);
  if ([...pinned].some(([node, value]) => node.value === was && value === now)) {
    throw refusal(
      `${describePath(list, at)} would change too, but it is not a pinned image field: it shares its value with one (an anchor and alias, or a merge key)`,
      "Write the value out in each field, or list the image in skipPrefixes, and run again",
    );
  }
  throw refusal(`${describePath(list, at)} would not read back as it was`, PLEASE_REPORT);
}

function valueAt(data: unknown, path: Path): unknown {
  let at = data;
  for (const part of path) at = typeof at === "object" && at !== null ? (at as Record<string | number, unknown>)[part] : undefined;
  return at;
}

function withoutResults(data: Record<string, unknown>): Record<string, unknown> {
  const rest = { ...data };
  delete rest.results;
  return rest;
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
