import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RegistryError } from "../../src/registry/errors.js";
import { parseToken } from "../../src/registry/token.js";

const context = { registry: "r.example", repository: "app", tag: "v1", image: "r.example/app:v1" };
const body = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const NOW = Date.parse("2026-01-01T00:00:00Z");
const parse = (v: unknown): ReturnType<typeof parseToken> => parseToken(body(v), NOW, context, "token service t");

describe("parseToken", () => {
  it("takes token, else access_token", () => {
    assert.equal(parse({ token: "a", access_token: "b" }).token, "a");
    assert.equal(parse({ access_token: "b" }).token, "b");
    assert.equal(parse({ token: "", access_token: "b" }).token, "b");
  });

  it("assumes 60 s without expires_in and keeps a margin before expiry", () => {
    assert.equal(parse({ token: "a" }).useUntil, NOW + 60_000 - 10_000);
    assert.equal(parse({ token: "a", expires_in: 300 }).useUntil, NOW + 300_000 - 10_000);
    // Short lifetimes keep three quarters.
    assert.equal(parse({ token: "a", expires_in: 8 }).useUntil, NOW + 6_000);
    assert.equal(parse({ token: "a", expires_in: 0 }).useUntil, NOW + 50_000);
  });

  it("counts from issued_at when it is plausible, from now otherwise", () => {
    const earlier = new Date(NOW - 20_000).toISOString();
    assert.equal(parse({ token: "a", expires_in: 300, issued_at: earlier }).useUntil, NOW - 20_000 + 290_000);
    const future = new Date(NOW + 3_600_000).toISOString();
    assert.equal(parse({ token: "a", expires_in: 300, issued_at: future }).useUntil, NOW + 290_000);
    const ancient = "2001-01-01T00:00:00Z"; // skewed clock: would expire at once
    assert.equal(parse({ token: "a", expires_in: 300, issued_at: ancient }).useUntil, NOW + 290_000);
    assert.equal(parse({ token: "a", issued_at: "not a date" }).useUntil, NOW + 50_000);
  });

  it("rejects answers without a token as PROTOCOL", () => {
    for (const bad of [Buffer.from("<html>"), body({}), body({ token: 5 }), body([])]) {
      assert.throws(
        () => parseToken(bad, NOW, context, "token service t"),
        (e: unknown) => e instanceof RegistryError && e.code === "PROTOCOL" && e.message.includes("token service t"),
      );
    }
  });
});
