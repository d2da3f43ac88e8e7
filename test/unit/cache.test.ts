// The shared tag cache on its own: TTL, negative TTL, LRU bound, coalescing,
// per-credential keys and cancellation, with a clock and a source of ours
// (the real registry behind it is proven in test/webhook/).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DigestCache } from "../../src/core/cache.js";
import type { CredentialScope } from "../../src/credentials/pull-secrets.js";
import { parseReference } from "../../src/name/reference.js";
import type { ImageReference } from "../../src/name/reference.js";
import { RegistryError } from "../../src/registry/errors.js";
import type { DigestSource } from "../../src/resolve.js";

class Source implements DigestSource {
  calls: string[] = [];
  aborted = 0;
  pending: { resolve: (d: string) => void; reject: (e: unknown) => void }[] = [];
  constructor(private readonly mode: "now" | "later" | "fail" = "now") {}
  resolveDigest(ref: ImageReference, scope?: CredentialScope, signal?: AbortSignal): Promise<string> {
    this.calls.push(`${ref.original}${scope ? ` ${scope.id}` : ""}`);
    if (this.mode === "fail") return Promise.reject(new RegistryError("TAG_NOT_FOUND", { registry: ref.registry, repository: ref.repository, tag: "x", image: ref.original }, "not found"));
    if (this.mode === "now") return Promise.resolve(`sha256:${String(this.calls.length).padStart(64, "0")}`);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      signal?.addEventListener("abort", () => {
        this.aborted++;
        reject(new Error("aborted"));
      });
    });
  }
}

const ref = (s: string): ImageReference => parseReference(s);
const scope = (id: string): CredentialScope => ({ id, entry: {} as CredentialScope["entry"] });

