// Files mode with pull secrets in the files, end to end: the built binary's
// `krm-digester images --kustomization` and `krm-digester pin` against real
// registries (Debian's docker-registry behind htpasswd + TLS, and behind token
// auth with our token server), with no credentials anywhere but a
// `kubernetes.io/dockerconfigjson` Secret among the files, used as the
// function uses it: named by the workload's imagePullSecrets or by its
// ServiceAccount, in its namespace.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { runFn } from "../support/run-fn.js";
import { pushOciManifest } from "../support/seed.js";
import { startTokenServer } from "../support/token-server.js";
import type { TokenServer } from "../support/token-server.js";

const USER = "files-user";
const PASSWORD = `password-${randomBytes(9).toString("hex")}`;
const b64 = (s: string): string => Buffer.from(s).toString("base64");

function secret(name: string, namespace: string, hosts: readonly string[]): string {
  const auths = Object.fromEntries(hosts.map((h) => [h, { auth: b64(`${USER}:${PASSWORD}`) }]));
  return (
    `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\ntype: kubernetes.io/dockerconfigjson\n` +
    `data:\n  .dockerconfigjson: ${b64(JSON.stringify({ auths }))}\n`
  );
}

function deployment(name: string, namespace: string, image: string, pull: { secret?: string; account?: string }): string {
  const secrets = pull.secret ? `      imagePullSecrets:\n      - name: ${pull.secret}\n` : "";
  const account = pull.account ? `      serviceAccountName: ${pull.account}\n` : "";
  return (
    `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nspec:\n  template:\n    spec:\n` +
    `${account}${secrets}      containers:\n      - name: c\n        image: ${image}\n`
  );
}

describe("files mode with pull secrets among the files, against registries that need credentials", () => {
  let basic: Registry;
  let token: Registry;
  let tokens: TokenServer;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const digests = new Map<string, string>();

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "krm-digester-files-credentials-"));
    await mkdir(join(work, "home"));
    await mkdir(join(work, "docker"));
    basic = await startRegistry({ tls: true, htpasswd: { user: USER, password: PASSWORD } });
    tokens = await startTokenServer({ users: { [USER]: PASSWORD } });
    token = await startRegistry({ token: tokens.registryConfig });
    digests.set(`${basic.host}/private/web:v1`, (await pushOciManifest(basic, "private/web", "v1")).digest);
    const pushToken = { url: token.url, authorization: (repo: string) => tokens.pushAuthorization(repo) };
    digests.set(`${token.host}/private/api:v1`, (await pushOciManifest(pushToken, "private/api", "v1")).digest);
    assert.ok(basic.caFile);
    // No credentials but the Secrets in the files: an empty docker config, a HOME of its own.
    env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: join(work, "home"), DOCKER_CONFIG: join(work, "docker"), NODE_EXTRA_CA_CERTS: basic.caFile };
  });
  after(async () => {
    await Promise.all([basic?.stop(), token?.stop(), tokens?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  /** A package: the Secret (prod/regcred), a ServiceAccount naming it, a Deployment per registry, a kustomization. */
  async function project(name: string, withSecret = true): Promise<string> {
    const dir = join(work, name);
    await mkdir(join(dir, "k8s"), { recursive: true });
    const web = `${basic.host}/private/web:v1`;
    const api = `${token.host}/private/api:v1`;
    if (withSecret) {
      await writeFile(join(dir, "k8s", "secret.yaml"), `${secret("regcred", "prod", [basic.host, token.host])}---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: builder\n  namespace: prod\nimagePullSecrets:\n- name: regcred\n`);
    }
    await writeFile(join(dir, "k8s", "web.yaml"), deployment("web", "prod", web, { secret: "regcred" }));
    await writeFile(join(dir, "k8s", "api.yaml"), deployment("api", "prod", api, { account: "builder" }));
    await writeFile(join(dir, "kustomization.yaml"), "resources:\n- k8s/web.yaml\n- k8s/api.yaml\n");
    return dir;
  }

  it("images --kustomization writes the digests of private images, with the credentials of the Secret the workloads use", async () => {
    const dir = await project("images");
    const before = await readFile(join(dir, "k8s", "web.yaml"), "utf8");
    const run = await runFn("", { args: ["images", "--kustomization", join(dir, "kustomization.yaml"), join(dir, "k8s")], env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /2 images written to .*kustomization\.yaml, 2 unique references resolved \(\d+ HEAD, 0 GET, \d+ token requests\), 0 errors/);
    const kustomization = parse(await readFile(join(dir, "kustomization.yaml"), "utf8")) as { images: { name: string; digest: string }[] };
    assert.deepEqual(kustomization.images, [
      { name: `${basic.host}/private/web`, digest: digests.get(`${basic.host}/private/web:v1`) },
      { name: `${token.host}/private/api`, digest: digests.get(`${token.host}/private/api:v1`) },
    ].sort((a, b) => (a.name < b.name ? -1 : 1)));
    assert.equal(await readFile(join(dir, "k8s", "web.yaml"), "utf8"), before, "the resources are not touched");
    assert.ok(!run.stderr.includes(PASSWORD));
  });

  it("images without the Secret: unauthorized, naming the image and its file:line, and the kustomization is not changed", async () => {
    const dir = await project("images-no-secret", false);
    const run = await runFn("", { args: ["images", "--kustomization", join(dir, "kustomization.yaml"), join(dir, "k8s")], env });
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`k8s/web\\.yaml:13: error: Deployment prod/web spec\\.template\\.spec\\.containers\\[0\\]\\.image: .*${basic.host.replace(/\./g, "\\.")}/private/web:v1`));
    assert.match(run.stderr, /UNAUTHORIZED|unauthorized|refused|credentials/i);
    assert.equal(await readFile(join(dir, "kustomization.yaml"), "utf8"), "resources:\n- k8s/web.yaml\n- k8s/api.yaml\n");
  });

  it("pin uses the same Secret (imagePullSecrets and the ServiceAccount's) for workloads in other files", async () => {
    const dir = await project("pin");
    const run = await runFn("", { args: ["pin", join(dir, "k8s")], env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /2 of 2 image fields pinned, 2 unique references resolved/);
    const web = await readFile(join(dir, "k8s", "web.yaml"), "utf8");
    const api = await readFile(join(dir, "k8s", "api.yaml"), "utf8");
    assert.ok(web.includes(`image: ${basic.host}/private/web:v1@${digests.get(`${basic.host}/private/web:v1`)}`), web);
    assert.ok(api.includes(`image: ${token.host}/private/api:v1@${digests.get(`${token.host}/private/api:v1`)}`), api);
  });
});
