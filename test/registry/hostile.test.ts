// What a broken or hostile registry may answer, injected per request by our
// fault proxy in front of a real registry (distribution 2.8.2): manifests that
// are not JSON or not a manifest type we asked for, malformed and
// non-sha256 digest headers, bodies that do not match their digest, a HEAD
// that disagrees with the GET; and the bounds: huge and endless bodies, slow
// drip, redirect loops, huge headers and challenges, a token service that
// never answers. Each must end in a one-line RegistryError naming the
// registry and image, never a crash and never a pin other than the sha256 of
// the manifest the registry serves.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createSecureServer } from "node:http2";
import type { Http2Session } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, beforeEach, describe, test } from "node:test";
import { parse } from "yaml";
import { MAX_MANIFEST_BYTES, MAX_REDIRECTS } from "../../src/registry/transport.js";
import { elapsed, rejectsWith, resolve, useServer, withClient } from "../support/client-helpers.js";
import { createCa } from "../support/certs.js";
import { startFaultProxy } from "../support/fault-proxy.js";
import type { FaultProxy, Rule } from "../support/fault-proxy.js";
import { startRegistry } from "../support/registry.js";
import { runFn } from "../support/run-fn.js";
import { MediaType, pushDockerManifestList, pushOciManifest } from "../support/seed.js";
import type { PushedManifest } from "../support/seed.js";
import { startTokenServer } from "../support/token-server.js";

const MANIFEST = /\/manifests\//;
const hex = (n: number, c = "a"): string => c.repeat(n);

function manifests(proxy: FaultProxy, method: "HEAD" | "GET"): number {
  return proxy.requests.filter((r) => r.method === method && MANIFEST.test(r.path)).length;
}

