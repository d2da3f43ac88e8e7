// Text a registry, a token service or a credential file controls, quoted in
// messages: cut short (with its length) so one hostile value cannot flood
// stderr and results, and kept on one line.

import { quote } from "../quote.js";

/** JSON-quoted, at most `max` characters of it, e.g. `"text/html…" (70000 characters)`: src/quote.ts's `quote`, with a shorter cut for registry text. */
export function quoteShort(value: string, max = 100): string {
  return quote(value, max);
}

/** Free text (an error message from a registry) on one line, at most `max` characters. */
export function clip(text: string, max = 200): string {
  const line = text.replace(/[\r\n\t]+/g, " ").trim();
  return line.length <= max ? line : `${line.slice(0, max)}… (${line.length} characters)`;
}
