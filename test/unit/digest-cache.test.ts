// The persistent cache on a real directory: TTL, checks kept forever, where it
// lives, corrupt files, an unwritable directory, the size bound, and several
// processes writing and reading one directory at once.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, utimes, writeFile, chmod, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DigestCache, cacheDirectory } from "../../src/cache/digest-cache.js";
import { parseReference } from "../../src/name/reference.js";

const run = promisify(execFile);
const sha = (key: string): string => createHash("sha256").update(key).digest("hex");
const D = (c: string): string => `sha256:${c.repeat(64)}`;
const dirs: string[] = [];
async function fresh(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "krm-digester-cache-"));
  dirs.push(dir);
  return dir;
}
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function entryFiles(dir: string, kind = "tags"): Promise<string[]> {
  return (await readdir(join(dir, "v1", kind))).filter((n) => n.endsWith(".json"));
}

describe("where the cache lives", () => {
  it("$KRM_DIGESTER_CACHE_DIR, else $XDG_CACHE_HOME/krm-digester (absolute only), else ~/.cache/krm-digester", () => {
    assert.equal(cacheDirectory({ KRM_DIGESTER_CACHE_DIR: "/ci/cache", XDG_CACHE_HOME: "/x" }, "/home/u"), "/ci/cache");
    assert.equal(cacheDirectory({ XDG_CACHE_HOME: "/x" }, "/home/u"), "/x/krm-digester");
    assert.equal(cacheDirectory({ XDG_CACHE_HOME: "relative" }, "/home/u"), "/home/u/.cache/krm-digester");
    assert.equal(cacheDirectory({}, "/home/u"), "/home/u/.cache/krm-digester");
  });
});

describe("entries", () => {
  it("a tag is remembered for the TTL, then looked up again; across instances (runs)", async () => {
    const dir = await fresh();
    let now = 1_000_000;
    const first = new DigestCache({ dir, ttlMs: 60_000, now: () => now });
    assert.equal(await first.getTag("docker.io/library/nginx:1.27"), undefined);
    await first.putTag("docker.io/library/nginx:1.27", D("a"));
    now += 59_999;
    const second = new DigestCache({ dir, ttlMs: 60_000, now: () => now });
    assert.deepEqual(await second.getTag("docker.io/library/nginx:1.27"), { digest: D("a"), at: 1_000_000 });
    now += 1;
    assert.equal(await second.getTag("docker.io/library/nginx:1.27"), undefined, "expired");
    assert.equal(await second.getTag("docker.io/library/nginx:1.28"), undefined);
    assert.deepEqual(second.warnings, []);
  });

  it("an entry from the future (a clock that went back) is not trusted", async () => {
    const dir = await fresh();
    await new DigestCache({ dir, ttlMs: 60_000, now: () => 2_000_000 }).putTag("k", D("a"));
    assert.equal(await new DigestCache({ dir, ttlMs: 60_000, now: () => 1_000_000 }).getTag("k"), undefined);
  });

  it("a key (which may hold a credential's fingerprint) is not written into the file, only its hash", async () => {
    const dir = await fresh();
    await new DigestCache({ dir, ttlMs: 60_000 }).putTag("registry.example.com/app:v1 secret.fingerprint", D("a"));
    const [file] = await entryFiles(dir);
    const text = await readFile(join(dir, "v1", "tags", file ?? ""), "utf8");
    assert.ok(!text.includes("fingerprint") && !text.includes("registry.example.com"), text);
  });

  it("a digest check is remembered without limit, for that digest only", async () => {
    const dir = await fresh();
    let now = 0;
    const cache = new DigestCache({ dir, ttlMs: 1, now: () => now });
    await cache.putCheck("ghcr.io/org/app:v1", D("b"));
    now = 10 * 365 * 86_400_000;
    assert.equal(await cache.hasCheck("ghcr.io/org/app:v1", D("b")), true);
    assert.equal(await cache.hasCheck("ghcr.io/org/app:v1", D("c")), false);
    assert.equal(await cache.getTag("ghcr.io/org/app:v1"), undefined, "checks and tags are apart");
  });
});

