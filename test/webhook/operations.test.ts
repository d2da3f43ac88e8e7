// The webhook's operations and credentials: the serving certificate reloaded
// from --cert-dir without a restart or a dropped request, and the shared
// cache keyed by credential (one namespace's pull secret never resolves
// another's private image), against a real htpasswd + TLS registry.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Agent } from "undici";
import type { Cluster, KubeObject } from "../../src/cluster/api.js";
import { object, review } from "../support/admission.js";
import { useServer } from "../support/client-helpers.js";
import { createCa } from "../support/certs.js";
import { startRegistry } from "../support/registry.js";
import { pushOciManifest } from "../support/seed.js";
import { answer, patchOf, startTestWebhook, writePair } from "../support/webhook.js";
import type { TestWebhook } from "../support/webhook.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

describe("webhook: serving certificate reload", () => {
  const registry = useServer(() => startRegistry());
  let hook: TestWebhook;
  before(async () => {
    await pushOciManifest(registry(), "shop/web", "v1");
    hook = await startTestWebhook();
  });
  after(async () => {
    await hook.stop();
  });

  it("new tls.crt/tls.key are served to new connections; a kept-alive connection goes on answering", async () => {
    const body = () => review({ object: object({ kind: "Pod", containers: [{ name: "a", image: `${registry().host}/shop/web:v1` }] }) });
    // The API server keeps its connection open between reviews.
    const before = await hook.post(body());
    assert.equal(patchOf(answer(before)).length, 1);

    const ca2 = await createCa("krm-digester rotated CA");
    const agent2 = new Agent({ connect: { ca: ca2.caPem } });
    const freshOld = new Agent({ connect: { ca: hook.ca.caPem } });
    try {
      await writePair(hook.certDir, await ca2.issue(["127.0.0.1"]));
      let served = false;
      for (let i = 0; i < 200 && !served; i++) {
        served = await hook.post(body(), { agent: agent2 }).then(
          (r) => r.status === 200,
          () => false,
        );
        if (!served) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(served, "a new connection is served the new certificate");
      assert.ok(hook.logs.some((l) => l.msg === "serving certificate reloaded"));
      // The connection opened before the rotation is not dropped.
      assert.equal(patchOf(answer(await hook.post(body()))).length, 1);
      // And a new connection that trusts only the old CA no longer gets in.
      await assert.rejects(hook.post(body(), { agent: freshOld }));
      // A half-written pair (certificate without its key) is not taken: the server goes on.
      await writePair(hook.certDir, { key: "not a key", cert: (await ca2.issue(["127.0.0.1"])).cert });
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(hook.logs.some((l) => typeof l.msg === "string" && l.msg.includes("keeping the previous one")));
      assert.equal(patchOf(answer(await hook.post(body(), { agent: agent2 }))).length, 1);
      assert.equal((await hook.get("health", "/readyz")).status, 200);
    } finally {
      await Promise.all([agent2.close(), freshOld.close()]);
      ca2.remove();
    }
  });
});

describe("webhook: the cache is keyed by credential", () => {
  const USER = "team-a";
  const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;
  const registry = useServer(() => startRegistry({ tls: true, htpasswd: { user: USER, password: PASSWORD } }));
  const secrets = new Map<string, KubeObject[]>();
  const asked: string[] = [];
  let hook: TestWebhook;
  let digest = "";

  const pullSecret = (namespace: string, password: string): KubeObject => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "regcred", namespace },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": b64(JSON.stringify({ auths: { [registry().host]: { auth: b64(`${USER}:${password}`) } } })) },
  });

  before(async () => {
    digest = (await pushOciManifest(registry(), "private/app", "v1")).digest;
    // The cluster side (src/cluster/) reads these from the API; here they come from a table.
    const cluster: Cluster = {
      secret: () => Promise.resolve(undefined),
      serviceAccount: () => Promise.resolve(undefined),
      setWebhookCABundle: () => Promise.resolve(),
      reachable: () => Promise.resolve(true),
      close: () => Promise.resolve(),
    };
    hook = await startTestWebhook({
      env: { SSL_CERT_FILE: registry().caFile ?? "" },
      cluster: {
        cluster,
        pullSecretObjects: (namespace) => {
          asked.push(namespace);
          return Promise.resolve(secrets.get(namespace) ?? []);
        },
      },
    });
  });
  after(async () => {
    await hook.stop();
  });

  const pod = (namespace: string) =>
    review({ object: object({ kind: "Pod", namespace, imagePullSecrets: ["regcred"], containers: [{ name: "a", image: `${registry().host}/private/app:v1` }] }) });

  it("a namespace with the pull secret gets the pin; one without it, or with a wrong one, is not answered from the cache", async () => {
    secrets.set("team-a", [pullSecret("team-a", PASSWORD)]);
    secrets.set("team-c", [pullSecret("team-c", "wrong")]);
    const a = answer(await hook.post(pod("team-a")));
    assert.equal(patchOf(a)[0]?.value, `${registry().host}/private/app:v1@${digest}`);

    const b = answer(await hook.post(pod("team-b")));
    assert.equal(b.response.allowed, false);
    assert.match(b.response.status?.message ?? "", /refused to authorize|requires a username/);
    const c = answer(await hook.post(pod("team-c")));
    assert.equal(c.response.allowed, false);
    assert.match(c.response.status?.message ?? "", /rejected the username and password|refused to authorize/);
    assert.deepEqual(asked.slice(-3), ["team-a", "team-b", "team-c"]);

    // team-a again: from the cache, no new registry request.
    const heads = hook.running.stack.stats.head;
    assert.equal(patchOf(answer(await hook.post(pod("team-a")))).length, 1);
    assert.equal(hook.running.stack.stats.head, heads);
  });

  it("a pull secret rotated under the same name is a new credential: the old answer is not reused", async () => {
    secrets.set("team-a", [pullSecret("team-a", "revoked")]);
    const a = answer(await hook.post(pod("team-a")));
    assert.equal(a.response.allowed, false);
  });
});
