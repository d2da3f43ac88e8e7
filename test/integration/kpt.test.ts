// kpt with each form of the function against a real registry: the bundle and
// the standalone executable through `kpt fn eval --exec` and a Kptfile exec:
// step, the container image through `kpt fn eval --image --network` and a
// Kptfile image: step with `kpt fn render --allow-network` (podman, as
// KPT_FN_RUNTIME). Without network the container run must fail naming the
// registry and the flag to add.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cp, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "../support/node-test.js";
import { parse } from "yaml";
import { listFiles } from "../support/corpus.js";
import { IMAGE, containerEnv, ensureImage, withTestImage } from "../support/container.js";
import { KPT, kpt, skipWithout } from "../support/kpt.js";
import { BUNDLE, ROOT, STANDALONE } from "../support/run-fn.js";
import { seedImages } from "../support/seed.js";
import type { ImageKind } from "../support/seed.js";
import { pinnedSample, readSample, unpinnedSample } from "../support/sample-package.js";
import { startSampleRegistry } from "../support/sample-registry.js";
import type { SampleRegistry } from "../support/sample-registry.js";

const KPTFILE = (step: string): string => `apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: shop
  annotations:
    config.kubernetes.io/local-config: "true"
pipeline:
  mutators:
  - ${step}
    configMap:
      timeout: 10s
`;

