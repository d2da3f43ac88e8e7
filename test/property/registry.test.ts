// The property of issue 9 against a real registry, through the built
// function (dist/krm-digester, as kpt runs it): hand-written-style lists whose
// images live in a local CNCF distribution registry, pinned to the digests
// the registry serves. Fewer runs than the in-process suite: each is two
// process starts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { IMAGE_KINDS, seedImages } from "../support/seed.js";
import { runFn } from "../support/run-fn.js";
import type { Runner } from "../support/yaml-oracle.js";
import { choices, generatedCase, tally } from "./properties.js";

const RUNS = 8;

describe("property against a real registry (the built function)", () => {
  let registry: Registry;
  const digests = new Map<string, string>();
  let images: string[] = [];

  before(async () => {
    registry = await startRegistry();
    const specs = ["shop/web:v1", "shop/api:2.0", "tools/base:latest"].map((r, i) => {
      const [repository, tag] = r.split(":") as [string, string];
      return { repository, tag, kind: IMAGE_KINDS[i % IMAGE_KINDS.length]! };
    });
    const pushed = await seedImages(registry, specs);
    specs.forEach((s, i) => digests.set(`${s.repository}:${s.tag}`, pushed[i]!.digest));
    images = [`${registry.host}/shop/web:v1`, `${registry.host}/shop/api:2.0`, `${registry.host}/tools/base`];
  });
  after(() => registry.stop());

  it(`${RUNS} generated lists: pinned to the registry's digests, exact or refused`, async () => {
    const run: Runner = (input) => runFn(input).then((r) => ({ code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr.split("\n").filter((l) => !l.includes("image fields pinned")).join("\n") }));
    const expect = (image: string): string | undefined => {
      const path = image.slice(registry.host.length + 1);
      const digest = digests.get(path.includes(":") ? path : `${path}:latest`);
      return digest && `${image}@${digest}`;
    };
    const t = tally();
    await fc.assert(fc.asyncProperty(choices, (n) => generatedCase(n, run, expect, images, t)), { seed: 9_2028, numRuns: RUNS, endOnFailure: true });
    assert.ok(t.pinned >= RUNS / 2 && t.fields >= RUNS, JSON.stringify({ ...t, refusals: t.refusals.slice(0, 3) }));
  });
});
