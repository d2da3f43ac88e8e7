// Offsets in source text, for edits that insert or replace whole lines.

/** The column of `offset`; a byte-order mark at the start of the text takes none. */
export function columnOf(source: string, offset: number): number {
  const lineStart = source.lastIndexOf("\n", offset - 1) + 1;
  return offset - lineStart - (lineStart === 0 && source.charCodeAt(0) === 0xfeff && offset > 0 ? 1 : 0);
}

/** The offset after the line break of the line holding `offset` (a range end may or may not include it). */
export function lineEnd(source: string, offset: number): number {
  if (offset > 0 && source[offset - 1] === "\n") return offset;
  const nl = source.indexOf("\n", offset);
  return nl < 0 ? source.length : nl + 1;
}
