// One of several processes hammering one cache directory at once (digest-cache.test.ts):
// writes every key with its own digest and reads every key back, many times over.
// Prints JSON: how many reads found an entry, and the cache's warnings.
import { DigestCache } from "../../src/cache/digest-cache.js";

const [dir, worker, keys, rounds] = [process.argv[2] ?? "", Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
const digest = (k: number, w: number): string => `sha256:${(k * 1000 + w).toString(16).padStart(64, "0")}`;
const cache = new DigestCache({ dir, ttlMs: 3_600_000, maxEntries: keys * 2 });
let found = 0;
for (let round = 0; round < rounds; round++) {
  await Promise.all(
    Array.from({ length: keys }, async (_, k) => {
      await cache.putTag(`key-${k}`, digest(k, worker));
      if (await cache.getTag(`key-${(k * 7 + round) % keys}`)) found++;
    }),
  );
}
await cache.prune();
process.stdout.write(JSON.stringify({ found, warnings: cache.warnings }));