describe("DigestCache", () => {
  it("reuses a digest for the TTL, then asks again", async () => {
    let now = 0;
    const source = new Source();
    const cache = new DigestCache(source, { ttlMs: 1000, negativeTtlMs: 100, maxEntries: 10, now: () => now });
    const a = await cache.resolveDigest(ref("r.example/a:v1"));
    assert.deepEqual(await cache.resolveDigest(ref("r.example/a:v1")), a);
    now = 999;
    await cache.resolveDigest(ref("r.example/a:v1"));
    assert.equal(source.calls.length, 1);
    now = 1000;
    assert.notDeepEqual(await cache.resolveDigest(ref("r.example/a:v1")), a);
    assert.equal(source.calls.length, 2);
  });

  it("keeps a digest check that found its digest without a TTL, and a tag for its TTL only", async () => {
    let now = 0;
    const digest = `sha256:${"1".padStart(64, "0")}`; // what Source answers first
    const source = new Source();
    const cache = new DigestCache(source, { ttlMs: 1000, negativeTtlMs: 100, maxEntries: 10, now: () => now });
    // existingLookup asks r.example/a@<digest> as the "tag" <digest>.
    const check = { ...ref(`r.example/a@${digest}`), tag: digest, digest: undefined };
    assert.deepEqual(await cache.resolveDigest(check), { digest });
    await cache.resolveDigest(ref("r.example/a:v1"));
    now = 10 * 365 * 86_400_000;
    assert.deepEqual(await cache.resolveDigest(check), { digest });
    assert.equal(source.calls.length, 2, "the check is answered from the cache ten years on");
    await cache.resolveDigest(ref("r.example/a:v1"));
    assert.equal(source.calls.length, 3, "the tag is asked again");
  });

  it("a check that answered another digest, or failed, gets the usual TTLs", async () => {
    let now = 0;
    const source = new Source();
    const cache = new DigestCache(source, { ttlMs: 1000, negativeTtlMs: 100, maxEntries: 10, now: () => now });
    const other = `sha256:${"f".repeat(64)}`;
    const check = { ...ref(`r.example/a@${other}`), tag: other, digest: undefined };
    await cache.resolveDigest(check);
    now = 1000;
    await cache.resolveDigest(check);
    assert.equal(source.calls.length, 2);
  });

  it("remembers a failure for the negative TTL only", async () => {
    let now = 0;
    const source = new Source("fail");
    const cache = new DigestCache(source, { ttlMs: 1000, negativeTtlMs: 100, maxEntries: 10, now: () => now });
    await assert.rejects(cache.resolveDigest(ref("r.example/a:v1")), /not found/);
    await assert.rejects(cache.resolveDigest(ref("r.example/a:v1")), /not found/);
    assert.equal(source.calls.length, 1);
    now = 100;
    await assert.rejects(cache.resolveDigest(ref("r.example/a:v1")));
    assert.equal(source.calls.length, 2);
  });

  it("keeps at most maxEntries, dropping the least recently used", async () => {
    const source = new Source();
    const cache = new DigestCache(source, { ttlMs: 1e9, negativeTtlMs: 1, maxEntries: 2 });
    await cache.resolveDigest(ref("r.example/a:v1"));
    await cache.resolveDigest(ref("r.example/b:v1"));
    await cache.resolveDigest(ref("r.example/a:v1")); // a is now the most recent
    await cache.resolveDigest(ref("r.example/c:v1")); // b goes
    assert.equal(cache.size, 2);
    await cache.resolveDigest(ref("r.example/a:v1"));
    await cache.resolveDigest(ref("r.example/b:v1"));
    assert.deepEqual(source.calls, ["r.example/a:v1", "r.example/b:v1", "r.example/c:v1", "r.example/b:v1"]);
  });

  it("coalesces identical lookups in flight; equal names are one key; another credential is another key", async () => {
    const source = new Source("later");
    const events: string[] = [];
    const cache = new DigestCache(source, { ttlMs: 1e9, negativeTtlMs: 1, maxEntries: 10 }, { lookup: (r) => void events.push(r) });
    const all = Promise.all([
      ...Array.from({ length: 50 }, () => cache.resolveDigest(ref("nginx"))),
      cache.resolveDigest(ref("docker.io/library/nginx:latest")),
      cache.resolveDigest(ref("nginx"), scope("team-a")),
    ]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(source.calls, ["nginx", "nginx team-a"]);
    for (const p of source.pending) p.resolve(`sha256:${"a".repeat(64)}`);
    const answers = await all;
    assert.equal(answers.length, 52);
    assert.equal(events.filter((e) => e === "miss").length, 2);
    assert.equal(events.filter((e) => e === "coalesced").length, 50);
  });

  it("a caller whose deadline passes gets a TIMEOUT; the lookup is cancelled only when the last caller left", async () => {
    const source = new Source("later");
    const cache = new DigestCache(source, { ttlMs: 1e9, negativeTtlMs: 1e9, maxEntries: 10 });
    const one = new AbortController();
    const two = new AbortController();
    const a = cache.resolveDigest(ref("r.example/slow:v1"), undefined, one.signal);
    const b = cache.resolveDigest(ref("r.example/slow:v1"), undefined, two.signal);
    one.abort(new Error("deadline"));
    await assert.rejects(a, (e: unknown) => e instanceof RegistryError && e.code === "TIMEOUT" && e.message.includes("r.example/slow:v1"));
    assert.equal(source.aborted, 0, "the other caller still waits");
    assert.equal(cache.pending, 1);
    two.abort(new Error("deadline"));
    await assert.rejects(b);
    assert.equal(source.aborted, 1);
    assert.equal(cache.pending, 0);
    // A cancelled lookup is not remembered as a failure: the next caller asks again.
    const again = cache.resolveDigest(ref("r.example/slow:v1"));
    await new Promise((r) => setImmediate(r));
    assert.equal(source.calls.length, 2);
    source.pending.at(-1)?.resolve(`sha256:${"b".repeat(64)}`);
    assert.equal((await again).digest, `sha256:${"b".repeat(64)}`);
  });
});
