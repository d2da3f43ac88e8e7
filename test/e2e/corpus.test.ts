// Real published manifests, pointed at a real local registry: the function
// must change nothing but the pinned values. Through kpt, the baseline is
// kpt's own rewrite with an identity function (`--exec cat`); without kpt,
// the files are wrapped into a ResourceList by hand and must come back
// byte-identical but for the pins.
import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseReference } from "../../src/name/reference.js";
import { CORPUS_PACKAGES, changedLines, listFiles, preparePackage } from "../support/corpus.js";
import type { PreparedPackage } from "../support/corpus.js";
import { kpt, skipWithout } from "../support/kpt.js";
import { startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { BUNDLE, runFn } from "../support/run-fn.js";
import { seedImages } from "../support/seed.js";

const IMAGE_VALUE = /image:\s+["']?([^\s"'#]+)/;

describe("corpus: published manifests", () => {
  let registry: Registry;
  let work: string;
  const digests = new Map<string, string>();
  const prepared = new Map<string, PreparedPackage>();

  before(async () => {
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), "krm-digester-corpus-"));
    for (const pkg of CORPUS_PACKAGES) {
      const p = await preparePackage(pkg, join(work, "src", pkg.name), registry.host);
      prepared.set(pkg.name, p);
      const pushed = await seedImages(registry, p.seeds);
      p.seeds.forEach((s, i) => digests.set(`${s.repository}:${s.tag}`, pushed[i]?.digest ?? ""));
    }
  });
  after(async () => {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** Asserts every changed line is exactly an image pinned to the seeded digest; returns how many. */
  function assertOnlyPins(before: string, after: string, file: string): number {
    const changes = changedLines(before, after);
    for (const change of changes) {
      const value = IMAGE_VALUE.exec(change.before)?.[1];
      assert.ok(value, `${file}: a line other than an image changed:\n- ${change.before}\n+ ${change.after}`);
      const ref = parseReference(value);
      const digest = digests.get(`${ref.repository}:${ref.tag ?? "latest"}`);
      assert.ok(digest, `${file}: ${value} was not seeded`);
      assert.equal(change.after, change.before.replace(value, `${value}@${digest}`), `${file}: wrong pin`);
    }
    return changes.length;
  }

  for (const pkg of CORPUS_PACKAGES) {
    it(`${pkg.name}: through kpt fn eval, identical to kpt's identity run except the pins, twice`, { skip: skipWithout("kpt") }, async () => {
      const p = prepared.get(pkg.name);
      assert.ok(p);
      const baseline = join(work, "baseline", pkg.name);
      const ours = join(work, "ours", pkg.name);
      await cp(p.dir, baseline, { recursive: true });
      await cp(p.dir, ours, { recursive: true });
      // Twice: a second run must pin nothing more. kpt's identity run is the
      // baseline each time (kpt itself re-doubles comments at the head of list items).
      for (const round of [1, 2]) {
        const identity = await kpt(["fn", "eval", baseline, "--exec", "cat"]);
        assert.equal(identity.code, 0, identity.stderr);
        const run = await kpt(["fn", "eval", ours, "--exec", BUNDLE]);
        assert.equal(run.code, 0, run.stderr);
        if (round === 2) assert.match(run.stderr, / 0 of \d+ image fields pinned|^(?![\s\S]*image fields pinned)/, "second run pinned again");
        let pinned = 0;
        for (const file of await listFiles(baseline)) {
          pinned += assertOnlyPins(await readFile(join(baseline, file), "utf8"), await readFile(join(ours, file), "utf8"), `${file} (round ${round})`);
        }
        assert.equal(pinned, p.unpinnedLines, "every unpinned container image was pinned");
      }
    });

    it(`${pkg.name}: as a hand-made ResourceList, byte-identical except the pins`, async () => {
      const p = prepared.get(pkg.name);
      assert.ok(p);
      let items = "";
      for (const file of await listFiles(p.dir)) {
        if (!/\.ya?ml$/.test(file) && file !== "Kptfile" && file !== "Kustomization") continue;
        const text = await readFile(join(p.dir, file), "utf8");
        for (const doc of text.split(/^---[^\n]*\n/m)) {
          if (doc.trim() === "" || doc.split("\n").every((l) => l.trim() === "" || l.trimStart().startsWith("#"))) continue;
          // Each document becomes one list item, indented two columns.
          items += doc.replace(/\n*$/, "\n").replace(/^(?=.)/gm, "  ").replace(/^ {2}/, "- ");
        }
      }
      const input = `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items}`;
      const run = await runFn(input);
      assert.equal(run.code, 0, run.stderr);
      const cut = run.stdout.search(/^results:\n/m);
      const output = cut < 0 ? run.stdout : run.stdout.slice(0, cut);
      assert.equal(assertOnlyPins(input, output, pkg.name), p.unpinnedLines);
    });
  }
});
