// The README's first command, `bash scripts/demo.sh`, as a fresh checkout runs
// it: a copy of the repository's files (tracked and new, nothing built), where
// the script installs what is missing (scripts/setup.sh), compiles, bundles,
// starts a registry and pins the example package. On a machine without kpt it
// shows files mode: `pin --check` listing every unpinned image by file and
// line, `pin`, and the git diff of example/; exit 0.
//
// node_modules is shared with this checkout (a link) instead of installed
// again, so the test stays quick and off the network: setup.sh's `npm ci`
// runs only when package-lock.json is newer, and the copy keeps its time.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "../support/node-test.js";
import { skipWithout } from "../support/kpt.js";
import { ROOT } from "../support/run-fn.js";

const run = promisify(execFile);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function bash(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  try {
    const { stdout, stderr } = await run("bash", [script], { cwd, env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("the quick-start demo (bash scripts/demo.sh) in a fresh copy of the repository", () => {
  let copy: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    copy = await mkdtemp(join(tmpdir(), "krm-digester-demo-"));
    // What a clone holds: tracked files and, in a working checkout, new ones not ignored.
    const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" })
      .split("\0")
      .filter((f) => f !== "");
    for (const file of files) {
      await mkdir(join(copy, file, ".."), { recursive: true });
      await cp(join(ROOT, file), join(copy, file), { preserveTimestamps: true, verbatimSymlinks: true }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") throw error; // deleted in the working tree, not yet committed
      });
    }
    await symlink(join(ROOT, "node_modules"), join(copy, "node_modules"));
    env = { ...process.env, KRM_DIGESTER_DEMO_NO_KPT: "1" };
  });
  after(() => rm(copy, { recursive: true, force: true }));

  it("exits 0 and shows files mode: pin --check lists each unpinned image, pin pins them, and the diff of example/", async () => {
    const demo = await bash(join(copy, "scripts", "demo.sh"), copy, env);
    assert.equal(demo.code, 0, `${demo.stdout}\n${demo.stderr}`);
    const out = demo.stdout;
    const pushed = [...out.matchAll(/^ {2}pushed (127\.0\.0\.1:\d+\/demo\/[a-z]+):[a-z0-9]+ \([a-z-]+\) (sha256:[0-9a-f]{64})$/gm)].map((m) => ({ repo: m[1] ?? "", digest: m[2] ?? "" }));
    assert.equal(pushed.length, 4, out);
    assert.match(out, /kpt is not installed: files mode pins the example's files in place\./);

    // pin --check: every image of example/, by file and line, then the summary; nothing resolved over the network.
    const check = out.slice(out.indexOf("$ dist/krm-digester pin --check build/demo/example"), out.indexOf("$ dist/krm-digester pin build/demo/example"));
    const unpinned = check.split("\n").filter((l) => l.includes("is not pinned to a digest (mode: check)"));
    assert.deepEqual(
      unpinned.map((l) => /^krm-digester: (build\/demo\/example\/[a-z]+\.yaml:\d+): error: /.exec(l)?.[1]),
      ["build/demo/example/backend.yaml:15", "build/demo/example/backend.yaml:17", "build/demo/example/backend.yaml:32", "build/demo/example/frontend.yaml:21", "build/demo/example/frontend.yaml:24"],
      check,
    );
    assert.match(check, /0 of 5 image fields pinned, .* 5 errors/);

    // pin: every field, one request per unique image, no error.
    assert.match(out, /krm-digester: 2 of 2 files changed\nkrm-digester: 5 of 5 image fields pinned, 4 unique references resolved \(4 HEAD, 0 GET, 0 token requests\), 0 errors/);

    // The diff of example/: each image line goes from tag to tag@digest (the digest pushed), nothing else changes.
    const diff = out.slice(out.indexOf("What changed (git diff):"));
    const removed = diff.split("\n").filter((l) => /^-\s/.test(l));
    const added = diff.split("\n").filter((l) => /^\+\s/.test(l));
    assert.equal(removed.length, 5, diff);
    assert.equal(added.length, 5, diff);
    for (const [i, line] of removed.entries()) {
      const image = /image: "?([^\s"#]+)/.exec(line)?.[1] ?? "";
      const digest = pushed.find((p) => image === p.repo || image.startsWith(`${p.repo}:`))?.digest;
      assert.ok(digest, `a pushed image for ${image}`);
      assert.equal(added[i], `+${line.slice(1).replace(image, `${image}@${digest}`)}`);
    }
    assert.match(diff, /^diff --git a\/example\/backend\.yaml b\/example\/backend\.yaml$/m);
    assert.match(diff, /^diff --git a\/example\/frontend\.yaml b\/example\/frontend\.yaml$/m);
    assert.match(out, /The pinned package is in build\/demo\/example\.\n$/);

    // The pinned copy is on disk; the repository's own example/ is as it was.
    const pinned = await readFile(join(copy, "build", "demo", "example", "frontend.yaml"), "utf8");
    assert.match(pinned, /image: "127\.0\.0\.1:\d+\/demo\/frontend:v1@sha256:[0-9a-f]{64}"/);
    for (const file of await readdir(join(ROOT, "example"))) {
      assert.equal(await readFile(join(copy, "example", file), "utf8"), await readFile(join(ROOT, "example", file), "utf8"), file);
    }
  });

  it("with kpt installed, the same demo renders the package through the Kptfile pipeline", { skip: skipWithout("kpt") }, async () => {
    // Built by the test above: the demo's own last step, run again with kpt on PATH.
    const demo = await run("node", [join(copy, "build", "tools", "demo", "demo.mjs")], { cwd: copy, env: { ...env, KRM_DIGESTER_DEMO_NO_KPT: "" } }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" }),
    );
    assert.equal(demo.code, 0, `${demo.stdout}\n${demo.stderr}`);
    assert.match(demo.stdout, /\$ kpt fn render build\/demo --allow-exec/);
    assert.equal(demo.stdout.split("\n").filter((l) => /^\+\s+image: .*@sha256:[0-9a-f]{64}/.test(l)).length, 5, demo.stdout);
  });
});
