// The incremental read-back (src/resourcelist/read-back.ts) against the full
// one (write.ts): wherever the incremental check vouches for an output, the
// full read-back must accept it too (differential, over the corpus, its
// mutations and generated lists); and an output that would not read back
// exactly (a corrupt edit injected through the internal API, a byte changed
// elsewhere, a results block that says something else) is never vouched for,
// and is refused by writeResourceList.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDocument } from "yaml";
import { parseConfig } from "../../src/config.js";
import { pinImages } from "../../src/pin.js";
import { applyEdits } from "../../src/resourcelist/edits.js";
import { InputError } from "../../src/resourcelist/errors.js";
import { readsBackByLines } from "../../src/resourcelist/read-back.js";
import { parseResourceList, resultsEdit } from "../../src/resourcelist/resource-list.js";
import type { ResourceList } from "../../src/resourcelist/resource-list.js";
import type { ScalarEdit } from "../../src/resourcelist/scalar-text.js";
import { readsAsJSON } from "../../src/resourcelist/results-check.js";
import { readBackFully, writeResourceList } from "../../src/resourcelist/write.js";
import type { Result } from "../../src/results.js";
import { differentialTexts, flowVariants } from "../property/properties.js";
import { FakeSource } from "../support/fake-source.js";

interface Case {
  list: ResourceList;
  edits: ScalarEdit[];
  results: Result[];
  output: string;
  written: ReturnType<typeof resultsEdit>;
}

/** The list pinned with the unit tests' digest source, as the function does it; undefined when the input is refused. */
async function pinned(text: string): Promise<Case | undefined> {
  let list: ResourceList;
  try {
    list = parseResourceList(text);
  } catch (error) {
    if (error instanceof InputError) return undefined;
    throw error;
  }
  const config = parseConfig(list.functionConfig, list.document);
  const report = await pinImages(list, config.options, new FakeSource());
  const edits = report.edits;
  const written = resultsEdit(list, report.results);
  const output = applyEdits(list.source, [...edits, ...(written ? [written] : [])]);
  return { list, edits, results: report.results, output, written };
}

function fully(c: Case, output = c.output, edits = c.edits): "accepted" | "refused" {
  try {
    readBackFully(c.list, output, edits, c.results);
    return "accepted";
  } catch (error) {
    if (error instanceof InputError) return "refused";
    throw error;
  }
}

const byLines = (c: Case, output = c.output, edits = c.edits, results: readonly object[] = c.results): boolean => readsBackByLines(c.list, output, edits, c.written, results);

/** The last item of both lists: a value with a `*` in it, which is text. */
const CONFIG_MAP = `- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: rules
  data:
    verbs: '*'
`;

/** A ResourceList whose first item is Pod `web`, up to its name. */
const POD_WEB = `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1
  kind: Pod
  metadata:
    name: web
`;

const LIST = `${POD_WEB}    annotations:
      config.kubernetes.io/path: 'pod.yaml'
  spec:
    containers:
    - name: a
      image: nginx:1.25 # the web server
    - image: 'registry.example:5000/team/app:v1'
      name: b
    - name: c
      image: "ghcr.io/org/tool:2.0"
    - name: d
      image: quay.io/a/b@sha256:${"ab".repeat(32)}
${CONFIG_MAP}`;

/** LIST's containers in flow style: one-line flow maps the Scanner composes (read-back step 3a), and one broken over two lines that the library composes (step 3b). */
const FLOW = `${POD_WEB}  spec:
    initContainers: [{name: init, image: busybox:1.36}]
    containers:
    - {name: a, image: nginx:1.25} # the web server
    - {image: 'registry.example:5000/team/app:v1', name: b}
    - name: c
      image: "ghcr.io/org/tool:2.0"
    - {name: d, image: quay.io/a/b@sha256:${"ab".repeat(32)}}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: api, labels: {app: api}}
  spec:
    template:
      spec:
        containers: [{name: a, image: "nginx:1.25"}, {name: b,
          image: redis:7, args: ['--save', '']}]
${CONFIG_MAP}`;

/** Edits of `c` with edit `i` replaced by `change(edit)`, and the output they give. */
function corrupt(c: Case, i: number, change: (e: ScalarEdit) => Partial<ScalarEdit>): { edits: ScalarEdit[]; output: string } {
  const edits = c.edits.map((e, j) => (j === i ? { ...e, ...change(e) } : e));
  return { edits, output: applyEdits(c.list.source, [...edits, ...(c.written ? [c.written] : [])]) };
}

