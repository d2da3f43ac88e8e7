// TLS against a real registry serving HTTPS with a throwaway CA: trusted
// through SSL_CERT_FILE, SSL_CERT_DIR and NODE_EXTRA_CA_CERTS (kept when
// another CA is added), untrusted with an error saying how to trust it, and
// never a silent step down to plain HTTP. Ends with the built function.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import type { Result } from "../../src/results.js";
import { rejectsWith, resolve, useServer, withClient } from "../support/client-helpers.js";
import { createCa } from "../support/certs.js";
import type { TestCa } from "../support/certs.js";
import { startFaultProxy } from "../support/fault-proxy.js";
import { startForwardProxy } from "../support/forward-proxy.js";
import { startRegistry } from "../support/registry.js";
import { pushImage } from "../support/seed.js";
import type { PushedManifest } from "../support/seed.js";
import { runFn } from "../support/run-fn.js";

describe("a TLS registry with a private CA", () => {
  const registry = useServer(() => startRegistry({ tls: true }));
  let seeded: PushedManifest | undefined;
  let other: TestCa | undefined;
  let dir = "";
  const caFile = (): string => registry().caFile ?? assert.fail("registry without CA");
  const image = (): string => `${registry().host}/secure/app:v1`;
  before(async () => {
    seeded = await pushImage(registry(), { repository: "secure/app", tag: "v1", kind: "docker-manifest-list" });
    other = await createCa("some other CA");
    dir = await mkdtemp(join(tmpdir(), "krm-digester-tls-"));
  });
  after(async () => {
    other?.remove();
    await rm(dir, { recursive: true, force: true });
  });

  test("untrusted: TLS naming the host, the problem and what is trusted; the hint says how to trust it", async () => {
    await withClient({}, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "TLS");
      const host = registry().host.replace(/\./g, "\\.");
      assert.match(
        err.message,
        new RegExp(
          `^TLS connection to registry ${host} failed: the certificate of ${host} is issued by a CA that is not trusted ` +
            `\\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\\); trusted CAs: Node's bundled CAs \\(image ${host}/secure/app:v1\\)$`,
        ),
      );
      assert.match(err.hint, /SSL_CERT_FILE/);
      assert.match(err.hint, /NODE_EXTRA_CA_CERTS/);
      assert.match(err.hint, /container, mount the file/);
      // Loopback may speak plain HTTP; this port answers it with 400, so the certificate error stands.
      assert.equal(client.stats.ping, 2);
    });
  });

  test("trusted through SSL_CERT_FILE", async () => {
    await withClient({ env: { SSL_CERT_FILE: caFile() } }, async (client) => {
      assert.equal(await resolve(client, image()), seeded?.digest);
      // HTTPS and, this being loopback, plain HTTP side by side (the port answers it 400).
      assert.deepEqual([client.stats.ping, client.stats.head], [2, 1]);
    });
  });

  test("trusted through SSL_CERT_FILE holding a bundle with the CA among others", async () => {
    const bundle = join(dir, "bundle.pem");
    await writeFile(bundle, `# a comment\n${other?.caPem ?? ""}\n${registry().caPem ?? ""}`);
    await withClient({ env: { SSL_CERT_FILE: bundle } }, async (client) => {
      assert.equal(await resolve(client, image()), seeded?.digest);
      assert.match(client.trust, /SSL_CERT_FILE=.*bundle\.pem \(2 certificates\)/);
    });
  });

  test("trusted through SSL_CERT_DIR (hashed symlinks, other files ignored, ':'-separated list)", async () => {
    const certs = join(dir, "certs");
    await mkdir(join(certs, "sub"), { recursive: true });
    await writeFile(join(certs, "registry-ca.pem"), registry().caPem ?? "");
    await symlink(join(certs, "registry-ca.pem"), join(certs, "0a1b2c3d.0"));
    await writeFile(join(certs, "README"), "not a certificate\n");
    await withClient({ env: { SSL_CERT_DIR: `${join(dir, "missing")}:${certs}` } }, async (client) => {
      assert.equal(await resolve(client, image()), seeded?.digest);
      assert.match(client.trust, /SSL_CERT_DIR=.*missing \(not readable: ENOENT\) \+ SSL_CERT_DIR=.*certs \(1 certificate\)/);
    });
  });

  test("NODE_EXTRA_CA_CERTS keeps working when SSL_CERT_FILE adds another CA", async () => {
    const otherFile = other?.caFile ?? assert.fail("no CA");
    await withClient({ env: { NODE_EXTRA_CA_CERTS: caFile(), SSL_CERT_FILE: otherFile } }, async (client) => {
      assert.equal(await resolve(client, image()), seeded?.digest);
    });
    // The other CA alone does not make the registry trusted: the first case really went through NODE_EXTRA_CA_CERTS.
    await withClient({ env: { SSL_CERT_FILE: otherFile } }, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "TLS");
      assert.match(err.message, /trusted CAs: Node's bundled CAs \+ SSL_CERT_FILE=.* \(1 certificate\)/);
    });
  });

  test("a CA file that cannot be read is named in the TLS error", async () => {
    await withClient({ env: { SSL_CERT_FILE: join(dir, "nope.pem") } }, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "TLS");
      assert.match(err.message, /SSL_CERT_FILE=.*nope\.pem \(not readable: ENOENT\)/);
    });
  });
});

