// Reading an item's keys as Kubernetes reads YAML: through aliases and merge
// keys (`<<: *base`), so a field inherited from an anchored mapping is seen
// where the API server would see it. Shared by every walk over image fields.
import { isAlias, isMap, isPair, isScalar, isSeq } from "yaml";
import type { Document, Node, YAMLMap } from "yaml";
import { isMergeKey } from "../resourcelist/limits.js";

/** A key or list index on the way from an item's root to a field. */
export type Segment = string | number;

/**
 * The value node of `key` in `map`: its own pair, else the first merged
 * mapping (`<<: *a` or `<<: [*a, *b]`, earlier ones first) that has the key,
 * as yaml's `merge: true` and Kubernetes' YAML reader resolve it.
 */
export function lookup(map: YAMLMap, key: string, document: Document.Parsed, depth = 0): Node | undefined {
  const own = map.get(key, true) as Node | undefined;
  if (own !== undefined || depth > 64) return own;
  for (const pair of map.items) {
    if (!isPair(pair) || !isMergeKey(pair.key)) continue;
    const value = deref(pair.value as Node | undefined, document);
    const sources = isSeq(value) ? value.items.map((item) => deref(item as Node, document)) : [value];
    for (const source of sources) {
      if (!isMap(source)) continue;
      const found = lookup(source, key, document, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

export function deref(node: Node | undefined, document: Document.Parsed): Node | undefined {
  return isAlias(node) ? node.resolve(document) : node;
}

/** The string a key holds (through aliases and merge keys), else undefined. */
export function stringAt(map: YAMLMap, key: string, document: Document.Parsed): string | undefined {
  const node = deref(lookup(map, key, document), document);
  return isScalar(node) && typeof node.value === "string" ? node.value : undefined;
}

/** Whether a node is absent or YAML's null (`key:`, `key: ~`): nothing is there to walk. */
export function isNothing(node: Node | undefined): boolean {
  return node === undefined || (isScalar(node) && node.value === null);
}

const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;

/**
 * "spec.template.spec.containers[0].image", as results print a field's path.
 * A key that is not a plain name (a dot, a slash, brackets: fieldSpecs can
 * reach annotation and data keys) is written in brackets as a JSON string,
 * `data["app.image"]`, so the path can be read back without doubt.
 */
export function formatSegments(segments: readonly Segment[]): string {
  let out = "";
  for (const part of segments) {
    if (typeof part === "number") out += `[${part}]`;
    else if (!PLAIN_KEY.test(part)) out += `[${JSON.stringify(part)}]`;
    else out += out === "" ? part : `.${part}`;
  }
  return out;
}
