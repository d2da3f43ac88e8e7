// The CI modes through kpt against a real registry: check mode as a Kptfile
// `validators:` step (fails an unpinned package, passes a pinned one, changes
// nothing), `lock: true` as a mutator writes digests.lock.yaml at the package
// root, and `mode: frozen` pins from it.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "../support/node-test.js";
import { parse } from "yaml";
import { kpt, skipWithout } from "../support/kpt.js";
import { BUNDLE } from "../support/run-fn.js";
import { pinnedSample, readSample, unpinnedSample } from "../support/sample-package.js";
import { startSampleRegistry } from "../support/sample-registry.js";
import type { SampleRegistry } from "../support/sample-registry.js";

function kptfile(steps: { mutators?: Record<string, string>[]; validators?: Record<string, string>[] }): string {
  const step = (config: Record<string, string>): string =>
    `  - exec: ${BUNDLE}\n    configMap:\n` + Object.entries(config).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}\n`).join("");
  const section = (name: string, list: Record<string, string>[] | undefined): string => (list ? `  ${name}:\n${list.map((c) => step(c).replace(/^(?=.)/gm, "  ")).join("")}` : "");
  return (
    `apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: shop\n  annotations:\n    config.kubernetes.io/local-config: "true"\npipeline:\n` +
    section("mutators", steps.mutators) +
    section("validators", steps.validators)
  );
}

describe("kpt: check mode as a validator, the lock, frozen", { skip: skipWithout("kpt") }, () => {
  let sample: SampleRegistry | undefined;
  before(async () => {
    sample = await startSampleRegistry("kpt-ci");
  });
  after(() => sample?.stop());
  const the = (): SampleRegistry => sample ?? assert.fail("set-up failed");

  it("kpt fn render with mode: check as a validator fails an unpinned package naming each image, and changes nothing", async () => {
    const dir = await the().fresh("check");
    await writeFile(join(dir, "Kptfile"), kptfile({ validators: [{ mode: "check" }] }));
    const run = await kpt(["fn", "render", dir, "--allow-exec"]);
    assert.notEqual(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`${the().images.web.replaceAll(".", "\\.")} is not pinned to a digest \\(mode: check\\)`));
    assert.match(run.stderr, /deployment\.yaml/);
    assert.deepEqual(await readSample(dir), unpinnedSample(the().images));
  });

  it("pin as a mutator with lock: true, check as a validator: the render passes and writes digests.lock.yaml at the package root", async () => {
    const dir = await the().fresh("lock");
    await writeFile(join(dir, "Kptfile"), kptfile({ mutators: [{ lock: "true" }], validators: [{ mode: "check" }] }));
    const run = await kpt(["fn", "render", dir, "--allow-exec"]);
    assert.equal(run.code, 0, run.stderr);
    const lockText = await readFile(join(dir, "digests.lock.yaml"), "utf8");
    const lock = parse(lockText) as { apiVersion: string; kind: string; metadata: { annotations: Record<string, string> }; digests: Record<string, string> };
    assert.equal(lock.apiVersion, "fn.krm-digester.dev/v1alpha1");
    assert.equal(lock.kind, "DigestLock");
    assert.equal(lock.metadata.annotations["config.kubernetes.io/local-config"], "true");
    assert.deepEqual(lock.digests, Object.fromEntries(the().images.digests));
    const { ...files } = await readSample(dir);
    delete files["digests.lock.yaml"];
    assert.deepEqual(files, pinnedSample(the().images));

    // frozen: a fresh unpinned copy with this lock pins from it.
    const frozen = await the().fresh("frozen");
    await writeFile(join(frozen, "digests.lock.yaml"), lockText);
    await writeFile(join(frozen, "Kptfile"), kptfile({ mutators: [{ mode: "frozen" }] }));
    await the().registry.stop();
    const again = await kpt(["fn", "render", frozen, "--allow-exec"]);
    assert.equal(again.code, 0, again.stderr);
    const out = await readSample(frozen);
    delete out["digests.lock.yaml"];
    assert.deepEqual(out, pinnedSample(the().images), "pinned with the registry stopped");
    assert.equal(await readFile(join(frozen, "digests.lock.yaml"), "utf8"), lockText, "frozen leaves the lock as it is");
  });
});