describe("incremental read-back", () => {
  it("vouches for the function's own output of a block list, and the full read-back agrees", async () => {
    const c = (await pinned(LIST))!;
    assert.equal(c.edits.length, 3);
    assert.equal(byLines(c), true);
    assert.equal(fully(c), "accepted");
    assert.equal(writeResourceList(c.list, c.edits, c.results), c.output);
  });

  it("vouches for edits in entries the library composed (flow mappings), one entry read again at a time", async () => {
    const c = (await pinned(FLOW))!;
    assert.equal(c.edits.length, 6);
    assert.ok(c.edits.some((e) => !/^\s*(- )?image: /.test(c.list.source.slice(c.list.source.lastIndexOf("\n", e.start) + 1, e.start))));
    assert.equal(byLines(c), true);
    assert.equal(fully(c), "accepted");
    assert.equal(writeResourceList(c.list, c.edits, c.results), c.output);
    // An image that starts its line could change what that line's start decides: left to the full read-back.
    const wrapped = (await pinned(FLOW.replace("{name: b,\n          image: redis:7,", "{name: b, image:\n          redis:7,")))!;
    assert.equal(wrapped.edits.length, 6);
    assert.equal(byLines(wrapped), false);
    assert.equal(fully(wrapped), "accepted");
    assert.equal(writeResourceList(wrapped.list, wrapped.edits, wrapped.results), wrapped.output);
  });

  for (const [name, text] of [["block", LIST], ["flow", FLOW]] as const) it(`never vouches for an edit whose text would read back differently (${name}); writeResourceList refuses it`, async () => {
    const c = (await pinned(text))!;
    const corruptions: [string, (e: ScalarEdit) => Partial<ScalarEdit>][] = [
      ["a key in the value", (e) => ({ text: `${e.text}: x` })],
      ["a value other than the one pinned", (e) => ({ value: `${e.value}x` })],
      ["text that says another value", (e) => ({ text: e.text.replace(/sha256:./, "sha256:z") })],
      ["a number", () => ({ text: "1.5", value: "1.5" })],
      ["a boolean", () => ({ text: "true", value: "true" })],
      ["an empty value", () => ({ text: "", value: "" })],
      ["a comment swallowing the rest", (e) => ({ text: `${e.value.slice(0, 5)} #${e.value.slice(5)}`, value: `${e.value.slice(0, 5)} #${e.value.slice(5)}` })],
      ["an unterminated quote", (e) => ({ text: `'${e.value}`, value: `'${e.value}` })],
      ["trailing text after a quoted value", (e) => ({ text: `"${e.value}" x`, value: `"${e.value}" x` })],
      ["a line break", (e) => ({ text: `${e.value}\n      extra: x`, value: `${e.value}\n      extra: x` })],
      ["an alias", () => ({ text: "*a", value: "*a" })],
      ["a flow mapping", (e) => ({ text: `{a: ${e.value}}`, value: `{a: ${e.value}}` })],
    ];
    for (let i = 0; i < c.edits.length; i++) {
      for (const [what, change] of corruptions) {
        const bad = corrupt(c, i, change);
        assert.equal(byLines(c, bad.output, bad.edits), false, `edit ${i}, ${what}: vouched for\n${bad.output}`);
        assert.equal(fully(c, bad.output, bad.edits), "refused", `edit ${i}, ${what}: the full read-back accepts it`);
        assert.throws(() => writeResourceList(c.list, bad.edits, c.results), InputError, `edit ${i}, ${what}`);
      }
    }
  });

  it("never vouches for an output changed anywhere else, or whose results say something else", async () => {
    const c = (await pinned(LIST))!;
    const changed = [
      c.output.replace("kind: ConfigMap", "kind: ConfigMaq"),
      c.output.replace("name: rules", "name: rules\n    extra: 1"),
      c.output.replace("severity: info", "severity: 1"),
      c.output.replace("    path: pod.yaml\n", "    path: pod.yaml\n    index: 1\n"),
      `${c.output}extra: 1\n`,
      c.output.replace(/\nresults:\n/, "\nresults:\n- message: extra\n"),
    ];
    for (const output of changed) {
      assert.notEqual(output, c.output);
      assert.equal(byLines(c, output), false, output);
      assert.equal(fully(c, output), "refused", output);
    }
    assert.equal(byLines(c, c.output, c.edits, [...c.results, { message: "more", severity: "info" }]), false);
    assert.equal(byLines(c, c.output, c.edits, c.results.slice(1)), false);
  });

  it("leaves to the full read-back what the fast path did not compose", async () => {
    const shapes = [
      LIST.replace(/\n/g, "\r\n"), // CRLF
      `\ufeff${LIST}`, // byte-order mark
      LIST.replace("image: nginx:1.25 # the web server", "image: |-\n        nginx:1.25"), // block scalar
      LIST.replace("    - name: c\n", "    - name: c\n      <<: {x: 1}\n"), // merge key
      LIST.replace("image: nginx:1.25 # the web server", "image: &img nginx:1.25").replace("verbs: '*'", "verbs: *img"), // alias
      LIST.slice(0, -1), // no final newline
      JSON.stringify({ apiVersion: "config.kubernetes.io/v1", kind: "ResourceList", items: [{ apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [{ name: "a", image: "nginx" }] } }] }),
    ];
    for (const text of shapes) {
      const c = await pinned(text);
      if (!c) continue; // refused at parse (the alias into a ConfigMap is read, the shape is what matters)
      if (byLines(c)) assert.equal(fully(c), "accepted");
      else assert.ok(c.list.source !== text || /\r|\ufeff|<<|&img|\|-/.test(text) || !text.endsWith("\n"), `not vouched for:\n${text}`);
    }
    // Each of these shapes is outside the incremental check, whatever else holds.
    for (const text of shapes.slice(0, 6)) {
      const c = await pinned(text);
      if (c) assert.equal(byLines(c), false, text);
    }
  });

  it("keeps earlier results: a block results list at the end is extended, and read back", async () => {
    const text = `${LIST}results:\n- message: earlier\n  severity: info\n`;
    const c = (await pinned(text))!;
    assert.equal(byLines(c), true);
    assert.equal(fully(c), "accepted");
    const flow = (await pinned(`${LIST}results: [{message: earlier, severity: info}]\n`))!;
    assert.equal(fully(flow), "accepted");
    if (byLines(flow)) assert.match(flow.output, /- message: earlier\n {2}severity: info\n- message: pinned/);
    // Results before the items are not at the tail: the full read-back decides.
    const first = (await pinned(LIST.replace("items:\n", "results:\n- message: earlier\n  severity: info\nitems:\n")))!;
    assert.equal(byLines(first), false);
    assert.equal(fully(first), "accepted");
  });

  it("agrees with the full read-back on the corpus, its mutations and generated lists, and refuses their corrupted outputs", async () => {
    const texts = differentialTexts(1313, 4, 120);
    let vouched = 0;
    let corrupted = 0;
    for (const text of texts) {
      const c = await pinned(text);
      if (!c) continue;
      const full = fully(c);
      if (!byLines(c)) continue;
      vouched++;
      assert.equal(full, "accepted", `vouched for an output the full read-back refuses:\n${text}`);
      for (let i = 0; i < c.edits.length; i++) {
        const bad = corrupt(c, i, (e) => ({ text: `${e.text}: x` }));
        assert.equal(byLines(c, bad.output, bad.edits), false, text);
        assert.equal(fully(c, bad.output, bad.edits), "refused", text);
        const other = corrupt(c, i, (e) => ({ value: `${e.value}-` }));
        assert.equal(byLines(c, other.output, other.edits), false, text);
        corrupted++;
      }
    }
    // Not vacuous: most unmutated corpus files and plain generated lists are the fast path's.
    assert.ok(vouched >= 40, `vouched for ${vouched} of ${texts.length}`);
    assert.ok(corrupted >= 100, `corrupted ${corrupted} edits`);
  });

  it("agrees with the full read-back on the same lists in flow mappings, and refuses their corrupted outputs", async () => {
    const texts = flowVariants(differentialTexts(1314, 1, 60));
    let vouched = 0;
    let corrupted = 0;
    for (const text of texts) {
      const c = await pinned(text);
      if (!c || c.edits.length === 0) continue;
      const full = fully(c);
      if (!byLines(c)) continue;
      vouched++;
      assert.equal(full, "accepted", `vouched for an output the full read-back refuses:\n${text}`);
      for (let i = 0; i < c.edits.length; i++) {
        for (const change of [(e: ScalarEdit) => ({ text: `${e.text}, x: y` }), (e: ScalarEdit) => ({ text: `${e.text}}` }), (e: ScalarEdit) => ({ value: `${e.value}-` })]) {
          const bad = corrupt(c, i, change);
          assert.equal(byLines(c, bad.output, bad.edits), false, text);
          assert.equal(fully(c, bad.output, bad.edits), "refused", text);
          corrupted++;
        }
      }
    }
    // Not vacuous: these lists' edits are all inside flow mappings, proven item by item.
    assert.ok(vouched >= 40, `vouched for ${vouched} of ${texts.length}`);
    assert.ok(corrupted >= 300, `corrupted ${corrupted} edits`);
  });

  it("compares a result with what JSON would make of it, without the copy", () => {
    const read = (text: string): unknown => parseDocument(text).contents;
    const values: unknown[] = [
      { a: "x", b: undefined, c: 1, d: { e: true, f: () => 1 } },
      { a: -0 },
      { a: Number.NaN },
      { a: [1, undefined, "x"] },
      { a: new Date(0) },
      { a: { toJSON: () => "j" } },
      { a: null },
      { a: "1" },
      { a: 1 },
      {},
    ];
    const texts = ["a: x\nc: 1\nd:\n  e: true\n", "a: 0\n", "a: null\n", "a: [1, null, x]\n", "a: 1970-01-01T00:00:00.000Z\n", "a: j\n", "a:\n", "a: \"1\"\n", "a: 1\n", "{}\n", "a: x\nc: 1\nd:\n  e: true\n  f: 1\n", "a: \"0\"\n"];
    for (const value of values) {
      for (const text of texts) {
        const want = JSON.stringify(parseDocument(text).toJS()) === JSON.stringify(value) && JSON.stringify(JSON.parse(JSON.stringify(value))) === JSON.stringify(parseDocument(text).toJS());
        assert.equal(readsAsJSON(read(text), value), want, `${JSON.stringify(value)} against ${JSON.stringify(text)}`);
      }
    }
  });
});
