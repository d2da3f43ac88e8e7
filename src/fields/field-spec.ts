// User-defined image fields (`fieldSpecs`), in the syntax kustomize users
// already write for the images transformer: `{group, version, kind, path}`,
// the path's keys separated by `/` (`\/` for a slash inside a key, a leading
// `/` allowed, `key[]` marking a list), pointing at the field that holds the
// image string; every list on the way (and at the end) is walked item by
// item. group, version and kind are optional filters; empty means any.
import { isMap, isScalar, isSeq, parse } from "yaml";
import type { Document, Node, YAMLMap } from "yaml";
import { quote } from "../quote.js";
import { describe } from "../resourcelist/nodes.js";
import { deref, formatSegments, lookup, stringAt } from "./lookup.js";
import type { Segment } from "./lookup.js";
import type { ImageSlot } from "./slot.js";

export interface FieldSpec {
  readonly group?: string | undefined;
  readonly version?: string | undefined;
  readonly kind?: string | undefined;
  /** As written: "spec/runner/image". */
  readonly path: string;
  /** The path's keys ("runner", not "runner[]"). */
  readonly keys: readonly string[];
}

/** The shape, for error messages. */
export const FIELD_SPEC_SHAPE = "a list of {group, version, kind, path} mappings (path required, its keys separated by /, e.g. {kind: Runner, path: spec/runner/image})";
const ENTRY_KEYS = ["group", "version", "kind", "path", "create"];

export class FieldPathError extends Error {}

/** A kustomize fieldSpec path as its keys; throws FieldPathError for one it cannot mean. */
export function pathKeys(path: string): string[] {
  const text = path.startsWith("/") ? path.slice(1) : path;
  if (text.trim() === "") throw new FieldPathError("the path is empty");
  const keys: string[] = [];
  let key = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\\" && text[i + 1] === "/") {
      key += "/";
      i++;
    } else if (ch === "/") {
      keys.push(key);
      key = "";
    } else key += ch;
  }
  keys.push(key);
  return keys.map((k, i) => {
    const name = k.endsWith("[]") ? k.slice(0, -2) : k;
    const at = `key ${i + 1} of ${quote(path)}`;
    if (name === "") throw new FieldPathError(`${at} is empty (two slashes in a row, or one at the end?)`);
    if (/[[\]]/.test(name)) {
      throw new FieldPathError(`${at}, ${quote(k)}, has brackets: only a trailing [] (a list) is understood; lists are walked anyway, and list entries cannot be picked out`);
    }
    return name;
  });
}

/** The fieldSpecs config value: typed, a YAML list; in a ConfigMap, a string holding that list as YAML or JSON. */
export function parseFieldSpecs(value: unknown, source: "configmap" | "typed"): { value: FieldSpec[] } | { problem: string } {
  let list = value;
  if (typeof value === "string") {
    if (source === "typed") return { problem: `expected ${FIELD_SPEC_SHAPE}, got a string` };
    try {
      list = parse(value, { maxAliasCount: 100 }) as unknown;
    } catch (error) {
      const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
      return { problem: `the value is not YAML or JSON (${why}); in a ConfigMap write ${FIELD_SPEC_SHAPE} as one YAML or JSON string, e.g. '[{kind: Runner, path: spec/runner/image}]'` };
    }
    if (list === null || list === undefined) return { value: [] };
  }
  if (!Array.isArray(list)) return { problem: `expected ${FIELD_SPEC_SHAPE}, got ${typeName(list)}` };
  const specs: FieldSpec[] = [];
  for (const [i, entry] of list.entries()) {
    const at = `entry ${i}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      return { problem: `${at}: expected a mapping {group, version, kind, path}, got ${typeName(entry)}` };
    }
    const record = entry as Record<string, unknown>;
    const unknown = Object.keys(record).find((k) => !ENTRY_KEYS.includes(k));
    if (unknown !== undefined) return { problem: `${at}: unknown key ${quote(unknown)}; allowed: group, version, kind, path (and create: false)` };
    for (const key of ["group", "version", "kind"] as const) {
      const v = record[key];
      if (v !== undefined && v !== null && typeof v !== "string") return { problem: `${at} ${key}: expected a string, got ${typeName(v)}` };
    }
    if (record.create !== undefined && record.create !== false && record.create !== "false") {
      return { problem: `${at} create: krm-digester never creates an image field; remove create or set it to false` };
    }
    const path = record.path;
    if (typeof path !== "string") {
      return { problem: `${at} path: expected a path such as spec/runner/image (keys separated by /), got ${path === undefined ? "nothing" : typeName(path)}` };
    }
    let keys: string[];
    try {
      keys = pathKeys(path);
    } catch (error) {
      if (error instanceof FieldPathError) return { problem: `${at} path: ${error.message}` };
      throw error;
    }
    const filter = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);
    specs.push({ group: filter(record.group), version: filter(record.version), kind: filter(record.kind), path, keys });
  }
  return { value: specs };
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `a string (${quote(value)})`;
  return `${typeof value} ${JSON.stringify(value) ?? ""}`.trimEnd();
}

/** Whether the item's apiVersion and kind pass the spec's filters. */
export function selects(spec: FieldSpec, item: YAMLMap, document: Document.Parsed): boolean {
  if (spec.kind !== undefined && stringAt(item, "kind", document) !== spec.kind) return false;
  if (spec.group === undefined && spec.version === undefined) return true;
  const apiVersion = stringAt(item, "apiVersion", document) ?? "";
  const slash = apiVersion.lastIndexOf("/");
  const [group, version] = slash < 0 ? ["", apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
  return (spec.group === undefined || spec.group === group) && (spec.version === undefined || spec.version === version);
}

/** The image fields `spec` names in `item`; lists anywhere on the path are walked item by item. */
export function fieldSpecSlots(spec: FieldSpec, item: YAMLMap, document: Document.Parsed): ImageSlot[] {
  const out: ImageSlot[] = [];
  const visit = (node: Node | undefined, depth: number, at: Segment[]): void => {
    const value = deref(node, document);
    if (isSeq(value)) {
      value.items.forEach((entry, i) => visit(entry as Node, depth, [...at, i]));
      return;
    }
    if (depth < spec.keys.length) {
      if (!isMap(value)) return; // the path does not exist here
      const key = spec.keys[depth]!;
      const child = lookup(value, key, document);
      if (child !== undefined) visit(child, depth + 1, [...at, key]);
      return;
    }
    out.push(leaf(value, at));
  };
  const leaf = (value: Node | undefined, at: Segment[]): ImageSlot => {
    const path = formatSegments(at);
    const named = `fieldSpecs path ${spec.path}`;
    if (isScalar(value) && typeof value.value === "string" && value.value !== "") return { kind: "image", path, segments: at, node: value, value: value.value };
    if (isScalar(value) && value.value === "") return { kind: "problem", path, segments: at, message: `image is empty (${named})`, currentValue: "" };
    const currentValue = isScalar(value) ? value.value : undefined;
    const hint = isScalar(value)
      ? "set it to an image reference such as registry/repository:tag, or correct the fieldSpecs path"
      : `point the fieldSpecs path at the field that holds the image reference (as in kustomize's images fieldSpecs, e.g. spec/runner/image), not at the ${isMap(value) ? "mapping" : "node"} around it`;
    return { kind: "problem", path, segments: at, message: `${path} must be an image string (${named}), got ${describe(value)}`, currentValue, hint };
  };
  const start = spec.keys[0];
  if (start === undefined) return out;
  const first = lookup(item, start, document);
  if (first !== undefined) visit(first, 1, [start]);
  return out;
}
