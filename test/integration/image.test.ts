// The container image on its own, through podman as kpt and kustomize start
// it (`run --rm -i --user nobody`), against a real registry: pins with the
// host network; without network (kpt's and kustomize's default) it names the
// registry it could not reach and the flags that give it network. These need
// neither kpt nor kubectl, so they run everywhere the suite does.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse, stringify } from "yaml";
import type { Result } from "../../src/results.js";
import { IMAGE, containerEnv, ensureImage, runCommand } from "../support/container.js";
import { freePort, startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { ROOT, runFn } from "../support/run-fn.js";
import { seedSample, unpinnedSample } from "../support/sample-package.js";
import type { SampleImages } from "../support/sample-package.js";

const FLAGS = /kpt fn eval --network, kpt fn render --allow-network \(Kptfile image: steps\), or network: true in the kustomize function annotation/;

describe("the container image through podman", () => {
  let registry: Registry;
  let images: SampleImages;

  before(async () => {
    registry = await startRegistry();
    [images] = await Promise.all([seedSample(registry, registry.host), ensureImage()]);
  });
  after(() => registry?.stop());

  const input = (): string =>
    stringify({ apiVersion: "config.kubernetes.io/v1", kind: "ResourceList", items: Object.values(unpinnedSample(images)).map((t) => parse(t) as unknown) });
  const podman = (network: string, extra: readonly string[] = []) =>
    runCommand("podman", ["run", "--rm", "-i", "--network", network, "--user", "nobody", "--security-opt=no-new-privileges", ...extra, IMAGE], {
      env: containerEnv(),
      input: input(),
    });
  const errors = (stdout: string): Result[] => ((parse(stdout) as { results?: Result[] }).results ?? []).filter((r) => r.severity === "error");

  it("runs as nobody with KRM_DIGESTER_IN_CONTAINER=1 and prints its version", async () => {
    const inspect = await runCommand("podman", ["image", "inspect", "--format", "{{.Config.User}} {{range .Config.Env}}{{.}} {{end}}", IMAGE], { env: containerEnv() });
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, /^65534:65534 .*KRM_DIGESTER_IN_CONTAINER=1/);
    const version = await runCommand("podman", ["run", "--rm", "--user", "nobody", "--network", "none", IMAGE, "--version"], { env: containerEnv() });
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^krm-digester \d+\.\d+\.\d+/);
  });

  it("starts Node with the standalone executable's flags (sea-config.json execArgv)", async () => {
    const { execArgv } = JSON.parse(await readFile(join(ROOT, "sea-config.json"), "utf8")) as { execArgv: string[] };
    const inspect = await runCommand("podman", ["image", "inspect", "--format", "{{json .Config.Entrypoint}}", IMAGE], { env: containerEnv() });
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.deepEqual(JSON.parse(inspect.stdout), ["/nodejs/bin/node", ...execArgv, "/opt/krm-digester/krm-digester"]);
  });

  it("runs the Node line pinned for what ships (24), exactly the pinned Node on the offline stand-in base, and --version names it", async () => {
    const pinned = (JSON.parse(await readFile(join(ROOT, "scripts", "node-release.json"), "utf8")) as { version: string }).version;
    const node = await runCommand("podman", ["run", "--rm", "--network", "none", "--entrypoint", "/nodejs/bin/node", IMAGE, "--version"], { env: containerEnv() });
    assert.equal(node.code, 0, node.stderr);
    const inside = node.stdout.trim();
    assert.equal(inside.split(".")[0], `v${pinned.split(".")[0]}`, `the image runs Node ${inside}; what ships runs Node ${pinned.split(".")[0]}`);
    // The stand-in base (npm run image:offline) is made of the pinned binary and
    // says so in a label the image inherits; distroless's own Node is any 24.x.
    const label = await runCommand("podman", ["image", "inspect", "--format", '{{index .Labels "org.krm-digester.node"}}', IMAGE], { env: containerEnv() });
    const standIn = label.stdout.trim();
    if (standIn !== "" && standIn !== "<no value>") {
      assert.equal(standIn, `v${pinned}`);
      assert.equal(inside, `v${pinned}`);
    }
    const version = await runCommand("podman", ["run", "--rm", "--user", "nobody", "--network", "none", IMAGE, "--version"], { env: containerEnv() });
    assert.match(version.stdout, new RegExp(`^krm-digester \\d+\\.\\d+\\.\\d+ \\(Node\\.js ${inside.replaceAll(".", "\\.")}\\)\n$`));
  });

  it("with the host network (kpt --network, kustomize network: true) it pins every image", async () => {
    const run = await podman("host");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /3 of 3 image fields pinned, 2 unique references resolved \(2 HEAD, 0 GET/);
    assert.ok(run.stdout.includes(`image: ${images.web}@${images.digests.get(images.web)}`), run.stdout);
  });

  it("with --network none each error names the unreachable registry and the flags that give the container network", async () => {
    const run = await podman("none");
    assert.equal(run.code, 1);
    const found = errors(run.stdout);
    assert.equal(found.length, 3, run.stdout);
    for (const e of found) {
      assert.match(e.message, new RegExp(`^registry ${registry.host.replaceAll(".", "\\.")} is unreachable: connection to ${registry.host.replaceAll(".", "\\.")} refused`));
      assert.match(e.message, /The function runs in a container that has no network \(loopback only\): give it network: /);
      assert.match(e.message, FLAGS);
    }
  });

  it("with --network none a registry by name fails on DNS, with the same advice", async () => {
    const list = stringify({
      apiVersion: "config.kubernetes.io/v1",
      kind: "ResourceList",
      items: [{ apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "registry.invalid/team/app:v1" }] } }],
    });
    const run = await runCommand("podman", ["run", "--rm", "-i", "--network", "none", "--user", "nobody", IMAGE], { env: containerEnv(), input: list });
    assert.equal(run.code, 1);
    const [error] = errors(run.stdout);
    assert.match(error?.message ?? "", /^registry registry\.invalid is unreachable: DNS lookup of registry\.invalid failed/);
    assert.match(error?.message ?? "", FLAGS);
  });

  it("outside the image the usual hint stays; with KRM_DIGESTER_IN_CONTAINER=1 and a network the advice comes first", async () => {
    const port = await freePort(); // nothing listens there
    const list = stringify({
      apiVersion: "config.kubernetes.io/v1",
      kind: "ResourceList",
      items: [{ apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [{ name: "c", image: `127.0.0.1:${port}/a/b:v1` }] } }],
    });
    const env = { ...process.env };
    delete env.KRM_DIGESTER_IN_CONTAINER;
    const host = await runFn(list, { env });
    assert.equal(host.code, 1);
    const [plain] = errors(host.stdout);
    assert.match(plain?.message ?? "", /refused \(image [^)]+\)\. Check the host and port of the registry and that it is running\.$/);
    assert.doesNotMatch(plain?.message ?? "", /network: true/);

    const inside = await runFn(list, { env: { ...env, KRM_DIGESTER_IN_CONTAINER: "1" } });
    const [advised] = errors(inside.stdout);
    assert.match(advised?.message ?? "", FLAGS);
    const loopbackOnly = Object.values(networkInterfaces()).every((list) => (list ?? []).every((a) => a.internal));
    if (loopbackOnly) {
      assert.match(advised?.message ?? "", /container that has no network \(loopback only\)/);
    } else {
      // Interfaces besides loopback: the container may have network, so both hints.
      assert.match(advised?.message ?? "", /If the container has no network, give it network: /);
      assert.match(advised?.message ?? "", /Check the host and port of the registry and that it is running\.$/);
    }
  });
});
