// No secret in any output, on any path: the built function with
// KRM_DIGESTER_DEBUG=1 and DEBUG=true (every result on stderr), known secrets in every source (docker config,
// helpers, auth.json, pull secrets), and a ResourceList whose images each
// take another failure path against real registries (htpasswd and token
// auth) behind our fault proxy: registries and token services that echo the
// Authorization header in error bodies and challenges, redirects to other
// hosts, refresh-token POSTs redirected away, wrong passwords, stalled token
// services, broken files and Secrets that hold the secret, failing helpers
// that print it. stderr, the results and everything on stdout that was not
// already in the input are searched for every form of every secret.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import type { Result } from "../../src/results.js";
import { startFaultProxy } from "../support/fault-proxy.js";
import type { FaultProxy } from "../support/fault-proxy.js";
import { startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { runFn } from "../support/run-fn.js";
import { pushOciManifest } from "../support/seed.js";
import { startTokenServer } from "../support/token-server.js";
import type { TokenServer } from "../support/token-server.js";
import { startRefreshRealm } from "./refresh-realm.js";
import type { RefreshRealm } from "./refresh-realm.js";

const secret = (label: string): string => `${label}-${randomBytes(8).toString("hex")}`;
const b64 = (s: string): string => Buffer.from(s).toString("base64");
const USER = "leak-user";
const PASSWORD = secret("password");
const WRONG = secret("wrong");
const REFRESH = secret("refresh");
const HELPER_SECRET = secret("helper");
const SECRET_PASSWORD = secret("pull-secret-password");

let work: string;
let bin: string;
let made = 0;

describe("no secret in stdout, stderr, results or debug output, on any failure path", () => {
  let basic: Registry;
  let tokenRegistry: Registry;
  let tokens: TokenServer;
  let refresh: RefreshRealm;
  let basicFront: FaultProxy;
  let tokenFront: FaultProxy;
  let realmFront: FaultProxy;
  let elsewhere: FaultProxy;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "krm-digester-secrets-"));
    bin = join(work, "bin");
    await mkdir(bin);
    await mkdir(join(work, "home"));
    basic = await startRegistry({ htpasswd: { user: USER, password: PASSWORD } });
    tokens = await startTokenServer({ users: { [USER]: PASSWORD } });
    refresh = await startRefreshRealm(tokens, { [REFRESH]: USER });
    realmFront = await startFaultProxy({ url: new URL(refresh.realm).origin });
    tokenRegistry = await startRegistry({ token: { ...tokens.registryConfig, realm: `${realmFront.url}/token` } });
    basicFront = await startFaultProxy(basic);
    tokenFront = await startFaultProxy(tokenRegistry);
    elsewhere = await startFaultProxy(basic);
    await pushOciManifest(basic, "ok/app", "v1");
    await pushOciManifest({ ...tokenRegistry, authorization: (repo: string) => tokens.pushAuthorization(repo) }, "ok/app", "v1");

    // Each repository is its own failure path; rules match the repository in the path or the token scope.
    const manifestsOf = (repo: string): RegExp => new RegExp(`^/v2/${repo}/manifests/`);
    for (const front of [basicFront, tokenFront]) {
      front.script(
        { path: manifestsOf("echo401/app"), fault: { kind: "echo-auth", status: 401 } },
        { method: "HEAD", path: /^\/v2\/echo(403|400)\/app\/manifests\//, fault: { kind: "status", status: 404 } },
        { method: "GET", path: manifestsOf("echo403/app"), fault: { kind: "echo-auth", status: 403 } },
        { method: "GET", path: manifestsOf("echo400/app"), fault: { kind: "echo-auth", status: 400, code: "MANIFEST_INVALID" } },
        { path: manifestsOf("redirect/app"), fault: { kind: "redirect", location: (path) => `${elsewhere.url}${path}` } },
        { path: manifestsOf("loop/app"), fault: { kind: "redirect", location: (path) => path } },
      );
    }
    elsewhere.script({ fault: { kind: "echo-auth", status: 403 } });
    realmFront.script(
      { path: /scope=repository%3Arealm400%2F/, fault: { kind: "echo-auth", status: 400, code: "BAD_REQUEST" } },
      { path: /scope=repository%3Arealm401%2F/, fault: { kind: "echo-auth", status: 401 } },
      { path: /scope=repository%3Arealmstall%2F/, fault: { kind: "stall" } },
      { path: /scope=repository%3Arealmredirect%2F/, fault: { kind: "redirect", location: `${elsewhere.url}/token`, status: 307 } },
      { method: "POST", path: /^\/token/, times: 1, fault: { kind: "redirect", location: `${elsewhere.url}/token`, status: 307 } },
    );

    const helpers: Record<string, string> = {
      // Knows both registries; the secret it gives is real.
      krmgood: `read -r server\nprintf '{"ServerURL":"%s","Username":"${USER}","Secret":"${PASSWORD}"}\\n' "$server"\n`,
      // Fails, printing the secret on stdout (docker-credential-helpers print errors there) and a line on stderr.
      krmfail: `cat > /dev/null\necho '{"Username":"${USER}","Secret":"${HELPER_SECRET}"}'\necho "backend locked" >&2\nexit 4\n`,
      // Exits 0 with broken JSON around a secret.
      krmgarbage: `cat > /dev/null\necho '{"Username":"${USER}","Secret":"${HELPER_SECRET}'\n`,
    };
    for (const [name, body] of Object.entries(helpers)) {
      const path = join(bin, `docker-credential-${name}`);
      await writeFile(path, `#!/bin/sh\n${body}`);
      await chmod(path, 0o755);
    }
  });

  after(async () => {
    await Promise.all([basic, tokenRegistry, tokens, refresh, basicFront, tokenFront, realmFront, elsewhere].map((s) => s?.stop()));
    await rm(work, { recursive: true, force: true });
  });

  const deployment = (name: string, image: string, pullSecret?: string): string =>
    `- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: ${name}\n    namespace: prod\n  spec:\n    template:\n      spec:\n` +
    (pullSecret ? `        imagePullSecrets:\n        - name: ${pullSecret}\n` : "") +
    `        containers:\n        - name: c\n          image: ${image}\n`;
  const pullSecret = (name: string, body: string): string =>
    `- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: ${name}\n    namespace: prod\n  type: kubernetes.io/dockerconfigjson\n${body}`;

  function input(): string {
    const items: string[] = [
      pullSecret("good", `  data:\n    .dockerconfigjson: ${b64(JSON.stringify({ auths: { [basicFront.host]: { auth: b64(`${USER}:${SECRET_PASSWORD}`) } } }))}\n`),
      pullSecret("notbase64", `  data:\n    .dockerconfigjson: "${SECRET_PASSWORD}!!"\n`),
      pullSecret("notjson", `  stringData:\n    .dockerconfigjson: '{"auths": {"${basicFront.host}": {"password": ${SECRET_PASSWORD}}}}'\n`),
      pullSecret("badentry", `  stringData:\n    .dockerconfigjson: '{"auths": {"${basicFront.host}": {"auth": "${SECRET_PASSWORD}!"}}}'\n`),
    ];
    let n = 0;
    for (const front of [basicFront, tokenFront]) {
      for (const repo of ["ok", "echo401", "echo403", "echo400", "redirect", "loop", "realm400", "realm401", "realmstall", "realmredirect"]) {
        items.push(deployment(`d${n++}`, `${front.host}/${repo}/app:v1`));
      }
      for (const s of ["good", "notbase64", "notjson", "badentry"]) items.push(deployment(`d${n++}`, `${front.host}/echo403/app:v1`, s));
    }
    return `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items.join("")}functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: fn\n  data:\n    timeout: 2s\n`;
  }

  async function dockerConfig(config: unknown): Promise<string> {
    const dir = join(work, `docker-${made++}`);
    await mkdir(dir);
    await writeFile(join(dir, "config.json"), typeof config === "string" ? config : JSON.stringify(config));
    return dir;
  }

  /** Every form the secrets travel in: as is, the `auth` and Basic base64 of user:secret, base64 of the secret alone. */
  function forms(): string[] {
    const raw = [PASSWORD, WRONG, REFRESH, HELPER_SECRET, SECRET_PASSWORD, ...tokens.issuedTokens];
    return raw.flatMap((s) => [s, b64(s), b64(`${USER}:${s}`), encodeURIComponent(s)]);
  }

  it("holds for every source, working or broken", async () => {
    const bearer = tokens.issueToken(["repository:ok/app:pull"]);
    const configs: unknown[] = [
      { auths: { [basicFront.host]: { auth: b64(`${USER}:${PASSWORD}`) }, [tokenFront.host]: { username: USER, password: PASSWORD } } },
      { auths: { [basicFront.host]: { username: USER, password: WRONG }, [tokenFront.host]: { identitytoken: REFRESH } } },
      { auths: { [basicFront.host]: { identitytoken: WRONG }, [tokenFront.host]: { registrytoken: bearer } } },
      { credsStore: "krmgood" },
      { credHelpers: { [basicFront.host]: "krmfail", [tokenFront.host]: "krmgarbage" } },
      `{"auths": {"${basicFront.host}": {"password": ${PASSWORD}}}}`,
      { auths: { [basicFront.host]: { auth: `${PASSWORD}!` }, [tokenFront.host]: { auth: b64(PASSWORD) } } },
    ];
    const authFile = join(work, "auth.json");
    await writeFile(authFile, JSON.stringify({ auths: { [tokenFront.host]: { username: USER, password: WRONG } } }));
    const text = input();
    let paths = 0;
    for (const config of configs) {
      const env: NodeJS.ProcessEnv = {
        PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        HOME: join(work, "home"),
        DOCKER_CONFIG: await dockerConfig(config),
        REGISTRY_AUTH_FILE: authFile,
        KRM_DIGESTER_DEBUG: "1",
        // k8s-digester's switch: info results on stderr too.
        DEBUG: "true",
      };
      const run = await runFn(text, { env });
      const label = `with docker config ${typeof config === "string" ? config : JSON.stringify(config)}`;
      assert.ok(run.code === 0 || run.code === 1, `${label}: exit ${String(run.code)}: ${run.stderr}`);
      assert.ok(!/internal error/.test(run.stderr), run.stderr);
      const results = (parse(run.stdout) as { results?: Result[] }).results ?? [];
      const failures = results.filter((r) => r.severity !== "info");
      assert.ok(failures.length >= 20, `${label}: expected the failure paths to fail, got ${failures.length}`);
      paths += failures.length;
      const resultsText = JSON.stringify(results);
      for (const form of forms()) {
        assert.ok(!run.stderr.includes(form), `${label}: stderr holds ${form}:\n${run.stderr}`);
        assert.ok(!resultsText.includes(form), `${label}: the results hold ${form}`);
        if (!text.includes(form)) assert.ok(!run.stdout.includes(form), `${label}: stdout holds ${form}, which was not in the input`);
      }
    }
    assert.ok(paths > 150, `${paths} failure results searched`);
    assert.ok(tokens.issuedTokens.length > 0 && elsewhere.requests.length > 0, "the token and redirect paths ran");
  });
});
