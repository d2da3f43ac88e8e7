// Credentials for the function in a container, against a registry with TLS
// (a throwaway CA) and htpasswd auth: a docker config.json mounted read-only
// with DOCKER_CONFIG, the CA mounted with SSL_CERT_FILE or NODE_EXTRA_CA_CERTS,
// and pull secrets in the package. The container runs as nobody, so the
// mounted files must be readable by everyone. Through podman directly (no
// skip), kpt fn eval --mount/--env, and a kustomize container config's
// mounts/envs.
import assert from "node:assert/strict";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "../support/node-test.js";
import { parse, parseAllDocuments, stringify } from "yaml";
import type { Result } from "../../src/results.js";
import { IMAGE, containerEnv, dockerShim, ensureImage, pathWith, runCommand } from "../support/container.js";
import type { DockerShim } from "../support/container.js";
import { KUBECTL, kpt, skipWithout } from "../support/kpt.js";
import { startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { ROOT } from "../support/run-fn.js";
import { dockerConfigJson, pinnedSample, readSample, seedSample, unpinnedSample, writeSample } from "../support/sample-package.js";
import type { SampleImages, SampleOptions } from "../support/sample-package.js";

const USER = "puller";
const PASSWORD = "pull-only-s3cret";

interface Output {
  items: { kind: string; spec: unknown }[];
  results?: Result[];
}

describe("credentials in a container: htpasswd + TLS registry", () => {
  let registry: Registry;
  let images: SampleImages;
  let work: string;
  /** config.json and ca.pem, world-readable. */
  let auth: string;
  let secretOptions: SampleOptions;
  let count = 0;

  before(async () => {
    registry = await startRegistry({ tls: true, htpasswd: { user: USER, password: PASSWORD } });
    work = await mkdtemp(join(tmpdir(), "krm-digester-creds-"));
    await chmod(work, 0o755);
    auth = join(work, "auth");
    await mkdir(auth, { mode: 0o755 });
    await writeFile(join(auth, "config.json"), dockerConfigJson(registry.host, USER, PASSWORD), { mode: 0o644 });
    await copyFile(registry.caFile ?? "", join(auth, "ca.pem"));
    await chmod(join(auth, "ca.pem"), 0o644);
    secretOptions = { pullSecret: { host: registry.host, user: USER, password: PASSWORD } };
    [images] = await Promise.all([seedSample(registry, registry.host), ensureImage()]);
  });
  after(async () => {
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** The sample package's resources (all of its files) as a ResourceList. */
  function resourceList(options: SampleOptions = {}): string {
    const items = Object.values(unpinnedSample(images, options)).map((text) => parse(text) as unknown);
    return stringify({ apiVersion: "config.kubernetes.io/v1", kind: "ResourceList", items });
  }

  /** `podman run -i` as kpt does it (host network, nobody), with extra arguments before the image. */
  function podmanRun(args: readonly string[], input: string) {
    return runCommand("podman", ["run", "--rm", "-i", "--network", "host", "--user", "nobody", ...args, IMAGE], { env: containerEnv(), input });
  }

  function pinnedImages(stdout: string): string[] {
    const out = parse(stdout) as Output;
    return (out.results ?? []).filter((r) => r.severity === "info").map((r) => String(r.field?.proposedValue));
  }

  const expectedPins = (): string[] => [images.init, images.web, images.web].map((i) => `${i}@${images.digests.get(i) ?? "?"}`).sort();
  const mount = (): string[] => ["-v", `${auth}:/config:ro`];

  describe("podman run -i (what kpt and kustomize run)", () => {
    it("a docker config.json mounted read-only, DOCKER_CONFIG and SSL_CERT_FILE: every image pinned", async () => {
      const run = await podmanRun([...mount(), "-e", "DOCKER_CONFIG=/config", "-e", "SSL_CERT_FILE=/config/ca.pem"], resourceList());
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(pinnedImages(run.stdout).sort(), expectedPins());
    });

    it("without the config: the registry refuses, and the message lists the docker config that was tried", async () => {
      const run = await podmanRun([...mount(), "-e", "NODE_EXTRA_CA_CERTS=/config/ca.pem"], resourceList());
      assert.equal(run.code, 1);
      assert.match(run.stderr, new RegExp(`registry ${registry.host.replaceAll(".", "\\.")} refused to authorize`));
      assert.match(run.stderr, /docker config \/nonexistent\/\.docker\/config\.json/); // nobody's HOME
      assert.doesNotMatch(run.stdout + run.stderr, new RegExp(PASSWORD));
    });

    it("without the CA: the TLS failure says to mount the CA file and point SSL_CERT_FILE at it", async () => {
      const run = await podmanRun([...mount(), "-e", "DOCKER_CONFIG=/config"], resourceList());
      assert.equal(run.code, 1);
      assert.match(run.stderr, /TLS connection to registry .* failed/);
      assert.match(run.stderr, /mount the file into it and set the variable to the mounted path/);
    });

    it("a pull secret in the package, only the CA mounted: every image pinned, the secret never printed", async () => {
      const run = await podmanRun([...mount(), "-e", "NODE_EXTRA_CA_CERTS=/config/ca.pem"], resourceList(secretOptions));
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(pinnedImages(run.stdout).sort(), expectedPins());
      assert.doesNotMatch(run.stderr, new RegExp(PASSWORD));
    });
  });

  describe("kpt fn eval --image", { skip: skipWithout("kpt") }, () => {
    async function pkg(options: SampleOptions = {}): Promise<string> {
      const dir = join(work, `pkg${++count}`);
      await writeSample(dir, images, options);
      return dir;
    }
    // kpt mounts read-only unless told rw=true.
    const ca = (): string[] => ["--mount", `type=bind,src=${auth},dst=/config`, "--env", "NODE_EXTRA_CA_CERTS=/config/ca.pem"];

    it("--mount the config directory, --env DOCKER_CONFIG: the package is pinned", async () => {
      const dir = await pkg();
      const run = await kpt(["fn", "eval", dir, "--image", IMAGE, "--network", ...ca(), "--env", "DOCKER_CONFIG=/config"], { env: containerEnv() });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(await readSample(dir), pinnedSample(images));
    });

    it("a pull secret in the package (and the CA mounted): the package is pinned", async () => {
      const dir = await pkg(secretOptions);
      const run = await kpt(["fn", "eval", dir, "--image", IMAGE, "--network", ...ca()], { env: containerEnv() });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(await readSample(dir), pinnedSample(images, secretOptions));
    });

    it("neither: the package is left as it was", async () => {
      const dir = await pkg();
      const run = await kpt(["fn", "eval", dir, "--image", IMAGE, "--network", ...ca()], { env: containerEnv() });
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, /refused to authorize/);
      assert.deepEqual(await readSample(dir), unpinnedSample(images));
    });
  });

  describe("kubectl kustomize, container config with mounts and envs", { skip: skipWithout("kubectl") }, () => {
    let shim: DockerShim;
    before(async () => {
      shim = await dockerShim();
    });
    after(() => shim?.remove());

    /** fn-config/kustomize-container.yaml plus `extra` lines in its container spec. */
    async function kustomization(extra: string, options: SampleOptions = {}): Promise<string> {
      const dir = join(work, `k${++count}`);
      await writeSample(dir, images, options);
      // kustomize takes mounts only from inside the kustomization's directory.
      await mkdir(join(dir, "registry-auth"), { mode: 0o755 });
      for (const f of ["config.json", "ca.pem"]) await copyFile(join(auth, f), join(dir, "registry-auth", f));
      // The image under test (KRM_DIGESTER_TEST_IMAGE where checkouts test side by side), not the file's :dev.
      const config = (await readFile(join(ROOT, "fn-config", "kustomize-container.yaml"), "utf8"))
        .replace(/^( {8}network: true\n)/m, `$1${extra}`)
        .replace(/image: localhost\/krm-digester:dev$/m, `image: ${IMAGE}`);
      await writeFile(join(dir, "digester.yaml"), config);
      const resources = ["deployment.yaml", "cronjob.yaml", ...(options.pullSecret ? ["secret.yaml"] : [])];
      await writeFile(join(dir, "kustomization.yaml"), `resources:\n${resources.map((r) => `- ${r}\n`).join("")}transformers:\n- digester.yaml\n`);
      return dir;
    }

    const mounts = "        mounts:\n        - {type: bind, src: ./registry-auth, dst: /config}\n";
    const kubectl = (dir: string) =>
      runCommand(KUBECTL ?? "kubectl", ["kustomize", "--enable-alpha-plugins", "--network", dir], { env: containerEnv({ PATH: pathWith(shim.dir) }) });

    function workloadImages(yaml: string): string[] {
      const found: string[] = [];
      for (const doc of parseAllDocuments(yaml)) {
        const text = JSON.stringify(doc.toJS());
        for (const m of text.matchAll(/"image":"([^"]+)"/g)) if (m[1]) found.push(m[1]);
      }
      return found.sort();
    }

    it("mounts: ./registry-auth, envs: DOCKER_CONFIG and NODE_EXTRA_CA_CERTS: every image pinned", async () => {
      const dir = await kustomization(`${mounts}        envs:\n        - DOCKER_CONFIG=/config\n        - NODE_EXTRA_CA_CERTS=/config/ca.pem\n`);
      const run = await kubectl(dir);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(workloadImages(run.stdout), expectedPins());
      assert.match((await shim.calls()).at(-1) ?? "", /--mount type=bind,source=\S+\/registry-auth,target=\/config,readonly -e DOCKER_CONFIG=\/config/);
    });

    it("a pull secret among the resources (and the CA mounted): every image pinned", async () => {
      const dir = await kustomization(`${mounts}        envs:\n        - NODE_EXTRA_CA_CERTS=/config/ca.pem\n`, secretOptions);
      const run = await kubectl(dir);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(workloadImages(run.stdout), expectedPins());
    });
  });
});
