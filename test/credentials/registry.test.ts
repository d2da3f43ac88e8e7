// Credentials end to end: the built function (dist/krm-digester) against the
// real registry (Debian's docker-registry) behind htpasswd + TLS and behind
// token auth, with credentials from a docker config.json, credential helper
// scripts on PATH, a containers auth.json and pull secrets in the
// ResourceList. Run `npm run build` first.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import type { Result } from "../../src/results.js";
import { startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { runFn } from "../support/run-fn.js";
import type { FnRun } from "../support/run-fn.js";
import { pushOciManifest } from "../support/seed.js";
import { startTokenServer } from "../support/token-server.js";
import type { TokenServer } from "../support/token-server.js";
import { startRefreshRealm } from "./refresh-realm.js";
import type { RefreshRealm } from "./refresh-realm.js";

const secret = (label: string): string => `${label}-${randomBytes(9).toString("hex")}`;
const b64 = (s: string): string => Buffer.from(s).toString("base64");

const USER = "krm-user";
const PASSWORD = secret("password");
const WRONG = secret("wrong");
const REFRESH = secret("refresh");
const HELPER_LEAK = secret("helper-stdout");
const GOOD = { auth: b64(`${USER}:${PASSWORD}`) };
const BAD = { auth: b64(`${USER}:${WRONG}`) };

// ---- the ResourceList ------------------------------------------------------

interface Workload {
  readonly name: string;
  readonly image: string;
  readonly namespace?: string;
  readonly pullSecrets?: readonly string[];
  readonly serviceAccount?: string;
}

function metadata(name: string, namespace: string | undefined): string {
  return `  metadata:\n    name: ${name}\n${namespace ? `    namespace: ${namespace}\n` : ""}`;
}

function deployment(w: Workload): string {
  const secrets = w.pullSecrets ? `        imagePullSecrets:\n${w.pullSecrets.map((s) => `        - name: ${s}\n`).join("")}` : "";
  const account = w.serviceAccount ? `        serviceAccountName: ${w.serviceAccount}\n` : "";
  return (
    `- apiVersion: apps/v1\n  kind: Deployment\n${metadata(w.name, w.namespace)}  spec:\n    template:\n      spec:\n` +
    `${account}${secrets}        containers:\n        - name: c\n          image: ${w.image}\n`
  );
}

function pullSecret(name: string, namespace: string | undefined, auths: Record<string, unknown>, legacy = false): string {
  const [type, field, json] = legacy
    ? ["kubernetes.io/dockercfg", ".dockercfg", auths]
    : ["kubernetes.io/dockerconfigjson", ".dockerconfigjson", { auths }];
  return `- apiVersion: v1\n  kind: Secret\n${metadata(name, namespace)}  type: ${type}\n  data:\n    ${field}: ${b64(JSON.stringify(json))}\n`;
}

function serviceAccount(name: string, namespace: string | undefined, secrets: readonly string[]): string {
  return `- apiVersion: v1\n  kind: ServiceAccount\n${metadata(name, namespace)}  imagePullSecrets:\n${secrets.map((s) => `  - name: ${s}\n`).join("")}`;
}

const resourceList = (...items: string[]): string => `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items.join("")}`;

interface Output {
  items: { kind: string; metadata: { name: string; namespace?: string }; spec?: { template?: { spec: { containers: { image: string }[] } } } }[];
  results?: Result[];
}

function output(run: FnRun): Output {
  return parse(run.stdout) as Output;
}

function imageOf(run: FnRun, name: string, namespace?: string): string | undefined {
  const item = output(run).items.find((i) => i.kind === "Deployment" && i.metadata.name === name && i.metadata.namespace === namespace);
  return item?.spec?.template?.spec.containers[0]?.image;
}

function errors(run: FnRun): string[] {
  return (output(run).results ?? []).filter((r) => r.severity === "error").map((r) => r.message);
}

// ---- the user's environment ------------------------------------------------

let work: string;
let home: string;
let bin: string;
let made = 0;

/** A fresh DOCKER_CONFIG directory holding `config` (none when undefined). */
async function dockerConfig(config?: unknown): Promise<string> {
  const dir = join(work, `docker-config-${made++}`);
  await mkdir(dir);
  if (config !== undefined) await writeFile(join(dir, "config.json"), typeof config === "string" ? config : JSON.stringify(config));
  return dir;
}

async function authFile(config: unknown): Promise<string> {
  const path = join(work, `auth-${made++}.json`);
  await writeFile(path, JSON.stringify(config));
  return path;
}

/** Only what the test sets: no ~/.docker, no XDG dirs of the machine running the tests. */
function env(vars: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: home };
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) out[k] = v;
  return out;
}

