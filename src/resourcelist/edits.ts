// Edits of the source text by offset. Changing values in place, rather than
// re-serialising a parsed document, is what keeps every untouched byte
// (comments, indentation, block scalars, quoting) exactly as kpt sent it.

export interface TextEdit {
  /** Offset of the first replaced character. */
  readonly start: number;
  /** Offset after the last replaced character (start for a pure insertion). */
  readonly end: number;
  readonly text: string;
}

/** Applies non-overlapping edits; edits at the same offset keep their given order. */
export function applyEdits(source: string, edits: readonly TextEdit[]): string {
  const sorted = edits
    .map((edit, order) => ({ edit, order }))
    .sort((a, b) => a.edit.start - b.edit.start || a.order - b.order);
  const parts: string[] = [];
  let at = 0;
  for (const { edit } of sorted) {
    if (edit.start < at) throw new Error(`overlapping text edits at offset ${edit.start}`);
    parts.push(source.slice(at, edit.start), edit.text);
    at = edit.end;
  }
  parts.push(source.slice(at));
  return parts.join("");
}
