// Which files a files-mode run reads: every file named, and under each
// directory named every *.yaml and *.yml file, recursively. Hidden
// directories (.git, .github) and node_modules are not entered, and symbolic
// links met in a walk are not followed (no loops, no edits outside the tree);
// a link named on the command line stands for the file it points to.
import { readdir, realpath, stat } from "node:fs/promises";
import { join, relative, resolve } from "node:path";

const SKIPPED_DIRECTORIES = new Set(["node_modules"]);

/** A path that cannot be used: the message names it. */
export class PathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PathError";
  }
}

export function isYamlName(name: string): boolean {
  return name.endsWith(".yaml") || name.endsWith(".yml");
}

/** Absolute paths of the files to read, sorted and each once; throws PathError for a path that does not exist. */
export async function yamlFiles(paths: readonly string[], cwd: string): Promise<string[]> {
  const found = new Set<string>();
  for (const path of paths) {
    const absolute = resolve(cwd, path);
    const info = await stat(absolute).catch((error: NodeJS.ErrnoException) => {
      throw new PathError(`${path}: ${error.code === "ENOENT" ? "no such file or directory" : `cannot be read (${error.code ?? String(error)})`}`);
    });
    if (info.isDirectory()) for (const file of await walk(absolute)) found.add(file);
    // A link is edited where it points: the file it names changes, and the link stays a link.
    else if (info.isFile()) found.add(await realpath(absolute));
    else throw new PathError(`${path}: not a file or directory`);
  }
  return [...found].sort();
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith(".") && !SKIPPED_DIRECTORIES.has(entry.name)) out.push(...(await walk(path)));
    } else if (entry.isFile() && isYamlName(entry.name)) out.push(path);
  }
  return out;
}

/** How a file is named in messages: relative to the working directory when under it. */
export function displayPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel.startsWith("..") || rel === "" ? file : rel;
}
