// Image globs (skipImages) and output formats, pure.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { canonicalName, formatPinned, nameAsWritten } from "../../src/name/format.js";
import { compileGlob, InvalidGlobError } from "../../src/name/glob.js";
import { parseReference } from "../../src/name/reference.js";

const D = `sha256:${"a".repeat(64)}`;

describe("formatPinned", () => {
  const cases: [string, string, string, string][] = [
    // written, tag-and-digest, digest-only, canonical
    ["nginx", `nginx@${D}`, `nginx@${D}`, `docker.io/library/nginx:latest@${D}`],
    ["nginx:1.27", `nginx:1.27@${D}`, `nginx@${D}`, `docker.io/library/nginx:1.27@${D}`],
    ["index.docker.io/bitnami/redis:7", `index.docker.io/bitnami/redis:7@${D}`, `index.docker.io/bitnami/redis@${D}`, `docker.io/bitnami/redis:7@${D}`],
    ["localhost:5000/app:v1", `localhost:5000/app:v1@${D}`, `localhost:5000/app@${D}`, `localhost:5000/app:v1@${D}`],
    ["[::1]:5000/a/b", `[::1]:5000/a/b@${D}`, `[::1]:5000/a/b@${D}`, `[::1]:5000/a/b:latest@${D}`],
  ];
  for (const [written, tagged, digestOnly, canonical] of cases) {
    it(written, () => {
      const ref = parseReference(written);
      assert.equal(formatPinned(ref, D), tagged);
      assert.equal(formatPinned(ref, D, "tag-and-digest"), tagged);
      assert.equal(formatPinned(ref, D, "digest-only"), digestOnly);
      assert.equal(formatPinned(ref, D, "canonical"), canonical);
    });
  }
  it("a digest already written is replaced, not doubled", () => {
    const ref = parseReference(`nginx:1.27@sha256:${"0".repeat(64)}`);
    assert.equal(formatPinned(ref, D), `nginx:1.27@${D}`);
    assert.equal(nameAsWritten(ref), "nginx");
    assert.equal(canonicalName(ref), "docker.io/library/nginx:1.27");
  });
});

describe("compileGlob", () => {
  const match = (pattern: string, text: string): boolean => compileGlob(pattern).regex.test(text);
  it("* stays within a segment, ** crosses segments", () => {
    assert.ok(match("gcr.io/distroless/*", "gcr.io/distroless/static:nonroot"));
    assert.ok(!match("gcr.io/*", "gcr.io/distroless/static"));
    assert.ok(match("gcr.io/**", "gcr.io/distroless/static:nonroot"));
    assert.ok(match("**/static", "gcr.io/distroless/static"));
    assert.ok(!match("**/static", "gcr.io/distroless/static2"));
  });
  it("registry ports and dots are literal; ? is one character", () => {
    assert.ok(match("registry.local:5000/team/*", "registry.local:5000/team/app:v1"));
    assert.ok(!match("registry.local:5000/team/*", "registry.local:5001/team/app"));
    assert.ok(!match("registry.local/*", "registryXlocal/app"));
    assert.ok(match("*:5000/app", "reg.lan:5000/app"));
    assert.ok(match("app:v?", "app:v1"));
    assert.ok(!match("app:v?", "app:v10"));
  });
  it("rejects empty patterns, white space and ***", () => {
    for (const bad of ["", "a b", "a/***"]) assert.throws(() => compileGlob(bad), InvalidGlobError);
  });
});