/** Credential helper scripts: krmtest knows `hosts`, krmnone knows nothing, krmfail breaks loudly. */
async function writeHelpers(hosts: Readonly<Record<string, { username: string; secret: string }>>): Promise<void> {
  const cases = Object.entries(hosts)
    .map(([host, c]) => `  ${JSON.stringify(host)}) printf '%s\\n' '${JSON.stringify({ ServerURL: host, Username: c.username, Secret: c.secret })}' ;;\n`)
    .join("");
  const scripts: Record<string, string> = {
    krmtest: `read -r server\necho "$server" >> "${join(work, "krmtest.log")}"\ncase "$server" in\n${cases}  *) echo "credentials not found in native keychain"; exit 1 ;;\nesac\n`,
    krmnone: `cat > /dev/null\necho "credentials not found in native keychain"\nexit 1\n`,
    krmfail: `cat > /dev/null\necho '{"Username":"${USER}","Secret":"${HELPER_LEAK}"}'\necho "vault is sealed: run vault-unseal first" >&2\nexit 2\n`,
  };
  for (const [name, body] of Object.entries(scripts)) {
    const path = join(bin, `docker-credential-${name}`);
    await writeFile(path, `#!/bin/sh\n${body}`);
    await chmod(path, 0o755);
  }
}

async function helperCalls(): Promise<string[]> {
  return (await readFile(join(work, "krmtest.log"), "utf8").catch(() => "")).split("\n").filter(Boolean);
}

// ---- the tests ---------------------------------------------------------------

