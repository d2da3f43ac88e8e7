// Broken credential inputs through the built function (dist/krm-digester)
// against a real registry (distribution 2.8.2 with htpasswd): docker
// config.json, containers auth.json, credential helper answers and pull
// secrets in the package that are not JSON, have wrong types, miss keys or
// carry huge values. Each ends in a clear result naming the file (or the
// Secret) and the key, exit 1 (or a warning and a pin through the next
// source), never exit 3, never a pin made with a garbled credential, and
// never a screenful: values are quoted cut short.
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
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

const USER = "bad-input-user";
const PASSWORD = "bad-input-password-51c0";
const b64 = (s: string): string => Buffer.from(s).toString("base64");
const GOOD = { auth: b64(`${USER}:${PASSWORD}`) };

let work: string;
let bin: string;
let made = 0;
let registry: Registry;
let digest: string;
const image = (): string => `${registry.host}/private/app:v1`;

function env(vars: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: join(work, "home"), ...vars };
}

async function file(name: string, content: string): Promise<string> {
  const path = join(work, `${made++}-${name}`);
  await writeFile(path, content);
  return path;
}

async function dockerDir(content: string): Promise<string> {
  const dir = join(work, `docker-${made++}`);
  await mkdir(dir);
  await writeFile(join(dir, "config.json"), content);
  return dir;
}

const deployment = (pullSecret?: string): string =>
  `- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: web\n    namespace: prod\n  spec:\n    template:\n      spec:\n` +
  (pullSecret ? `        imagePullSecrets:\n        - name: ${pullSecret}\n` : "") +
  `        containers:\n        - name: c\n          image: ${image()}\n`;

const secretItem = (name: string, body: string): string =>
  `- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: ${name}\n    namespace: prod\n    annotations:\n      config.kubernetes.io/path: secrets.yaml\n${body}`;

const list = (...items: string[]): string => `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items.join("")}`;

interface Output {
  items: { kind: string; spec?: { template?: { spec: { containers: { image: string }[] } } } }[];
  results?: Result[];
}

function outcome(run: FnRun): { image: string | undefined; results: Result[] } {
  assert.ok(run.code === 0 || run.code === 1, `exit ${String(run.code)}: ${run.stderr}`);
  assert.ok(!/internal error/.test(run.stderr), run.stderr);
  const out = parse(run.stdout) as Output;
  const item = out.items.find((i) => i.kind === "Deployment");
  return { image: item?.spec?.template?.spec.containers[0]?.image, results: out.results ?? [] };
}

/** The run failed the image with one error naming `where` and matching `pattern`, and pinned nothing. */
function failedWith(run: FnRun, where: string, pattern: RegExp): void {
  const { image: value, results } = outcome(run);
  assert.equal(run.code, 1, run.stderr);
  assert.equal(value, image(), "not pinned");
  const errors = results.filter((r) => r.severity === "error");
  assert.equal(errors.length, 1, JSON.stringify(errors));
  const message = errors[0]?.message ?? "";
  assert.ok(message.includes(where), `${message}\n  does not name ${where}`);
  assert.match(message, pattern);
  assert.ok(message.length < 1200, `message of ${message.length} characters`);
  assert.ok(run.stderr.length < 4000, `stderr of ${run.stderr.length} characters`);
  assert.ok(!message.includes(PASSWORD) && !run.stderr.includes(PASSWORD));
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), "krm-digester-bad-input-"));
  bin = join(work, "bin");
  await mkdir(bin);
  await mkdir(join(work, "home"));
  registry = await startRegistry({ htpasswd: { user: USER, password: PASSWORD } });
  digest = (await pushOciManifest(registry, "private/app", "v1")).digest;
  const helpers: Record<string, string> = {
    krmarray: `cat > /dev/null\necho '[]'\n`,
    krmnumber: `cat > /dev/null\necho '{"Username":"${USER}","Secret":12345}'\n`,
    krmflood: `cat > /dev/null\nhead -c 3000000 /dev/zero | tr '\\0' '{'\n`,
    krmempty: `cat > /dev/null\n`,
  };
  for (const [name, body] of Object.entries(helpers)) {
    const path = join(bin, `docker-credential-${name}`);
    await writeFile(path, `#!/bin/sh\n${body}`);
    await chmod(path, 0o755);
  }
});

after(async () => {
  await registry?.stop();
  await rm(work, { recursive: true, force: true });
});

