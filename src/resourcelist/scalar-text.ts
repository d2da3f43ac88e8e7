// The text that replaces an image scalar in the source: the new value in the
// quoting style of the old one, so that the edit changes that value and no
// other byte.
import type { Scalar } from "yaml";

/** The new value in the quoting style of the old one. */
export function scalarText(node: Scalar, value: string): string {
  switch (node.type) {
    case "QUOTE_SINGLE":
      return `'${value.replaceAll("'", "''")}'`;
    case "PLAIN":
      return value;
    default:
      // Double-quoted stays double-quoted; a block scalar becomes one line.
      return JSON.stringify(value);
  }
}
