// lookupsAhead: the registries a run will ask, read from the raw input
// before the parse; undefined whenever the answer is not plain.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { parseConfig } from "../../src/config.js";
import { lookupsAhead } from "../../src/function.js";
import { parseResourceList } from "../../src/resourcelist/resource-list.js";

const HEAD = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n";
const pod = (name: string, body: string): string => `- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: ${name}\n  spec:\n${body}`;
const container = (image: string, key = "containers"): string => `    ${key}:\n    - name: c\n      image: ${image}\n`;
const config = (data: string): string => `functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n  data:\n${data}`;

describe("lookupsAhead", () => {
  test("registries of containers, initContainers and ephemeralContainers; not other `image` keys", () => {
    const input =
      HEAD +
      pod("a", container("reg.one:5000/app:v1")) +
      pod("b", container('"reg.two/app:v1"', "initContainers")) +
      pod("c", container("'reg.three/app:v1' # comment", "ephemeralContainers")) +
      "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: m\n  data:\n    image: reg.elsewhere/app:v1\n" +
      "- apiVersion: example.com/v1\n  kind: Thing\n  metadata:\n    name: t\n  spec:\n    image: reg.crd/app:v1\n";
    assert.deepEqual(lookupsAhead(input)?.registries, ["reg.one:5000", "reg.two", "reg.three"]);
  });

  test("images with digests (existingDigests keep), ko placeholders, invalid references and skipped prefixes are left out", () => {
    const input =
      HEAD +
      pod("a", container(`reg.one/app@sha256:${"a".repeat(64)}`)) +
      pod("b", container("ko://example.com/cmd")) +
      pod("c", container("UPPER/Case")) +
      pod("d", container("reg.skip/team/app:v1")) +
      pod("e", container("nginx:1.27")) +
      config('    skipPrefixes: "reg.skip/team"\n');
    const ahead = lookupsAhead(input);
    assert.deepEqual(ahead?.registries, ["docker.io"]);
    // The options are those the full parse gives.
    const list = parseResourceList(input);
    assert.deepEqual(ahead?.options, parseConfig(list.functionConfig, list.document).options);
  });

  test("each reference once, however many items repeat it", () => {
    const input = HEAD + pod("a", container("reg.one/app:v1")) + pod("b", container("reg.one/app:v1")) + pod("c", container("reg.one/app:v2"));
    assert.deepEqual(
      lookupsAhead(input)?.refs.map((r) => r.tag),
      ["v1", "v2"],
    );
  });

  test("existingDigests verify looks images with digests up too", () => {
    const input = HEAD + pod("a", container(`reg.one/app:v1@sha256:${"a".repeat(64)}`)) + config("    existingDigests: verify\n");
    assert.deepEqual(lookupsAhead(input)?.registries, ["reg.one"]);
  });

  test("nothing ahead where the run asks no registry, or must weigh more first", () => {
    const base = HEAD + pod("a", container("reg.one/app:v1"));
    for (const [why, input] of [
      ["mode check", base + config("    mode: check\n")],
      ["a cache", base + config("    cacheTTL: 1h\n")],
      ["build artifacts", base + config("    buildArtifacts: a.json\n")],
      ["a config problem", base + config('    concurrency: "lots"\n')],
      ["pull secrets", base.replace("  spec:\n", "  spec:\n    imagePullSecrets:\n    - name: s\n")],
      ["a skip annotation", base.replace("    name: a\n", "    name: a\n    annotations:\n      krm-digester.dev/skip: \"true\"\n")],
      ["several documents", `${base}---\n${base}`],
      ["two functionConfig keys", base + config("") + config("")],
      ["mirrors for the registry", base + config('    registryMirrors: "reg.one=mirror.local:5000"\n')],
      ["no image at all", HEAD + "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: m\n"],
    ] as const) {
      assert.equal(lookupsAhead(input), undefined, why);
    }
    assert.equal(lookupsAhead(base, { readCredentials: () => Promise.resolve([]) }), undefined, "cluster reads");
  });

  test("JSON, flow-style items and CRLF give the same registries as block style", () => {
    const block = HEAD + pod("a", container("reg.one/app:v1")) + pod("b", container("reg.two/app:v1", "initContainers"));
    const data = parse(block) as { items: unknown[] };
    const shapes = [
      JSON.stringify(data),
      JSON.stringify(data, null, 2),
      HEAD + data.items.map((i) => `- ${JSON.stringify(i)}\n`).join(""),
      block.replace(/\n/g, "\r\n"),
      `\ufeff${block}`,
    ];
    for (const input of shapes) assert.deepEqual(lookupsAhead(input)?.registries, ["reg.one", "reg.two"], input.slice(0, 60));
  });

  test("a functionConfig before the items, in JSON, and the command line's skip prefixes count", () => {
    const items = pod("a", container("reg.one/app:v1")) + pod("b", container("reg.two/app:v1"));
    const before = `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n${config('    skipPrefixes: "reg.one"\n')}items:\n${items}`;
    assert.deepEqual(lookupsAhead(before)?.registries, ["reg.two"]);
    const json = JSON.stringify(parse(before));
    assert.deepEqual(lookupsAhead(json)?.registries, ["reg.two"]);
    assert.deepEqual(lookupsAhead(HEAD + items, { skipPrefixes: ["reg.two"] })?.registries, ["reg.one"]);
  });
});