describe("lookup and remember (what ModeSource uses)", () => {
  const tag = parseReference("ghcr.io/org/app:v1");
  const check = { ...parseReference(`ghcr.io/org/app@${D("b")}`), tag: D("b"), digest: undefined };

  it("a digest check that found its digest is kept without limit; a tag for the TTL", async () => {
    const dir = await fresh();
    let now = 1_000_000;
    const cache = new DigestCache({ dir, ttlMs: 60_000, now: () => now });
    await cache.remember("ghcr.io/org/app:v1", tag, D("a"));
    await cache.remember(`ghcr.io/org/app:${D("b")}`, check, D("b"));
    now += 10 * 365 * 86_400_000;
    const next = new DigestCache({ dir, ttlMs: 60_000, now: () => now });
    assert.equal(await next.lookup("ghcr.io/org/app:v1", tag), undefined, "the tag expired");
    assert.deepEqual(await next.lookup(`ghcr.io/org/app:${D("b")}`, check), { digest: D("b"), at: 1_000_000 });
  });

  it("a check that did not find its digest is not remembered", async () => {
    const dir = await fresh();
    const cache = new DigestCache({ dir, ttlMs: 60_000 });
    await cache.remember(`ghcr.io/org/app:${D("b")}`, check, D("c"));
    assert.equal(await cache.lookup(`ghcr.io/org/app:${D("b")}`, check), undefined);
  });

  it("tag lookups with a platform are apart from those without and from other platforms; checks are shared", async () => {
    const dir = await fresh();
    const plain = new DigestCache({ dir, ttlMs: 60_000 });
    const arm = new DigestCache({ dir, ttlMs: 60_000, platform: { os: "linux", architecture: "arm64" } });
    const windows = new DigestCache({ dir, ttlMs: 60_000, platform: { os: "windows", architecture: "amd64", osVersion: "10.0.17763.1234" } });
    await plain.remember("ghcr.io/org/app:v1", tag, D("a"));
    await arm.remember("ghcr.io/org/app:v1", tag, D("d"));
    assert.equal((await plain.lookup("ghcr.io/org/app:v1", tag))?.digest, D("a"));
    assert.equal((await arm.lookup("ghcr.io/org/app:v1", tag))?.digest, D("d"));
    assert.equal(await windows.lookup("ghcr.io/org/app:v1", tag), undefined);
    await plain.remember(`ghcr.io/org/app:${D("b")}`, check, D("b"));
    assert.equal((await arm.lookup(`ghcr.io/org/app:${D("b")}`, check))?.digest, D("b"));
  });
});

describe("bad files and directories", () => {
  it("a corrupt file is a warning naming it and a miss, and the next write replaces it", async () => {
    const dir = await fresh();
    const cache = new DigestCache({ dir, ttlMs: 60_000 });
    await cache.putTag("a", D("a"));
    await cache.putTag("b", D("b"));
    await cache.putTag("c", D("c"));
    const files = await entryFiles(dir);
    const contents = await Promise.all(files.map(async (f) => [f, await readFile(join(dir, "v1", "tags", f), "utf8")] as const));
    const fileOf = (key: string): string => contents.find(([, text]) => text.includes(`"key":"${sha(key)}"`))?.[0] ?? "";
    await writeFile(join(dir, "v1", "tags", fileOf("a")), '{"key":"a","digest":"sha2');
    await writeFile(join(dir, "v1", "tags", fileOf("b")), `{"key":"${sha("b")}","digest":"${D("b")}","at":"yesterday"}`);
    await writeFile(join(dir, "v1", "tags", fileOf("c")), `{"key":"${sha("not-c")}","digest":"${D("c")}","at":1}`);
    const next = new DigestCache({ dir, ttlMs: 60_000 });
    assert.equal(await next.getTag("a"), undefined);
    assert.equal(await next.getTag("b"), undefined);
    assert.equal(await next.getTag("c"), undefined);
    assert.equal(next.warnings.length, 3);
    assert.match(next.warnings[0] ?? "", new RegExp(`cache file ${dir}/v1/tags/${fileOf("a")} is corrupt and was ignored`));
    await next.putTag("a", D("d"));
    assert.equal((await next.getTag("a"))?.digest, D("d"));
  });

  it("an unwritable directory is one warning and the run goes on", async () => {
    if (process.getuid?.() === 0) {
      // root writes anywhere: a file where the directory should be stands in for it.
      const parent = await fresh();
      await writeFile(join(parent, "cache"), "not a directory");
      const cache = new DigestCache({ dir: join(parent, "cache"), ttlMs: 60_000 });
      await cache.putTag("a", D("a"));
      await cache.putTag("b", D("b"));
      assert.equal(await cache.getTag("a"), undefined);
      assert.equal(cache.warnings.length, 1);
      assert.match(cache.warnings[0] ?? "", /cannot write to the cache directory .*\(ENOTDIR\); this run goes on without saving to it/);
      return;
    }
    const dir = await fresh();
    await mkdir(join(dir, "v1"));
    await chmod(join(dir, "v1"), 0o500);
    const cache = new DigestCache({ dir, ttlMs: 60_000 });
    await cache.putTag("a", D("a"));
    assert.equal(cache.warnings.length, 1);
  });
});

