// Text a registry, a token service or a credential file controls, quoted in
// messages: cut short (with its length) so one hostile value cannot flood
// stderr and results, and kept on one line.

/** JSON-quoted, at most `max` characters of it, e.g. `"text/html…" (70000 characters)`. */
export function quoteShort(value: string, max = 100): string {
  if (value.length <= max) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, max))}… (${value.length} characters)`;
}

/** Free text (an error message from a registry) on one line, at most `max` characters. */
export function clip(text: string, max = 200): string {
  const line = text.replace(/[\r\n\t]+/g, " ").trim();
  return line.length <= max ? line : `${line.slice(0, max)}… (${line.length} characters)`;
}
