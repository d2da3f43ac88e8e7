// The function's output is written in pieces (src/cli/function.ts write): the
// bytes must be those of the text written whole, wherever a piece ends.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { write } from "../../src/cli/function.js";

/** A stream that keeps what it is given, as UTF-8, and answers each write on a later turn. */
function collector(): { stream: NodeJS.WriteStream; bytes: () => Buffer; writes: () => number } {
  const chunks: Buffer[] = [];
  const stream = {
    write(text: string, done: (error?: Error | null) => void): boolean {
      chunks.push(Buffer.from(text, "utf8"));
      setImmediate(done);
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { stream, bytes: () => Buffer.concat(chunks), writes: () => chunks.length };
}

describe("writing the output", () => {
  it("writes a large text in pieces, byte for byte, a surrogate pair on a piece's edge kept whole", async () => {
    const piece = 1 << 20;
    for (const at of [piece - 2, piece - 1, piece, piece + 1]) {
      // An emoji (two UTF-16 units) around each place a piece may end.
      const text = `${"a".repeat(at)}\u{1F600}é${"b".repeat(piece + 5)}\u{1F600}`;
      const out = collector();
      await write(out.stream, text);
      assert.ok(out.writes() >= 3, `${out.writes()} writes`);
      assert.ok(out.bytes().equals(Buffer.from(text, "utf8")), `emoji at ${at}: the bytes differ`);
    }
  });

  it("writes a small text, and an empty one, in one write", async () => {
    for (const text of ["apiVersion: v1\n", ""]) {
      const out = collector();
      await write(out.stream, text);
      assert.equal(out.writes(), 1);
      assert.equal(out.bytes().toString("utf8"), text);
    }
  });
});
