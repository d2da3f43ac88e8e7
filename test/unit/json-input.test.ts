// JSON input without yaml's flow parser (fast-parse.ts jsonData) and its
// block rewrite without yaml's stringifier (emit-yaml.ts blockDocument),
// each against the yaml library it stands in for: wherever jsonData answers,
// yaml must read the same text without an error and as the same data;
// blockDocument must always write yaml's exact text.
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Document, parseAllDocuments } from "yaml";
import { blockDocument, directDocument, directItem } from "../../src/resourcelist/emit-yaml.js";
import { InputError } from "../../src/resourcelist/errors.js";
import { jsonData } from "../../src/resourcelist/fast-parse.js";
import { PARSE_OPTIONS, parseResourceList } from "../../src/resourcelist/resource-list.js";
import { seededRandom } from "../support/random.js";

/** yaml's reading of `text` as data, or "error". */
function yamlData(text: string): unknown {
  const docs = parseAllDocuments(text, PARSE_OPTIONS);
  const doc = Array.isArray(docs) && docs.length === 1 ? docs[0] : undefined;
  if (!doc || doc.errors.length > 0) return "error";
  return doc.toJS({ maxAliasCount: -1 });
}

/** "json" when jsonData answered (and yaml agrees), "yaml" when it declined; throws on disagreement. */
function check(text: string): "json" | "yaml" {
  const ours = jsonData(text);
  if (ours === undefined) return "yaml";
  const theirs = yamlData(text);
  assert.notEqual(theirs, "error", `jsonData read what yaml rejects:\n${JSON.stringify(text)}`);
  assert.ok(isDeepStrictEqual(ours, theirs), `jsonData and yaml read different data:\n${JSON.stringify(text)}`);
  return "json";
}

/** The tokens of JSON text, laid out again with white space from `spaces` between them. */
function layout(text: string, random: () => number, spaces: readonly string[]): string {
  const tokens = text.match(/"(?:[^"\\]|\\.)*"|[{}[\]:,]|[^{}[\]:,"\s]+/g) ?? [];
  return tokens.map((t) => (random() < 0.5 ? "" : spaces[Math.floor(random() * spaces.length)]!) + t).join("");
}

const KEY = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constantFrom("a", "b", "1", "", "-", "? x", "#", "a: b", "---", "~", "true", "<<", "__proto__"));
const VALUE = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.jsonValue({ maxDepth: 2, stringUnit: "binary" }),
  fc.double().filter(Number.isFinite),
  fc.constantFrom("", "a\nb", "  lead", "x # c", "'q'", '"d"', "it's", '"both\'', "null", "1.0", "---x", "\u0085", "\u2028", "\ufeff", "\ud800", "a\tb"),
);
const OBJECT = fc.dictionary(KEY, VALUE, { maxKeys: 6 });

