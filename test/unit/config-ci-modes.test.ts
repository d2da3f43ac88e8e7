// The config keys of the CI modes in both config kinds: mode, lock, buildArtifacts, cacheTTL.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDocument } from "yaml";
import { parseConfig } from "../../src/config.js";

function parse(text: string): ReturnType<typeof parseConfig> {
  const document = parseDocument(text);
  return parseConfig(document.contents ?? undefined, document);
}

const configMap = (data: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n${data}`;
const typed = (body: string): string => `apiVersion: fn.krm-digester.dev/v1alpha1\nkind: DigesterConfig\nmetadata: {name: c}\n${body}`;

describe("CI mode config keys", () => {
  it("defaults: mode pin, no lock, no build artifacts, no cache", () => {
    const { options, problems } = parse(configMap("  timeout: 10s\n"));
    assert.deepEqual(problems, []);
    assert.equal(options.mode, "pin");
    assert.equal(options.lock, false);
    assert.deepEqual(options.buildArtifacts, []);
    assert.equal(options.cacheTtlMs, undefined);
  });

  it("ConfigMap strings and typed values mean the same", () => {
    const a = parse(configMap('  mode: frozen\n  lock: "true"\n  buildArtifacts: out/a.json,b.json\n  cacheTTL: 1h30m\n'));
    const b = parse(typed("mode: frozen\nlock: true\nbuildArtifacts: [out/a.json, b.json]\ncacheTTL: 1h30m\n"));
    for (const { options, problems } of [a, b]) {
      assert.deepEqual(problems, []);
      assert.equal(options.mode, "frozen");
      assert.equal(options.lock, true);
      assert.deepEqual(options.buildArtifacts, ["out/a.json", "b.json"]);
      assert.equal(options.cacheTtlMs, 5_400_000);
    }
    assert.equal(parse(typed("buildArtifacts: artifacts.json\n")).options.buildArtifacts[0], "artifacts.json", "one file without a list");
    assert.equal(parse(configMap('  mode: check\n  lock: "false"\n')).options.mode, "check");
  });

  it("a bad value names the key and what is allowed", () => {
    assert.deepEqual(
      parse(configMap('  mode: strict\n  lock: "yes"\n  cacheTTL: forever\n')).problems.map((p) => `${p.field}: ${p.message}`),
      [
        'data.mode: mode: expected one of pin, check, frozen, got "strict"',
        'data.lock: lock: expected true or false (the string "true" or "false"), got "yes"',
        'data.cacheTTL: cacheTTL: expected a duration such as "30s", "2m" or "1500ms", got "forever"',
      ],
    );
    assert.deepEqual(
      parse(typed("lock: 1\nbuildArtifacts: [1]\n")).problems.map((p) => p.field),
      ["lock", "buildArtifacts"],
    );
  });
});

describe("fn-config examples", () => {
  it("every example parses without problems, and the CI ones say what they are for", async () => {
    const { readFile, readdir } = await import("node:fs/promises");
    const { ROOT } = await import("../support/run-fn.js");
    const dir = `${ROOT}fn-config`;
    for (const name of (await readdir(dir)).filter((n) => n.endsWith(".yaml"))) {
      const { problems } = parse(await readFile(`${dir}/${name}`, "utf8"));
      assert.deepEqual(problems, [], name);
    }
    assert.equal(parse(await readFile(`${dir}/ci-check.yaml`, "utf8")).options.mode, "check");
    const frozen = parse(await readFile(`${dir}/ci-frozen.yaml`, "utf8")).options;
    assert.equal(frozen.mode, "frozen");
    assert.deepEqual(frozen.buildArtifacts, ["artifacts.json"]);
  });
});
