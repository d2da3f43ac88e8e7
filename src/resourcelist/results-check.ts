// Whether the results block of an output reads back as the results written:
// the one comparison the full read-back (write.ts) and the incremental one
// (read-back.ts) share.
import { isDeepStrictEqual } from "node:util";
import { isMap, isScalar, isSeq } from "yaml";
import type { Document, Node } from "yaml";
import { MEASURED } from "./limits.js";

/** What `results` must read as: the input's earlier results (`before`, read from `document`), then ours as JSON has them. */
export function wantedResults(before: unknown, document: Document.Parsed, results: readonly object[]): unknown[] {
  const earlier = isSeq(before) ? (before.toJS(document, MEASURED) as unknown[]) : [];
  return [...earlier, ...(JSON.parse(JSON.stringify(results)) as unknown[])];
}

/**
 * Whether `after` (the output's `results` node, in `document`) reads as
 * `wanted`. Most lists carry no results before ours (`hadEarlier` false): our
 * block then holds only maps, lists and scalars, compared as they are, without
 * building their data. Returns the data read when it does not match, for the message.
 */
export function resultsReadAs(after: Node | undefined, document: Document.Parsed, wanted: readonly unknown[], hadEarlier: boolean): { same: true } | { same: false; got: unknown } {
  if (!hadEarlier && readsAs(after, wanted)) return { same: true };
  const got: unknown = after === undefined ? undefined : after.toJS(document, MEASURED);
  return isDeepStrictEqual(wanted, got) ? { same: true } : { same: false, got };
}

/** Whether a node without aliases or tags reads as `value` (plain JSON data). */
export function readsAs(node: unknown, value: unknown): boolean {
  if (isSeq(node)) {
    if (!Array.isArray(value) || node.items.length !== value.length || node.anchor || node.tag) return false;
    return node.items.every((item, i) => readsAs(item, value[i]));
  }
  if (isMap(node)) {
    if (typeof value !== "object" || value === null || Array.isArray(value) || node.anchor || node.tag) return false;
    const record = value as Record<string, unknown>;
    if (node.items.length !== Object.keys(record).length) return false;
    return node.items.every((pair) => isScalar(pair.key) && typeof pair.key.value === "string" && Object.hasOwn(record, pair.key.value) && readsAs(pair.value, record[pair.key.value]));
  }
  return isScalar(node) && !node.anchor && Object.is(node.value, value);
}

/**
 * Whether a node without aliases or tags reads as `value` would after
 * JSON.parse(JSON.stringify(value)) (how results are written), without making
 * that copy: a property that JSON leaves out (undefined, a function) is left
 * out, -0 reads as 0. Anything JSON writes in its own way (toJSON, class
 * instances, non-finite numbers, arrays with holes or undefined) is copied through JSON first.
 */
export function readsAsJSON(node: unknown, value: unknown): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return isScalar(node) && !node.anchor && node.value === value;
    case "number":
      if (!Number.isFinite(value)) break;
      return isScalar(node) && !node.anchor && Object.is(node.value, value === 0 ? 0 : value);
    case "object":
      if (value === null) return isScalar(node) && !node.anchor && node.value === null;
      if (Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype || "toJSON" in value) break;
      return mapReadsAsJSON(node, value as Record<string, unknown>);
    default:
      break;
  }
  return readsAs(node, value === undefined ? undefined : JSON.parse(JSON.stringify(value)));
}

function mapReadsAsJSON(node: unknown, record: Record<string, unknown>): boolean {
  if (!isMap(node) || node.anchor || node.tag) return false;
  let written = 0;
  for (const key in record) {
    const v = record[key];
    if (v !== undefined && typeof v !== "function" && typeof v !== "symbol") written++;
  }
  if (node.items.length !== written) return false;
  for (const pair of node.items) {
    const key = pair.key;
    if (!isScalar(key) || typeof key.value !== "string" || !Object.hasOwn(record, key.value)) return false;
    const v = record[key.value];
    if (v === undefined || typeof v === "function" || typeof v === "symbol" || !readsAsJSON(pair.value, v)) return false;
  }
  return true;
}
