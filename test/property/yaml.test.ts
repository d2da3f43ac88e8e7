// Property tests of issue 9 (never a corrupt manifest), within npm test's
// budget: hand-written-style ResourceLists and mutations of the real corpus,
// pinned against the unit tests' digest source and checked against yaml's
// own reading of the text (see test/support/yaml-oracle.ts). `npm run fuzz`
// runs the same properties for longer.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { IMAGES, choices, corpusCase, corpusFiles, fakeExpect, fakeRunner, generatedCase, tally } from "./properties.js";

// Fixed seeds: npm test is reproducible; the fuzz script explores new ones.
const GENERATED_RUNS = 150;
const CORPUS_RUNS = 60;

describe("property: every YAML shape comes out exact or refused", () => {
  it(`${GENERATED_RUNS} hand-written-style lists: same data but the pins, idempotent, or exit 2`, async () => {
    const t = tally();
    await fc.assert(fc.asyncProperty(choices, (n) => generatedCase(n, fakeRunner, fakeExpect, IMAGES, t)), { seed: 9_2026, numRuns: GENERATED_RUNS });
    // The generator must reach the surface: most lists pinned, with many fields, few refused.
    assert.ok(t.pinned > GENERATED_RUNS * 0.7, JSON.stringify({ ...t, refusals: t.refusals.slice(0, 5) }));
    assert.ok(t.fields > GENERATED_RUNS, JSON.stringify(t));
    for (const r of t.refusals.filter((m) => m.includes("cannot write the pinned list exactly"))) {
      assert.match(r, /shares its value with one/, "the only refusal of valid lists is a value shared with a field that is not pinned");
    }
  });

  it(`${CORPUS_RUNS} mutations of the real corpus: block-scalar, quoted, tagged, aliased images, comments, CRLF, BOM, markers`, async () => {
    const files = corpusFiles();
    assert.ok(files.length >= 10, `corpus files with images: ${files.length}`);
    const t = tally();
    await fc.assert(
      fc.asyncProperty(fc.nat(files.length - 1), choices, (i, n) => corpusCase(files[i]!, n, fakeRunner, fakeExpect, t)),
      { seed: 9_2027, numRuns: CORPUS_RUNS },
    );
    assert.ok(t.pinned > CORPUS_RUNS * 0.9 && t.fields > CORPUS_RUNS, JSON.stringify({ ...t, refusals: t.refusals.slice(0, 5) }));
  });
});
