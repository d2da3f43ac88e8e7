// The streamed run (src/function.ts runStreamed: items walked as they are
// read, no tree of them kept) against the whole-list run: on the corpus, its
// mutations and generated lists, with LF and CRLF line breaks, both must give
// the same output, results, exit code and counts, or the same refusal. And
// the lists it must not stream (an item the walk needs first, a lock) fall
// back to the whole-list run and still come out as that run writes them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../../src/config.js";
import { runFunction } from "../../src/function.js";
import { startPins } from "../../src/pin.js";
import { parseResourceListStreamed } from "../../src/resourcelist/resource-list.js";
import { writeStreamedList } from "../../src/resourcelist/write.js";
import type { FunctionOutput } from "../../src/function.js";
import { InputError } from "../../src/resourcelist/errors.js";
import { differentialTexts, flowVariants } from "../property/properties.js";
import { FakeSource } from "../support/fake-source.js";

type Outcome = { refused: string } | FunctionOutput;

async function run(text: string, streamItems: boolean, source = new FakeSource()): Promise<Outcome> {
  try {
    return await runFunction(text, () => source, { streamItems });
  } catch (error) {
    if (error instanceof InputError) return { refused: error.message };
    throw error;
  }
}

/** Both runs of `text`, compared; returns whether the streamed one streamed. */
async function same(text: string): Promise<boolean> {
  const whole = await run(text, false);
  const streamed = await run(text, true);
  if ("refused" in whole || "refused" in streamed) {
    assert.deepEqual(streamed, whole, text);
    return false;
  }
  assert.equal(whole.streamed, false);
  assert.equal(streamed.output, whole.output, text);
  assert.deepEqual(streamed.results, whole.results, text);
  assert.equal(streamed.exitCode, whole.exitCode);
  assert.deepEqual(streamed.stats, whole.stats);
  return streamed.streamed;
}

const DEPLOYMENT = (name: string, image: string, extra = ""): string =>
  [
    "- apiVersion: apps/v1",
    "  kind: Deployment",
    "  metadata:",
    `    name: ${name}`,
    "  spec:",
    "    template:",
    "      spec:",
    extra,
    "        containers:",
    "        - name: app",
    `          image: ${image}`,
  ]
    .filter((l) => l !== "")
    .join("\n");

const list = (items: string[], tail = ""): string => `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items.join("\n")}\n${tail}`;

