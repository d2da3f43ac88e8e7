// The CI settings with the container image (kpt fn eval --image, podman as kpt
// starts it: run --rm -i --user nobody), against a real registry:
// - buildArtifacts: the container sees only what is mounted, its working
//   directory is / (so a relative path names /FILE); a mounted file replaces
//   the placeholder with no network at all, a missing one is an error that
//   says how to mount it.
// - cacheTTL: the container's own files are gone when it ends. With a mounted
//   directory named by KRM_DIGESTER_CACHE_DIR, a second container run with no
//   network at all pins from the cache; without one, the run goes on
//   uncached with a warning that says how to mount it.
// - mode: check and frozen need neither network nor mounts.
// Through podman everywhere the suite runs; through kpt where it is installed.
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import type { Result } from "../../src/results.js";
import { IMAGE, containerEnv, ensureImage, runCommand } from "../support/container.js";
import type { RunResult } from "../support/container.js";
import { kpt, skipWithout } from "../support/kpt.js";
import { after, before, describe, it } from "../support/node-test.js";
import { startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { pushImage } from "../support/seed.js";

interface Output {
  items: { kind: string; spec?: { containers: { image: string }[] } }[];
  results?: Result[];
}

const pod = (name: string, image: string): unknown => ({ apiVersion: "v1", kind: "Pod", metadata: { name }, spec: { containers: [{ name: "c", image }] } });

function resourceList(items: unknown[], data: Record<string, string>): string {
  return stringify({ apiVersion: "config.kubernetes.io/v1", kind: "ResourceList", items, functionConfig: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data } });
}

const imagesOf = (run: RunResult): string[] => (parse(run.stdout) as Output).items.flatMap((i) => i.spec?.containers.map((c) => c.image) ?? []);
const resultsOf = (run: RunResult, severity: string): Result[] => ((parse(run.stdout) as Output).results ?? []).filter((r) => r.severity === severity);