describe("hostile manifest answers in front of a real registry", () => {
  const registry = useServer(() => startRegistry());
  const proxy = useServer(() => startFaultProxy(registry()));
  let oci: PushedManifest;
  let list: PushedManifest;
  const image = (tag = "v1"): string => `${proxy().host}/app:${tag}`;

  before(async () => {
    oci = await pushOciManifest(registry(), "app", "v1");
    list = await pushDockerManifestList(registry(), "app", "list");
  });
  beforeEach(() => proxy().reset());

  /** Scripts the rules and expects PROTOCOL whose message matches `pattern`, naming registry and image. */
  async function refused(pattern: RegExp, ...rules: Rule[]): Promise<void> {
    proxy().script(...rules);
    await withClient({}, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "PROTOCOL");
      assert.match(err.message, pattern);
      assert.ok(err.message.startsWith(`registry ${proxy().host} sent an unexpected response: `), err.message);
      assert.ok(err.message.includes(`(image ${image()})`), err.message);
      assert.ok(err.message.length < 600, `message of ${err.message.length} characters`);
    });
  }

  describe("media types", () => {
    test("a manifest body that is not JSON (a login page) is refused, naming its size and type", async () => {
      const page = "<html><body>Please log in</body></html>";
      await refused(
        /the manifest body is not JSON \(\d+ bytes, Content-Type "application\/vnd\.oci\.image\.manifest\.v1\+json"\)/,
        { method: "HEAD", path: MANIFEST, fault: { kind: "strip-digest" } },
        { method: "GET", path: MANIFEST, fault: { kind: "body", body: page, headers: { "docker-content-digest": null } } },
      );
    });

    test("a JSON body that is not an object is refused", async () => {
      await refused(
        /the manifest body is not a JSON object/,
        { method: "HEAD", path: MANIFEST, fault: { kind: "strip-digest" } },
        { method: "GET", path: MANIFEST, fault: { kind: "body", body: "[1,2]", headers: { "docker-content-digest": null } } },
      );
    });

    test("HEAD with a Content-Type that is no manifest type (text/html) is refused even with a digest", async () => {
      await refused(/Content-Type "text\/html", which is not one of the manifest media types asked for/, {
        method: "HEAD",
        path: MANIFEST,
        fault: { kind: "headers", set: { "content-type": "text/html; charset=utf-8" } },
      });
      assert.equal(manifests(proxy(), "GET"), 0);
    });

    test("HEAD without Content-Type: the GET's body says what it is, and its sha256 is the pin", async () => {
      proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "headers", set: { "content-type": null } } });
      await withClient({}, async (client) => {
        assert.equal(await resolve(client, image()), oci.digest);
        assert.deepEqual([manifests(proxy(), "HEAD"), manifests(proxy(), "GET")], [1, 1]);
      });
    });

    test("Content-Type application/json on both: the body's mediaType decides", async () => {
      proxy().script({ path: MANIFEST, fault: { kind: "headers", set: { "content-type": "application/json" } } });
      await withClient({}, async (client) => {
        assert.equal(await resolve(client, `${proxy().host}/app:list`), list.digest);
      });
    });

    test("an OCI manifest without mediaType and a generic Content-Type is known by its shape", async () => {
      const body = JSON.stringify({ schemaVersion: 2, config: { mediaType: MediaType.ociConfig, digest: `sha256:${hex(64)}`, size: 2 }, layers: [] });
      proxy().script(
        { method: "HEAD", path: MANIFEST, fault: { kind: "strip-digest" } },
        { method: "GET", path: MANIFEST, fault: { kind: "body", body, headers: { "content-type": "application/json", "docker-content-digest": null } } },
      );
      await withClient({}, async (client) => {
        assert.equal(await resolve(client, image()), `sha256:${createHash("sha256").update(body).digest("hex")}`);
      });
    });

    test("a body whose mediaType contradicts its Content-Type is refused", async () => {
      const body = Buffer.from(JSON.stringify({ ...JSON.parse(oci.body.toString()), mediaType: MediaType.dockerManifest }));
      await refused(
        /Content-Type is application\/vnd\.oci\.image\.manifest\.v1\+json, but its mediaType says application\/vnd\.docker\.distribution\.manifest\.v2\+json/,
        { method: "HEAD", path: MANIFEST, fault: { kind: "strip-digest" } },
        { method: "GET", path: MANIFEST, fault: { kind: "body", body, headers: { "docker-content-digest": null } } },
      );
    });

    test("a body with a mediaType we did not ask for (an artifact manifest) is refused", async () => {
      const body = JSON.stringify({ mediaType: "application/vnd.oci.artifact.manifest.v1+json", blobs: [] });
      await refused(
        /the manifest's mediaType "application\/vnd\.oci\.artifact\.manifest\.v1\+json" is not one of the manifest media types asked for/,
        { method: "HEAD", path: MANIFEST, fault: { kind: "strip-digest" } },
        { method: "GET", path: MANIFEST, fault: { kind: "body", body, headers: { "content-type": "application/json", "docker-content-digest": null } } },
      );
    });

    test("a schema 1 body is refused, whatever its Content-Type says", async () => {
      await refused(
        /deprecated schema 1 manifest/,
        { method: "HEAD", path: MANIFEST, fault: { kind: "strip-digest" } },
        { method: "GET", path: MANIFEST, fault: { kind: "body", body: JSON.stringify({ schemaVersion: 1, name: "app", tag: "v1", fsLayers: [] }), headers: { "content-type": "application/json" } } },
      );
    });

    test("JSON of no manifest shape and no media type is refused", async () => {
      await refused(
        /neither the Content-Type \("application\/json"\) nor the body says which manifest media type this is/,
        { method: "HEAD", path: MANIFEST, fault: { kind: "strip-digest" } },
        { method: "GET", path: MANIFEST, fault: { kind: "body", body: `{"hello":"world"}`, headers: { "content-type": "application/json", "docker-content-digest": null } } },
      );
    });

    test("a huge Content-Type is quoted cut short", async () => {
      await refused(/Content-Type "x{80}"… \(9000 characters\)/, { method: "HEAD", path: MANIFEST, fault: { kind: "headers", set: { "content-type": hex(9000, "x") } } });
    });
  });

  describe("digest headers", () => {
    const malformed: readonly [string, string | readonly string[], RegExp][] = [
      ["sha256: and garbage", "sha256:not-a-digest", /is not a valid digest \(the sha256 part is not lowercase hex\)/],
      ["sha256 of the wrong length", `sha256:${hex(63)}`, /a sha256 digest has 64 hex digits, not 63/],
      ["upper-case hex", `sha256:${hex(64, "A")}`, /not lowercase hex/],
      ["an unknown algorithm", `md5:${hex(32)}`, /algorithm "md5" is not one of sha256, sha384, sha512/],
      ["no algorithm", hex(64), /no algorithm:hex form/],
      ["two different values", [`sha256:${hex(64)}`, `sha256:${hex(64, "b")}`], /several different values/],
      ["sha512 of the wrong length", `sha512:${hex(64)}`, /a sha512 digest has 128 hex digits, not 64/],
    ];
    for (const [what, value, pattern] of malformed) {
      test(`${what} on HEAD and GET: PROTOCOL naming the header, after one GET`, async () => {
        await refused(pattern, { path: MANIFEST, fault: { kind: "headers", set: { "docker-content-digest": value } } });
        assert.deepEqual([manifests(proxy(), "HEAD"), manifests(proxy(), "GET")], [1, 1]);
      });
    }

    test("a malformed digest on HEAD only: the GET's verified digest is pinned", async () => {
      proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "headers", set: { "docker-content-digest": "sha256:zz" } } });
      await withClient({}, async (client) => {
        assert.equal(await resolve(client, image()), oci.digest);
      });
    });

    test("sha512 on HEAD and GET, true of the body: verified, and the pin is the body's sha256", async () => {
      const sha512 = `sha512:${createHash("sha512").update(oci.body).digest("hex")}`;
      proxy().script({ path: MANIFEST, fault: { kind: "headers", set: { "docker-content-digest": sha512 } } });
      await withClient({}, async (client) => {
        assert.equal(await resolve(client, image()), oci.digest);
        assert.deepEqual([manifests(proxy(), "HEAD"), manifests(proxy(), "GET")], [1, 1], "a sha512 HEAD is checked by a GET");
      });
    });

    test("sha512 on GET that is not the body's: PROTOCOL naming both", async () => {
      const wrong = `sha512:${hex(128, "c")}`;
      const actual = `sha512:${createHash("sha512").update(oci.body).digest("hex")}`;
      await refused(new RegExp(`manifest body hashes to ${actual}, but Docker-Content-Digest says ${wrong}`), {
        path: MANIFEST,
        fault: { kind: "headers", set: { "docker-content-digest": wrong } },
      });
    });

    test("a body changed on the way (the registry's digest kept): PROTOCOL, not a pin of the changed body", async () => {
      const tampered = Buffer.from(oci.body.toString().replace("}", ` }`));
      const actual = `sha256:${createHash("sha256").update(tampered).digest("hex")}`;
      await refused(
        new RegExp(`manifest body hashes to ${actual}, but Docker-Content-Digest says ${oci.digest}`),
        { method: "HEAD", path: MANIFEST, fault: { kind: "strip-digest" } },
        { method: "GET", path: MANIFEST, fault: { kind: "body", body: tampered } },
      );
    });

    test("a HEAD digest that disagrees with the GET (when a GET is needed) is PROTOCOL naming both", async () => {
      const lie = `sha256:${hex(64, "d")}`;
      await refused(
        new RegExp(`the manifest HEAD said Docker-Content-Digest ${lie}, but the manifest GET's body hashes to ${oci.digest}`),
        // A generic type makes the HEAD insufficient; the GET carries no digest of its own.
        { method: "HEAD", path: MANIFEST, fault: { kind: "headers", set: { "docker-content-digest": lie, "content-type": "application/json" } } },
        { method: "GET", path: MANIFEST, fault: { kind: "strip-digest" } },
      );
    });

    test("a well-formed sha256 on a HEAD with a manifest type is the registry's word: one HEAD, no GET", async () => {
      await withClient({}, async (client) => {
        assert.equal(await resolve(client, image()), oci.digest);
        assert.deepEqual([manifests(proxy(), "HEAD"), manifests(proxy(), "GET")], [1, 0]);
      });
    });
  });

  describe("bounds", () => {
    test(`an endless manifest body ends at ${MAX_MANIFEST_BYTES / 1024 / 1024} MiB with PROTOCOL`, async () => {
      await refused(
        /the manifest from 127\.0\.0\.1:\d+ is larger than 4 MiB, the most krm-digester reads/,
        { method: "HEAD", path: MANIFEST, fault: { kind: "strip-digest" } },
        { method: "GET", path: MANIFEST, fault: { kind: "endless", headers: { "content-type": MediaType.ociManifest } } },
      );
    });

    test("an endless error body is cut at 64 KiB: the status is reported", async () => {
      proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "status", status: 404 } }, { method: "GET", path: MANIFEST, fault: { kind: "endless", status: 500 } });
      await withClient({ retry: { retries: 1 } }, async (client) => {
        const err = await rejectsWith(resolve(client, image()), "SERVER");
        assert.match(err.message, /failed: HTTP 500, after 1 retry/);
      });
    });

    test("a body that drips one byte at a time is TIMEOUT within the request timeout", async () => {
      proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "strip-digest" } }, { method: "GET", path: MANIFEST, fault: { kind: "drip", intervalMs: 20 } });
      await withClient({ timeoutMs: 700 }, async (client) => {
        const { value: err, ms } = await elapsed(() => rejectsWith(resolve(client, image()), "TIMEOUT"));
        assert.match(err.message, /the response body stalled and was not complete within 700ms/);
        assert.ok(ms < 5000, `took ${Math.round(ms)} ms`);
        assert.equal(manifests(proxy(), "GET"), 1, "a timeout is not retried");
      });
    });

    test(`a redirect loop ends after ${MAX_REDIRECTS} redirects`, async () => {
      await refused(new RegExp(`more than ${MAX_REDIRECTS} redirects from 127\\.0\\.0\\.1:\\d+`), {
        method: "HEAD",
        path: MANIFEST,
        fault: { kind: "redirect", location: (path) => path },
      });
      assert.equal(manifests(proxy(), "HEAD"), MAX_REDIRECTS + 1);
    });

    test("a redirect with an endless body: the body is dropped after 128 KiB and the redirect followed", async () => {
      proxy().script({ method: "GET", path: /manifests\/v1$/, times: 1, fault: { kind: "endless", status: 307, headers: { location: "/v2/app/manifests/v1?moved=1" } } });
      proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "status", status: 405 } });
      await withClient({}, async (client) => {
        assert.equal(await resolve(client, image()), oci.digest);
      });
    });

    test("a redirect to something that is not a URL is PROTOCOL", async () => {
      await refused(/redirected to "http:\/\/\[nope", which is not a URL/, { method: "HEAD", path: MANIFEST, fault: { kind: "redirect", location: "http://[nope" } });
    });

    test("response headers over undici's limit are PROTOCOL saying so", async () => {
      await refused(/the response headers from 127\.0\.0\.1:\d+ are larger than 16 KiB, the most krm-digester reads/, {
        method: "HEAD",
        path: MANIFEST,
        fault: { kind: "huge-header", name: "x-filler", bytes: 64 * 1024 },
      });
      assert.equal(manifests(proxy(), "HEAD"), 1, "not retried");
    });

    test("an error message of 60 KB from the registry is cut short in ours", async () => {
      const body = JSON.stringify({ errors: [{ code: "DENIED", message: hex(60_000, "m") }] });
      proxy().script({ method: "HEAD", path: MANIFEST, fault: { kind: "status", status: 404 } }, { method: "GET", path: MANIFEST, fault: { kind: "status", status: 403, body } });
      await withClient({}, async (client) => {
        const err = await rejectsWith(resolve(client, image()), "DENIED");
        assert.ok(err.message.length < 600, `message of ${err.message.length} characters`);
        assert.match(err.message, /… \(\d+ characters\)/);
      });
    });
  });
});

