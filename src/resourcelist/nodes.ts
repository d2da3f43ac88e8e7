// Small readers of yaml nodes shared by the ResourceList layer and the walk.
import { isMap, isScalar, isSeq } from "yaml";
import { quote } from "../quote.js";

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
    if (typeof value === "string") return `the string ${quote(value)}`;
    return typeof value === "number" || typeof value === "boolean" || typeof value === "bigint" ? `the ${typeof value} ${value}` : `a ${typeof value}`;
  }
  return "an alias or unknown node";
}
