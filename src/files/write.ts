// Writing a file in place without ever leaving half of it: the new text goes
// to a temp file beside it (same directory, so the same file system), takes
// the old file's permissions, and replaces it by rename.
import { randomBytes } from "node:crypto";
import { chmod, rename, stat, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Replaces the file (or creates it, mode 0644) atomically. */
export async function writeInPlace(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.krm-digester-${randomBytes(4).toString("hex")}.tmp`);
  const mode = await stat(path).then(
    (s) => s.mode,
    (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return 0o644;
      throw error;
    },
  );
  try {
    await writeFile(temp, text, { flag: "wx" });
    await chmod(temp, mode & 0o7777);
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}
