// The chain (order, first match wins, the "tried" trace) and credential
// helpers run as real processes from a temp dir on PATH.
import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CredentialChain } from "../../src/credentials/chain.js";
import type { CredentialSource, Match } from "../../src/credentials/chain.js";
import { CredentialHelpers, HelperError } from "../../src/credentials/helper.js";

const source = (name: string, answer: (registry: string) => Match | Error): CredentialSource & { calls: number } => {
  const s = {
    name,
    calls: 0,
    find(registry: string): Promise<Match> {
      s.calls++;
      const a = answer(registry);
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    },
  };
  return s;
};

describe("CredentialChain", () => {
  it("asks sources in order and stops at the first credential", async () => {
    const first = source("pull secret prod/regcred", () => ({ detail: `key "other.io" does not match` }));
    const second = source("docker config /c.json", (r) => (r === "r.io" ? { credential: { kind: "basic", username: "u", password: "topsecret" }, detail: `auths "r.io"` } : { detail: "no entry" }));
    const third = source("containers auth.json /a.json", () => ({ credential: { kind: "registryToken", token: "t" }, detail: `"r.io"` }));
    const chain = new CredentialChain([first, second, third]);
    assert.deepEqual(await chain.lookup("r.io", "app"), { kind: "basic", username: "u", password: "topsecret" });
    assert.equal(third.calls, 0);
    assert.equal(await chain.tried("r.io", "app"), `tried: pull secret prod/regcred (key "other.io" does not match), docker config /c.json (auths "r.io")`);
    assert.equal(await chain.tried("x.io", "app"), `tried: pull secret prod/regcred (key "other.io" does not match), docker config /c.json (no entry), containers auth.json /a.json ("r.io")`);
  });

  it("ends the trace with anonymous when nothing matched, and never shows a secret", async () => {
    const chain = new CredentialChain([source("docker config /c.json", () => ({ detail: "no entry for q.io" }))]);
    assert.equal(await chain.lookup("q.io", "app"), undefined);
    assert.equal(await chain.tried("q.io", "app"), "tried: docker config /c.json (no entry for q.io), then anonymous");
    assert.equal(await new CredentialChain([]).tried("q.io", "app"), "tried: no credential sources, then anonymous");
  });

  it("asks each source once per repository, failures included", async () => {
    const broken = source("docker config /c.json", () => new Error("docker config /c.json: credsStore: docker-credential-x is not installed"));
    const chain = new CredentialChain([broken]);
    await assert.rejects(chain.lookup("r.io", "app"), /is not installed/);
    await assert.rejects(chain.lookup("r.io", "app"), /is not installed/);
    assert.equal(await chain.tried("r.io", "app"), "tried: docker config /c.json (failed)");
    assert.equal(broken.calls, 1);
  });
});

describe("CredentialHelpers", () => {
  let dir: string;
  let helpers: CredentialHelpers;
  const log = (): Promise<string> => readFile(join(dir, "calls.log"), "utf8").catch(() => "");

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "krm-digester-helper-unit-"));
    // One script, behaviour chosen by the server URL it reads on stdin; every call is logged.
    const script = `#!/bin/sh
[ "$1" = get ] || { echo "unexpected argument $1" >&2; exit 9; }
read -r server || true
echo "$server" >> "${dir}/calls.log"
case "$server" in
  basic.example.com) echo '{"ServerURL":"basic.example.com","Username":"alice","Secret":"s3cret-basic"}' ;;
  token.example.com) echo '{"ServerURL":"token.example.com","Username":"<token>","Secret":"s3cret-refresh"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"https://index.docker.io/v1/","Username":"hub","Secret":"s3cret-hub"}' ;;
  empty.example.com) echo '{"ServerURL":"","Username":"","Secret":""}' ;;
  missing.example.com) echo "credentials not found in native keychain"; exit 1 ;;
  broken.example.com) echo '{"Secret":"s3cret-on-stdout"}'; echo "keychain locked: run unlock first" >&2; echo "second line" >&2; exit 3 ;;
  garbage.example.com) echo 'Secret=s3cret-garbage' ;;
  stdout-error.example.com) echo "exit status 2: gpg: decryption failed: No secret key"; exit 1 ;;
  stdout-json.example.com) echo '{"Secret":"s3cret-json"}'; exit 1 ;;
  slow.example.com) sleep 5 ;;
esac
`;
    await writeFile(join(dir, "docker-credential-krmunit"), script);
    await chmod(join(dir, "docker-credential-krmunit"), 0o755);
    helpers = new CredentialHelpers({ timeoutMs: 1000, env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ""}` } });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("reads Username/Secret, and <token> as an identity token", async () => {
    assert.deepEqual(await helpers.get("krmunit", "basic.example.com"), { kind: "basic", username: "alice", password: "s3cret-basic" });
    assert.deepEqual(await helpers.get("krmunit", "token.example.com"), { kind: "identityToken", token: "s3cret-refresh" });
    assert.deepEqual(await helpers.get("krmunit", "https://index.docker.io/v1/"), { kind: "basic", username: "hub", password: "s3cret-hub" });
  });

  it("has nothing when the helper says credentials not found, or answers an empty secret", async () => {
    assert.equal(await helpers.get("krmunit", "missing.example.com"), undefined);
    assert.equal(await helpers.get("krmunit", "empty.example.com"), undefined);
  });

  it("reports other failures with name, exit code and stderr's first line, never stdout", async () => {
    await assert.rejects(helpers.get("krmunit", "broken.example.com"), (err: Error) => {
      assert.ok(err instanceof HelperError);
      assert.equal(err.message, "docker-credential-krmunit get failed with exit code 3: keychain locked: run unlock first");
      return true;
    });
    await assert.rejects(helpers.get("krmunit", "garbage.example.com"), (err: Error) => {
      assert.equal(err.message, "docker-credential-krmunit get did not answer with JSON");
      return true;
    });
    await assert.rejects(helpers.get("krmunit", "stdout-error.example.com"), {
      message: "docker-credential-krmunit get failed with exit code 1: exit status 2: gpg: decryption failed: No secret key",
    });
    await assert.rejects(helpers.get("krmunit", "stdout-json.example.com"), { message: "docker-credential-krmunit get failed with exit code 1" });
    await assert.rejects(helpers.get("nonexistent-krm", "x"), /docker-credential-nonexistent-krm is not installed \(not found on PATH\)/);
    await assert.rejects(helpers.get("../sh", "x"), /is not a valid credential helper name/);
  });

  it("gives up on a helper that does not answer in time", async () => {
    const started = Date.now();
    await assert.rejects(helpers.get("krmunit", "slow.example.com"), /did not answer within 1 s/);
    assert.ok(Date.now() - started < 4000);
  });

  it("runs a helper at most once per server, concurrent callers included", async () => {
    const before = (await log()).split("\n").filter((l) => l === "basic.example.com").length;
    await Promise.all([helpers.get("krmunit", "basic.example.com"), helpers.get("krmunit", "basic.example.com")]);
    await assert.rejects(helpers.get("krmunit", "broken.example.com"));
    const calls = (await log()).split("\n");
    assert.equal(calls.filter((l) => l === "basic.example.com").length, before);
    assert.equal(calls.filter((l) => l === "broken.example.com").length, 1);
  });
});
