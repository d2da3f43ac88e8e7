// The direct writer of results against yaml's stringify: whenever it writes,
// it must write yaml's exact text.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { stringify } from "yaml";
import { blockListOfMappings } from "../../src/resourcelist/emit-yaml.js";
import { seededRandom } from "../support/random.js";

const OPTIONS = { lineWidth: 0, aliasDuplicateObjects: false } as const;

function same(list: readonly unknown[]): boolean {
  const ours = blockListOfMappings(list);
  if (ours === undefined) return false;
  assert.equal(ours, stringify(list, OPTIONS), JSON.stringify(list));
  return true;
}

describe("results written without yaml", () => {
  it("writes the usual results exactly as yaml does", () => {
    const results = [
      {
        message: "pinned 127.0.0.1:5000/team/app:v1 to sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        severity: "info",
        resourceRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: "prod" },
        field: { path: "spec.template.spec.containers[0].image", currentValue: "127.0.0.1:5000/team/app:v1", proposedValue: "127.0.0.1:5000/team/app:v1@sha256:0123" },
        file: { path: "deploy/web.yaml", index: 0 },
      },
      { message: "cannot resolve nginx:1.25 (the registry said no)", severity: "error", field: { path: "spec.containers[1].image" }, tags: { "x.io/k": "v" } },
    ];
    assert.ok(same(results));
  });

  it("leaves to yaml what it would quote, fold or write in flow style", () => {
    for (const value of ["", "1.25", "true", "null", "~", "0x1F", "a: b", "a #b", "- x", "'q'", '"q"', "line\nbreak", " lead", "trail ", "---x", "%x", "@x", "\u0007", "cannot resolve x: no"]) {
      assert.equal(blockListOfMappings([{ message: value }]), undefined, JSON.stringify(value));
    }
    assert.equal(blockListOfMappings([{ a: null }]), undefined);
    assert.equal(blockListOfMappings([{ a: {} }]), undefined);
    assert.equal(blockListOfMappings([{ a: [1] }]), undefined);
    assert.equal(blockListOfMappings([{ a: 1.5 }]), undefined);
    assert.equal(blockListOfMappings([]), undefined);
  });

  it("agrees with yaml on thousands of random results", () => {
    const random = seededRandom(7);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
    const atoms = ["a", "b-c", "x.y/z", "nginx:1.25", "a:b", "a: b", "a:", ":a", "-a", "- a", "?a", "? a", "a#b", "a #b", "#a", "1", "-1", "1.0", ".5", "1e3", "0o7", "0x1f", "true", "True", "no", "null", "Null", "~", "", " ", "é", "日本", "a'b", 'a"b', "[a]", "{a}", "a,b", "*a", "&a", "!a", "|a", ">a", "%a", "@a", "`a", "---", "...", "a\tb", "a\nb", "\u0085", "\ud800", "sha256:ab", "01", "+1", ".inf", "-.Inf", ".nan", "2001-12-14"];
    const text = (): string => Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(atoms)).join(pick(["", " ", "-", ":", "/"]));
    const value = (depth: number): unknown => {
      const r = random();
      if (r < 0.6) return text();
      if (r < 0.7) return pick([0, 1, 42, -3, 1.5, -0, Number.NaN, 2 ** 60]);
      if (r < 0.75) return pick([true, false, null, undefined]);
      if (r < 0.95 && depth < 2) return object(depth + 1);
      return pick([[], [text()], {}]);
    };
    const object = (depth: number): Record<string, unknown> =>
      Object.fromEntries(Array.from({ length: 1 + Math.floor(random() * 4) }, () => [random() < 0.8 ? pick(["message", "severity", "path", "name", "index", "tags"]) : text(), value(depth)]));
    let written = 0;
    for (let n = 0; n < 3000; n++) if (same(Array.from({ length: 1 + Math.floor(random() * 3) }, () => object(0)))) written++;
    assert.ok(written > 200, `only ${written} lists were written directly`);
  });
});
