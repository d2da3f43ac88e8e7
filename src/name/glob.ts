// Image globs (the `skipImages` setting): `*` matches within one path segment
// (no `/`), `**` across segments, `?` one character other than `/`; everything
// else, `.` and `:` of a registry port included, matches itself.

export interface ImageGlob {
  /** The pattern as the user wrote it, for results. */
  readonly pattern: string;
  readonly regex: RegExp;
}

export class InvalidGlobError extends Error {}

export function compileGlob(pattern: string): ImageGlob {
  if (pattern === "" || /\s/.test(pattern)) throw new InvalidGlobError(`pattern ${JSON.stringify(pattern)} is empty or contains white space`);
  if (/\*{3,}/.test(pattern)) throw new InvalidGlobError(`pattern ${JSON.stringify(pattern)} has "***": use * (within a segment) or ** (across segments)`);
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? "";
    if (c === "*" && pattern[i + 1] === "*") {
      source += ".*";
      i++;
    } else if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return { pattern, regex: new RegExp(`^${source}$`) };
}

/** The first glob that matches one of the texts, or undefined. */
export function firstMatch(globs: readonly ImageGlob[], texts: readonly string[]): ImageGlob | undefined {
  return globs.find((g) => texts.some((t) => g.regex.test(t)));
}
