import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bearerChallenge, hasBasicChallenge, parseChallenges } from "../../src/registry/challenge.js";
import type { Challenge } from "../../src/registry/challenge.js";

const plain = (cs: Challenge[]): { scheme: string; params: Record<string, string[]> }[] =>
  cs.map((c) => ({ scheme: c.scheme, params: Object.fromEntries([...c.params].map(([k, v]) => [k, [...v]])) }));

describe("parseChallenges", () => {
  it("reads Docker Hub's Bearer challenge", () => {
    const h =
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"';
    assert.deepEqual(plain(parseChallenges(h)), [
      {
        scheme: "bearer",
        params: {
          realm: ["https://auth.docker.io/token"],
          service: ["registry.docker.io"],
          scope: ["repository:library/nginx:pull"],
        },
      },
    ]);
  });

  it("keeps commas and spaces inside quoted values and splits multiple scopes", () => {
    const h = 'Bearer realm="http://127.0.0.1:1/token",scope="repository:a:pull,push repository:b/c:pull", error="insufficient_scope"';
    const b = bearerChallenge(parseChallenges(h));
    assert.deepEqual(b, {
      realm: "http://127.0.0.1:1/token",
      service: undefined,
      scopes: ["repository:a:pull,push", "repository:b/c:pull"],
      error: "insufficient_scope",
    });
  });

  it("collects repeated scope parameters", () => {
    const b = bearerChallenge(parseChallenges('Bearer realm="r", scope="repository:a:pull", scope="repository:b:pull"'));
    assert.deepEqual(b?.scopes, ["repository:a:pull", "repository:b:pull"]);
  });

  it("is case-insensitive for schemes and parameter names, not values", () => {
    const cs = parseChallenges('BEARER Realm="https://Auth/Token",SERVICE="Svc"');
    assert.equal(cs[0]?.scheme, "bearer");
    assert.equal(bearerChallenge(cs)?.realm, "https://Auth/Token");
    assert.equal(bearerChallenge(cs)?.service, "Svc");
  });

  it("reads Basic challenges, with or without parameters", () => {
    assert.deepEqual(plain(parseChallenges('Basic realm="test-realm"')), [
      { scheme: "basic", params: { realm: ["test-realm"] } },
    ]);
    assert.ok(hasBasicChallenge(parseChallenges("Basic")));
    assert.ok(!hasBasicChallenge(parseChallenges('Bearer realm="x"')));
  });

  it("splits several challenges in one header", () => {
    const cs = parseChallenges('Basic realm="a, b", Bearer realm="https://t/token",service="s"');
    assert.deepEqual(plain(cs), [
      { scheme: "basic", params: { realm: ["a, b"] } },
      { scheme: "bearer", params: { realm: ["https://t/token"], service: ["s"] } },
    ]);
    assert.deepEqual(
      parseChallenges("Basic, Bearer realm=x").map((c) => c.scheme),
      ["basic", "bearer"],
    );
  });

  it("reads several header values", () => {
    const cs = parseChallenges(['Basic realm="a"', 'Bearer realm="b"']);
    assert.deepEqual(cs.map((c) => c.scheme), ["basic", "bearer"]);
    assert.equal(bearerChallenge(cs)?.realm, "b");
  });

  it("accepts unquoted tokens, spaces around '=' and backslash escapes", () => {
    const cs = parseChallenges('Bearer realm = https://t/token , service=svc, note="say \\"hi\\""');
    assert.deepEqual(plain(cs)[0]?.params, { realm: ["https://t/token"], service: ["svc"], note: ['say "hi"'] });
  });

  it("skips a token68 credential and goes on to the next challenge", () => {
    const cs = parseChallenges('Negotiate YIIB/w==, Bearer realm="r"');
    assert.deepEqual(cs.map((c) => c.scheme), ["negotiate", "bearer"]);
    assert.equal(bearerChallenge(cs)?.realm, "r");
  });

  it("keeps what parsed before a malformed tail and never throws", () => {
    assert.equal(bearerChallenge(parseChallenges('Bearer realm="r",service="unterminated'))?.realm, "r");
    for (const junk of ["", " , ,", "=", '"', "Bearer realm=", "Bearer ,,, realm", "\u0000"]) {
      assert.doesNotThrow(() => parseChallenges(junk));
    }
    assert.deepEqual(parseChallenges(undefined), []);
  });

  it("ignores a Bearer challenge without a realm", () => {
    assert.equal(bearerChallenge(parseChallenges('Bearer service="s"')), undefined);
    assert.equal(bearerChallenge(parseChallenges('Bearer realm=""')), undefined);
  });
});