describe("CI settings with the container image (podman, as kpt runs it)", () => {
  let registry: Registry;
  let work: string;
  let web: string;
  let built: string;
  const digests = new Map<string, string>();

  before(async () => {
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), "krm-digester-container-ci-"));
    await chmod(work, 0o755);
    web = `${registry.host}/ci/web:v1`;
    const [w, b] = await Promise.all([
      pushImage(registry, { repository: "ci/web", tag: "v1", kind: "oci-manifest" }),
      pushImage(registry, { repository: "ci/built", tag: "b42", kind: "oci-manifest" }),
      ensureImage(),
    ]);
    digests.set(web, w.digest);
    built = `${registry.host}/ci/built:b42@${b.digest}`;
    await writeFile(join(work, "artifacts.json"), JSON.stringify({ builds: [{ imageName: "skaffold-example", tag: built }] }));
    await chmod(join(work, "artifacts.json"), 0o644);
  });
  after(async () => {
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const podman = (network: string, input: string, extra: readonly string[] = []): Promise<RunResult> =>
    runCommand("podman", ["run", "--rm", "-i", "--network", network, "--user", "nobody", "--security-opt=no-new-privileges", ...extra, IMAGE], {
      env: containerEnv(),
      input,
    });

  it("buildArtifacts: a mounted file replaces the placeholder, with no network at all", async () => {
    const input = resourceList([pod("a", "skaffold-example")], { buildArtifacts: "/in/artifacts.json" });
    const run = await podman("none", input, ["-v", `${join(work, "artifacts.json")}:/in/artifacts.json:ro`]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(imagesOf(run), [built]);
  });

  it("buildArtifacts: a relative path is relative to the container's working directory (/)", async () => {
    const input = resourceList([pod("a", "skaffold-example")], { buildArtifacts: "artifacts.json", format: "digest-only" });
    const run = await podman("none", input, ["-v", `${join(work, "artifacts.json")}:/artifacts.json:ro`]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(imagesOf(run), [built.replace(":b42@", "@")]);
  });

  it("buildArtifacts: a file not mounted is an error that says the container sees only what is mounted and how to mount it", async () => {
    const run = await podman("none", resourceList([pod("a", "skaffold-example")], { buildArtifacts: "artifacts.json" }));
    assert.equal(run.code, 1);
    const [error] = resultsOf(run, "error");
    assert.equal(error?.field?.path, "functionConfig.buildArtifacts");
    assert.match(error?.message ?? "", /buildArtifacts: artifacts\.json does not exist \(paths are relative to the working directory, \/\); the function runs in a container, which sees only what is mounted/);
    assert.match(error?.message ?? "", /--mount type=bind,src=\$PWD\/artifacts\.json,dst=\/artifacts\.json -- buildArtifacts=\/artifacts\.json/);
  });

  it("cacheTTL: with a mounted directory the second container, without any network, pins from the cache", async () => {
    const cache = join(work, "cache");
    await mkdir(cache);
    await chmod(cache, 0o777); // the container runs as nobody (65534)
    const input = resourceList([pod("a", web)], { cacheTTL: "1h" });
    const mount = ["-v", `${cache}:/cache:rw`, "-e", "KRM_DIGESTER_CACHE_DIR=/cache"];
    const first = await podman("host", input, mount);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(imagesOf(first), [`${web}@${digests.get(web)}`]);
    assert.equal((await readdir(join(cache, "v1", "tags"))).length, 1, "one entry on the host");
    const second = await podman("none", input, mount);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(imagesOf(second), [`${web}@${digests.get(web)}`]);
    assert.match(resultsOf(second, "info")[0]?.message ?? "", /\(from the cache, looked up \d+s ago\)/);
    assert.deepEqual(resultsOf(second, "warning"), []);
  });

  it("cacheTTL without a mounted directory: pinned uncached, with a warning that says how to mount one; exit 0", async () => {
    const run = await podman("host", resourceList([pod("a", web)], { cacheTTL: "1h" }));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(imagesOf(run), [`${web}@${digests.get(web)}`]);
    const [warning] = resultsOf(run, "warning");
    assert.equal(warning?.field?.path, "functionConfig.cacheTTL");
    assert.match(warning?.message ?? "", /^cacheTTL: the function runs in a container, whose own files are gone when it ends, so no cache was used; mount a directory for it and set KRM_DIGESTER_CACHE_DIR/);
    assert.match(warning?.message ?? "", /--mount type=bind,src=\$HOME\/\.cache\/krm-digester,dst=\/cache,rw=true --env KRM_DIGESTER_CACHE_DIR=\/cache/);
  });

  it("mode: check and mode: frozen (lock in the package) need no network and no mount", async () => {
    const pinned = `${web}@${digests.get(web)}`;
    const check = await podman("none", resourceList([pod("a", pinned), pod("b", web)], { mode: "check" }));
    assert.equal(check.code, 1);
    assert.deepEqual(resultsOf(check, "error").map((e) => e.message.split(" ")[0]), [web]);
    const lock = { apiVersion: "fn.krm-digester.dev/v1alpha1", kind: "DigestLock", metadata: { name: "digests", annotations: { "config.kubernetes.io/local-config": "true" } }, digests: { [web]: digests.get(web) } };
    const frozen = await podman("none", resourceList([pod("b", web), lock], { mode: "frozen" }));
    assert.equal(frozen.code, 0, frozen.stderr);
    assert.deepEqual(imagesOf(frozen), [pinned]);
  });

  describe("through kpt fn eval --image", { skip: skipWithout("kpt") }, () => {
    const pkg = async (name: string, image: string): Promise<string> => {
      const dir = join(work, name);
      await mkdir(dir);
      await writeFile(join(dir, "pod.yaml"), stringify(pod("a", image)));
      return dir;
    };

    it("--mount gives the function the build artifacts file (read-only), with no network", async () => {
      const dir = await pkg("kpt-artifacts", "skaffold-example");
      const run = await kpt(["fn", "eval", dir, "--image", IMAGE, "--mount", `type=bind,src=${join(work, "artifacts.json")},dst=/artifacts.json`, "--", "buildArtifacts=/artifacts.json"], { env: containerEnv() });
      assert.equal(run.code, 0, run.stderr);
      assert.match(await readFile(join(dir, "pod.yaml"), "utf8"), new RegExp(`image: ${built.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    });

    it("--mount rw=true with --env KRM_DIGESTER_CACHE_DIR keeps the cache between runs; the second needs no network", async () => {
      // As the cacheTTL warning says: a directory of the user's, the container as that user.
      const cache = join(work, "kpt-cache");
      await mkdir(cache, { mode: 0o700 });
      const args = (dir: string, network: boolean): string[] => [
        "fn", "eval", dir, "--image", IMAGE, ...(network ? ["--network"] : []), "--as-current-user",
        "--mount", `type=bind,src=${cache},dst=/cache,rw=true`, "--env", "KRM_DIGESTER_CACHE_DIR=/cache", "--", "cacheTTL=1h",
      ];
      const first = await pkg("kpt-cache-1", web);
      const one = await kpt(args(first, true), { env: containerEnv() });
      assert.equal(one.code, 0, one.stderr);
      const second = await pkg("kpt-cache-2", web);
      const two = await kpt(args(second, false), { env: containerEnv() });
      assert.equal(two.code, 0, two.stderr);
      assert.match(await readFile(join(second, "pod.yaml"), "utf8"), new RegExp(`@${digests.get(web) ?? "?"}`));
      assert.match(two.stderr, /from the cache, looked up/);
    });
  });
});