describe("no silent downgrade to plain HTTP", () => {
  // Names that are not loopback reach loopback servers through the forward proxy's host table.
  const ca = useServer(async () => {
    const made = await createCa();
    return { ...made, stop: () => made.remove() };
  });
  const plain = useServer(() => startRegistry());
  const front = useServer(async () => startFaultProxy(plain(), { tls: await ca().issue(["127.0.0.1", "registry.test"]) }));
  const proxy = useServer(() => startForwardProxy({ hosts: { "plain.test": "127.0.0.1", "registry.test": "127.0.0.1", "elsewhere.test": "127.0.0.1" } }));
  let seeded: PushedManifest | undefined;
  before(async () => {
    seeded = await pushImage(plain(), { repository: "app", tag: "v1", kind: "oci-manifest" });
  });
  const env = (): Record<string, string> => ({ HTTPS_PROXY: proxy().url, HTTP_PROXY: proxy().url, SSL_CERT_FILE: ca().caFile });

  test("a plain-HTTP registry that is not loopback: a TLS error, no HTTP attempt", async () => {
    proxy().reset();
    await withClient({ env: env() }, async (client) => {
      const err = await rejectsWith(resolve(client, `plain.test:${plain().port}/app:v1`), "TLS");
      assert.match(err.message, new RegExp(`plain\\.test:${plain().port} does not speak TLS on this port`));
      assert.match(err.hint, /insecureRegistries/);
      assert.deepEqual(proxy().connects, [`plain.test:${plain().port}`]);
      assert.deepEqual(proxy().requests, [], "never asked over plain HTTP");
    });
  });

  test("the same registry listed in insecureRegistries: plain HTTP after HTTPS fails", async () => {
    proxy().reset();
    await withClient({ env: env(), insecureRegistries: ["plain.test"] }, async (client) => {
      assert.equal(await resolve(client, `plain.test:${plain().port}/app:v1`), seeded?.digest);
      assert.equal(proxy().connects.length, 1);
      assert.ok(proxy().requests.some((r) => r === `http://plain.test:${plain().port}/v2/`));
    });
  });

  test("a loopback HTTPS port that drops plain HTTP: HTTPS kept, the plain-HTTP guess not retried", async () => {
    await withClient({ env: { SSL_CERT_FILE: ca().caFile } }, async (client) => {
      assert.equal(await resolve(client, `127.0.0.1:${front().port}/app:v1`), seeded?.digest);
      assert.deepEqual([client.stats.ping, client.stats.retries], [2, 0]);
    });
  });

  test("a certificate for another name is TLS saying so", async () => {
    await withClient({ env: env() }, async (client) => {
      const err = await rejectsWith(resolve(client, `elsewhere.test:${front().port}/app:v1`), "TLS");
      assert.match(err.message, /the certificate of elsewhere\.test:\d+ is not issued for that name/);
    });
  });

  test("an HTTPS registry redirecting to plain HTTP elsewhere is refused", async () => {
    front().reset();
    front().script({ method: "HEAD", path: /manifests/, fault: { kind: "status", status: 307, headers: { location: "http://cdn.example.invalid/x" } } });
    await withClient({ env: env() }, async (client) => {
      const err = await rejectsWith(resolve(client, `registry.test:${front().port}/app:v1`), "PROTOCOL");
      assert.match(err.message, /redirected from HTTPS to plain HTTP \(http:\/\/cdn\.example\.invalid\), which was refused/);
    });
  });
});

describe("the built function and TLS", () => {
  const registry = useServer(() => startRegistry({ tls: true }));
  let seeded: PushedManifest | undefined;
  let other: TestCa | undefined;
  before(async () => {
    seeded = await pushImage(registry(), { repository: "secure/app", tag: "v1", kind: "oci-index" });
    other = await createCa("some other CA");
  });
  after(() => other?.remove());
  const input = (): string =>
    `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec:\n    containers:\n    - name: c\n      image: ${registry().host}/secure/app:v1\n`;
  /** The environment without any CA or proxy setting of the machine running the tests. */
  const clean = (extra: Record<string, string>): NodeJS.ProcessEnv => {
    const env = { ...process.env };
    for (const name of ["SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]) delete env[name];
    return { ...env, ...extra };
  };

  test("an untrusted registry: exit 1, the TLS error and how to trust the CA, on stderr and in results", async () => {
    const run = await runFn(input(), { env: clean({}) });
    assert.equal(run.code, 1, run.stderr);
    const host = registry().host;
    assert.ok(
      run.stderr.includes(
        `TLS connection to registry ${host} failed: the certificate of ${host} is issued by a CA that is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE); trusted CAs: Node's bundled CAs (image ${host}/secure/app:v1). Trust the CA that signed the registry's certificate: set SSL_CERT_FILE`,
      ),
      run.stderr,
    );
    const results = (parse(run.stdout) as { results: Result[] }).results;
    assert.match(results[0]?.message ?? "", /TLS connection .* SSL_CERT_FILE .* mount the file/);
  });

  test("SSL_CERT_FILE trusts it", async () => {
    const run = await runFn(input(), { env: clean({ SSL_CERT_FILE: registry().caFile ?? "" }) });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.includes(`image: ${registry().host}/secure/app:v1@${seeded?.digest ?? "?"}`));
  });

  test("NODE_EXTRA_CA_CERTS, read by Node at start, still counts when SSL_CERT_FILE adds a CA", async () => {
    const run = await runFn(input(), { env: clean({ NODE_EXTRA_CA_CERTS: registry().caFile ?? "", SSL_CERT_FILE: other?.caFile ?? "" }) });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.includes(`@${seeded?.digest ?? "?"}`));
  });
});
