// A persistent cache of registry answers, shared by runs on one machine (a CI
// runner's cache directory, a developer's ~/.cache). One small JSON file per
// entry, named by a hash of its key and written by rename, so that runs which
// overlap never see a torn file and never lock each other out: the last
// writer of an entry wins, and both wrote the same kind of truth. Bounded by
// pruning the oldest entries; a file that does not parse is a warning and a
// miss, never a failure.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, rename, stat, unlink, writeFile } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { digestCheckOf } from "../core/existing.js";
import { formatPlatform } from "../name/platform.js";
import type { Platform } from "../name/platform.js";
import type { ImageReference } from "../name/reference.js";

/** Where the cache lives: $KRM_DIGESTER_CACHE_DIR, else $XDG_CACHE_HOME/krm-digester, else ~/.cache/krm-digester. */
export function cacheDirectory(env: NodeJS.ProcessEnv, home: string): string {
  const own = env.KRM_DIGESTER_CACHE_DIR;
  if (own) return own;
  // The XDG spec: a relative XDG_CACHE_HOME is invalid and is ignored.
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, "krm-digester");
  return join(home, ".cache", "krm-digester");
}

export interface DigestCacheOptions {
  readonly dir: string;
  /** How long a tag lookup is trusted, in milliseconds. */
  readonly ttlMs: number;
  /** Entries kept per kind (tags, checks); the oldest go first. Default 10,000 (about 2.5 MB on disk). */
  readonly maxEntries?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
  /** The `platform` setting: tag lookups made with a platform are kept apart from others. */
  readonly platform?: Platform | undefined;
}

export interface CachedTag {
  readonly digest: string;
  /** What the lookup said about how it was found (which platform of which index, which mirror). */
  readonly note?: string | undefined;
  /** When it was looked up (ms since the epoch). */
  readonly at: number;
}

const DIGEST = /^(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$/;
const VERSION = "v1";
type Kind = "tags" | "checks";

interface Entry {
  /** sha256 of the key: a key may hold a fingerprint of the pull-secret credential, which stays out of the file. */
  key: string;
  digest: string;
  at: number;
  note?: string;
}

export class DigestCache {
  /** Problems met (corrupt files, an unwritable directory), each said once; the caller prints them. */
  readonly warnings: string[] = [];
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly written = new Set<Kind>();
  private unwritable = false;

  constructor(private readonly options: DigestCacheOptions) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * What a lookup found before: for a digest check (existingDigests verify of
   * `repo@digest`) a check that found it, whenever it was; for a tag, a digest
   * looked up less than ttl ago (with the same platform setting). `key` is the
   * lookup's key (reference and credential scope).
   */
  async lookup(key: string, ref: ImageReference): Promise<CachedTag | undefined> {
    const checked = digestCheckOf(ref);
    if (checked === undefined) return this.getTag(this.tagKey(key));
    const entry = await this.read("checks", key);
    return entry?.digest === checked ? { digest: entry.digest, at: entry.at } : undefined;
  }

  /** Remembers what a lookup found: a digest check only when it found its digest (a missing one may be pushed later). */
  async remember(key: string, ref: ImageReference, digest: string, note?: string): Promise<void> {
    const checked = digestCheckOf(ref);
    if (checked === undefined) await this.putTag(this.tagKey(key), digest, note);
    else if (checked === digest) await this.putCheck(key, digest);
  }

  private tagKey(key: string): string {
    return this.options.platform ? `${key} platform=${formatPlatform(this.options.platform)}` : key;
  }

  /** A tag's digest looked up less than ttl ago, or undefined. */
  async getTag(key: string): Promise<CachedTag | undefined> {
    const entry = await this.read("tags", key);
    if (!entry) return undefined;
    const age = this.now() - entry.at;
    if (!(age >= 0 && age < this.options.ttlMs)) return undefined;
    return typeof entry.note === "string" && entry.note !== "" ? { digest: entry.digest, at: entry.at, note: entry.note.slice(0, 2000) } : { digest: entry.digest, at: entry.at };
  }

  async putTag(key: string, digest: string, note?: string): Promise<void> {
    await this.write("tags", key, { key: hashOf(key), digest, at: this.now(), ...(note ? { note } : {}) });
  }

  /** Whether `key` (a reference with its digest) was checked and found good before: a digest never changes, so this never expires. */
  async hasCheck(key: string, digest: string): Promise<boolean> {
    return (await this.read("checks", key))?.digest === digest;
  }

  async putCheck(key: string, digest: string): Promise<void> {
    await this.write("checks", key, { key: hashOf(key), digest, at: this.now() });
  }

  /** Keeps each kind that this run wrote to within maxEntries (oldest first out), and clears stale temp files. */
  async prune(): Promise<void> {
    for (const kind of this.written) {
      const dir = join(this.options.dir, VERSION, kind);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      const now = this.now();
      const files: { name: string; mtime: number }[] = [];
      for (const name of names) {
        const mtime = await stat(join(dir, name)).then((s) => s.mtimeMs, () => undefined);
        if (mtime === undefined) continue;
        // A temp file an interrupted run left behind (a live one is renamed within milliseconds).
        if (name.endsWith(".tmp")) {
          if (now - mtime > 60_000) await unlink(join(dir, name)).catch(() => undefined);
        } else if (name.endsWith(".json")) files.push({ name, mtime });
      }
      if (files.length <= this.maxEntries) continue;
      files.sort((a, b) => a.mtime - b.mtime);
      // Down to 90 %, so that a full cache is not pruned again on every run.
      const drop = files.length - Math.floor(this.maxEntries * 0.9);
      for (const { name } of files.slice(0, drop)) await unlink(join(dir, name)).catch(() => undefined);
    }
  }

  private file(kind: Kind, key: string): string {
    return join(this.options.dir, VERSION, kind, `${hashOf(key)}.json`);
  }

  private async read(kind: Kind, key: string): Promise<Entry | undefined> {
    const file = this.file(kind, key);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") this.warn(`cannot read cache file ${file} (${code ?? String(error)}); looking ${key} up instead`);
      return undefined;
    }
    let entry: unknown;
    try {
      entry = JSON.parse(text);
    } catch {
      entry = undefined;
    }
    if (!isEntry(entry) || entry.key !== hashOf(key)) {
      this.warn(`cache file ${file} is corrupt and was ignored (it will be written again); delete ${this.options.dir} if this repeats`);
      return undefined;
    }
    return entry;
  }

  private async write(kind: Kind, key: string, entry: Entry): Promise<void> {
    if (this.unwritable) return;
    const file = this.file(kind, key);
    const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    try {
      await mkdir(join(this.options.dir, VERSION, kind), { recursive: true });
      await writeFile(temp, `${JSON.stringify(entry)}\n`, { mode: 0o644 });
      // rename() replaces atomically: a reader sees the old file or the new one, never half of one.
      await rename(temp, file);
      this.written.add(kind);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      this.unwritable = true;
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      this.warn(`cannot write to the cache directory ${this.options.dir} (${code}); this run goes on without saving to it (set KRM_DIGESTER_CACHE_DIR to a writable directory)`);
    }
  }

  private warn(message: string): void {
    if (!this.warnings.includes(message)) this.warnings.push(message);
  }
}

function hashOf(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

function isEntry(value: unknown): value is Entry {
  if (typeof value !== "object" || value === null) return false;
  const { key, digest, at } = value as Record<string, unknown>;
  return typeof key === "string" && typeof digest === "string" && DIGEST.test(digest) && typeof at === "number" && Number.isFinite(at);
}
