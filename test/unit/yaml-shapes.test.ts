// Regression cases of issue 9, one per shape: the two defects it was filed
// for (block-scalar images, a byte-order mark), the rest of its surface, and
// what the property tests found. Each checks the exact text where it matters,
// and the invariant (yaml's own reading, idempotence) through the oracle.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { runFunction } from "../../src/function.js";
import { parseReference } from "../../src/name/reference.js";
import { InputError } from "../../src/resourcelist/errors.js";
import type { Result } from "../../src/results.js";
import { fakeExpect, fakeRunner } from "../property/properties.js";
import { FakeSource, fakeDigest } from "../support/fake-source.js";
import { checkInvariant } from "../support/yaml-oracle.js";

const pinned = (image: string): string => `${image}@${fakeDigest(parseReference(image))}`;
const HEAD = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n";
const pod = (containers: string): string => `- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n  spec:\n    containers:\n${containers}`;

async function run(input: string) {
  return runFunction(input, () => new FakeSource());
}

/** The output up to its results block (which the function appends last). */
function items(output: string): string {
  const at = output.search(/^ *results:\r?$/m);
  return at < 0 ? output : output.slice(0, at);
}

async function invariant(input: string, mayRefuse = false): Promise<void> {
  await checkInvariant(input, fakeRunner, fakeExpect, { mayRefuse });
}

describe("issue 9: an image written as a block scalar", () => {
  const shapes: [string, string][] = [
    ["|-", "      image: |-\n        nginx:1.25\n"],
    [">-", "      image: >-\n        nginx:1.25\n"],
    ["|2- (indentation indicator)", "      image: |2-\n        nginx:1.25\n"],
    [">- with a comment on the header", "      image: >- # the image\n        nginx:1.25\n"],
    ["|- with blank lines after it", "      image: |-\n        nginx:1.25\n\n\n"],
    ["|-, anchored", "      image: &img |-\n        nginx:1.25\n"],
    ["!!str |-", "      image: !!str |-\n        nginx:1.25\n"],
  ];
  for (const [name, field] of shapes) {
    it(`${name}: only the reference changes, the next line stays a line`, async () => {
      const input = HEAD + pod(`    - name: a\n${field}    - name: b\n      image: busybox\n`);
      const out = await run(input);
      assert.equal(out.exitCode, 0);
      const expected = input.replace("nginx:1.25", pinned("nginx:1.25")).replace("image: busybox", `image: ${pinned("busybox")}`);
      assert.equal(items(out.output), expected);
      const data = parse(out.output) as { items: { spec: { containers: { image: string }[] } }[] };
      assert.deepEqual(data.items[0]?.spec.containers.map((c) => c.image), [pinned("nginx:1.25"), pinned("busybox")]);
      await invariant(input);
    });
  }

  it("a block scalar at the end of a file without a final newline; CRLF", async () => {
    for (const input of [HEAD + pod("    - image: |-\n        nginx:1.25"), (HEAD + pod("    - image: >-\n        nginx:1.25\n")).replaceAll("\n", "\r\n")]) {
      const out = await run(input);
      assert.ok(out.output.includes(pinned("nginx:1.25")));
      await invariant(input);
    }
  });

  it("clip and keep chomping keep the line break in the value: an invalid reference, reported, text unchanged", async () => {
    for (const header of ["|", "|+", ">"]) {
      const input = HEAD + pod(`    - name: a\n      image: ${header}\n        nginx:1.25\n    - name: b\n      image: busybox\n`);
      const out = await run(input);
      assert.equal(out.exitCode, 1);
      assert.match(out.results[0]?.message ?? "", /invalid image reference "nginx:1.25\\n": it has leading or trailing white space/);
      assert.equal(items(out.output), input.replace("image: busybox", `image: ${pinned("busybox")}`));
      await invariant(input);
    }
  });
});

describe("issue 9: a byte-order mark", () => {
  it("results start in column 0, not after the mark", async () => {
    const input = `\ufeff${HEAD}${pod("    - image: nginx\n")}`;
    const out = await run(input);
    assert.ok(out.output.startsWith("\ufeffapiVersion"));
    assert.match(out.output, /\nresults:\n- message: pinned nginx/);
    assert.equal((parse(out.output) as { results: unknown[] }).results.length, 1);
    await invariant(input);
  });

  it("an indented root: results in the root's column; with a byte-order mark yaml rejects it, and so do we", async () => {
    const input = `  apiVersion: config.kubernetes.io/v1\n  kind: ResourceList\n  items:\n  - kind: Pod\n    spec:\n      containers:\n      - image: nginx\n`;
    const out = await run(input);
    assert.match(out.output, /\n {2}results:\n {2}- message: pinned nginx/);
    await invariant(input);
    // yaml counts the mark as a column of the first line ("All mapping items must start at the same column").
    await assert.rejects(run(`\ufeff${input}`), (e: unknown) => e instanceof InputError && /not valid YAML/.test(e.message));
    await invariant(`\ufeff${input}`);
  });
});

