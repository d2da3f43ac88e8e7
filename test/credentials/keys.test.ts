// Credential keys: parsing as users write them, and the docker, auth.json and
// kubelet matching rules.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bySpecificity, globMatch, coversPath, kubeletMatch, parseKey } from "../../src/credentials/keys.js";
import type { RegistryKey } from "../../src/credentials/keys.js";

describe("parseKey", () => {
  const cases: [string, RegistryKey | undefined][] = [
    ["quay.io", { host: "quay.io", path: "" }],
    ["https://quay.io", { host: "quay.io", path: "" }],
    ["http://127.0.0.1:5000/", { host: "127.0.0.1:5000", path: "" }],
    ["https://index.docker.io/v1/", { host: "docker.io", path: "" }],
    ["index.docker.io", { host: "docker.io", path: "" }],
    ["registry-1.docker.io", { host: "docker.io", path: "" }],
    ["https://registry.example.com/v2/", { host: "registry.example.com", path: "" }],
    ["https://registry.example.com/v2/team", { host: "registry.example.com", path: "team" }],
    ["quay.io/team/app/", { host: "quay.io", path: "team/app" }],
    ["Registry.Example.COM:443/team", { host: "registry.example.com:443", path: "team" }],
    ["*.example.com", { host: "*.example.com", path: "" }],
    ["[::1]:5000/x", { host: "[::1]:5000", path: "x" }],
    ["", undefined],
    ["https://", undefined],
  ];
  for (const [key, expected] of cases) {
    it(`${JSON.stringify(key)} -> ${JSON.stringify(expected)}`, () => assert.deepEqual(parseKey(key), expected));
  }

  it("drops the path in host-only mode (docker's reading)", () => {
    assert.deepEqual(parseKey("https://quay.io/team/app", true), { host: "quay.io", path: "" });
  });
});

describe("coversPath", () => {
  it("matches whole segments only", () => {
    assert.ok(coversPath("", "anything/at/all"));
    assert.ok(coversPath("team", "team"));
    assert.ok(coversPath("team", "team/app"));
    assert.ok(!coversPath("team", "teamx/app"));
    assert.ok(!coversPath("team/app", "team"));
  });
});

describe("host-only keys (docker's reading)", () => {
  it("reduce every Docker Hub alias to docker.io and keep ports", () => {
    for (const key of ["https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io/v2/", "docker.io"]) {
      assert.equal(parseKey(key, true)?.host, "docker.io", key);
    }
    assert.equal(parseKey("http://127.0.0.1:5000/v2/", true)?.host, "127.0.0.1:5000");
  });
});

describe("kubeletMatch", () => {
  const cases: [string, string, string, boolean][] = [
    ["registry.example.com", "registry.example.com", "app", true],
    ["*.example.com", "registry.example.com", "app", true],
    ["*.example.com", "example.com", "app", false],
    ["*.example.com", "a.b.example.com", "app", false],
    ["*.*.example.com", "a.b.example.com", "app", true],
    ["reg?.example.com", "reg1.example.com", "app", true],
    ["reg?.example.com", "reg12.example.com", "app", false],
    ["registry.example.com:5000", "registry.example.com:5000", "app", true],
    ["registry.example.com:5000", "registry.example.com", "app", false],
    ["registry.example.com", "registry.example.com:5000", "app", false],
    ["*.example.com:5000", "r.example.com:5000", "app", true],
    ["registry.example.com/team", "registry.example.com", "team/app", true],
    ["registry.example.com/team", "registry.example.com", "other/app", false],
    ["registry.example.com/team", "registry.example.com", "teamx/app", false],
    ["https://index.docker.io/v1/", "docker.io", "library/nginx", true],
    ["docker.io/library", "docker.io", "library/nginx", true],
    ["docker.io/library", "docker.io", "someone/nginx", false],
    ["127.0.0.1:5000", "127.0.0.1:5000", "x", true],
    ["[::1]:5000", "[::1]:5000", "x", true],
    ["EXAMPLE.com", "example.COM", "x", true],
  ];
  for (const [key, registry, repository, expected] of cases) {
    it(`${key} ${expected ? "matches" : "does not match"} ${registry}/${repository}`, () => {
      assert.equal(kubeletMatch(parseKey(key)!, registry, repository), expected);
    });
  }

  it("matches globs like path.Match within a label, without backtracking blow-up", () => {
    const cases: [string, string, boolean][] = [
      ["*", "", true], ["*", "abc", true], ["a*c", "abc", true], ["a*c", "ac", true], ["a*c", "ab", false],
      ["?", "a", true], ["?", "", false], ["a?c", "abc", true], ["*b*", "abc", true], ["*b*", "ac", false],
      ["**a", "ba", true], ["*a*a", "aa", true], ["*a*a", "a", false], ["abc", "abc", true], ["abc", "abcd", false],
    ];
    for (const [glob, text, expected] of cases) assert.equal(globMatch(glob, text), expected, `${glob} ~ ${text}`);
    assert.equal(globMatch(`${"*".repeat(5000)}x`, "a".repeat(5000)), false);
  });

  it("treats regex characters in keys literally", () => {
    assert.ok(!kubeletMatch(parseKey("a+b.example.com")!, "aab.example.com", "x"));
    assert.ok(kubeletMatch(parseKey("a+b.example.com")!, "a+b.example.com", "x"));
  });
});

describe("bySpecificity", () => {
  it("puts deeper paths first, then exact hosts before globs, and keeps the order of equals", () => {
    const keys = ["*.example.com", "r.example.com", "r.example.com/team", "r.example.com/team/app", "other.example.com"];
    const sorted = keys.map((k) => ({ k, key: parseKey(k)! })).sort((a, b) => bySpecificity(a.key, b.key)).map((x) => x.k);
    assert.deepEqual(sorted, ["r.example.com/team/app", "r.example.com/team", "r.example.com", "other.example.com", "*.example.com"]);
  });
});