describe("a broken docker config.json", () => {
  const host = (): string => registry.host;
  const cases: [string, () => string, RegExp][] = [
    ["not JSON", () => `{"auths": {"${host()}": {"auth": "${GOOD.auth}"}`, /is not valid JSON/],
    ["a JSON array", () => "[]", /: it is not a JSON object/],
    ["auths a string", () => `{"auths": "${GOOD.auth}"}`, /: "auths" is not an object/],
    ["an entry that is a string", () => JSON.stringify({ auths: { [host()]: GOOD.auth } }), /auths "127\.0\.0\.1:\d+": the entry is not a JSON object/],
    ["auth not base64", () => JSON.stringify({ auths: { [host()]: { auth: `${PASSWORD}!` } } }), /"auth" is not base64/],
    ["auth without a colon", () => JSON.stringify({ auths: { [host()]: { auth: b64(PASSWORD) } } }), /"auth" does not decode to "username:password"/],
    ["auth a number", () => JSON.stringify({ auths: { [host()]: { auth: 42 } } }), /"auth" is not a string/],
    ["password an object", () => JSON.stringify({ auths: { [host()]: { username: USER, password: { value: PASSWORD } } } }), /"password" is not a string/],
    ["a 1 MB auth", () => JSON.stringify({ auths: { [host()]: { auth: "A".repeat(1_000_000) } } }), /"auth" is 1000000 characters long, more than any credential \(the most accepted is 65536\)/],
    ["credHelpers a list", () => JSON.stringify({ credHelpers: [host()] }), /"credHelpers" is not an object/],
    ["a helper name that is a number", () => JSON.stringify({ credHelpers: { [host()]: 7 } }), /credHelpers "127\.0\.0\.1:\d+" is not a helper name/],
    ["a 1 MB credHelpers key", () => JSON.stringify({ credHelpers: { ["k".repeat(1_000_000)]: 7 } }), /credHelpers "k{100}"… \(1000000 characters\) is not a helper name/],
    ["credsStore a number", () => JSON.stringify({ credsStore: 1 }), /"credsStore" is not a string/],
    ["a 1 MB credsStore name", () => JSON.stringify({ credsStore: "s".repeat(1_000_000) }), /"docker-credential-s{80}.*"… \(\d+ characters\) is not a valid credential helper name/],
  ];
  for (const [what, content, pattern] of cases) {
    it(`${what}: an error naming the file`, async () => {
      const dir = await dockerDir(content());
      const run = await runFn(list(deployment()), { env: env({ DOCKER_CONFIG: dir }) });
      failedWith(run, join(dir, "config.json"), pattern);
    });
  }

  it("a directory where the file should be: cannot be read (EISDIR)", async () => {
    const dir = join(work, `docker-${made++}`);
    await mkdir(join(dir, "config.json"), { recursive: true });
    failedWith(await runFn(list(deployment()), { env: env({ DOCKER_CONFIG: dir }) }), join(dir, "config.json"), /cannot be read \(EISDIR\)/);
  });

  it("a file of 5 MB: refused as the wrong file, not read whole", async () => {
    const dir = await dockerDir(JSON.stringify({ auths: { [host()]: GOOD }, padding: "p".repeat(5_000_000) }));
    failedWith(await runFn(list(deployment()), { env: env({ DOCKER_CONFIG: dir }) }), join(dir, "config.json"), /is larger than 4 MiB, which no credential file is: check the path/);
  });

  it("a byte-order mark (Windows editors) is not an error: pinned", async () => {
    const dir = await dockerDir(`\uFEFF${JSON.stringify({ auths: { [host()]: GOOD } })}`);
    const run = await runFn(list(deployment()), { env: env({ DOCKER_CONFIG: dir }) });
    assert.equal(outcome(run).image, `${image()}@${digest}`, run.stderr);
  });
});

describe("a broken containers auth.json", () => {
  const cases: [string, () => string, RegExp][] = [
    ["not JSON", () => "{", /is not valid JSON/],
    ["auths a list", () => `{"auths": []}`, /"auths" is not an object/],
    ["an entry that is null", () => JSON.stringify({ auths: { [registry.host]: null } }), /the entry is not a JSON object/],
    ["identitytoken a number", () => JSON.stringify({ auths: { [registry.host]: { identitytoken: 5 } } }), /"identitytoken" is not a string/],
  ];
  for (const [what, content, pattern] of cases) {
    it(`${what}: an error naming the file`, async () => {
      const path = await file("auth.json", content());
      const run = await runFn(list(deployment()), { env: env({ DOCKER_CONFIG: await dockerDir("{}"), REGISTRY_AUTH_FILE: path }) });
      failedWith(run, path, pattern);
    });
  }
});

describe("an auth.json that never ends", () => {
  it("REGISTRY_AUTH_FILE=/dev/zero is read 4 MiB far, then refused", async () => {
    const run = await runFn(list(deployment()), { env: env({ DOCKER_CONFIG: await dockerDir("{}"), REGISTRY_AUTH_FILE: "/dev/zero" }) });
    failedWith(run, "containers auth.json /dev/zero", /is larger than 4 MiB/);
  });
});

