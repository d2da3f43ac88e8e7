// The binary's stdout and stderr as kpt and shells read them: through pipes.
// Everything written reaches the pipe before the process exits (a pipe takes
// writes asynchronously; process.exit used to drop what it had not taken),
// and a reader that closes stdout early gets one line, not a stack trace.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { BUNDLE, STANDALONE, runFn } from "../support/run-fn.js";

/** A list of `n` Deployments whose images are all pinned already (no registry needed). */
function pinnedList(n: number): string {
  const digest = `sha256:${"d".repeat(64)}`;
  const items = Array.from(
    { length: n },
    (_, i) =>
      `- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: d${i}\n  spec:\n    template:\n      spec:\n        containers:\n` +
      `        - name: c\n          image: reg.example/app:v1@${digest}\n          env:\n          - name: A\n            value: "${"x".repeat(200)}"\n`,
  );
  return `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items.join("")}`;
}

describe("stdout and stderr through pipes", () => {
  it("every stderr line reaches the pipe: 2,000 skip results with DEBUG, then the summary", async () => {
    // skipPrefixes makes one info result per field, printed with DEBUG: ~400 KB of stderr.
    const input = `${pinnedList(2000).replace(/@sha256:d+/g, "")}functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n  data:\n    skipPrefixes: reg.example\n`;
    const run = await runFn(input, { env: { ...process.env, DEBUG: "true" } });
    assert.equal(run.code, 0, run.stderr.slice(-500));
    const lines = run.stderr.trimEnd().split("\n");
    assert.equal(lines.filter((l) => l.includes("left reg.example/app:v1 alone")).length, 2000);
    assert.match(lines[lines.length - 1]!, /0 of 2000 image fields pinned/);
  });

  for (const [name, bin] of [
    ["bundle", BUNDLE],
    ["standalone", STANDALONE],
  ] as const) {
    it(`${name}: stdout closed by its reader after the first bytes: one line on stderr, exit 1, no stack trace`, async () => {
      const child = spawn(bin, [], { stdio: ["pipe", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      child.stdout.once("data", () => child.stdout.destroy());
      child.stdin.end(pinnedList(3000));
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      assert.equal(code, 1, stderr);
      assert.equal(stderr, "krm-digester: stdout was closed before the output was written whole\n");
    });
  }
});
