// The edit that replaces an image scalar in the source: the new value in the
// style of the old one, so that the edit changes that value and no other byte.
// yaml's range of a scalar starts at its first character (after any tag or
// anchor) and, for a block scalar, runs from the header (`|-`, `>2-`) through
// the line break after its last content line and any trailing blank lines:
// replacing all of it would swallow that line break (issue 9).
import type { Scalar } from "yaml";
import type { TextEdit } from "./edits.js";

/** An edit of one scalar's value; the ResourceList writer checks each one against the data it reads back. */
export interface ScalarEdit extends TextEdit {
  readonly node: Scalar;
  readonly value: string;
}

/** The new value in the quoting style of the old one (flow scalars only). */
export function scalarText(node: Scalar, value: string): string {
  switch (node.type) {
    case "QUOTE_SINGLE":
      return `'${value.replaceAll("'", "''")}'`;
    case "PLAIN":
      return value;
    default:
      return JSON.stringify(value);
  }
}

/**
 * The edit that gives `node` the value `value` in `source`. A block scalar
 * keeps its header and indentation: a value that is an image reference has no
 * white space, so the scalar has exactly one content line, and only the
 * reference on it changes. A block scalar laid out otherwise (which no valid
 * reference is) becomes a double-quoted scalar ending where its last content
 * line ends, before that line's break.
 */
export function scalarEdit(source: string, node: Scalar, value: string): ScalarEdit {
  const range = node.range;
  if (!range) throw new Error("scalar without a source range");
  const [start, end] = range;
  if (node.type !== "BLOCK_LITERAL" && node.type !== "BLOCK_FOLDED") {
    return { start, end, text: scalarText(node, value), node, value };
  }
  const line = contentLine(source, start, end, String(node.value));
  if (line) return { start: line.start, end: line.end, text: value, node, value };
  return { start, end: lastContentEnd(source, start, end), text: JSON.stringify(value), node, value };
}

const BLANK = /^[ \t]*\r?$/;

/** The span of `old` as the only content of a block scalar at source[start, end), or undefined. */
function contentLine(source: string, start: number, end: number, old: string): { start: number; end: number } | undefined {
  if (old === "" || /\s/.test(old)) return undefined;
  let found: { start: number; end: number } | undefined;
  let at = source.indexOf("\n", start);
  if (at < 0 || at >= end) return undefined;
  for (at++; at < end; ) {
    const nl = source.indexOf("\n", at);
    const lineEnd = nl < 0 || nl > end ? end : nl;
    const text = source.slice(at, lineEnd);
    if (!BLANK.test(text)) {
      if (found) return undefined;
      const indent = text.length - text.trimStart().length;
      const content = text.slice(indent).replace(/\r$/, "");
      if (content !== old || text.slice(0, indent).includes("\t")) return undefined;
      found = { start: at + indent, end: at + indent + old.length };
    }
    at = lineEnd + 1;
  }
  return found;
}

/** The end of the last non-blank line in source[start, end), before its line break. */
function lastContentEnd(source: string, start: number, end: number): number {
  let last = start;
  for (let at = start; at < end; ) {
    const nl = source.indexOf("\n", at);
    const lineEnd = nl < 0 || nl > end ? end : nl;
    const text = source.slice(at, lineEnd);
    if (!BLANK.test(text)) last = lineEnd - (text.endsWith("\r") ? 1 : 0);
    at = lineEnd + 1;
  }
  return last;
}
