// Reading a credential file: absent is normal (undefined), anything else
// wrong is an error that says which file and where, without quoting it.
import { readFile } from "node:fs/promises";

export async function readCredentialFile<T>(path: string, what: string, parse: (json: unknown) => T): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new Error(`${what} ${path} cannot be read (${code ?? String(err)})`, { cause: err });
  }
  // Editors on Windows write a byte-order mark; it is not part of the JSON.
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  if (text.trim() === "") return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} ${path} is not valid JSON${jsonPosition(err, text)}`);
  }
  try {
    return parse(json);
  } catch (err) {
    throw new Error(`${what} ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * " (line L, column C)" from a JSON.parse error. Only the offset is taken
 * from its message: the rest quotes the text, which may hold a password.
 */
export function jsonPosition(err: unknown, text: string): string {
  const match = err instanceof Error ? /position (\d+)/.exec(err.message) : null;
  if (!match?.[1]) return "";
  const before = text.slice(0, Number(match[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return ` (line ${line}, column ${column})`;
}
