// Files mode (`krm-digester pin PATH...`) over a real directory tree with a
// stand-in registry: which files are read, what changes byte for byte,
// --check, --diff, --config, and messages with file and line. Against a real
// registry and through the built binary: test/e2e/files-mode.test.ts.
import assert from "node:assert/strict";
import { lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, beforeEach, describe, it } from "node:test";
import { pinCommand, UsageError } from "../../src/files/cli.js";
import type { FilesDeps } from "../../src/files/cli.js";
import { parseReference } from "../../src/name/reference.js";
import { FakeSource, fakeDigest } from "../support/fake-source.js";

const pinned = (image: string): string => `${image}@${fakeDigest(parseReference(image))}`;
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const DEPLOY = `# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # trailing comment
spec:
  template:
    spec:
      containers:
      - name: web
        image: 'registry.example.com/shop/web:v1'
      - {name: sidecar, image: "registry.example.com/shop/proxy:v2"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-an-image}
data:
  image: registry.example.com/shop/web:v1
---
# an empty document follows
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: job
            image: registry.example.com/shop/web:v1
`;

const POD = `apiVersion: v1
kind: Pod
metadata:
  name: single
spec:
  containers:
  - name: c
    image: busybox:1.36
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  registry: FakeSource;
  opened: number;
}

async function pin(args: string[], cwd: string, registry = new FakeSource()): Promise<Run> {
  let stdout = "";
  let stderr = "";
  let opened = 0;
  const deps: FilesDeps = {
    cwd,
    openRegistry: () => {
      opened++;
      return registry;
    },
    stdout: (t) => {
      stdout += t;
      return Promise.resolve();
    },
    stderr: (t) => void (stderr += t),
  };
  const code = await pinCommand(args, deps);
  return { code, stdout, stderr, registry, opened };
}

describe("krm-digester pin", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "krm-digester-files-"));
    dirs.push(dir);
    await mkdir(join(dir, "app", "base"), { recursive: true });
    await mkdir(join(dir, "app", ".hidden"), { recursive: true });
    await mkdir(join(dir, "app", "node_modules"), { recursive: true });
    await writeFile(join(dir, "app", "base", "deploy.yaml"), DEPLOY);
    await writeFile(join(dir, "app", "pod.yml"), POD);
    await writeFile(join(dir, "app", "README.md"), "image: busybox:1.36\n");
    await writeFile(join(dir, "app", "pod.json"), JSON.stringify({ kind: "Pod", spec: { containers: [{ image: "busybox:1.36" }] } }));
    await writeFile(join(dir, "app", ".hidden", "x.yaml"), POD);
    await writeFile(join(dir, "app", "node_modules", "x.yaml"), POD);
    await symlink(join(dir, "app", "pod.yml"), join(dir, "app", "link.yaml"));
  });

  it("pins every image in *.yaml and *.yml files under a directory, in place, changing only image values", async () => {
    await chmod(join(dir, "app", "pod.yml"), 0o640);
    const run = await pin(["app"], dir);
    assert.equal(run.code, 0, run.stderr);
    const deploy = await readFile(join(dir, "app", "base", "deploy.yaml"), "utf8");
    const expected = DEPLOY.replace("'registry.example.com/shop/web:v1'", `'${pinned("registry.example.com/shop/web:v1")}'`)
      .replace('"registry.example.com/shop/proxy:v2"', `"${pinned("registry.example.com/shop/proxy:v2")}"`)
      .replace("            image: registry.example.com/shop/web:v1", `            image: ${pinned("registry.example.com/shop/web:v1")}`);
    assert.equal(deploy, expected);
    assert.equal(await readFile(join(dir, "app", "pod.yml"), "utf8"), POD.replace("busybox:1.36", pinned("busybox:1.36")));
    assert.equal((await stat(join(dir, "app", "pod.yml"))).mode & 0o777, 0o640, "the file keeps its mode");
    for (const untouched of ["README.md", "pod.json", ".hidden/x.yaml", "node_modules/x.yaml"]) {
      const text = await readFile(join(dir, "app", untouched), "utf8");
      assert.ok(!text.includes("@sha256:"), untouched);
    }
    // One lookup per unique reference across all files.
    assert.deepEqual([...run.registry.calls].sort(), ["docker.io/library/busybox:1.36", "registry.example.com/shop/proxy:v2", "registry.example.com/shop/web:v1"]);
    assert.match(run.stderr, /krm-digester: 2 of 2 files changed\n/);
    assert.match(run.stderr, /krm-digester: 4 of 4 image fields pinned, 3 unique references resolved, 0 errors, \d+ ms\n$/);
    // A second run changes nothing and asks nothing.
    const again = await pin(["app"], dir);
    assert.equal(again.code, 0);
    assert.deepEqual(again.registry.calls, []);
    assert.match(again.stderr, /0 of 2 files changed/);
  });

  it("a file named on the command line is read whatever its name; a missing path is a usage error", async () => {
    const run = await pin(["app/pod.yml", "app/link.yaml"], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /1 of 1 files changed/, "the link and its target are one file");
    assert.ok((await lstat(join(dir, "app", "link.yaml"))).isSymbolicLink(), "the link stays a link");
    await assert.rejects(pin(["nope"], dir), (e: Error) => e instanceof UsageError && /pin: nope: no such file or directory/.test(e.message));
    await assert.rejects(pin([], dir), /name at least one file or directory/);
    await assert.rejects(pin(["--frobnicate", "app"], dir), /unknown option "--frobnicate"/);
  });

  it("--check changes nothing, asks no registry, and lists each unpinned image with file and line; exit 1", async () => {
    const before = await readFile(join(dir, "app", "base", "deploy.yaml"), "utf8");
    const run = await pin(["--check", "app"], dir);
    assert.equal(run.code, 1);
    assert.equal(run.opened, 0, "no registry opened");
    assert.equal(await readFile(join(dir, "app", "base", "deploy.yaml"), "utf8"), before);
    const errors = run.stderr.split("\n").filter((l) => l.includes(": error: "));
    assert.deepEqual(errors, [
      "krm-digester: app/base/deploy.yaml:11: error: Deployment web spec.template.spec.containers[0].image: registry.example.com/shop/web:v1 is not pinned to a digest (mode: check). Pin it with mode: pin (kpt fn render, or krm-digester pin PATH) and commit the result.",
      "krm-digester: app/base/deploy.yaml:12: error: Deployment web spec.template.spec.containers[1].image: registry.example.com/shop/proxy:v2 is not pinned to a digest (mode: check). Pin it with mode: pin (kpt fn render, or krm-digester pin PATH) and commit the result.",
      "krm-digester: app/base/deploy.yaml:33: error: CronJob nightly spec.jobTemplate.spec.template.spec.containers[0].image: registry.example.com/shop/web:v1 is not pinned to a digest (mode: check). Pin it with mode: pin (kpt fn render, or krm-digester pin PATH) and commit the result.",
      "krm-digester: app/pod.yml:8: error: Pod single spec.containers[0].image: busybox:1.36 is not pinned to a digest (mode: check). Pin it with mode: pin (kpt fn render, or krm-digester pin PATH) and commit the result.",
    ]);
    await pin(["app"], dir);
    const clean = await pin(["--check", "app"], dir);
    assert.equal(clean.code, 0, clean.stderr);
  });

  it("--diff prints a unified diff and writes nothing", async () => {
    const run = await pin(["--diff", "app/pod.yml"], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      `--- a/app/pod.yml\n+++ b/app/pod.yml\n@@ -4,5 +4,5 @@\n   name: single\n spec:\n   containers:\n   - name: c\n-    image: busybox:1.36\n+    image: ${pinned("busybox:1.36")}\n`,
    );
    assert.equal(await readFile(join(dir, "app", "pod.yml"), "utf8"), POD);
    assert.match(run.stderr, /1 of 1 files would change/);
  });

  it("--config takes a function config (typed or ConfigMap); a bad one names the file and the key", async () => {
    await writeFile(join(dir, "skip.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  skipPrefixes: registry.example.com/\n");
    const run = await pin(["--config", "skip.yaml", "app"], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.registry.calls, ["docker.io/library/busybox:1.36"]);
    await writeFile(join(dir, "bad.yaml"), "apiVersion: fn.krm-digester.dev/v1alpha1\nkind: DigesterConfig\nconcurrency: lots\n");
    await assert.rejects(pin(["--config=bad.yaml", "app"], dir), /--config bad\.yaml: concurrency: concurrency: expected a whole number from 1 to 256, got "lots"/);
  });

  it("a file that is not YAML or not UTF-8 is an error and stays as it is; the others are pinned", async () => {
    await writeFile(join(dir, "app", "broken.yaml"), "a: [unclosed\n");
    await writeFile(join(dir, "app", "latin1.yaml"), Buffer.from([0x61, 0x3a, 0x20, 0xe9, 0x0a]));
    const run = await pin(["app"], dir);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /krm-digester: app\/broken\.yaml:\d+: error: not valid YAML: .*; the file was left as it is/);
    assert.match(run.stderr, /krm-digester: app\/latin1\.yaml: error: the file is not UTF-8 text; it was left as it is/);
    assert.equal(await readFile(join(dir, "app", "broken.yaml"), "utf8"), "a: [unclosed\n");
    assert.ok((await readFile(join(dir, "app", "pod.yml"), "utf8")).includes("@sha256:"));
  });

  it("a lookup that fails is an error with file and line; the file keeps its other pins", async () => {
    const registry = new FakeSource({ "busybox:1.36": new Error("tag not found") });
    const run = await pin(["app"], dir, registry);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /krm-digester: app\/pod\.yml:8: error: Pod single spec\.containers\[0\]\.image: cannot resolve busybox:1\.36: tag not found\n/);
    assert.equal(await readFile(join(dir, "app", "pod.yml"), "utf8"), POD);
    assert.ok((await readFile(join(dir, "app", "base", "deploy.yaml"), "utf8")).includes("@sha256:"));
  });

  it("a long run says on stderr how far it got, then prints the function's summary line", async () => {
    let stderr = "";
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    // The registry answers only once a progress line has been printed: no timing involved.
    const slow = new FakeSource();
    const registry = {
      resolveDigest: async (ref: Parameters<FakeSource["resolveDigest"]>[0]): Promise<string> => {
        await released;
        return slow.resolveDigest(ref);
      },
      close: () => Promise.resolve(),
    };
    // The ticker is unref'd (it never holds a run open): something must keep this test's process alive meanwhile.
    const alive = setInterval(() => undefined, 1000);
    const code = await pinCommand([join(dir, "app")], {
      cwd: dir,
      openRegistry: () => registry,
      stdout: () => Promise.resolve(),
      stderr: (t) => {
        stderr += t;
        if (/files done/.test(t)) release();
      },
      progressEveryMs: 5,
    }).finally(() => clearInterval(alive));
    assert.equal(code, 0, stderr);
    assert.match(stderr, /^krm-digester: 0 of 2 files done$/m);
    assert.match(stderr, /krm-digester: 2 of 2 files changed\nkrm-digester: 4 of 4 image fields pinned, 3 unique references resolved, 0 errors, \d+ ms\n$/);
  });

  it("a skaffold.yaml among the files makes its artifacts' bare names skaffold's placeholders: left alone with a warning by file and line, not looked up", async () => {
    await writeFile(join(dir, "app", "skaffold.yaml"), "apiVersion: skaffold/v4beta11\nkind: Config\nbuild:\n  artifacts:\n  - image: skaffold-example\n");
    const manifest = POD.replace("busybox:1.36", "skaffold-example");
    await writeFile(join(dir, "app", "pod.yml"), manifest);
    const run = await pin([join(dir, "app")], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /app\/pod\.yml:8: warning: Pod single spec\.containers\[0\]\.image: left skaffold artifact skaffold-example alone: app\/skaffold\.yaml declares it/);
    assert.equal(await readFile(join(dir, "app", "pod.yml"), "utf8"), manifest);
    assert.ok(!run.registry.calls.some((c) => c.includes("skaffold-example")), run.registry.calls.join(","));
  });

  it("a pull secret in one file applies to a workload in another", async () => {
    await writeFile(
      join(dir, "app", "secret.yaml"),
      `apiVersion: v1\nkind: Secret\nmetadata: {name: regcred}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{"auths":{"registry.example.com":{"auth":"dTpw"}}}'\n`,
    );
    await writeFile(join(dir, "app", "base", "deploy.yaml"), DEPLOY.replace("    spec:\n      containers:", "    spec:\n      imagePullSecrets: [{name: regcred}]\n      containers:"));
    const scopes: (string | undefined)[] = [];
    const registry = new FakeSource();
    const original = registry.resolveDigest.bind(registry);
    registry.resolveDigest = (ref, scope?: { id: string }) => {
      scopes.push(scope ? `${ref.original} ${scope.id.length > 0 ? "with secret" : ""}` : ref.original);
      return original(ref);
    };
    const run = await pin(["app"], dir, registry);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(scopes.includes("registry.example.com/shop/web:v1 with secret"), scopes.join(", "));
  });
});