describe("a server that drips its response head", () => {
  // Raw TCP: one byte of a never-ending header every 50 ms, so no single read is ever idle for long.
  const server = useServer(async () => {
    const sockets = new Set<Socket>();
    const timers = new Set<NodeJS.Timeout>();
    const s = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.once("data", () => {
        socket.write("HTTP/1.1 200 OK\r\nx-drip: ");
        const timer = setInterval(() => socket.write("a"), 50);
        timers.add(timer);
        socket.once("close", () => clearInterval(timer));
      });
    });
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    return {
      port: (s.address() as AddressInfo).port,
      stop: () =>
        new Promise<void>((r) => {
          for (const t of timers) clearInterval(t);
          for (const socket of sockets) socket.destroy();
          s.close(() => r());
        }),
    };
  });

  test("is TIMEOUT within the request timeout (the deadline covers the head, not just idle gaps)", async () => {
    await withClient({ timeoutMs: 800, connectTimeoutMs: 800 }, async (client) => {
      const { value: err, ms } = await elapsed(() => rejectsWith(resolve(client, `127.0.0.1:${server().port}/app:v1`), "TIMEOUT"));
      assert.match(err.message, /did not answer in time: no response within 800ms/);
      assert.ok(ms < 5000, `took ${Math.round(ms)} ms`);
    });
  });
});