describe("bounded size", () => {
  it("keeps at most maxEntries, dropping the oldest, and clears stale temp files", async () => {
    const dir = await fresh();
    const cache = new DigestCache({ dir, ttlMs: 3_600_000, maxEntries: 20 });
    for (let i = 0; i < 30; i++) await cache.putTag(`k${i}`, D("a"));
    // Give the entries distinct ages: k0 oldest.
    const files = await entryFiles(dir);
    assert.equal(files.length, 30);
    for (let i = 0; i < 30; i++) {
      const text = await Promise.all(files.map(async (f) => [f, await readFile(join(dir, "v1", "tags", f), "utf8")] as const));
      const file = text.find(([, t]) => t.includes(`"key":"${sha(`k${i}`)}"`))?.[0];
      assert.ok(file);
      const t = new Date(Date.now() - (30 - i) * 60_000);
      await utimes(join(dir, "v1", "tags", file), t, t);
    }
    const stale = join(dir, "v1", "tags", "x.json.1.abcd.tmp");
    await writeFile(stale, "half");
    const old = new Date(Date.now() - 3_600_000);
    await utimes(stale, old, old);
    await cache.prune();
    const left = await readdir(join(dir, "v1", "tags"));
    assert.equal(left.length, 18, "pruned to 90 % of the bound");
    assert.ok(!left.some((n) => n.endsWith(".tmp")));
    const next = new DigestCache({ dir, ttlMs: 3_600_000 });
    assert.equal(await next.getTag("k0"), undefined, "the oldest went");
    assert.equal((await next.getTag("k29"))?.digest, D("a"));
    assert.equal(await next.getTag("k11"), undefined);
    assert.ok(await next.getTag("k12"));
  });
});

describe("overlapping runs", () => {
  it("six processes writing and reading the same 100 keys at once: no torn file, no warning, every entry valid", async () => {
    const dir = await fresh();
    const worker = fileURLToPath(new URL("../support/cache-worker.js", import.meta.url));
    const runs = await Promise.all(Array.from({ length: 6 }, (_, w) => run(process.execPath, [worker, dir, String(w), "100", "4"])));
    for (const { stdout } of runs) {
      const out = JSON.parse(stdout) as { found: number; warnings: string[] };
      assert.deepEqual(out.warnings, []);
      assert.ok(out.found > 0);
    }
    const files = await readdir(join(dir, "v1", "tags"));
    assert.equal(files.length, 100, "one file per key, no temp file left");
    const cache = new DigestCache({ dir, ttlMs: 3_600_000 });
    for (let k = 0; k < 100; k++) {
      const entry = await cache.getTag(`key-${k}`);
      assert.ok(entry, `key-${k}`);
      // Written by one of the six workers, whole.
      const writer = parseInt(entry.digest.slice(7), 16) - k * 1000;
      assert.ok(writer >= 0 && writer < 6, entry.digest);
    }
    assert.deepEqual(cache.warnings, []);
  });
});