describe("issue 9: the rest of the surface", () => {
  it("CRLF: the output keeps CRLF everywhere, the results block included", async () => {
    const input = (HEAD + pod("    - image: nginx # c\n    - image: 'redis:7'\n")).replaceAll("\n", "\r\n");
    const out = await run(input);
    assert.equal(out.output.replaceAll("\r\n", "").includes("\n"), false, JSON.stringify(out.output));
    assert.match(out.output, /\r\nresults:\r\n- message: pinned nginx/);
    await invariant(input);
  });

  it("a missing final newline, document markers and a directive: results go inside the document", async () => {
    for (const input of [HEAD + pod("    - image: nginx"), `%YAML 1.2\n---\n${HEAD}${pod("    - image: nginx\n")}...\n`, `--- # start\n${HEAD}${pod("    - image: nginx\n")}...\n# after\n`]) {
      const out = await run(input);
      assert.equal((parse(out.output) as { results: unknown[] }).results.length, 1);
      await invariant(input);
    }
  });

  it("merge keys: an image inherited through <<: *base is an image, pinned once at its anchor", async () => {
    const input = HEAD + pod("    - &base\n      name: a\n      image: nginx\n    - <<: *base\n      name: b\n    - <<: [*base]\n      name: c\n      image: redis\n");
    const out = await run(input);
    assert.equal(out.exitCode, 0);
    assert.deepEqual(out.results.map((r) => r.field?.path), ["spec.containers[0].image", "spec.containers[1].image", "spec.containers[2].image"]);
    assert.equal(items(out.output), input.replace("image: nginx", `image: ${pinned("nginx")}`).replace("image: redis", `image: ${pinned("redis")}`));
    await invariant(input);
  });

  it("merge keys deeper: a pod spec inherited whole", async () => {
    const input = `${HEAD}- kind: Deployment\n  metadata:\n    name: d\n    annotations:\n      shared: &spec {containers: [{name: a, image: nginx}]}\n  spec:\n    template:\n      spec:\n        <<: *spec\n`;
    // The anchored spec sits in an annotation, which is not an image field: refused, not corrupted.
    await assert.rejects(run(input), (e: unknown) => e instanceof InputError && /metadata.annotations.shared.containers\[0\].image would change too/.test(e.message));
    await invariant(input, true);
  });

  it("an anchored image aliased by a field that is not an image is refused with exit 2, naming that field", async () => {
    const input = HEAD + pod("    - name: a\n      image: &img nginx\n      env:\n      - name: IMAGE\n        value: *img\n");
    await assert.rejects(run(input), (e: unknown) => e instanceof InputError && /items\[0\] \(Pod p\) spec.containers\[0\].env\[0\].value would change too/.test(e.message));
    await invariant(input, true);
  });

  it("quoted, explicit, JSON-like keys; tags; escapes; comments between key and value", async () => {
    const input =
      HEAD +
      pod(
        '    - "image": nginx:1\n    - ? image\n      : redis:7\n    - {"image":"busybox:1"}\n    - image: !!str alpine:3\n    - image: "ng\\x69nx:2"\n' +
          "    - image: # the image\n        nginx:3\n    - image:\n        # on its own line\n        'nginx:4'\n    - image: \"nginx:\\\n        5\"\n",
      );
    const out = await run(input);
    assert.equal(out.exitCode, 0);
    assert.equal(out.results.length, 8);
    const text = items(out.output);
    for (const line of ['"image": ' + pinned("nginx:1"), `: ${pinned("redis:7")}`, `{"image":"${pinned("busybox:1")}"}`, `!!str ${pinned("alpine:3")}`, `"${pinned("nginx:2")}"`, `        ${pinned("nginx:3")}`, `'${pinned("nginx:4")}'`, `"${pinned("nginx:5")}"`]) {
      assert.ok(text.includes(line), `${line}\n${text}`);
    }
    await invariant(input);
  });

  it("results already present: block, flow and empty lists are kept and appended to", async () => {
    for (const results of ["results:\n- message: earlier\n  severity: info\n", "results: [{message: earlier, severity: info}]\n", "results: []\n", "results:\n"]) {
      const input = `${HEAD}${pod("    - image: nginx\n")}${results}functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  data: {}\n`;
      const out = await run(input);
      const got = (parse(out.output) as { results: Result[] }).results.map((r) => r.message);
      assert.deepEqual(got, [...(results.includes("earlier") ? ["earlier"] : []), `pinned nginx to ${fakeDigest(parseReference("nginx"))}`]);
      await invariant(input);
    }
  });

  it("%YAML 1.1: results are written so that 1.1 reads them back as strings", async () => {
    // "on" is a boolean in YAML 1.1 and a valid image name: its currentValue must be quoted.
    const input = `%YAML 1.1\n---\n${HEAD}${pod("    - image: 'on'\n")}`;
    const out = await run(input);
    assert.equal(out.exitCode, 0);
    assert.match(out.output, /currentValue: "on"/);
    await invariant(input);
  });

  it("flow style at every level, and JSON with CRLF and a byte-order mark", async () => {
    const json = `\ufeff${JSON.stringify({ apiVersion: "config.kubernetes.io/v1", kind: "ResourceList", items: [{ kind: "Pod", spec: { containers: [{ image: "nginx" }] } }] }, null, 1).replaceAll("\n", "\r\n")}\r\n`;
    const out = await run(json);
    assert.ok(out.output.startsWith("\ufeffapiVersion: config.kubernetes.io/v1\r\n"));
    await invariant(json);
    await invariant(`${HEAD}- {kind: Pod, spec: {containers: [{name: a, image: nginx}, {image: 'redis'}]}}\n`);
  });

  it("found by testing: JSON with a \"<<\" string key is refused (exit 2), not an internal error", async () => {
    const json = '{"apiVersion":"config.kubernetes.io/v1","kind":"ResourceList","items":[{"kind":"Pod","metadata":{"annotations":{"<<":"x"}},"spec":{"containers":[{"image":"nginx"}]}}]}';
    await assert.rejects(run(json), (e: unknown) => e instanceof InputError && /cannot be rewritten as block YAML/.test(e.message));
  });

  it("an inline merge source: <<: {image: …}", async () => {
    const input = HEAD + pod("    - <<: {image: nginx}\n      name: a\n");
    const out = await run(input);
    assert.ok(out.output.includes(`<<: {image: ${pinned("nginx")}}`));
    await invariant(input);
  });
});

