// The CI modes through the built function and files mode, against a real
// registry behind a TCP relay that counts every connection: check and frozen
// open none, a tag that moved keeps its locked digest, build artifacts cost no
// request, a cache answers the second run, and overlapping runs share one cache.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import type { Result } from "../../src/results.js";
import { startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { runFn } from "../support/run-fn.js";
import type { FnRun } from "../support/run-fn.js";
import { pushImage } from "../support/seed.js";
import { startTcpRelay } from "../support/tcp-relay.js";
import type { TcpRelay } from "../support/tcp-relay.js";

interface Output {
  items: { kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec?: { containers: { image: string }[] }; digests?: Record<string, string> }[];
  results?: Result[];
}

function pod(name: string, image: string, path = `${name}.yaml`): string {
  return (
    `- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: ${name}\n    annotations:\n      config.kubernetes.io/path: ${path}\n` +
    `      internal.config.kubernetes.io/path: ${path}\n  spec:\n    containers:\n    - name: c\n      image: ${image}\n`
  );
}

function list(items: string, config: Record<string, string> = {}, extraItems = ""): string {
  const data = Object.entries(config).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}\n`).join("");
  const fc = Object.keys(config).length ? `functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n  data:\n${data}` : "";
  return `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items}${extraItems}${fc}`;
}

function images(run: FnRun): string[] {
  return (parse(run.stdout) as Output).items.filter((i) => i.spec).map((i) => i.spec?.containers[0]?.image ?? "");
}

function errorsOf(run: FnRun): Result[] {
  return ((parse(run.stdout) as Output).results ?? []).filter((r) => r.severity === "error");
}

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<FnRun> {
  return runFn("", { args, env });
}

describe("CI modes against a real registry, connections counted", () => {
  let registry: Registry;
  let relay: TcpRelay;
  let host: string;
  let work: string;
  const digests = new Map<string, string>();

  before(async () => {
    registry = await startRegistry();
    relay = await startTcpRelay(registry.port);
    host = `127.0.0.1:${relay.port}`;
    work = await mkdtemp(join(tmpdir(), "krm-digester-ci-modes-"));
    for (const [repo, tag] of [["ci/web", "v1"], ["ci/api", "v1"], ["ci/moving", "v1"], ["ci/built", "b42"]] as const) {
      digests.set(`${repo}:${tag}`, (await pushImage(registry, { repository: repo, tag, kind: "oci-manifest" })).digest);
    }
  });
  after(async () => {
    await relay.stop();
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** Runs `fn` and returns its result with the number of connections it opened to the registry. */
  async function counted<T>(fn: () => Promise<T>): Promise<{ value: T; connections: number }> {
    const before = relay.accepted.length;
    const value = await fn();
    return { value, connections: relay.accepted.length - before };
  }

  describe("mode: check", () => {
    it("every unpinned image is an error naming image, resource, field and file; exit 1; not one connection", async () => {
      const pinnedWeb = `${host}/ci/web:v1@${digests.get("ci/web:v1")}`;
      const input = list(pod("web", pinnedWeb) + pod("api", `${host}/ci/api:v1`, "deploy/api.yaml") + pod("bare", "nginx"), { mode: "check" });
      const { value: out, connections } = await counted(() => runFn(input));
      assert.equal(out.code, 1);
      assert.equal(connections, 0);
      const errors = errorsOf(out);
      assert.equal(errors.length, 2);
      assert.equal(errors[0]?.message, `${host}/ci/api:v1 is not pinned to a digest (mode: check). Pin it with mode: pin (kpt fn render, or krm-digester pin PATH) and commit the result.`);
      assert.deepEqual(errors[0]?.resourceRef, { apiVersion: "v1", kind: "Pod", name: "api" });
      assert.equal(errors[0]?.field?.path, "spec.containers[0].image");
      assert.deepEqual(errors[0]?.file, { path: "deploy/api.yaml" });
      assert.match(errors[1]?.message ?? "", /^nginx is not pinned/);
      assert.deepEqual(images(out), [pinnedWeb, `${host}/ci/api:v1`, "nginx"], "nothing changed");
      assert.match(out.stderr, /krm-digester: error: deploy\/api\.yaml Pod api spec\.containers\[0\]\.image: 127\.0\.0\.1:\d+\/ci\/api:v1 is not pinned/);
    });

    it("exit 0 when everything is pinned, still without a connection", async () => {
      const input = list(pod("web", `${host}/ci/web:v1@${digests.get("ci/web:v1")}`), { mode: "check" });
      const { value: out, connections } = await counted(() => runFn(input));
      assert.equal(out.code, 0, out.stderr);
      assert.equal(connections, 0);
    });

    it("the relay does count: a pin run connects", async () => {
      const { value: out, connections } = await counted(() => runFn(list(pod("web", `${host}/ci/web:v1`))));
      assert.equal(out.code, 0, out.stderr);
      assert.ok(connections > 0);
    });
  });

  describe("the digest lock and mode: frozen", () => {
    it("lock: true adds a DigestLock for digests.lock.yaml; frozen keeps a moved tag at its locked digest with no connection", async () => {
      const moving = `${host}/ci/moving:v1`;
      const first = await runFn(list(pod("m", moving) + pod("web", `${host}/ci/web:v1`), { lock: "true" }));
      assert.equal(first.code, 0, first.stderr);
      const lock = (parse(first.stdout) as Output).items.find((i) => i.kind === "DigestLock");
      assert.ok(lock, "a DigestLock item");
      assert.equal(lock.metadata.annotations?.["config.kubernetes.io/path"], "digests.lock.yaml");
      assert.equal(lock.metadata.annotations?.["config.kubernetes.io/local-config"], "true");
      assert.deepEqual(lock.digests, { [`${host}/ci/moving:v1`]: digests.get("ci/moving:v1"), [`${host}/ci/web:v1`]: digests.get("ci/web:v1") });
      const lockItem = first.stdout.slice(first.stdout.indexOf("- apiVersion: fn.krm-digester.dev/v1alpha1"), first.stdout.indexOf("functionConfig:"));

      // The tag moves in the registry.
      const moved = (await pushImage(registry, { repository: "ci/moving", tag: "v1", kind: "oci-manifest" })).digest;
      assert.notEqual(moved, digests.get("ci/moving:v1"));

      const { value: frozen, connections } = await counted(() => runFn(list(pod("m", moving), { mode: "frozen" }, lockItem)));
      assert.equal(frozen.code, 0, frozen.stderr);
      assert.equal(connections, 0);
      assert.deepEqual(images(frozen), [`${moving}@${digests.get("ci/moving:v1")}`]);
      assert.match((parse(frozen.stdout) as Output).results?.[0]?.message ?? "", /\(from the DigestLock digests\.lock\.yaml\)/);

      // pin mode asks the registry and sees the move; the lock is updated by one line.
      const pinAgain = await runFn(list(pod("m", moving) + pod("web", `${host}/ci/web:v1`), { lock: "true" }, lockItem));
      assert.equal(pinAgain.code, 0, pinAgain.stderr);
      assert.deepEqual(images(pinAgain).slice(0, 1), [`${moving}@${moved}`]);
      const before = list(pod("m", moving) + pod("web", `${host}/ci/web:v1`), { lock: "true" }, lockItem).split("\n");
      const lockLines = pinAgain.stdout.split("\n").filter((l) => l.includes(": sha256:") && !before.includes(l));
      assert.deepEqual(lockLines, [`    ${host}/ci/moving:v1: ${moved}`]);
    });

    it("frozen: a reference in neither the lock nor the build artifacts is an error naming it; no connection", async () => {
      const { value: out, connections } = await counted(() => runFn(list(pod("api", `${host}/ci/api:v1`), { mode: "frozen" })));
      assert.equal(out.code, 1);
      assert.equal(connections, 0);
      assert.match(errorsOf(out)[0]?.message ?? "", new RegExp(`^${host}/ci/api:v1 \\(${host}/ci/api:v1\\) has no locked digest: the package has no DigestLock \\(digests\\.lock\\.yaml\\)`));
    });
  });

  describe("buildArtifacts", () => {
    it("a placeholder becomes the artifact's tag and an artifact's repo:tag is pinned, with no connection", async () => {
      const built = `${host}/ci/built:b42@${digests.get("ci/built:b42")}`;
      const file = join(work, "artifacts.json");
      await writeFile(file, JSON.stringify({ builds: [{ imageName: "skaffold-example", tag: built }] }));
      const input = list(pod("a", "skaffold-example") + pod("b", `${host}/ci/built:b42`), { buildArtifacts: file, mode: "frozen" });
      const { value: out, connections } = await counted(() => runFn(input));
      assert.equal(out.code, 0, out.stderr);
      assert.equal(connections, 0);
      assert.deepEqual(images(out), [built, built]);
      const missing = await runFn(list(pod("a", "skaffold-example"), { buildArtifacts: join(work, "nope.json") }));
      assert.equal(missing.code, 1);
      assert.match(errorsOf(missing)[0]?.message ?? "", /functionConfig: buildArtifacts: .*nope\.json does not exist/);
      assert.equal(errorsOf(missing)[0]?.field?.path, "functionConfig.buildArtifacts");
    });
  });

  describe("buildArtifacts with format, and skaffold's artifact names", () => {
    it("a placeholder is written in the format asked (digest-only, canonical), still with no connection", async () => {
      const digest = digests.get("ci/built:b42") ?? "";
      const file = join(work, "artifacts-format.json");
      await writeFile(file, JSON.stringify({ builds: [{ imageName: "skaffold-example", tag: `${host}/ci/built:b42@${digest}` }] }));
      for (const [format, want] of [
        ["tag-and-digest", `${host}/ci/built:b42@${digest}`],
        ["digest-only", `${host}/ci/built@${digest}`],
        ["canonical", `${host}/ci/built:b42@${digest}`],
      ] as const) {
        const { value: out, connections } = await counted(() => runFn(list(pod("a", "skaffold-example"), { buildArtifacts: file, format })));
        assert.equal(out.code, 0, out.stderr);
        assert.equal(connections, 0);
        assert.deepEqual(images(out), [want], format);
      }
      // canonical spells out a Docker Hub artifact's name, as for every other pin.
      await writeFile(file, JSON.stringify({ builds: [{ imageName: "skaffold-example", tag: `skaffold-example:b42@${digest}` }] }));
      const hub = await runFn(list(pod("a", "skaffold-example"), { buildArtifacts: file, format: "canonical" }));
      assert.deepEqual(images(hub), [`docker.io/library/skaffold-example:b42@${digest}`]);
    });

    it("a bare name that the package's skaffold.yaml declares, without a build of it, is left alone with a warning naming skaffold; exit 0, no connection", async () => {
      const skaffold =
        "- apiVersion: skaffold/v4beta11\n  kind: Config\n  metadata:\n    name: app\n    annotations:\n      config.kubernetes.io/path: skaffold.yaml\n" +
        "  build:\n    artifacts:\n    - image: skaffold-example\n    - image: leeroy-app\n";
      const { value: out, connections } = await counted(() => runFn(list(pod("a", "skaffold-example") + pod("b", `${host}/ci/web:v1@${digests.get("ci/web:v1")}`), {}, skaffold)));
      assert.equal(out.code, 0, out.stderr);
      assert.equal(connections, 0, "Docker Hub's library/skaffold-example is not asked");
      assert.deepEqual(images(out).slice(0, 1), ["skaffold-example"]);
      const warning = ((parse(out.stdout) as Output).results ?? []).find((r) => r.severity === "warning");
      assert.match(warning?.message ?? "", /^left skaffold artifact skaffold-example alone: skaffold\.yaml declares it .* no buildArtifacts file was given; skaffold render replaces it/);
      assert.equal(warning?.field?.path, "spec.containers[0].image");
      assert.match(out.stderr, /krm-digester: warning: a\.yaml Pod a spec\.containers\[0\]\.image: left skaffold artifact skaffold-example alone/);
      // With a build of it, it is replaced; the warning is gone.
      const file = join(work, "artifacts-declared.json");
      const built = `${host}/ci/built:b42@${digests.get("ci/built:b42")}`;
      await writeFile(file, JSON.stringify({ builds: [{ imageName: "skaffold-example", tag: built }] }));
      const withBuild = await runFn(list(pod("a", "skaffold-example"), { buildArtifacts: file }, skaffold));
      assert.equal(withBuild.code, 0, withBuild.stderr);
      assert.deepEqual(images(withBuild), [built]);
      assert.deepEqual(((parse(withBuild.stdout) as Output).results ?? []).filter((r) => r.severity !== "info"), []);
    });

    it("an artifact's name with a tag of its own is a warning that says skaffold replaces only the bare name, and is looked up as written", async () => {
      const file = join(work, "artifacts-tagged.json");
      const built = `${host}/ci/built:b42@${digests.get("ci/built:b42")}`;
      await writeFile(file, JSON.stringify({ builds: [{ imageName: `${host}/ci/web`, tag: built }] }));
      const out = await runFn(list(pod("a", `${host}/ci/web:v1`), { buildArtifacts: file }));
      assert.equal(out.code, 0, out.stderr);
      assert.deepEqual(images(out), [`${host}/ci/web:v1@${digests.get("ci/web:v1")}`]);
      const warning = ((parse(out.stdout) as Output).results ?? []).find((r) => r.severity === "warning");
      assert.match(warning?.message ?? "", new RegExp(`^${host}/ci/web:v1 has the name of build artifact ${host}/ci/web \\(.*artifacts-tagged\\.json\\) but a tag of its own: skaffold replaces only the bare name`));
    });
  });

  describe("cacheTTL", () => {
    it("the second run is answered from the cache without a connection; without cacheTTL it asks again", async () => {
      const env = { ...process.env, KRM_DIGESTER_CACHE_DIR: join(work, "cache-1") };
      const input = list(pod("web", `${host}/ci/web:v1`) + pod("api", `${host}/ci/api:v1`), { cacheTTL: "1h" });
      const first = await counted(() => runFn(input, { env }));
      assert.equal(first.value.code, 0, first.value.stderr);
      assert.ok(first.connections > 0);
      const second = await counted(() => runFn(input, { env }));
      assert.equal(second.value.code, 0, second.value.stderr);
      assert.equal(second.connections, 0);
      assert.deepEqual(images(second.value), images(first.value));
      assert.match((parse(second.value.stdout) as Output).results?.[0]?.message ?? "", /from the cache, looked up \d+s ago/);
      const uncached = await counted(() => runFn(list(pod("web", `${host}/ci/web:v1`)), { env }));
      assert.ok(uncached.connections > 0);
    });

    it("eight runs at once on one cache directory: all succeed, no warning, one entry per reference", async () => {
      const dir = join(work, "cache-overlap");
      const env = { ...process.env, KRM_DIGESTER_CACHE_DIR: dir };
      const refs = ["ci/web:v1", "ci/api:v1", "ci/built:b42"].map((r) => `${host}/${r}`);
      const runs = await Promise.all(Array.from({ length: 8 }, (_, i) => runFn(list(refs.map((r, j) => pod(`p${i}-${j}`, r)).join(""), { cacheTTL: "10m" }), { env })));
      for (const r of runs) {
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.stderr.split("\n").filter((l) => l.includes("warning")), []);
      }
      const files = await readdir(join(dir, "v1", "tags"));
      assert.deepEqual(files.filter((f) => !f.endsWith(".json")), [], "no temp file left");
      assert.equal(files.length, 3);
    });

    it("a corrupt cache file is a warning, never fatal", async () => {
      const dir = join(work, "cache-corrupt");
      const env = { ...process.env, KRM_DIGESTER_CACHE_DIR: dir };
      const input = list(pod("web", `${host}/ci/web:v1`), { cacheTTL: "1h" });
      await runFn(input, { env });
      const [file] = await readdir(join(dir, "v1", "tags"));
      await writeFile(join(dir, "v1", "tags", file ?? ""), "{torn");
      const out = await runFn(input, { env });
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stderr, /krm-digester: warning: cacheTTL: cache file .* is corrupt and was ignored/);
      assert.deepEqual(images(out), [`${host}/ci/web:v1@${digests.get("ci/web:v1")}`]);
    });
  });

  describe("files mode (krm-digester pin)", () => {
    it("pins a directory in place; --check opens no connection and lists file:line; lock: true writes digests.lock.yaml", async () => {
      const dir = join(work, "files");
      await mkdir(join(dir, "k8s"), { recursive: true });
      const text = `# web\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: "${host}/ci/web:v1" # the app\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: api\nspec:\n  containers:\n  - name: api\n    image: ${host}/ci/api:v1\n`;
      await writeFile(join(dir, "k8s", "app.yaml"), text);
      const check = await counted(() => run(["pin", "--check", join(dir, "k8s")]));
      assert.equal(check.value.code, 1);
      assert.equal(check.connections, 0);
      assert.match(check.value.stderr, new RegExp(`k8s/app\\.yaml:11: error: Deployment web spec\\.template\\.spec\\.containers\\[0\\]\\.image: ${host}/ci/web:v1 is not pinned`));
      assert.match(check.value.stderr, /k8s\/app\.yaml:20: error: Pod api/);
      await writeFile(join(dir, "config.yaml"), "apiVersion: fn.krm-digester.dev/v1alpha1\nkind: DigesterConfig\nmetadata: {name: c}\nlock: true\n");
      const pin = await run(["pin", "--config", join(dir, "config.yaml"), join(dir, "k8s")]);
      assert.equal(pin.code, 0, pin.stderr);
      assert.match(pin.stderr, /krm-digester: 2 of 2 image fields pinned, 2 unique references resolved \(\d+ HEAD, 0 GET, 0 token requests\), 0 errors/);
      const after = await readFile(join(dir, "k8s", "app.yaml"), "utf8");
      assert.equal(after, text.replace(`"${host}/ci/web:v1"`, `"${host}/ci/web:v1@${digests.get("ci/web:v1")}"`).replace(`image: ${host}/ci/api:v1`, `image: ${host}/ci/api:v1@${digests.get("ci/api:v1")}`));
      const lock = parse(await readFile(join(dir, "k8s", "digests.lock.yaml"), "utf8")) as { kind: string; digests: Record<string, string> };
      assert.equal(lock.kind, "DigestLock");
      assert.deepEqual(Object.keys(lock.digests), [`${host}/ci/api:v1`, `${host}/ci/web:v1`]);
      const clean = await counted(() => run(["pin", "--check", join(dir, "k8s")]));
      assert.equal(clean.value.code, 0, clean.value.stderr);
      assert.equal(clean.connections, 0);
    });

    it("frozen in files mode: digests from the DigestLock among the files, a moved tag keeps its locked digest, not one connection", async () => {
      const dir = join(work, "files-frozen");
      await mkdir(dir, { recursive: true });
      const image = `${host}/ci/files-moving:v1`;
      const locked = (await pushImage(registry, { repository: "ci/files-moving", tag: "v1", kind: "oci-manifest" })).digest;
      const text = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: ${image}\n`;
      await writeFile(join(dir, "pod.yaml"), text);
      await writeFile(join(dir, "lock.yaml"), "apiVersion: fn.krm-digester.dev/v1alpha1\nkind: DigesterConfig\nmetadata: {name: c}\nlock: true\n");
      const pinned = await run(["pin", "--config", join(dir, "lock.yaml"), dir]);
      assert.equal(pinned.code, 0, pinned.stderr);
      assert.deepEqual((parse(await readFile(join(dir, "digests.lock.yaml"), "utf8")) as { digests: Record<string, string> }).digests, { [image]: locked });
      await writeFile(join(dir, "pod.yaml"), text); // back to the tag, as a new branch would have it
      const moved = (await pushImage(registry, { repository: "ci/files-moving", tag: "v1", kind: "oci-manifest" })).digest;
      assert.notEqual(moved, locked);
      const config = join(work, "frozen.yaml");
      await writeFile(config, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  mode: frozen\n");
      const frozen = await counted(() => run(["pin", "--config", config, dir]));
      assert.equal(frozen.value.code, 0, frozen.value.stderr);
      assert.equal(frozen.connections, 0);
      assert.equal(await readFile(join(dir, "pod.yaml"), "utf8"), text.replace(image, `${image}@${locked}`));
      // A reference the lock lacks is an error naming it, with file and line; still no connection.
      await writeFile(join(dir, "other.yaml"), text.replace(image, `${host}/ci/api:v1`).replace("name: p", "name: q"));
      const missing = await counted(() => run(["pin", "--config", config, dir]));
      assert.equal(missing.value.code, 1);
      assert.equal(missing.connections, 0);
      assert.match(missing.value.stderr, new RegExp(`other\\.yaml:8: error: Pod q spec\\.containers\\[0\\]\\.image: ${host}/ci/api:v1 \\(${host}/ci/api:v1\\) has no locked digest: it is not in the DigestLock \\(.*files-frozen/digests\\.lock\\.yaml\\)`));
    });
  });
});