describe("hostile token services", () => {
  const tokens = useServer(() => startTokenServer());
  const front = useServer(() => startFaultProxy({ url: tokens().url }));
  const registry = useServer(() => startRegistry({ token: { ...tokens().registryConfig, realm: `${front().url}/token` } }));
  let pushed: PushedManifest;
  const image = (): string => `${registry().host}/app:v1`;
  before(async () => {
    pushed = await pushOciManifest({ ...registry(), authorization: (repo: string) => tokens().pushAuthorization(repo) }, "app", "v1");
  });
  beforeEach(() => front().reset());

  test("the setup works: a token, then the pin", async () => {
    await withClient({}, async (client) => assert.equal(await resolve(client, image()), pushed.digest));
  });

  test("a token service that never answers is TIMEOUT naming it, within the request timeout", async () => {
    front().script({ path: /^\/token/, fault: { kind: "stall" } });
    await withClient({ timeoutMs: 600 }, async (client) => {
      const { value: err, ms } = await elapsed(() => rejectsWith(resolve(client, image()), "TIMEOUT"));
      assert.match(err.message, /^token service 127\.0\.0\.1:\d+ of registry 127\.0\.0\.1:\d+ did not answer in time: no response within 600ms/);
      assert.ok(ms < 5000, `took ${Math.round(ms)} ms`);
    });
  });

  test("an endless token response ends at 1 MiB", async () => {
    front().script({ path: /^\/token/, fault: { kind: "endless" } });
    await withClient({}, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "PROTOCOL");
      assert.match(err.message, /^token service 127\.0\.0\.1:\d+ of registry .*the token response from 127\.0\.0\.1:\d+ is larger than 1 MiB/);
    });
  });

  test("a token response that drips is TIMEOUT", async () => {
    front().script({ path: /^\/token/, fault: { kind: "drip", intervalMs: 20 } });
    await withClient({ timeoutMs: 600 }, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "TIMEOUT");
      assert.match(err.message, /token service .*the response body stalled/);
    });
  });

  test("a token response that is not JSON is PROTOCOL", async () => {
    front().script({ path: /^\/token/, fault: { kind: "body", body: "<html>", headers: { "content-type": "text/html" } } });
    await withClient({}, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "PROTOCOL");
      assert.match(err.message, /token response is not JSON/);
    });
  });
});

