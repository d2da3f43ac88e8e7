// How failures of an HTTP/2 connection are classified: undici reports a reset
// stream as UND_ERR_INFO and a GOAWAY as UND_ERR_SOCKET; both may succeed on a
// new stream or connection, so both are retried.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { errors } from "undici";
import { fromNetworkError } from "../../src/registry/errors.js";

const context = { registry: "registry.example", repository: "app", tag: "v1", image: "registry.example/app:v1" };
const situation = { host: "registry.example", timeoutMs: 30_000, connectTimeoutMs: 10_000, phase: "response", trust: "Node's bundled CAs" } as const;

describe("HTTP/2 failures", () => {
  test("a stream reset by the server is UNREACHABLE and retried", () => {
    const err = fromNetworkError(new errors.InformationalError('HTTP/2: "stream error" received - code 2'), context, situation);
    assert.equal(err.code, "UNREACHABLE");
    assert.equal(err.transient, true);
    assert.match(err.message, /HTTP\/2 stream ended early/);
  });

  test("a GOAWAY is UNREACHABLE and retried", () => {
    const err = fromNetworkError(new errors.SocketError('HTTP/2: "GOAWAY" frame received with code 0'), context, situation);
    assert.equal(err.code, "UNREACHABLE");
    assert.equal(err.transient, true);
  });
});