describe("JSON input read by JSON.parse where yaml reads the same", () => {
  it("agrees with yaml on JSON laid out with spaces, LF and CRLF breaks anywhere between tokens", () => {
    const random = seededRandom(1313);
    const seen = { json: 0, yaml: 0 };
    fc.assert(
      fc.property(OBJECT, fc.integer({ min: 0, max: 2 }), (object, indent) => {
        const text = layout(JSON.stringify(object, null, indent), random, [" ", "\n", "\n   ", "\r\n", "\r\n  ", "  ", "\n\t", "\n\t\t", "\r\n\t"]);
        seen[check(text)]++;
        seen[check(`\ufeff${text}`)]++;
        // The same object with its first key written twice: yaml's error, never JSON.parse's last value.
        const first = Object.keys(object)[0];
        if (first !== undefined) assert.equal(check(text.replace(/\}\s*$/, `,${JSON.stringify(first)}:0}`)), "yaml");
      }),
      { numRuns: 1500, seed: 1313 },
    );
    assert.ok(seen.json > 1500 && seen.yaml > 50, JSON.stringify(seen));
  });

  it("declines tabs and lone CRs as white space, duplicate keys, merge and __proto__ keys, and what is not one JSON object", () => {
    const random = seededRandom(7);
    for (let n = 0; n < 300; n++) {
      const text = layout(JSON.stringify({ a: [1, { b: "x" }], c: null }), random, ["\t", "\r", " \t", "\n\t", "\n \t"]);
      if (/(?:^|[^\n\t])\t|\r(?!\n)/.test(text)) assert.equal(check(text), "yaml", JSON.stringify(text));
    }
    for (const text of [
      '{"a":1,"a":2}',
      '{"a":1,\n\t"a":2}',
      '{"a":1,"\\u0061":2}',
      '{"x":{"a":1,"b":{"a":2},"a":3}}',
      '{"a":[{"k":1,"k":1}]}',
      '{"<<":{"a":1}}',
      '{"a":{"\\u003c<":1}}',
      '{"__proto__":{"a":1}}',
      '[{"a":1}]',
      '"a"',
      '{"a":1} {"b":2}',
      '{"a":1}\n---\n',
      '{"a":1} # c',
      "{'a':1}",
      '{"a":1,}',
      `${"[".repeat(20000)}${"]".repeat(20000)}`,
      `{"a":${"[".repeat(300)}${"]".repeat(300)}}`,
    ]) {
      assert.equal(check(text), "yaml", text.slice(0, 80));
    }
  });

  it("answers, as yaml reads them, for escapes, numbers and layouts yaml reads as JSON does", () => {
    for (const text of [
      '{"a":"\\u00e9\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\\"\\\\"}',
      '{"lone":"\\ud800","nul":"\\u0000","del":"\u007f","nel":"\u0085","ls":"\u2028","bom":"\ufeff"}',
      '{"n":[-0,0,-0.0,1.0,1.50,1E2,1e+2,5e-324,1e400,-1e400,1e-400,12345678901234567890,9007199254740993,123456789012345678901234567890.5]}',
      '{"a"\n:\n1\n,\n"b"\r\n:\r\n[\n]\n}',
      `{"${"k".repeat(1100)}":1}`,
      '{"":1,"#":2,"- x":3,"a: b":4,"*x":"&y","!t":"%z"}',
      '\ufeff{"a":1}',
      ' \n {"a":1} \n\n',
      JSON.stringify({ a: { b: [1, "x", { c: null }] }, d: "e" }, null, "\t"),
      JSON.stringify({ a: { b: [1, "x", { c: null }] }, d: "e" }, null, "\t").replaceAll("\n", "\r\n"),
    ]) {
      assert.equal(check(text), "json", text.slice(0, 80));
    }
  });
});

describe("JSON data written as block YAML without yaml's stringifier", () => {
  const OPTIONS = { lineWidth: 0, indentSeq: false } as const;

  it("writes yaml's exact text, whichever part it leaves to yaml", () => {
    let direct = 0;
    let items = 0;
    fc.assert(
      fc.property(OBJECT, fc.array(fc.oneof(OBJECT, VALUE), { maxLength: 4 }), (object, list) => {
        const data = { ...object, items: list };
        assert.equal(blockDocument(data), new Document(data).toString(OPTIONS), JSON.stringify(data));
        if (directDocument(data) !== undefined) direct++;
        for (const item of list) {
          const text = directItem(item);
          if (text === undefined) continue;
          items++;
          assert.equal(text, new Document([item]).toString(OPTIONS), JSON.stringify(item));
        }
      }),
      { numRuns: 2000, seed: 1314 },
    );
    assert.ok(direct > 500 && items > 1000, `direct documents ${direct}, items ${items}`);
  });

  it("JSON nested too deeply is refused as before (exit 2, the library's message), never an internal error", () => {
    for (const depth of [150, 250, 1000, 2000, 5000]) {
      const input = `{"apiVersion":"config.kubernetes.io/v1","kind":"ResourceList","items":[],"x":${"[".repeat(depth)}${"]".repeat(depth)}}`;
      try {
        parseResourceList(input);
      } catch (error) {
        assert.ok(error instanceof InputError, `depth ${depth}: ${String(error)}`);
      }
    }
  });

  it("a ResourceList in JSON comes out as yaml wrote it, with its byte-order mark and CRLF breaks", () => {
    const data = {
      apiVersion: "config.kubernetes.io/v1",
      kind: "ResourceList",
      items: [
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", annotations: { "config.kubernetes.io/index": "0" } }, data: { "run.sh": "#!/bin/sh\necho hi\n", n: "1" } },
        { apiVersion: "apps/v1", kind: "Deployment", spec: { replicas: 2, template: { spec: { containers: [{ name: "c", image: "nginx:1.25", args: [], env: [{ name: "A", value: "it's" }] }] } } } },
      ],
      functionConfig: { apiVersion: "v1", kind: "ConfigMap", data: { mode: "pin" } },
    };
    for (const [prefix, eol] of [["", "\n"], ["\ufeff", "\r\n"]] as const) {
      const input = prefix + JSON.stringify(data, null, 2).replaceAll("\n", eol) + eol;
      const list = parseResourceList(input);
      const want = prefix + new Document(data).toString(OPTIONS).replaceAll("\n", eol);
      assert.equal(list.source, want);
      assert.deepEqual(list.document.toJS(), data);
    }
  });
});
