// Platform specifiers and containerd-style matching (src/name/platform.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatPlatform, InvalidPlatformError, parsePlatform, platformMatches } from "../../src/name/platform.js";

describe("parsePlatform", () => {
  it("reads os/arch[/variant] and both os.version spellings, normalized as containerd does", () => {
    assert.deepEqual(parsePlatform("linux/arm64"), { os: "linux", architecture: "arm64" });
    assert.deepEqual(parsePlatform("linux/arm64/v8"), { os: "linux", architecture: "arm64" });
    assert.deepEqual(parsePlatform("linux/aarch64"), { os: "linux", architecture: "arm64" });
    assert.deepEqual(parsePlatform("linux/arm"), { os: "linux", architecture: "arm", variant: "v7" });
    assert.deepEqual(parsePlatform("linux/armhf"), { os: "linux", architecture: "arm", variant: "v7" });
    assert.deepEqual(parsePlatform("linux/armel"), { os: "linux", architecture: "arm", variant: "v6" });
    assert.deepEqual(parsePlatform(" Linux/X86_64 "), { os: "linux", architecture: "amd64" });
    assert.deepEqual(parsePlatform("windows(10.0.17763.1234)/amd64"), { os: "windows", architecture: "amd64", osVersion: "10.0.17763.1234" });
    assert.deepEqual(parsePlatform("windows/amd64:10.0.17763.1234"), { os: "windows", architecture: "amd64", osVersion: "10.0.17763.1234" });
    assert.deepEqual(parsePlatform("macos/arm64"), { os: "darwin", architecture: "arm64" });
  });

  it("refuses what cannot be a platform, saying why", () => {
    for (const [text, why] of [
      ["linux", /names no architecture/],
      ["amd64", /names no architecture/],
      ["", /names no architecture/],
      ["linux/arm/v7/x", /more parts/],
      ["linux/amd64:", /os\.version/],
      ["lin ux/amd64", /is not an os/],
      ["linux/*", /must be letters, digits/],
      ["plan10/amd64", /unknown os "plan10"/],
      ["linux/arm65", /unknown architecture "arm65"/],
      ["windows(1)/amd64:1", /twice/],
    ] as const) {
      assert.throws(() => parsePlatform(text), (e: unknown) => e instanceof InvalidPlatformError && why.test(e.message), text);
    }
  });
});

describe("platformMatches", () => {
  const linux = (architecture: string, variant?: string) => ({ os: "linux", architecture, variant });
  it("arm64 is arm64/v8; arm is arm/v7 and not arm/v6; amd64/v1 is amd64 and not amd64/v2", () => {
    assert.ok(platformMatches(parsePlatform("linux/arm64"), linux("arm64", "v8")));
    assert.ok(platformMatches(parsePlatform("linux/arm64/v8"), linux("arm64")));
    assert.ok(platformMatches(parsePlatform("linux/arm"), linux("arm")));
    assert.ok(platformMatches(parsePlatform("linux/arm"), linux("arm", "v7")));
    assert.ok(!platformMatches(parsePlatform("linux/arm"), linux("arm", "v6")));
    assert.ok(platformMatches(parsePlatform("linux/amd64"), linux("amd64", "v1")));
    assert.ok(!platformMatches(parsePlatform("linux/amd64"), linux("amd64", "v2")));
    assert.ok(!platformMatches(parsePlatform("linux/arm64"), { os: "windows", architecture: "arm64" }));
  });

  it("an os.version asked matches the entry's exactly or as a prefix up to a dot; none asked matches any", () => {
    const entry = { os: "windows", architecture: "amd64", osVersion: "10.0.17763.1234" };
    assert.ok(platformMatches(parsePlatform("windows/amd64"), entry));
    assert.ok(platformMatches(parsePlatform("windows/amd64:10.0.17763.1234"), entry));
    assert.ok(platformMatches(parsePlatform("windows/amd64:10.0.17763"), entry));
    assert.ok(!platformMatches(parsePlatform("windows/amd64:10.0.1776"), entry));
    assert.ok(!platformMatches(parsePlatform("windows/amd64:10.0.20348"), entry));
    assert.ok(!platformMatches(parsePlatform("windows/amd64:10.0.17763"), { os: "windows", architecture: "amd64" }));
  });

  it("formats as containerd's FormatAll", () => {
    assert.equal(formatPlatform(parsePlatform("windows/amd64:10.0.17763.1234")), "windows(10.0.17763.1234)/amd64");
    assert.equal(formatPlatform(parsePlatform("linux/arm")), "linux/arm/v7");
  });
});