describe("krm-digester images --kustomization", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "krm-digester-images-"));
    dirs.push(dir);
    await mkdir(join(dir, "base"));
    await writeFile(join(dir, "base", "deploy.yaml"), DEPLOY);
    await writeFile(join(dir, "base", "pod.yaml"), POD);
  });

  async function images(args: string[], registry = new FakeSource()): Promise<{ code: number; stderr: string; registry: FakeSource }> {
    let stderr = "";
    const code = await (await import("../../src/files/cli.js")).imagesCommand(args, {
      cwd: dir,
      openRegistry: () => registry,
      stdout: () => Promise.resolve(),
      stderr: (t) => void (stderr += t),
    });
    return { code, stderr, registry };
  }

  it("writes name and digest entries, sorted, keeping the rest of the kustomization and the resources as they are", async () => {
    const kustomization = "# the app\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- base/deploy.yaml\n- base/pod.yaml\nimages:\n- name: busybox\n  newTag: \"1.35\"\n- name: keep/me\n  newName: other/image\n# the end\n";
    await writeFile(join(dir, "kustomization.yaml"), kustomization);
    const run = await images(["--kustomization", "kustomization.yaml", "base"]);
    assert.equal(run.code, 0, run.stderr);
    const after = await readFile(join(dir, "kustomization.yaml"), "utf8");
    const d = (image: string): string => fakeDigest(parseReference(image));
    assert.equal(
      after,
      "# the app\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- base/deploy.yaml\n- base/pod.yaml\nimages:\n" +
        `- name: busybox\n  digest: ${d("busybox:1.36")}\n- name: keep/me\n  newName: other/image\n` +
        `- name: registry.example.com/shop/proxy\n  digest: ${d("registry.example.com/shop/proxy:v2")}\n` +
        `- name: registry.example.com/shop/web\n  digest: ${d("registry.example.com/shop/web:v1")}\n# the end\n`,
    );
    assert.equal(await readFile(join(dir, "base", "deploy.yaml"), "utf8"), DEPLOY, "resources untouched");
    assert.match(run.stderr, /3 images written to kustomization\.yaml, 3 unique references resolved, 0 errors/);
  });

  it("one name used with two tags that differ is an error naming both places, and nothing is written", async () => {
    await writeFile(join(dir, "base", "other.yaml"), POD.replace("busybox:1.36", "busybox:1.37").replace("single", "other"));
    await writeFile(join(dir, "kustomization.yaml"), "resources: []\n");
    const run = await images(["--kustomization=kustomization.yaml", "base"]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /busybox is used as busybox:1\.37 \(base\/other\.yaml:8, sha256:\w+\) and as busybox:1\.36 \(base\/pod\.yaml:8, sha256:\w+\)|busybox is used as busybox:1\.36 \(base\/pod\.yaml:8, sha256:\w+\) and as busybox:1\.37 \(base\/other\.yaml:8/);
    assert.equal(await readFile(join(dir, "kustomization.yaml"), "utf8"), "resources: []\n");
  });

  it("goes through the core as pin does: a build artifact's placeholder gets newName and digest, skip rules and annotations apply", async () => {
    const D = `sha256:${"b".repeat(64)}`;
    await writeFile(join(dir, "base", "app.yaml"), POD.replace("busybox:1.36", "skaffold-example").replace("single", "app"));
    await writeFile(join(dir, "base", "skip.yaml"), POD.replace("busybox:1.36", "registry.example.com/skipped/x:1").replace("single", "skip"));
    await writeFile(join(dir, "artifacts.json"), JSON.stringify({ builds: [{ imageName: "skaffold-example", tag: `registry.example.com/skaffold-example:v7@${D}` }] }));
    await writeFile(join(dir, "config.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  buildArtifacts: artifacts.json\n  skipImages: registry.example.com/skipped/**\n");
    await writeFile(join(dir, "kustomization.yaml"), "resources: []\n");
    const run = await images(["--kustomization", "kustomization.yaml", "--config", "config.yaml", "base"]);
    assert.equal(run.code, 0, run.stderr);
    const written = (await readFile(join(dir, "kustomization.yaml"), "utf8")).split("\n");
    assert.deepEqual(written.slice(written.indexOf("- name: skaffold-example"), written.indexOf("- name: skaffold-example") + 3), [
      "- name: skaffold-example",
      "  newName: registry.example.com/skaffold-example",
      `  digest: ${D}`,
    ]);
    assert.ok(!written.some((l) => l.includes("skipped")), written.join("\n"));
    assert.ok(!run.registry.calls.some((c) => c.includes("skaffold-example") || c.includes("skipped")), run.registry.calls.join(","));
  });

  it("a missing kustomization or flag is a usage error", async () => {
    await assert.rejects(images(["--kustomization", "nope.yaml", "base"]), /--kustomization nope\.yaml does not exist/);
    await assert.rejects(images(["base"]), /--kustomization FILE is required/);
  });
});