describe("credentials against real registries", () => {
  let basic: Registry;
  let token: Registry;
  let tokens: TokenServer;
  let realm: RefreshRealm;
  const digests = new Map<string, string>();
  /** Environment that trusts the TLS registry's test CA. */
  let tls: (vars: Record<string, string | undefined>) => NodeJS.ProcessEnv;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "krm-digester-credentials-"));
    home = join(work, "home");
    bin = join(work, "bin");
    await mkdir(home);
    await mkdir(bin);

    basic = await startRegistry({ tls: true, htpasswd: { user: USER, password: PASSWORD } });
    tokens = await startTokenServer({ users: { [USER]: PASSWORD } });
    realm = await startRefreshRealm(tokens, { [REFRESH]: USER });
    token = await startRegistry({ token: { ...tokens.registryConfig, realm: realm.realm } });
    const pushToken = { url: token.url, authorization: (repo: string) => tokens.pushAuthorization(repo) };
    for (const repo of ["private/app", "private/other", "team/app"]) {
      digests.set(`${basic.host}/${repo}:v1`, (await pushOciManifest(basic, repo, "v1")).digest);
      digests.set(`${token.host}/${repo}:v1`, (await pushOciManifest(pushToken, repo, "v1")).digest);
    }
    await writeHelpers({ [basic.host]: { username: USER, secret: PASSWORD }, [token.host]: { username: "<token>", secret: REFRESH } });
    const caFile = basic.caFile;
    assert.ok(caFile);
    tls = (vars) => env({ NODE_EXTRA_CA_CERTS: caFile, ...vars });
  });

  after(async () => {
    await Promise.all([basic?.stop(), token?.stop(), tokens?.stop(), realm?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  const pinned = (image: string): string => `${image}@${digests.get(image) ?? "missing"}`;

  describe("htpasswd registry behind TLS", () => {
    const image = (repo = "private/app"): string => `${basic.host}/${repo}:v1`;
    const one = (img = image()): string => resourceList(deployment({ name: "web", image: img }));

    it("pins with a docker config auths entry (`auth`)", async () => {
      const run = await runFn(one(), { env: tls({ DOCKER_CONFIG: await dockerConfig({ auths: { [basic.host]: GOOD } }) }) });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(imageOf(run, "web"), pinned(image()));
    });

    it("pins with username/password under an https:// key with an API path", async () => {
      const config = { auths: { [`https://${basic.host}/v2/`]: { username: USER, password: PASSWORD } } };
      const run = await runFn(one(), { env: tls({ DOCKER_CONFIG: await dockerConfig(config) }) });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(imageOf(run, "web"), pinned(image()));
    });

    it("without credentials: names the registry, says it refused, lists the sources tried", async () => {
      const dir = await dockerConfig();
      const run = await runFn(one(), { env: tls({ DOCKER_CONFIG: dir }) });
      assert.equal(run.code, 1);
      const [message, ...more] = errors(run);
      assert.equal(more.length, 0);
      assert.ok(message?.includes(`registry ${basic.host} refused to authorize pulling ${basic.host}/private/app`), message);
      assert.ok(message?.includes(`tried: docker config ${join(dir, "config.json")} (file not found), then anonymous`), message);
      assert.match(message ?? "", /Log in to the registry/);
      assert.ok(run.stderr.includes(`tried: docker config ${join(dir, "config.json")}`));
    });

    it("with a wrong password: says so and which entry was presented", async () => {
      const dir = await dockerConfig({ auths: { [basic.host]: BAD } });
      const run = await runFn(one(), { env: tls({ DOCKER_CONFIG: dir }) });
      assert.equal(run.code, 1);
      const message = errors(run)[0] ?? "";
      assert.match(message, /rejected the username and password/);
      assert.ok(message.includes(`tried: docker config ${join(dir, "config.json")} (auths "${basic.host}")`), message);
    });

    it("asks a credHelpers helper, once per registry per run", async () => {
      const before = (await helperCalls()).length;
      const input = resourceList(deployment({ name: "web", image: image() }), deployment({ name: "api", image: image("private/other") }));
      const run = await runFn(input, { env: tls({ DOCKER_CONFIG: await dockerConfig({ credHelpers: { [basic.host]: "krmtest" } }) }) });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(imageOf(run, "web"), pinned(image()));
      assert.equal(imageOf(run, "api"), pinned(image("private/other")));
      assert.deepEqual((await helperCalls()).slice(before), [basic.host]);
    });

    it("asks the credsStore helper when no credHelpers entry names the registry", async () => {
      const config = { credsStore: "krmtest", credHelpers: { "other.example.com": "krmfail" }, auths: { [basic.host]: {} } };
      const run = await runFn(one(), { env: tls({ DOCKER_CONFIG: await dockerConfig(config) }) });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(imageOf(run, "web"), pinned(image()));
    });

    it("goes on to anonymous when the helper has no credentials, and says so", async () => {
      const dir = await dockerConfig({ credsStore: "krmnone" });
      const run = await runFn(one(), { env: tls({ DOCKER_CONFIG: dir }) });
      assert.equal(run.code, 1);
      const message = errors(run)[0] ?? "";
      assert.ok(message.includes(`tried: docker config ${join(dir, "config.json")} (credsStore: docker-credential-krmnone has none), then anonymous`), message);
    });

    it("reports a failing helper by name, exit code and stderr, never its stdout", async () => {
      const dir = await dockerConfig({ credHelpers: { [basic.host]: "krmfail" } });
      const run = await runFn(one(), { env: tls({ DOCKER_CONFIG: dir }) });
      assert.equal(run.code, 1);
      const message = errors(run)[0] ?? "";
      assert.match(message, /docker-credential-krmfail get failed with exit code 2: vault is sealed: run vault-unseal first/);
      assert.ok(message.includes(`credHelpers "${basic.host}"`), message);
      assert.ok(!run.stdout.includes(HELPER_LEAK) && !run.stderr.includes(HELPER_LEAK));
    });

    it("reads a containers auth.json from $REGISTRY_AUTH_FILE, most specific namespace first", async () => {
      const path = await authFile({ auths: { [`${basic.host}/private`]: GOOD, [`${basic.host}/private/other`]: BAD } });
      const input = resourceList(deployment({ name: "web", image: image() }), deployment({ name: "api", image: image("private/other") }));
      const run = await runFn(input, { env: tls({ DOCKER_CONFIG: await dockerConfig(), REGISTRY_AUTH_FILE: path }) });
      assert.equal(imageOf(run, "web"), pinned(image()), run.stderr);
      assert.equal(imageOf(run, "api"), image("private/other"));
      const [message] = errors(run);
      assert.ok(message?.includes(`containers auth.json ${path} ("${basic.host}/private/other")`), message);
    });

    it("uses pull secrets (dockerconfigjson) the workload names, only in its namespace, one request per secret", async () => {
      const input = resourceList(
        pullSecret("regcred", "prod", { [basic.host]: GOOD }),
        deployment({ name: "web", namespace: "prod", image: image(), pullSecrets: ["regcred"] }),
        deployment({ name: "worker", namespace: "prod", image: image(), pullSecrets: ["regcred"] }),
        deployment({ name: "web", namespace: "staging", image: image(), pullSecrets: ["regcred"] }),
      );
      const dir = await dockerConfig();
      const run = await runFn(input, { env: tls({ DOCKER_CONFIG: dir }) });
      assert.equal(run.code, 1);
      assert.equal(imageOf(run, "web", "prod"), pinned(image()));
      assert.equal(imageOf(run, "worker", "prod"), pinned(image()));
      assert.equal(imageOf(run, "web", "staging"), image(), "the prod secret is not used in staging");
      const messages = errors(run);
      assert.equal(messages.length, 1);
      assert.ok(messages[0]?.includes(`tried: docker config ${join(dir, "config.json")} (file not found), then anonymous`), messages[0]);
      // web and worker share one lookup; staging (no secret) is another.
      assert.match(run.stderr, /2 of 3 image fields pinned, 2 unique references/);
    });

    it("uses legacy dockercfg pull secrets through the pod's ServiceAccount", async () => {
      const input = resourceList(
        pullSecret("legacy", undefined, { [`https://${basic.host}`]: GOOD }, true),
        serviceAccount("builder", undefined, ["legacy"]),
        deployment({ name: "api", image: image("private/other"), serviceAccount: "builder" }),
      );
      const run = await runFn(input, { env: tls({ DOCKER_CONFIG: await dockerConfig() }) });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(imageOf(run, "api"), pinned(image("private/other")));
    });

    it("tries the workload's pull secret before the docker config", async () => {
      const input = resourceList(
        pullSecret("regcred", undefined, { [basic.host]: GOOD }),
        deployment({ name: "web", image: image(), pullSecrets: ["regcred"] }),
        deployment({ name: "api", image: image() }),
      );
      const dir = await dockerConfig({ auths: { [basic.host]: BAD } });
      const run = await runFn(input, { env: tls({ DOCKER_CONFIG: dir }) });
      assert.equal(imageOf(run, "web"), pinned(image()), run.stderr);
      assert.equal(imageOf(run, "api"), image(), "no pull secret: the docker config's wrong password is used");
      assert.match(errors(run)[0] ?? "", /rejected the username and password/);
    });
  });

  describe("token auth (Bearer realm that wants Basic)", () => {
    const image = (repo = "private/app"): string => `${token.host}/${repo}:v1`;
    const one = (img = image()): string => resourceList(deployment({ name: "web", image: img }));

    it("sends docker config credentials to the realm", async () => {
      tokens.resetCounters();
      const run = await runFn(one(), { env: env({ DOCKER_CONFIG: await dockerConfig({ auths: { [token.host]: { username: USER, password: PASSWORD } } }) }) });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(imageOf(run, "web"), pinned(image()));
      assert.ok(tokens.requests.some((r) => r.user === USER && r.status === 200));
    });

    it("exchanges an identitytoken at the realm (OAuth2 refresh-token POST)", async () => {
      const posts = realm.posts.length;
      const run = await runFn(one(), { env: env({ DOCKER_CONFIG: await dockerConfig({ auths: { [token.host]: { identitytoken: REFRESH } } }) }) });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(imageOf(run, "web"), pinned(image()));
      const post = realm.posts.slice(posts);
      assert.equal(post.length, 1);
      assert.deepEqual(post[0], { grantType: "refresh_token", service: tokens.service, scope: "repository:private/app:pull", clientId: "krm-digester", accepted: true });
    });

    it("exchanges a helper's <token> answer the same way", async () => {
      const posts = realm.posts.length;
      const run = await runFn(one(), { env: env({ DOCKER_CONFIG: await dockerConfig({ credHelpers: { [token.host]: "krmtest" } }) }) });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(realm.posts.slice(posts).filter((p) => p.accepted).length, 1);
    });

    it("sends a registrytoken as is, without asking the realm", async () => {
      tokens.resetCounters();
      const posts = realm.posts.length;
      const bearer = tokens.issueToken(["repository:private/app:pull"]);
      const run = await runFn(one(), { env: env({ DOCKER_CONFIG: await dockerConfig({ auths: { [token.host]: { registrytoken: bearer } } }) }) });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(imageOf(run, "web"), pinned(image()));
      assert.equal(tokens.counters.requests + realm.posts.length - posts, 0);
    });

    it("says the token service rejected the credentials, and where they came from", async () => {
      const path = await authFile({ auths: { [token.host]: BAD } });
      const run = await runFn(one(), { env: env({ DOCKER_CONFIG: await dockerConfig({ auths: { "other.example.com": GOOD } }), REGISTRY_AUTH_FILE: path }) });
      assert.equal(run.code, 1);
      const message = errors(run)[0] ?? "";
      assert.match(message, /token service 127\.0\.0\.1:\d+ of registry 127\.0\.0\.1:\d+ refused to authorize .*rejected the credentials/);
      assert.ok(message.includes(`(no entry for ${token.host}), containers auth.json ${path} ("${token.host}")`), message);
    });
  });

  describe("no secret reaches stdout, stderr or results", () => {
    it("with every source set, failing ones included", async () => {
      const registryToken = tokens.issueToken(["repository:team/app:pull"]);
      const secrets = [PASSWORD, WRONG, REFRESH, HELPER_LEAK, registryToken, GOOD.auth, BAD.auth, b64(PASSWORD), b64(WRONG)];
      const items = resourceList(
        pullSecret("regcred", "prod", { [basic.host]: GOOD, [token.host]: { identitytoken: REFRESH } }),
        pullSecret("badcred", "prod", { [basic.host]: BAD, [token.host]: BAD }),
        pullSecret("hub", "prod", { "https://index.docker.io/v1/": { auth: b64(`${USER}:${PASSWORD}`) } }, true),
        serviceAccount("default", "prod", ["badcred"]),
        deployment({ name: "good", namespace: "prod", image: `${basic.host}/private/app:v1`, pullSecrets: ["regcred"] }),
        deployment({ name: "good-token", namespace: "prod", image: `${token.host}/private/app:v1`, pullSecrets: ["regcred"] }),
        deployment({ name: "bad", namespace: "prod", image: `${basic.host}/private/other:v1` }),
        deployment({ name: "bad-token", namespace: "prod", image: `${token.host}/private/other:v1` }),
        deployment({ name: "host", image: `${basic.host}/team/app:v1` }),
        deployment({ name: "host-token", image: `${token.host}/team/app:v1` }),
        deployment({ name: "helper", image: `${token.host}/private/app:v1` }),
      );
      const auth = await authFile({ auths: { [basic.host]: BAD, [token.host]: { registrytoken: registryToken } } });
      const configs = [
        { auths: { [basic.host]: BAD }, credHelpers: { [token.host]: "krmfail" } },
        { auths: { [basic.host]: { username: USER, password: WRONG }, [token.host]: { identitytoken: WRONG } } },
        { credsStore: "krmtest" },
        // Broken JSON around a password: the parse error must not quote it.
        `{"auths": {"${basic.host}": {"password": ${PASSWORD}}}}`,
        `{"auths": {"${basic.host}": {"auth": "${PASSWORD}!"}}}`,
      ];
      for (const config of configs) {
        const run = await runFn(items, { env: tls({ DOCKER_CONFIG: await dockerConfig(config), REGISTRY_AUTH_FILE: auth, KRM_DIGESTER_DEBUG: "1" }) });
        assert.ok(run.code === 0 || run.code === 1, run.stderr);
        assert.equal(imageOf(run, "good", "prod"), pinned(`${basic.host}/private/app:v1`), run.stderr);
        assert.ok(errors(run).length > 0, "some lookups fail");
        for (const s of secrets) {
          assert.ok(!run.stderr.includes(s), `stderr holds a secret with config ${JSON.stringify(config)}:\n${run.stderr}`);
          assert.ok(!run.stdout.includes(s), `stdout holds a secret with config ${JSON.stringify(config)}`);
        }
      }
    });
  });
});
