// The test summary counts the tests of a suite skipped as a whole (a machine
// without kpt), and scripts/test.sh's skip reporter lists them with the
// reason: node:test alone reports such a suite as one skipped suite and
// "skipped 0". Proven on a fixture run by `node --test` with kpt and kubectl
// hidden from PATH (only `sh` on it), through test/support/node-test.ts.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as nodeTest from "node:test";
import { describe, it } from "../support/node-test.js";
import { KPT, KUBECTL } from "../support/kpt.js";
import { ROOT } from "../support/run-fn.js";

const support = join(ROOT, "build", "test", "support");

const FIXTURE = `
import { after, before, describe, it } from ${JSON.stringify(pathToFileURL(join(support, "node-test.js")).href)};
import { skipWithout } from ${JSON.stringify(pathToFileURL(join(support, "kpt.js")).href)};
describe("needs kpt", { skip: skipWithout("kpt") }, () => {
  before(() => { throw new Error("a hook of a skipped suite ran"); });
  after(() => { throw new Error("a hook of a skipped suite ran"); });
  it("one", () => { throw new Error("a test of a skipped suite ran"); });
  it("two", { timeout: 1000 }, () => {});
  describe("nested", () => { it("three", () => {}); });
});
describe("needs nothing", () => { it("four", () => {}); });
`;

describe("tests in a skipped suite are counted", () => {
  it("with kpt missing: each test of the suite is one skipped test, its hooks do not run, the reporter lists them with the reason", async () => {
    const dir = await mkdtemp(join(tmpdir(), "krm-skip-count-"));
    try {
      await symlink("/bin/sh", join(dir, "sh")); // PATH holds sh only: no kpt, no kubectl
      await writeFile(join(dir, "fixture.test.mjs"), FIXTURE);
      const list = join(dir, "skipped.txt");
      const args = ["--test", "--test-reporter=spec", "--test-reporter-destination=stdout"];
      args.push(`--test-reporter=${join(support, "skip-reporter.js")}`, `--test-reporter-destination=${list}`, join(dir, "fixture.test.mjs"));
      const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
        execFile(process.execPath, args, { cwd: dir, env: { PATH: dir } }, (error, stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stdout}\n${stderr}`)) : resolve({ stdout }),
        ),
      );
      assert.match(stdout, /ℹ tests 4\n/);
      assert.match(stdout, /ℹ pass 1\n/);
      assert.match(stdout, /ℹ fail 0\n/);
      assert.match(stdout, /ℹ skipped 3\n/);
      assert.match(stdout, /﹣ three .*# SKIPPED: kpt is not installed on this machine; these checks did not run/);
      assert.equal(
        await readFile(list, "utf8"),
        "3 tests did NOT run:\n" +
          "  3 × SKIPPED: kpt is not installed on this machine; these checks did not run:\n" +
          "      - one\n      - two\n      - three\n",
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("with every tool installed, node:test's own functions are used (failures keep pointing at the test files)", () => {
    const installed = KPT !== undefined && KUBECTL !== undefined;
    assert.equal(describe === (nodeTest.describe as unknown), installed);
    assert.equal(it === (nodeTest.it as unknown), installed);
  });
});
