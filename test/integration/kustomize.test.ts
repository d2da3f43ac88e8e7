// kustomize with the transformer configs in fn-config/, against a real
// registry. kubectl's built-in kustomize runs the container config through
// `docker run`, which a shim on PATH maps to podman. Standalone kustomize
// (needed for exec functions: --enable-exec) cannot be installed on this
// project's machines (see the README); so the exec config is checked as the
// functionConfig the function gets, and kubectl is shown to skip it silently.
import assert from "node:assert/strict";
import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "../support/node-test.js";
import { parse, parseAllDocuments } from "yaml";
import { IMAGE, containerEnv, dockerShim, ensureImage, pathWith, runCommand, withTestImage } from "../support/container.js";
import type { DockerShim, RunResult } from "../support/container.js";
import { KUBECTL, skipWithout } from "../support/kpt.js";
import { BUNDLE, ROOT, STANDALONE, runFn } from "../support/run-fn.js";
import type { SampleImages } from "../support/sample-package.js";
import { startSampleRegistry } from "../support/sample-registry.js";
import type { SampleRegistry } from "../support/sample-registry.js";

const EXEC_CONFIG = join(ROOT, "fn-config", "kustomize-exec.yaml");
const CONTAINER_CONFIG = join(ROOT, "fn-config", "kustomize-container.yaml");

interface Workload {
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown>;
}

/** Every container image in kustomize's output, as "Kind/name: image". */
function imagesOf(yaml: string): string[] {
  const out: string[] = [];
  const visit = (kind: string, name: string, spec: unknown): void => {
    if (typeof spec !== "object" || spec === null) return;
    for (const [key, value] of Object.entries(spec)) {
      if ((key === "containers" || key === "initContainers") && Array.isArray(value)) {
        for (const c of value as { image?: string }[]) out.push(`${kind}/${name}: ${c.image ?? ""}`);
      } else visit(kind, name, value);
    }
  };
  for (const doc of parseAllDocuments(yaml)) {
    const w = doc.toJS() as Workload | null;
    if (w?.spec) visit(w.kind, w.metadata.name, w.spec);
  }
  return out.sort();
}

function expectedImages(images: SampleImages, pinned: boolean): string[] {
  const ref = (image: string): string => (pinned ? `${image}@${images.digests.get(image) ?? "?"}` : image);
  return [`CronJob/report: ${ref(images.web)}`, `Deployment/web: ${ref(images.init)}`, `Deployment/web: ${ref(images.web)}`].sort();
}

describe("kustomize transformer configs (fn-config/) against a real registry", () => {
  let sample: SampleRegistry | undefined;
  before(async () => {
    sample = await startSampleRegistry("kustomize");
  });
  after(() => sample?.stop());
  const the = (): SampleRegistry => sample ?? assert.fail("set-up failed");

  /** A kustomization over the sample package with `config` (a file's text) as its one transformer. */
  async function kustomization(config: string): Promise<string> {
    const dir = await the().fresh("k");
    await writeFile(join(dir, "digester.yaml"), config);
    await writeFile(join(dir, "kustomization.yaml"), "resources:\n- deployment.yaml\n- cronjob.yaml\ntransformers:\n- digester.yaml\n");
    return dir;
  }

  for (const [name, bin] of [
    ["bundle", BUNDLE],
    ["standalone executable", STANDALONE],
  ] as const) {
    it(`the exec config is a functionConfig the ${name} accepts: it pins the resources kustomize would send`, async () => {
      // What kustomize sends an exec function: a ResourceList, the config object as functionConfig.
      const config = parse(await readFile(EXEC_CONFIG, "utf8")) as unknown;
      const dir = await kustomization("");
      const items = await Promise.all(["deployment.yaml", "cronjob.yaml"].map(async (f) => parse(await readFile(join(dir, f), "utf8")) as unknown));
      const input = JSON.stringify({ apiVersion: "config.kubernetes.io/v1", kind: "ResourceList", items, functionConfig: config });
      const run = await runFn(input, { bin });
      assert.equal(run.code, 0, run.stderr);
      const out = parse(run.stdout) as { items: unknown[] };
      const text = out.items.map((i) => JSON.stringify(i)).join("\n---\n");
      assert.deepEqual(imagesOf(text), expectedImages(the().images, true));
    });
  }

  describe("kubectl's built-in kustomize", { skip: skipWithout("kubectl") }, () => {
    let shim: DockerShim;
    before(async () => {
      [shim] = await Promise.all([dockerShim(), ensureImage()]);
    });
    after(() => shim?.remove());

    const kubectl = (args: string[]): Promise<RunResult> =>
      runCommand(KUBECTL ?? "kubectl", ["kustomize", ...args], { env: containerEnv({ PATH: pathWith(shim.dir) }) });

    it("runs fn-config/kustomize-container.yaml with --enable-alpha-plugins --network: every image pinned", async () => {
      const dir = await kustomization(withTestImage(await readFile(CONTAINER_CONFIG, "utf8")));
      const before = (await shim.calls()).length;
      const run = await kubectl(["--enable-alpha-plugins", "--network", dir]);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(imagesOf(run.stdout), expectedImages(the().images, true));
      const calls = (await shim.calls()).slice(before);
      assert.equal(calls.length, 1, calls.join("\n"));
      // The network: true config gets the host network, as nobody.
      assert.match(calls[0] ?? "", new RegExp(`^docker run .*--network host --user nobody .*${IMAGE}$`));
    });

    it("refuses the container config without --network (network: true must be allowed)", async () => {
      const dir = await kustomization(withTestImage(await readFile(CONTAINER_CONFIG, "utf8")));
      const run = await kubectl(["--enable-alpha-plugins", dir]);
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, /network required but not enabled with --network/);
    });

    it("a container config without network: true fails naming the registry and network: true", async () => {
      const config = withTestImage(await readFile(CONTAINER_CONFIG, "utf8")).replace(/^ {8}network: true\n/m, "");
      const annotation = (parse(config) as { metadata: { annotations: Record<string, string> } }).metadata.annotations["config.kubernetes.io/function"];
      assert.doesNotMatch(annotation ?? "", /network/);
      const dir = await kustomization(config);
      const run = await kubectl(["--enable-alpha-plugins", "--network", dir]);
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, new RegExp(`registry ${the().registry.host.replaceAll(".", "\\.")} is unreachable`));
      assert.match(run.stderr, /container that has no network/);
      assert.match(run.stderr, /network: true in the kustomize function annotation/);
      assert.match((await shim.calls()).at(-1) ?? "", /--network none/);
    });

    it("silently skips the exec config (kubectl has no --enable-exec): output unpinned, the function never started", async () => {
      const dir = await kustomization(await readFile(EXEC_CONFIG, "utf8"));
      // ./krm-digester as the config names it: leaves a mark, then runs the function.
      const mark = join(dir, "ran");
      await writeFile(join(dir, "krm-digester"), `#!/bin/sh\ntouch '${mark}'\nexec '${BUNDLE}'\n`);
      await chmod(join(dir, "krm-digester"), 0o755);
      const run = await kubectl(["--enable-alpha-plugins", dir]);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(imagesOf(run.stdout), expectedImages(the().images, false));
      await assert.rejects(stat(mark), { code: "ENOENT" });
      const flag = await kubectl(["--enable-alpha-plugins", "--enable-exec", dir]);
      assert.notEqual(flag.code, 0);
      assert.match(flag.stderr, /unknown flag: --enable-exec/);
    });
  });
});
