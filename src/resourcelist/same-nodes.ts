// Two node trees compared as the data they read: the full read-back's check
// of a whole output (write.ts) and the incremental one's of an entry the
// library composed (read-back.ts).
import { isAlias, isMap, isPair, isScalar, isSeq } from "yaml";
import type { Node, Scalar, YAMLMap, YAMLSeq } from "yaml";

/** Whether two node trees (pairs, collections, scalars, aliases) read as the same data, `pinned` scalars with their new values. */
export function sameNodes(a: unknown, b: unknown, pinned: ReadonlyMap<Scalar, string>): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameNodes(a[i], b[i], pinned)) return false;
    return true;
  }
  if (isPair(a)) return isPair(b) && sameNodes(a.key, b.key, pinned) && sameNodes(a.value, b.value, pinned);
  if (isScalar(a)) {
    if (!isScalar(b) || a.tag !== b.tag || a.anchor !== b.anchor) return false;
    const want: unknown = pinned.get(a) ?? a.value;
    const got: unknown = b.value;
    if (typeof want === "symbol" && typeof got === "symbol") return want.description === got.description;
    return typeof want !== "object" && Object.is(want, got);
  }
  if (isAlias(a)) return isAlias(b) && a.source === b.source;
  if (isMap(a) || isSeq(a)) {
    if ((isMap(a) ? !isMap(b) : !isSeq(b)) || a.tag !== (b as Node).tag || a.anchor !== (b as Node).anchor) return false;
    return sameNodes(a.items, (b as YAMLMap | YAMLSeq).items, pinned);
  }
  return (a === null || a === undefined) && (b === null || b === undefined);
}
