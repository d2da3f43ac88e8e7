// Parsing credential files: auths entries, docker config.json and its
// precedence, containers auth.json namespaces, and secret-free errors.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AuthFileSource, authFilePaths, matchAuthFile, parseAuthFile } from "../../src/credentials/auth-json.js";
import { DockerConfigSource, dockerConfigPath, parseDockerConfig } from "../../src/credentials/docker-config.js";
import { EntryError, credentialOf } from "../../src/credentials/entry.js";
import { CredentialHelpers } from "../../src/credentials/helper.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

describe("credentialOf (one auths entry)", () => {
  it("reads auth, username/password, identitytoken and registrytoken with docker's precedence", () => {
    assert.deepEqual(credentialOf({ auth: b64("alice:pa:ss") }), { kind: "basic", username: "alice", password: "pa:ss" });
    assert.deepEqual(credentialOf({ username: "bob", password: "pw" }), { kind: "basic", username: "bob", password: "pw" });
    assert.deepEqual(credentialOf({ auth: b64("alice:a"), username: "bob", password: "b" }), { kind: "basic", username: "alice", password: "a" });
    assert.deepEqual(credentialOf({ identitytoken: "refresh" }), { kind: "identityToken", token: "refresh" });
    assert.deepEqual(credentialOf({ auth: b64("alice:"), identitytoken: "refresh" }), { kind: "identityToken", username: "alice", token: "refresh" });
    assert.deepEqual(credentialOf({ registrytoken: "bearer", auth: b64("a:b") }), { kind: "registryToken", token: "bearer" });
  });

  it("has nothing for an empty entry, as docker login leaves with a credsStore", () => {
    assert.equal(credentialOf({}), undefined);
    assert.equal(credentialOf({ email: "a@example.com", auth: "" }), undefined);
  });

  it("rejects malformed entries without quoting their values", () => {
    const secret = "s3cr3t!not-base64";
    for (const entry of [{ auth: secret }, { auth: b64("no-colon-s3cr3t") }, { password: 42 }, "s3cr3t", null]) {
      assert.throws(
        () => credentialOf(entry),
        (err: unknown) => err instanceof EntryError && !err.message.includes("s3cr3t") && !err.message.includes(b64("no-colon-s3cr3t")),
      );
    }
  });
});

describe("docker config.json", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "krm-digester-cred-unit-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const source = async (config: unknown, name = "config.json"): Promise<DockerConfigSource> => {
    const path = join(dir, name);
    await writeFile(path, typeof config === "string" ? config : JSON.stringify(config));
    return new DockerConfigSource(path, new CredentialHelpers({ timeoutMs: 5000, env: { PATH: "/nonexistent" } }));
  };

  it("lives in $DOCKER_CONFIG, else ~/.docker", () => {
    assert.equal(dockerConfigPath({ DOCKER_CONFIG: "/etc/dc" }, "/home/u"), "/etc/dc/config.json");
    assert.equal(dockerConfigPath({}, "/home/u"), "/home/u/.docker/config.json");
  });

  it("matches auths by host, ignoring scheme and path; Docker Hub's v1 URL is docker.io", async () => {
    const s = await source({
      auths: {
        "https://index.docker.io/v1/": { auth: b64("hub:hubpw") },
        "https://127.0.0.1:5000/v2/": { username: "u1", password: "p1" },
        "quay.io/ignored/path": { auth: b64("q:qp") },
      },
    });
    assert.deepEqual(await s.find("docker.io"), { credential: { kind: "basic", username: "hub", password: "hubpw" }, detail: `auths "https://index.docker.io/v1/"` });
    assert.deepEqual((await s.find("127.0.0.1:5000")).credential, { kind: "basic", username: "u1", password: "p1" });
    assert.deepEqual((await s.find("quay.io")).credential, { kind: "basic", username: "q", password: "qp" });
    assert.deepEqual(await s.find("ghcr.io"), { detail: "no entry for ghcr.io" });
  });

  it("prefers the exact key when several keys name one host", async () => {
    const s = await source({ auths: { "https://r.example.com/v1/": { auth: b64("old:x") }, "r.example.com": { auth: b64("new:y") } } }, "exact.json");
    assert.equal((await s.find("r.example.com")).detail, `auths "r.example.com"`);
  });

  it("reads credHelpers per host and credsStore as the default, which hide auths as in docker", () => {
    const config = parseDockerConfig({
      auths: { "gcr.io": {} },
      credHelpers: { "gcr.io": "gcloud", "https://index.docker.io/v1/": "hub" },
      credsStore: "desktop",
    });
    assert.deepEqual(config.credHelpers.get("gcr.io"), { key: "gcr.io", helper: "gcloud" });
    assert.deepEqual(config.credHelpers.get("docker.io"), { key: "https://index.docker.io/v1/", helper: "hub" });
    assert.equal(config.credsStore, "desktop");
  });

  it("reports a helper that is not installed, naming it and the config", async () => {
    const s = await source({ credsStore: "krm-missing", auths: { "r.example.com": { auth: b64("u:topsecret") } } }, "store.json");
    await assert.rejects(s.find("r.example.com"), (err: Error) => {
      assert.match(err.message, /store\.json: credsStore: docker-credential-krm-missing is not installed \(not found on PATH\)/);
      assert.ok(!err.message.includes("topsecret"));
      return true;
    });
  });

  it("is no source at all when the file is missing", async () => {
    const s = new DockerConfigSource(join(dir, "missing", "config.json"), new CredentialHelpers({ timeoutMs: 1000 }));
    assert.deepEqual(await s.find("quay.io"), { detail: "file not found" });
  });

  it("says where a broken file is broken without quoting it", async () => {
    const s = await source(`{"auths": {"r.example.com": {"auth": topsecret}}}`, "broken.json");
    await assert.rejects(s.find("r.example.com"), (err: Error) => /broken\.json is not valid JSON/.test(err.message) && !err.message.includes("topsecret"));
    const t = await source(`{"auths": {"r.example.com": {"auth": "top_secret!"}}}`, "bad-entry.json");
    await assert.rejects(t.find("r.example.com"), (err: Error) => /bad-entry\.json: auths "r\.example\.com": "auth" is not base64/.test(err.message) && !err.message.includes("top_secret"));
  });
});