describe("kpt: exec binaries and the container image against a real registry", { skip: skipWithout("kpt") }, () => {
  let sample: SampleRegistry | undefined;
  before(async () => {
    [sample] = await Promise.all([startSampleRegistry("kpt"), ensureImage()]);
  });
  after(() => sample?.stop());
  const the = (): SampleRegistry => sample ?? assert.fail("set-up failed");

  /** A fresh copy of the sample package, optionally with a Kptfile. */
  async function pkg(kptfile?: string): Promise<string> {
    const dir = await the().fresh("pkg");
    if (kptfile) await writeFile(join(dir, "Kptfile"), kptfile);
    return dir;
  }

  const pinned = (): Record<string, string> => pinnedSample(the().images);

  for (const [name, bin] of [
    ["the bundle", BUNDLE],
    ["the standalone executable", STANDALONE],
  ] as const) {
    it(`kpt fn eval --exec with ${name} pins the package, and a second run changes nothing`, async () => {
      const dir = await pkg();
      const first = await kpt(["fn", "eval", dir, "--exec", bin]);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(await readSample(dir), pinned());
      const second = await kpt(["fn", "eval", dir, "--exec", bin]);
      assert.equal(second.code, 0, second.stderr);
      assert.deepEqual(await readSample(dir), pinned());
    });
  }

  it("the standalone executable needs no node on PATH (the bundle does)", async () => {
    // kpt needs git; nothing else is on this PATH.
    const bin = join(the().work, "bin");
    await mkdir(bin, { recursive: true });
    await symlink(KPT ?? "kpt", join(bin, "kpt"));
    const git = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
    await symlink(git, join(bin, "git"));
    const env = { PATH: bin, HOME: the().work };

    const standalone = await pkg(KPTFILE(`exec: ${STANDALONE}`));
    const run = await kpt(["fn", "render", standalone, "--allow-exec"], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await readSample(standalone), pinned());

    const bundle = await pkg(KPTFILE(`exec: ${BUNDLE}`));
    const failed = await kpt(["fn", "render", bundle, "--allow-exec"], { env });
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /env: .?node.?: No such file or directory/);
    assert.deepEqual(await readSample(bundle), unpinnedSample(the().images));
  });

  it("kpt fn eval --image --network pins the package like the exec binary does", async () => {
    const dir = await pkg();
    const run = await kpt(["fn", "eval", dir, "--image", IMAGE, "--network"], { env: containerEnv() });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stderr.includes(`[PASS] "${IMAGE}"`), run.stderr);
    assert.match(run.stderr, /3 of 3 image fields pinned, 2 unique references resolved/);
    assert.deepEqual(await readSample(dir), pinned());
  });

  it("kpt fn eval --image without --network fails, naming the registry and the flag", async () => {
    const dir = await pkg();
    const run = await kpt(["fn", "eval", dir, "--image", IMAGE], { env: containerEnv() });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, new RegExp(`registry ${the().registry.host.replaceAll(".", "\\.")} is unreachable`));
    assert.match(run.stderr, /container that has no network/);
    assert.match(run.stderr, /kpt fn eval --network/);
    assert.match(run.stderr, /kpt fn render --allow-network/);
    assert.deepEqual(await readSample(dir), unpinnedSample(the().images), "a failed run leaves the package as it was");
  });

  it("a Kptfile image: step runs with kpt fn render --allow-network, twice to the same result", async () => {
    const dir = await pkg(KPTFILE(`image: ${IMAGE}`));
    const first = await kpt(["fn", "render", dir, "--allow-network"], { env: containerEnv() });
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(await readSample(dir), pinned());
    const second = await kpt(["fn", "render", dir, "--allow-network"], { env: containerEnv() });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /0 of 3 image fields pinned, 0 unique references resolved/); // already pinned: nothing to ask
    assert.deepEqual(await readSample(dir), pinned());
  });

  it("a Kptfile image: step without --allow-network fails with a message that names the registry and --allow-network", async () => {
    const dir = await pkg(KPTFILE(`image: ${IMAGE}`));
    const run = await kpt(["fn", "render", dir], { env: containerEnv() });
    assert.notEqual(run.code, 0);
    const line = run.stderr.split("\n").find((l) => l.includes("[error]")) ?? "";
    assert.match(line, new RegExp(`registry ${the().registry.host.replaceAll(".", "\\.")} is unreachable: connection to \\S+ refused`));
    assert.match(line, /kpt fn render --allow-network/);
    assert.deepEqual(await readSample(dir), unpinnedSample(the().images));
  });

  it("the top-level Kptfile's image: variant (its comment) renders example/ exactly as its exec: step does", async () => {
    // The example package as the golden test prepares it: its images on our registry.
    const golden = parse(await readFile(join(ROOT, "test", "golden", ".top-level-kptfile", "config.yaml"), "utf8")) as { images: { image: string; kind: ImageKind }[] };
    await seedImages(
      the().registry,
      golden.images.map(({ image, kind }) => ({ repository: image.slice(0, image.lastIndexOf(":")), tag: image.slice(image.lastIndexOf(":") + 1), kind })),
    );
    const copy = async (name: string): Promise<string> => {
      const dir = join(the().work, name);
      for (const file of await listFiles(ROOT)) {
        if (file !== "Kptfile" && file !== ".krmignore" && !file.startsWith("example/") && !file.startsWith("fn-config/")) continue;
        await cp(join(ROOT, file), join(dir, file));
        await writeFile(join(dir, file), (await readFile(join(ROOT, file), "utf8")).replaceAll("127.0.0.1:5151", the().registry.host));
      }
      return dir;
    };
    const exec = await copy("top-exec");
    const image = await copy("top-image");
    // The commented step replaces the exec step, line for line.
    const kptfile = await readFile(join(image, "Kptfile"), "utf8");
    const commented = /^# {3}(- image: .*)\n# {3}( {2}configPath: .*)$/m.exec(kptfile);
    assert.ok(commented, "the Kptfile's comment shows an image: step");
    const step = /^ {2}- exec: .*\n {4}configPath: .*$/m;
    assert.match(kptfile, step);
    await writeFile(join(image, "Kptfile"), withTestImage(kptfile.replace(step, `  ${commented[1]}\n  ${commented[2]}`)));

    const byExec = await kpt(["fn", "render", exec, "--allow-exec"], { cwd: ROOT }); // ./dist/… resolves against the working directory
    assert.equal(byExec.code, 0, byExec.stderr);
    const byImage = await kpt(["fn", "render", image, "--allow-network"], { env: containerEnv() });
    assert.equal(byImage.code, 0, byImage.stderr);

    const files = (await listFiles(exec)).filter((f) => f !== "Kptfile");
    assert.deepEqual((await listFiles(image)).filter((f) => f !== "Kptfile"), files);
    for (const file of files) assert.equal(await readFile(join(image, file), "utf8"), await readFile(join(exec, file), "utf8"), file);
    const frontend = await readFile(join(image, "example", "frontend.yaml"), "utf8");
    assert.match(frontend, new RegExp(`${the().registry.host.replaceAll(".", "\\.")}/demo/frontend:v1@sha256:[0-9a-f]{64}`));
  });
});