describe("hostile challenges", () => {
  const registry = useServer(() => startRegistry());
  const proxy = useServer(() => startFaultProxy(registry()));
  beforeEach(() => proxy().reset());
  const image = (): string => `${proxy().host}/app:v1`;
  const challenge = (value: string): Rule => ({ path: /^\/v2\//, fault: { kind: "status", status: 401, headers: { "www-authenticate": value } } });

  test("a 15 KB challenge whose realm is not a URL: PROTOCOL with the realm cut short", async () => {
    proxy().script(challenge(`Bearer realm="${hex(15_000, "r")}",service="s"`));
    await withClient({}, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "PROTOCOL");
      assert.match(err.message, /token realm "r{100}"… \(15000 characters\) is not a URL/);
      assert.ok(err.message.length < 600);
    });
  });

  test("a challenge of thousands of parameters and an unterminated quote parses without trouble", async () => {
    const many = Array.from({ length: 1500 }, (_, i) => `p${i}="v"`).join(",");
    proxy().script(challenge(`Bearer ${many},realm="unterminated`));
    await withClient({}, async (client) => {
      const { value: err, ms } = await elapsed(() => rejectsWith(resolve(client, image()), "UNAUTHORIZED"));
      assert.match(err.message, /HTTP 401 without a Basic or Bearer challenge|anonymous pull is not allowed/);
      assert.ok(ms < 5000, `took ${Math.round(ms)} ms`);
    });
  });

  test("a challenge over the header limit is PROTOCOL saying so", async () => {
    proxy().script({ path: /^\/v2\//, fault: { kind: "huge-header", status: 401, name: "www-authenticate", prefix: 'Bearer realm="', bytes: 40_000 } });
    await withClient({}, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "PROTOCOL");
      assert.match(err.message, /response headers from 127\.0\.0\.1:\d+ are larger than 16 KiB/);
    });
  });
});

