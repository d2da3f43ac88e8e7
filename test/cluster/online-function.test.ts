// The function's online mode (`--offline=false --kubeconfig=…`) end to end:
// the built bundle, our fake Kubernetes API holding the pull secret, and a
// real registry (htpasswd + TLS) holding a private image. The image pins only
// with the Secret from the cluster; offline it is refused. Also: the bundle
// compiles client-node only when online mode asks for it.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { startKubeApi } from "../support/kube-api.js";
import type { KubeApi } from "../support/kube-api.js";
import { startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { runFn } from "../support/run-fn.js";
import { pushOciManifest } from "../support/seed.js";

const USER = "puller";
const PASSWORD = "s3cret-pull";
const b64 = (s: string): string => Buffer.from(s).toString("base64");

function deployment(name: string, namespace: string, image: string, podExtra = ""): string {
  return (
    `- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: ${name}\n    namespace: ${namespace}\n` +
    `  spec:\n    template:\n      spec:\n${podExtra}        containers:\n        - name: app\n          image: ${image}\n`
  );
}
const list = (...items: string[]): string => `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items.join("")}`;

function imageOf(stdout: string, name: string): string | undefined {
  const doc = parseAllDocuments(stdout)[0]?.toJS() as { items: { metadata: { name: string }; spec: { template: { spec: { containers: { image: string }[] } } } }[] };
  return doc.items.find((i) => i.metadata.name === name)?.spec.template.spec.containers[0]?.image;
}

describe("the function online (--offline=false): pull secrets from the cluster", () => {
  let registry: Registry;
  let api: KubeApi;
  let kubeconfig: string;
  let work: string;
  let digest: string;
  let env: NodeJS.ProcessEnv;
  const image = (): string => `${registry.host}/private/app:v1`;

  before(async () => {
    registry = await startRegistry({ tls: true, htpasswd: { user: USER, password: PASSWORD } });
    digest = (await pushOciManifest(registry, "private/app", "v1")).digest;
    api = await startKubeApi();
    const auths = (password: string): string => b64(JSON.stringify({ auths: { [registry.host]: { auth: b64(`${USER}:${password}`) } } }));
    api.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "regcred", namespace: "prod" }, type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": auths(PASSWORD) } });
    api.put({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: "prod" }, imagePullSecrets: [{ name: "regcred" }] });
    api.put({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: "staging" } });
    kubeconfig = await api.writeKubeconfig();
    work = await mkdtemp(join(tmpdir(), "krm-digester-online-"));
    await writeFile(join(work, "config.json"), "{}");
    assert.ok(registry.caFile);
    // No docker config credentials at all: only the cluster's Secret can open the registry.
    env = { PATH: process.env.PATH, HOME: work, DOCKER_CONFIG: work, REGISTRY_AUTH_FILE: join(work, "none.json"), NODE_EXTRA_CA_CERTS: registry.caFile };
  });
  after(async () => {
    await Promise.all([registry?.stop(), api?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  it("pins a private image with the namespace's default ServiceAccount's pull secret, read from the cluster", async () => {
    const run = await runFn(list(deployment("web", "prod", image())), { args: ["--offline=false", `--kubeconfig=${kubeconfig}`], env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(imageOf(run.stdout, "web"), `${image()}@${digest}`);
    assert.ok(api.requestCount({ verb: "get", resource: "serviceaccounts" }) >= 1);
    assert.ok(api.requestCount({ verb: "get", resource: "secrets" }) >= 1);
    assert.equal(api.requestCount({ verb: "watch" }), 0, "a one-shot run does not watch");
  });

  it("offline (the default) the same image is refused: the Secret is only in the cluster", async () => {
    const run = await runFn(list(deployment("web", "prod", image())), { env });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /refused to authorize/);
  });

  it("imagePullSecrets named by the pod spec are read from the cluster; another namespace's are not used", async () => {
    const ok = await runFn(list(deployment("named", "prod", image(), "        imagePullSecrets:\n        - name: regcred\n")), {
      args: ["--offline=false", `--kubeconfig=${kubeconfig}`],
      env,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(imageOf(ok.stdout, "named"), `${image()}@${digest}`);
    const other = await runFn(list(deployment("web", "staging", image())), { args: ["--offline=false", `--kubeconfig=${kubeconfig}`], env });
    assert.equal(other.code, 1, "staging has no such Secret");
  });

  it("a Secret the package holds wins over the cluster's", async () => {
    const wrong = b64(JSON.stringify({ auths: { [registry.host]: { auth: b64(`${USER}:wrong`) } } }));
    const secret = `- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: regcred\n    namespace: prod\n  type: kubernetes.io/dockerconfigjson\n  data:\n    .dockerconfigjson: ${wrong}\n`;
    const run = await runFn(list(secret, deployment("web", "prod", image())), { args: ["--offline=false", `--kubeconfig=${kubeconfig}`], env });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /rejected the username and password/);
  });

  it("an unreachable API: a one-line message that names it and says what to do", async () => {
    const dead = join(work, "dead-kubeconfig");
    const { readFile } = await import("node:fs/promises");
    await writeFile(dead, (await readFile(kubeconfig, "utf8")).replace(api.url, "https://127.0.0.1:9"));
    const run = await runFn(list(deployment("web", "prod", image())), { args: ["--offline=false", `--kubeconfig=${dead}`], env });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /https:\/\/127\.0\.0\.1:9 is unreachable/);
    assert.match(run.stderr, /--offline/);
    assert.doesNotMatch(run.stderr, /internal error|\n\s+at /);
  });

  it("the bundle compiles client-node only in online mode", async () => {
    const hook = join(work, "hook.cjs");
    await writeFile(
      hook,
      `const vm = require("node:vm"); const real = vm.compileFunction;\n` +
        `vm.compileFunction = function (code, params, options) { process.stderr.write("compiled " + (options && options.filename) + "\\n"); return real.apply(this, arguments); };\n`,
    );
    const input = list(deployment("web", "prod", `${image()}@${digest}`));
    const offline = await runFn(input, { env: { ...env, NODE_OPTIONS: `--require ${hook}` } });
    assert.equal(offline.code, 0, offline.stderr);
    assert.doesNotMatch(offline.stderr, /compiled krm-digester:kube-lib/);
    const online = await runFn(list(deployment("web", "prod", image())), {
      args: ["--offline=false", `--kubeconfig=${kubeconfig}`],
      env: { ...env, NODE_OPTIONS: `--require ${hook}` },
    });
    assert.equal(online.code, 0, online.stderr);
    assert.match(online.stderr, /compiled krm-digester:kube-lib\.js/);
  });
});
