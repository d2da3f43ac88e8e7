// User input quoted in a message: whole when short, cut short with its length
// when long, so that a 1 MB value makes a line of stderr, not a megabyte.

/** Longest value quoted whole, in characters: every name (255) and tag (128) of a valid reference fits. */
export const QUOTE_MAX = 256;

/** `value` as a JSON string, or its first QUOTE_MAX characters and its length. */
export function quote(value: string, max = QUOTE_MAX): string {
  if (value.length <= max) return JSON.stringify(value);
  let head = value.slice(0, max);
  // Do not cut a surrogate pair in half.
  if (/[\uD800-\uDBFF]$/.test(head)) head = head.slice(0, -1);
  return `${JSON.stringify(head)}… (${value.length} characters)`;
}