describe("hostile answers through the built function", () => {
  const PASSWORD = "hostile-secret-pw";
  const registry = useServer(() => startRegistry({ htpasswd: { user: "u", password: PASSWORD } }));
  const proxy = useServer(() => startFaultProxy(registry()));
  const other = useServer(() => startFaultProxy(registry()));
  const paths = ["notjson", "html", "baddigest", "mismatch", "endless", "loop", "hugeheader", "schema1"];
  before(async () => {
    await pushOciManifest(registry(), "ok/app", "v1");
    for (const repo of paths) await pushOciManifest(registry(), `${repo}/app`, "v1");
    const at = (repo: string): RegExp => new RegExp(`^/v2/${repo}/app/manifests/`);
    proxy().script(
      { method: "HEAD", path: /^\/v2\/(notjson|mismatch|endless|schema1)\//, fault: { kind: "strip-digest" } },
      { method: "GET", path: at("notjson"), fault: { kind: "body", body: "<html>", headers: { "docker-content-digest": null } } },
      { path: at("html"), fault: { kind: "headers", set: { "content-type": "text/html" } } },
      { path: at("baddigest"), fault: { kind: "headers", set: { "docker-content-digest": "sha512:abc" } } },
      { method: "GET", path: at("mismatch"), fault: { kind: "wrong-digest" } },
      { method: "GET", path: at("endless"), fault: { kind: "endless", headers: { "content-type": MediaType.ociManifest } } },
      { path: at("loop"), fault: { kind: "redirect", location: (path) => path } },
      { path: at("hugeheader"), fault: { kind: "huge-header", name: "x-filler", bytes: 40_000 } },
      { method: "GET", path: at("schema1"), fault: { kind: "body", body: `{"schemaVersion":1}`, headers: { "content-type": "application/json" } } },
    );
  });

  test("each hostile answer is an error result naming the image (exit 1, never 3, no pin); the good image is pinned; another registry gets no credentials", async () => {
    const dir = await mkdtemp(join(tmpdir(), "krm-digester-hostile-"));
    try {
      // Credentials for the front registry only: the other host must never see them.
      await writeFile(join(dir, "config.json"), JSON.stringify({ auths: { [proxy().host]: { auth: Buffer.from(`u:${PASSWORD}`).toString("base64") } } }));
      const images = [...paths.map((p) => `${proxy().host}/${p}/app:v1`), `${proxy().host}/ok/app:v1`, `${other().host}/ok/app:v1`];
      const items = images.map((img, i) => `- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p${i}\n  spec:\n    containers:\n    - name: c\n      image: ${img}\n`);
      const run = await runFn(`apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items.join("")}`, {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, DOCKER_CONFIG: dir },
      });
      assert.equal(run.code, 1, run.stderr);
      assert.ok(!/internal error/.test(run.stderr), run.stderr);
      assert.ok(!run.stderr.includes(PASSWORD));
      const out = parse(run.stdout) as { items: { spec: { containers: { image: string }[] } }[]; results: { severity: string; message: string }[] };
      const pinned = out.items.map((i) => i.spec.containers[0]?.image ?? "");
      for (const [i, repo] of paths.entries()) assert.equal(pinned[i], `${proxy().host}/${repo}/app:v1`, `${repo} not pinned`);
      assert.match(pinned[paths.length] ?? "", /@sha256:[a-f0-9]{64}$/, "the good image is pinned");
      const errors = out.results.filter((r) => r.severity === "error").map((r) => r.message);
      assert.equal(errors.length, paths.length + 1, errors.join("\n"));
      for (const [i, repo] of paths.entries()) {
        assert.ok(errors[i]?.includes(`${proxy().host}/${repo}/app:v1`) && errors[i]?.includes("sent an unexpected response"), errors[i]);
      }
      assert.match(errors[paths.length] ?? "", /requires a username and password and none is configured/);
      assert.ok(proxy().requests.some((r) => r.authorization?.startsWith("Basic ")), "the front registry got the credentials");
      assert.ok(other().requests.length > 0);
      for (const r of other().requests) assert.equal(r.authorization, undefined, "credentials for one registry went to another");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("hostile answers over HTTP/2", () => {
  // A TLS server of ours that speaks only h2 (as distribution with TLS does), for what an HTTP/1.1 fault proxy cannot show.
  type Mode = "huge-header" | "endless" | "drip";
  let mode: Mode = "endless";
  const ca = useServer(async () => {
    const made = await createCa();
    return { ...made, stop: () => made.remove() };
  });
  const server = useServer(async () => {
    const tls = await ca().issue(["127.0.0.1"]);
    const sessions = new Set<Http2Session>();
    const s = createSecureServer({ key: tls.key, cert: tls.cert });
    s.on("session", (session) => {
      sessions.add(session);
      session.on("error", () => undefined);
      session.once("close", () => sessions.delete(session));
    });
    s.on("stream", (stream, headers) => {
      stream.on("error", () => undefined);
      const path = String(headers[":path"]);
      if (path === "/v2/") {
        stream.respond({ ":status": 200, "content-type": "application/json" });
        stream.end("{}");
        return;
      }
      const head = headers[":method"] === "HEAD";
      if (mode === "huge-header") {
        stream.respond({ ":status": 200, "content-type": MediaType.ociManifest, "x-filler": "a".repeat(100_000) });
        stream.end();
        return;
      }
      stream.respond({ ":status": 200, "content-type": MediaType.ociManifest });
      if (head) {
        stream.end();
        return;
      }
      const chunk = Buffer.alloc(mode === "drip" ? 1 : 64 * 1024, "[");
      const timer = setInterval(() => {
        if (stream.destroyed || stream.closed) clearInterval(timer);
        else stream.write(chunk);
      }, mode === "drip" ? 20 : 1);
      stream.once("close", () => clearInterval(timer));
    });
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    return {
      port: (s.address() as AddressInfo).port,
      stop: () =>
        new Promise<void>((r) => {
          for (const session of sessions) session.destroy();
          s.close(() => r());
        }),
    };
  });
  const image = (): string => `127.0.0.1:${server().port}/app:v1`;

  test("an endless manifest body ends at 4 MiB", async () => {
    mode = "endless";
    await withClient({ env: { SSL_CERT_FILE: ca().caFile } }, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "PROTOCOL");
      assert.match(err.message, /the manifest from 127\.0\.0\.1:\d+ is larger than 4 MiB/);
    });
  });

  test("a dripping body is TIMEOUT", async () => {
    mode = "drip";
    await withClient({ env: { SSL_CERT_FILE: ca().caFile }, timeoutMs: 700 }, async (client) => {
      const { value: err, ms } = await elapsed(() => rejectsWith(resolve(client, image()), "TIMEOUT"));
      assert.match(err.message, /the response body stalled and was not complete within 700ms/);
      assert.ok(ms < 5000);
    });
  });

  test("headers over the HTTP/2 header list limit are PROTOCOL, not retried", async () => {
    mode = "huge-header";
    await withClient({ env: { SSL_CERT_FILE: ca().caFile } }, async (client) => {
      const err = await rejectsWith(resolve(client, image()), "PROTOCOL");
      assert.match(err.message, /larger than/);
      assert.equal(client.stats.retries, 0);
    });
  });
});