describe("containers auth.json", () => {
  it("is looked for where podman looks", () => {
    assert.deepEqual(authFilePaths({ REGISTRY_AUTH_FILE: "/a.json", XDG_RUNTIME_DIR: "/run/user/1" }, "/home/u"), [
      { path: "/a.json", configured: true },
      { path: "/run/user/1/containers/auth.json", configured: false },
      { path: "/home/u/.config/containers/auth.json", configured: false },
    ]);
    assert.deepEqual(authFilePaths({ XDG_CONFIG_HOME: "/cfg" }, "/home/u"), [{ path: "/cfg/containers/auth.json", configured: false }]);
  });

  const entries = parseAuthFile({
    auths: {
      "quay.io": { auth: b64("registry:r") },
      "quay.io/team": { auth: b64("team:t") },
      "quay.io/team/app": { auth: b64("app:a") },
      "https://legacy.example.com/v1/ignored": { auth: b64("legacy:l") },
      "docker.io/library": { auth: b64("hub:h") },
    },
  });
  const keyFor = (registry: string, repository: string): string | undefined => matchAuthFile(entries, registry, repository)?.key;

  it("picks the most specific namespace that covers the repository", () => {
    assert.equal(keyFor("quay.io", "team/app"), "quay.io/team/app");
    assert.equal(keyFor("quay.io", "team/app/sub"), "quay.io/team/app");
    assert.equal(keyFor("quay.io", "team/other"), "quay.io/team");
    assert.equal(keyFor("quay.io", "teamx/app"), "quay.io");
    assert.equal(keyFor("docker.io", "library/nginx"), "docker.io/library");
    assert.equal(keyFor("docker.io", "someone/nginx"), undefined);
  });

  it("reads keys with a scheme as the host only (legacy docker keys)", () => {
    assert.equal(keyFor("legacy.example.com", "any/thing"), "https://legacy.example.com/v1/ignored");
  });

  it("answers with the credential and the key it came from", async () => {
    const dir = await mkdtemp(join(tmpdir(), "krm-digester-cred-unit-"));
    try {
      const path = join(dir, "auth.json");
      await writeFile(path, JSON.stringify({ auths: { "quay.io/team": { auth: b64("team:t") } } }));
      const s = new AuthFileSource(path);
      assert.deepEqual(await s.find("quay.io", "team/app"), { credential: { kind: "basic", username: "team", password: "t" }, detail: `"quay.io/team"` });
      assert.deepEqual(await s.find("quay.io", "other/app"), { detail: "no entry for quay.io/other/app" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