describe("credential helpers that answer badly", () => {
  const cases: [string, RegExp][] = [
    ["krmarray", /docker-credential-krmarray get did not answer with a JSON object/],
    ["krmnumber", /docker-credential-krmnumber get answered with a "Secret" that is not a string/],
    ["krmflood", /docker-credential-krmflood get printed more than 1 MiB and was stopped/],
    ["krmempty", /docker-credential-krmempty get did not answer with JSON/],
  ];
  for (const [helper, pattern] of cases) {
    it(`${helper}: an error naming the helper and the config`, async () => {
      const dir = await dockerDir(JSON.stringify({ credHelpers: { [registry.host]: helper } }));
      const run = await runFn(list(deployment()), { env: env({ DOCKER_CONFIG: dir }) });
      failedWith(run, `docker config ${join(dir, "config.json")}: credHelpers "${registry.host}"`, pattern);
    });
  }
});

describe("broken pull secrets in the package", () => {
  const dockerconfigjson = (value: string): string => `  type: kubernetes.io/dockerconfigjson\n  data:\n    .dockerconfigjson: ${value}\n`;
  const cases: [string, () => string, RegExp][] = [
    ["data that is not base64", () => dockerconfigjson(`"${PASSWORD}!!"`), /^Secret prod\/regcred named in imagePullSecrets has data\.\.dockerconfigjson that is not base64; the Secret is not used$/],
    ["base64 of something that is not JSON", () => dockerconfigjson(b64(`{"auths": {"x": {"password": ${PASSWORD}}}}`)), /has \.dockerconfigjson that is not valid JSON( \(line 1, column \d+\))?; the Secret is not used$/],
    ["JSON without auths", () => dockerconfigjson(b64(JSON.stringify({ credsStore: "desktop" }))), /has \.dockerconfigjson without an "auths" object/],
    ["auths a list", () => dockerconfigjson(b64(JSON.stringify({ auths: [] }))), /without an "auths" object/],
    ["data a number", () => dockerconfigjson("12345"), /has data\.\.dockerconfigjson that is not a string/],
    ["data missing", () => `  type: kubernetes.io/dockerconfigjson\n  data: {}\n`, /has no data\.\.dockerconfigjson/],
    ["no type", () => `  data:\n    .dockerconfigjson: ${b64(JSON.stringify({ auths: {} }))}\n`, /has type "Opaque", so it holds no registry credentials/],
    ["a type that is a map", () => `  type: {a: 1}\n  data: {}\n`, /has type "\{\\"a\\":1\}", so it holds no registry credentials/],
    ["an entry with a wrong type", () => dockerconfigjson(b64(JSON.stringify({ auths: { [registry.host]: { auth: ["x"] } } }))), /^Secret prod\/regcred: \.dockerconfigjson key "127\.0\.0\.1:\d+": "auth" is not a string; the entry is not used$/],
    ["a 1 MB key with a bad entry", () => dockerconfigjson(b64(JSON.stringify({ auths: { [`${"h".repeat(1_000_000)}.example.com`]: 5 } }))), /key "h{100}"… \(1000012 characters\): the entry is not a JSON object/],
  ];
  for (const [what, body, pattern] of cases) {
    it(`${what}: a warning on the Secret, and the image pinned through the docker config`, async () => {
      const dir = await dockerDir(JSON.stringify({ auths: { [registry.host]: GOOD } }));
      const run = await runFn(list(secretItem("regcred", body()), deployment("regcred")), { env: env({ DOCKER_CONFIG: dir }) });
      const { image: value, results } = outcome(run);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(value, `${image()}@${digest}`);
      const warnings = results.filter((r) => r.severity === "warning");
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.match(warnings[0]?.message ?? "", pattern);
      assert.ok((warnings[0]?.message.length ?? 0) < 600);
      assert.deepEqual(warnings[0]?.resourceRef, { apiVersion: "v1", kind: "Secret", name: "regcred", namespace: "prod" });
      assert.ok(!run.stderr.includes(PASSWORD) && !JSON.stringify(results).includes(PASSWORD));
    });
  }

  it("a key of many globs is matched in bounded time", async () => {
    // A regular expression per glob label backtracks exponentially here: 40 stars, 9 letters, no "x".
    const key = `${"*".repeat(40)}x:${registry.port}`;
    const body = dockerconfigjson(b64(JSON.stringify({ auths: { [key]: GOOD } })));
    const other = `localhost:${registry.port}/private/app:v1`;
    const input = list(secretItem("regcred", body), deployment("regcred").replace(image(), other));
    const started = performance.now();
    const run = await runFn(input, { env: env({ DOCKER_CONFIG: await dockerDir("{}") }) });
    assert.ok(performance.now() - started < 20_000);
    const { results } = outcome(run);
    assert.ok(results.some((r) => r.severity === "error" && r.message.includes(other)), "the key did not match: anonymous, refused");
  });
});
