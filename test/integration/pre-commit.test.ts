// The repository's .pre-commit-hooks.yaml through Debian's pre-commit
// (installed by scripts/setup.sh): a project that uses the krm-digester-check
// hook fails with each unpinned image listed by file and line, and passes
// once the images are pinned.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "../support/node-test.js";
import { promisify } from "node:util";
import { BUNDLE, ROOT } from "../support/run-fn.js";

const exec = promisify(execFile);

function which(command: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const PRE_COMMIT = which("pre-commit");
function skipWithoutPreCommit(): string | false {
  if (PRE_COMMIT) return false;
  const reason = "SKIPPED: pre-commit is not installed on this machine (scripts/setup.sh installs it); the hook test did not run";
  process.stderr.write(`\n*** ${reason} ***\n\n`);
  return reason;
}

const DIGEST = `sha256:${"a".repeat(64)}`;
const MANIFEST = (image: string): string =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: ${image}\n`;

describe("pre-commit: the krm-digester-check hook", { skip: skipWithoutPreCommit() }, () => {
  let work: string;
  let env: NodeJS.ProcessEnv;
  const git = (cwd: string, ...args: string[]): Promise<unknown> => exec("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", ...args], { cwd, env });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "krm-digester-pre-commit-"));
    const bin = join(work, "bin");
    await mkdir(bin);
    await symlink(BUNDLE, join(bin, "krm-digester"));
    env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, HOME: work, PRE_COMMIT_HOME: join(work, "pre-commit-home"), GIT_CONFIG_NOSYSTEM: "1" };
  });
  after(() => rm(work, { recursive: true, force: true }));

  it("fails listing each unpinned image with file and line, passes once they are pinned", async () => {
    // The hooks repository: this repository's hook definitions, committed.
    const hooks = join(work, "hooks");
    await mkdir(hooks);
    await copyFile(join(ROOT, ".pre-commit-hooks.yaml"), join(hooks, ".pre-commit-hooks.yaml"));
    await git(hooks, "init", "-q");
    await git(hooks, "add", ".");
    await git(hooks, "commit", "-q", "-m", "hooks");
    const rev = execFileSync("git", ["rev-parse", "HEAD"], { cwd: hooks, encoding: "utf8" }).trim();

    // A project that uses the hook.
    const project = join(work, "project");
    await mkdir(join(project, "deploy"), { recursive: true });
    await writeFile(join(project, ".pre-commit-config.yaml"), `repos:\n- repo: ${hooks}\n  rev: ${rev}\n  hooks:\n  - id: krm-digester-check\n`);
    await writeFile(join(project, "deploy", "web.yaml"), MANIFEST("registry.example.com/shop/web:v1"));
    await writeFile(join(project, "deploy", "notes.txt"), "image: not/yaml:v1\n");
    await git(project, "init", "-q");
    await git(project, "add", ".");

    const failing = await exec(PRE_COMMIT ?? "pre-commit", ["run", "--all-files", "--color", "never"], { cwd: project, env }).then(
      () => assert.fail("the hook passed an unpinned image"),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    assert.equal(failing.code, 1);
    assert.match(failing.stdout, /images pinned to digests \(krm-digester pin --check\)\.+Failed/);
    assert.match(
      failing.stdout,
      /krm-digester: deploy\/web\.yaml:10: error: Deployment web spec\.template\.spec\.containers\[0\]\.image: registry\.example\.com\/shop\/web:v1 is not pinned to a digest \(mode: check\)/,
    );
    assert.doesNotMatch(failing.stdout, /notes\.txt/);

    await writeFile(join(project, "deploy", "web.yaml"), MANIFEST(`registry.example.com/shop/web:v1@${DIGEST}`));
    await git(project, "add", ".");
    const passing = await exec(PRE_COMMIT ?? "pre-commit", ["run", "--all-files", "--color", "never"], { cwd: project, env });
    assert.match(passing.stdout, /images pinned to digests \(krm-digester pin --check\)\.+Passed/);
  });
});