describe("streamed run", () => {
  it("writes what the whole-list run writes, on the corpus, its mutations and generated lists, LF and CRLF", async () => {
    const texts = differentialTexts(2026, 3, 100);
    // functionConfig after the items (kpt's order), results already there, and CRLF.
    const config = "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  data:\n    skipPrefixes: ghcr.io/\n";
    texts.push(list([DEPLOYMENT("a", "nginx:1.25"), DEPLOYMENT("b", "ghcr.io/org/tool:2.0")], config));
    texts.push(list([DEPLOYMENT("a", "nginx:1.25")], "results:\n- message: earlier\n  severity: info\n"));
    // JSON, which the streamed read declines (and the whole-list run rewrites as block YAML).
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [{ name: "a", image: "nginx:1.25" }] } };
    texts.push(JSON.stringify({ apiVersion: "config.kubernetes.io/v1", kind: "ResourceList", items: [pod] }, null, 2) + "\n");
    // The same lists in flow mappings: each edit proven by its item, read again from both texts.
    texts.push(...flowVariants(differentialTexts(2027, 0, 30)));
    for (const text of texts.slice()) if (!text.includes("\r")) texts.push(text.replaceAll("\n", "\r\n"));
    let streamed = 0;
    for (const text of texts) if (await same(text)) streamed++;
    // Not vacuous: most of these are lists the streamed run takes.
    assert.ok(streamed >= texts.length / 3, `streamed ${streamed} of ${texts.length}`);
  });

  it("proves an output the changed lines cannot by reading the input again whole", async () => {
    // An image in a block scalar starts its line: the read-back by lines declines, the full one decides.
    const text = list([DEPLOYMENT("a", "nginx:1.25").replace("          image: nginx:1.25", "          image: |-\n            nginx:1.25"), DEPLOYMENT("b", "quay.io/a/b")]);
    assert.ok(text.includes("image: |-\n            nginx:1.25\n"));
    assert.equal(await same(text), true);
    const out = (await run(text, true)) as FunctionOutput;
    assert.match(out.output, /image: \|-\n {12}nginx:1\.25@sha256:[0-9a-f]{64}\n/);
    // An image in a flow mapping: proven by its item, read again from both texts.
    const flow = list([DEPLOYMENT("a", "nginx:1.25").replace("        - name: app\n          image: nginx:1.25", "        - {name: app, image: nginx:1.25}"), DEPLOYMENT("b", "quay.io/a/b")]);
    assert.equal(await same(flow), true);
    assert.match(((await run(flow, true)) as FunctionOutput).output, /\{name: app, image: nginx:1\.25@sha256:[0-9a-f]{64}\}/);
  });

  it("refuses an output whose edit would not read back, by lines or after reading the input again whole", async () => {
    const block = list([DEPLOYMENT("a", "nginx:1.25"), DEPLOYMENT("b", "quay.io/a/b")]);
    const flow = block.replace("        - name: app\n          image: nginx:1.25", "        - {name: app, image: nginx:1.25}");
    const literal = block.replace("          image: nginx:1.25", "          image: |-\n            nginx:1.25");
    for (const text of [block, flow, literal]) {
      let pins: ReturnType<typeof startPins> | undefined;
      const read = await parseResourceListStreamed(text, ({ document, functionConfig }) => {
        const made = startPins(text, document, parseConfig(functionConfig, document).options, new FakeSource());
        pins = made;
        return Promise.resolve((entry, index) => (made.visit(entry, index), true));
      });
      assert.ok(read && pins, text);
      const report = await pins.finish();
      assert.equal(report.edits.length, 2);
      assert.ok(writeStreamedList(read, report.edits, report.results).includes("quay.io/a/b@sha256:"));
      // The first edit writes a second key on its line: the list would no longer say what it said.
      const bad = report.edits.map((e, i) => (i === 0 ? { ...e, text: `${e.text}, extra: x` } : e));
      assert.throws(() => writeStreamedList(read, bad, report.results), InputError, text);
    }
  });

  it("reads a list whole when an item the walk needs first shows up, even one the text check misses", async () => {
    // The Secret comes after the workload that names it, its kind escaped: only the item itself tells.
    const workload = DEPLOYMENT("a", "nginx:1.25", "        imagePullSecrets:\n        - name: pull");
    const secret = ["- apiVersion: v1", '  kind: "Secr\\x65t"', "  metadata:", "    name: pull", "  type: Opaque"].join("\n");
    const text = list([workload, secret]);
    assert.equal(/\bSecret\b/.test(text), false);
    const whole = (await run(text, false)) as FunctionOutput;
    // What the walk only knows with the Secret: it is the wrong type for a pull secret.
    assert.ok(whole.results.some((r) => r.severity === "warning" && r.message.includes("named in imagePullSecrets")), JSON.stringify(whole.results));
    const streamed = (await run(text, true)) as FunctionOutput;
    assert.equal(streamed.streamed, false);
    assert.deepEqual(streamed.results, whole.results);
    assert.equal(streamed.output, whole.output);
  });

  it("reads a list whole when its config writes the lock, and asks the registry once per image either way", async () => {
    const config = "functionConfig:\n  apiVersion: fn.krm-digester.dev/v1alpha1\n  kind: DigesterConfig\n  lock: true\n";
    const text = list([DEPLOYMENT("a", "nginx:1.25"), DEPLOYMENT("b", "nginx:1.25")], config);
    const source = new FakeSource();
    const out = (await run(text, true, source)) as FunctionOutput;
    assert.equal(out.streamed, false);
    assert.match(out.output, /kind: DigestLock/);
    assert.deepEqual(source.calls, ["docker.io/library/nginx:1.25"]);
    const plain = new FakeSource();
    const streamed = (await run(list([DEPLOYMENT("a", "nginx:1.25"), DEPLOYMENT("b", "nginx:1.25")]), true, plain)) as FunctionOutput;
    assert.equal(streamed.streamed, true);
    assert.deepEqual(plain.calls, ["docker.io/library/nginx:1.25"]);
  });

  it("streams by size unless told: a small list is read whole", async () => {
    const text = list([DEPLOYMENT("a", "nginx:1.25")]);
    const out = await runFunction(text, () => new FakeSource());
    assert.equal(out.streamed, false);
  });
});
