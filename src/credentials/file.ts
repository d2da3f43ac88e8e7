// Reading a credential file: absent is normal (undefined), anything else
// wrong is an error that says which file and where, without quoting it.
import { open } from "node:fs/promises";

/** Credential files are a few KiB; a bigger one (or a device that never ends) is the wrong file. */
export const MAX_CREDENTIAL_FILE_BYTES = 4 * 1024 * 1024;

export async function readCredentialFile<T>(path: string, what: string, parse: (json: unknown) => T): Promise<T | undefined> {
  let text: string;
  try {
    const bytes = await readAtMost(path, MAX_CREDENTIAL_FILE_BYTES);
    if (bytes.length > MAX_CREDENTIAL_FILE_BYTES) {
      throw new Error(`${what} ${path} is larger than ${MAX_CREDENTIAL_FILE_BYTES / 1024 / 1024} MiB, which no credential file is: check the path`);
    }
    text = bytes.toString("utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    if (code === undefined && err instanceof Error) throw err;
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

/** The file's first limit+1 bytes at most (reads a FIFO or a device as far as that, never further). */
async function readAtMost(path: string, limit: number): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(Math.min(limit + 1, 64 * 1024));
    const chunks: Buffer[] = [];
    let size = 0;
    while (size <= limit) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, limit + 1 - size), null);
      if (bytesRead === 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, bytesRead)));
      size += bytesRead;
    }
    return Buffer.concat(chunks);
  } finally {
    await handle.close();
  }
}