describe("issue 9: bad input stays small", () => {
  const bomb = (where: string): string => {
    let defs = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (let i = 1; i < 9; i++) defs += `    a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(", ")}]\n`;
    return `${HEAD}${pod("    - image: nginx\n")}${where}:\n  apiVersion: v1\n  kind: ConfigMap\n  data:\n    ${defs}`;
  };

  it("an alias bomb in the function config is bad input (exit 2) with the reason", async () => {
    await assert.rejects(run(bomb("functionConfig")), (e: unknown) => e instanceof InputError && /functionConfig.data.a\d+(?:\[\d+\])*: aliases expand the input by more than 1,000,000 nodes \(an alias bomb\?\)/.test(e.message));
  });

  it("an alias pointing into its own anchor is bad input", async () => {
    await assert.rejects(run(`${HEAD}${pod("    - &c {image: nginx, self: *c}\n")}`), (e: unknown) => e instanceof InputError && /\*c|alias/.test(e.message));
  });

  it("deep nesting is bad input", async () => {
    await assert.rejects(run(`${HEAD}- a: ${"[".repeat(5000)}${"]".repeat(5000)}\n`), InputError);
  });

  it("a 1 MB image value is quoted cut short, with its length, and not repeated in currentValue", async () => {
    const big = `nginx:${"a".repeat(1 << 20)}`;
    const out = await run(HEAD + pod(`    - name: a\n      image: ${big}\n`));
    assert.equal(out.exitCode, 1);
    const [result] = out.results;
    assert.ok(result && result.message.length < 800, result?.message.slice(0, 900));
    assert.match(result.message, /invalid image reference "nginx:a+"… \(1048582 characters\)/);
    assert.equal(result.field?.currentValue, undefined);
    assert.ok(out.output.length < big.length * 1.01, "the value is not written twice");
  });

  it("a long container name and a long bad config value are cut short too", async () => {
    const name = "n".repeat(5000);
    const out = await run(`${HEAD}${pod(`    - name: ${name}\n`)}functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  data:\n    timeout: ${"9".repeat(5000)}x\n`);
    assert.ok(out.results.every((r) => r.message.length < 800), out.results.map((r) => r.message.length).join());
  });
});
