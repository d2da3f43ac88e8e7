// connectCluster against our fake Kubernetes API (test/support/kube-api.ts)
// over HTTPS with a bearer-token kubeconfig: reads, the TTL cache and its
// coalescing, the watch that keeps cached objects fresh (and its 410 restart),
// caBundle writes, and the messages for 403, 401, bad TLS and no API at all.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ClusterError } from "../../src/cluster/api.js";
import type { Cluster } from "../../src/cluster/api.js";
import { connectCluster } from "../../src/cluster/client.js";
import { createCa } from "../support/certs.js";
import { startKubeApi } from "../support/kube-api.js";
import type { KubeApi } from "../support/kube-api.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

function pullSecret(namespace: string, name: string, user: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": b64(JSON.stringify({ auths: { "registry.example.com": { auth: b64(`${user}:pw`) } } })) },
  };
}

function webhookConfiguration(name: string, webhooks: string[]): Record<string, unknown> {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name },
    webhooks: webhooks.map((w) => ({
      name: w,
      admissionReviewVersions: ["v1"],
      sideEffects: "None",
      clientConfig: { service: { name: "krm-digester", namespace: "krm-digester", path: "/v1/mutate" } },
    })),
  };
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function rejectsCluster(promise: Promise<unknown>, ...parts: string[]): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ClusterError, `expected a ClusterError, got ${String(err)}`);
    for (const p of parts) assert.ok(err.message.includes(p), `"${p}" missing from: ${err.message}`);
    assert.ok(!err.message.includes("\n"), "one line");
    return err.message;
  }
  assert.fail("expected a ClusterError");
}

const decodeBundle = (api: KubeApi, name: string): string[] => {
  const webhooks = (api.get("MutatingWebhookConfiguration", undefined, name)?.webhooks ?? []) as { clientConfig: { caBundle?: string } }[];
  return webhooks.map((w) => Buffer.from(w.clientConfig.caBundle ?? "", "base64").toString("utf8"));
};

describe("connectCluster: reads through the TTL cache", () => {
  let api: KubeApi;
  let cluster: Cluster;
  before(async () => {
    api = await startKubeApi();
    api.put(pullSecret("prod", "regcred", "alice"));
    api.put({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: "prod" }, imagePullSecrets: [{ name: "regcred" }] });
    cluster = await connectCluster({ kubeconfig: await api.writeKubeconfig(), cacheTtlMs: 60_000 });
  });
  after(async () => {
    await cluster.close();
    await api.stop();
  });

  it("reads a Secret and a ServiceAccount as the API serves them", async () => {
    const secret = await cluster.secret("prod", "regcred");
    assert.equal(secret?.kind, "Secret");
    assert.equal(secret?.metadata?.namespace, "prod");
    assert.equal(secret?.type, "kubernetes.io/dockerconfigjson");
    const sa = await cluster.serviceAccount("prod", "default");
    assert.deepEqual(sa?.imagePullSecrets, [{ name: "regcred" }]);
    assert.equal(api.requests.at(-1)?.path, "/api/v1/namespaces/prod/serviceaccounts/default");
  });

  it("answers undefined for an object that does not exist (404)", async () => {
    assert.equal(await cluster.secret("prod", "absent"), undefined);
    assert.equal(await cluster.serviceAccount("nowhere", "default"), undefined);
  });

  it("reuses a read within the TTL, and coalesces concurrent reads into one request", async () => {
    const before = api.requestCount({ verb: "get", resource: "secrets" });
    await cluster.secret("prod", "regcred");
    assert.equal(api.requestCount({ verb: "get", resource: "secrets" }), before, "cached");
    api.put(pullSecret("prod", "burst", "bob"));
    const all = await Promise.all(Array.from({ length: 20 }, () => cluster.secret("prod", "burst")));
    assert.ok(all.every((s) => s?.metadata?.name === "burst"));
    assert.equal(api.requestCount({ verb: "get", resource: "secrets" }), before + 1, "20 concurrent reads, one GET");
  });

  it("sends the kubeconfig's bearer token and verifies the server against its CA", async () => {
    const kubeconfig = await api.writeKubeconfig({ caData: false });
    const other = await connectCluster({ kubeconfig });
    try {
      assert.equal((await other.secret("prod", "regcred"))?.metadata?.name, "regcred");
    } finally {
      await other.close();
    }
  });
});

describe("connectCluster: expiry and watch", () => {
  let api: KubeApi;
  before(async () => {
    api = await startKubeApi();
  });
  after(async () => api.stop());

  it("reads again once the TTL has passed (no watch)", async () => {
    api.put(pullSecret("ttl", "regcred", "alice"));
    const cluster = await connectCluster({ kubeconfig: await api.writeKubeconfig(), cacheTtlMs: 30 });
    try {
      await cluster.secret("ttl", "regcred");
      api.put(pullSecret("ttl", "regcred", "carol"));
      await new Promise((r) => setTimeout(r, 60));
      const again = await cluster.secret("ttl", "regcred");
      assert.match(String((again?.data as Record<string, string>)[".dockerconfigjson"]), new RegExp(b64(JSON.stringify({ auths: { "registry.example.com": { auth: b64("carol:pw") } } })).slice(0, 20)));
      assert.equal(api.requestCount({ verb: "get", resource: "secrets" }), 2);
      assert.equal(api.requestCount({ verb: "watch" }), 0, "no watch unless asked");
    } finally {
      await cluster.close();
    }
  });

  it("with watch on, a changed or deleted object is seen before its TTL ends, without another GET", async () => {
    api.put(pullSecret("w", "regcred", "alice"));
    api.put({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: "w" } });
    const cluster = await connectCluster({ kubeconfig: await api.writeKubeconfig(), cacheTtlMs: 600_000, watch: true });
    try {
      const gets = api.requestCount({ verb: "get" });
      assert.ok(await cluster.secret("w", "regcred"));
      assert.ok(await cluster.serviceAccount("w", "default"));
      await until("two watches", () => Promise.resolve(api.watchers === 2));
      // The watch of Secrets asks the API for pull secrets only, and starts from now (a one-item list's version).
      const watch = api.requests.find((r) => r.verb === "watch" && r.resource === "secrets");
      assert.equal(watch?.query.get("fieldSelector"), "type=kubernetes.io/dockerconfigjson");
      assert.ok(watch?.query.get("resourceVersion"));
      api.put({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: "w" }, imagePullSecrets: [{ name: "regcred" }] });
      await until("the ServiceAccount change", async () => (await cluster.serviceAccount("w", "default"))?.imagePullSecrets !== undefined);
      api.remove("Secret", "w", "regcred");
      await until("the Secret's deletion", async () => (await cluster.secret("w", "regcred")) === undefined);
      api.put(pullSecret("w", "regcred", "dave"));
      await until("the Secret's re-creation", async () => (await cluster.secret("w", "regcred")) !== undefined);
      // An object nobody read is not cached by the watch.
      api.put(pullSecret("w", "unread", "erin"));
      assert.equal(api.requestCount({ verb: "get" }), gets + 2, "only the first two reads went to the API");
      assert.ok(await cluster.secret("w", "unread"));
      assert.equal(api.requestCount({ verb: "get" }), gets + 3);
    } finally {
      await cluster.close();
    }
    await until("the watches to close", () => Promise.resolve(api.watchers === 0));
  });

  it("restarts a watch the server ended, and lists again after 410 Expired", async () => {
    api.put({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "builder", namespace: "r" } });
    const cluster = await connectCluster({ kubeconfig: await api.writeKubeconfig(), cacheTtlMs: 600_000, watch: true });
    try {
      await cluster.serviceAccount("r", "builder");
      await until("the watch", () => Promise.resolve(api.watchers === 1));
      const lists = api.requestCount({ verb: "list", resource: "serviceaccounts" });
      api.endWatches(); // as the API server does at its timeout: go on from the last version
      await until("the watch again", () => Promise.resolve(api.watchers === 1));
      assert.equal(api.requestCount({ verb: "list", resource: "serviceaccounts" }), lists, "resumed without a list");
      api.compact();
      api.endWatches(); // the version it resumes from is now too old: 410, then a fresh list
      await until("a fresh list and watch", () => Promise.resolve(api.requestCount({ verb: "list", resource: "serviceaccounts" }) === lists + 1 && api.watchers === 1));
      // The cached object was dropped (changes may have been missed): the next read asks again.
      const gets = api.requestCount({ verb: "get", resource: "serviceaccounts" });
      await cluster.serviceAccount("r", "builder");
      assert.equal(api.requestCount({ verb: "get", resource: "serviceaccounts" }), gets + 1);
      api.put({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "builder", namespace: "r" }, imagePullSecrets: [{ name: "x" }] });
      await until("the change through the new watch", async () => (await cluster.serviceAccount("r", "builder"))?.imagePullSecrets !== undefined);
    } finally {
      await cluster.close();
    }
  });

  it("without permission to watch, keeps to its TTL", async () => {
    await until("earlier watches to close", () => Promise.resolve(api.watchers === 0));
    const lists = api.requestCount({ verb: "list", resource: "secrets" });
    api.rules = [{ verbs: ["get"], resources: ["secrets", "serviceaccounts"] }];
    const cluster = await connectCluster({ kubeconfig: await api.writeKubeconfig(), cacheTtlMs: 600_000, watch: true });
    try {
      api.put(pullSecret("nw", "regcred", "alice"));
      assert.ok(await cluster.secret("nw", "regcred"));
      await until("the list attempt", () => Promise.resolve(api.requestCount({ verb: "list", resource: "secrets" }) > lists));
      assert.equal(api.watchers, 0);
      assert.ok(await cluster.secret("nw", "regcred"), "reads still work");
    } finally {
      api.rules = undefined;
      await cluster.close();
    }
  });
});

describe("connectCluster: setWebhookCABundle", () => {
  let api: KubeApi;
  let cluster: Cluster;
  const cas: string[] = [];
  before(async () => {
    api = await startKubeApi();
    cluster = await connectCluster({ kubeconfig: await api.writeKubeconfig() });
    for (let i = 0; i < 3; i++) {
      const ca = await createCa(`replica ${i}`);
      cas.push(ca.caPem);
      ca.remove();
    }
  });
  after(async () => {
    await cluster.close();
    await api.stop();
  });

  it("writes the CA into every webhook, keeps other valid CAs, and patches nothing when it is there", async () => {
    api.put(webhookConfiguration("krm-digester", ["pods.krm-digester.dev", "workloads.krm-digester.dev"]));
    const [ca0, ca1] = cas as [string, string];
    await cluster.setWebhookCABundle("krm-digester", ca0);
    assert.deepEqual(decodeBundle(api, "krm-digester"), [ca0, ca0]);
    const patch = api.requests.find((r) => r.method === "PATCH");
    assert.equal(patch?.contentType, "application/json-patch+json");
    await cluster.setWebhookCABundle("krm-digester", ca1);
    assert.deepEqual(decodeBundle(api, "krm-digester"), [ca1 + ca0, ca1 + ca0], "the new CA first, the other kept");
    const patches = api.requestCount({ method: "PATCH" });
    await cluster.setWebhookCABundle("krm-digester", ca1);
    assert.equal(api.requestCount({ method: "PATCH" }), patches, "already there: no write");
  });

  it("two replicas writing at once both end up in the bundle (the patch tests the resourceVersion, the loser retries)", async () => {
    api.put(webhookConfiguration("race", ["a.krm-digester.dev"]));
    const [ca0, ca1, ca2] = cas as [string, string, string];
    const other = await connectCluster({ kubeconfig: await api.writeKubeconfig() });
    try {
      await Promise.all([cluster.setWebhookCABundle("race", ca0), other.setWebhookCABundle("race", ca1), cluster.setWebhookCABundle("race", ca2)]);
    } finally {
      await other.close();
    }
    const [bundle] = decodeBundle(api, "race");
    for (const ca of [ca0, ca1, ca2]) assert.ok(bundle?.includes(ca), "every replica's CA is trusted");
  });

  it("says what to do when the configuration does not exist, or may not be patched", async () => {
    await rejectsCluster(cluster.setWebhookCABundle("absent", cas[0] as string), "MutatingWebhookConfiguration absent does not exist", "deploy/");
    api.put(webhookConfiguration("locked", ["a.krm-digester.dev"]));
    api.rules = [{ verbs: ["get"], resources: ["mutatingwebhookconfigurations"] }];
    try {
      await rejectsCluster(
        cluster.setWebhookCABundle("locked", cas[0] as string),
        "forbidden",
        api.user,
        'apiGroups: ["admissionregistration.k8s.io"], resources: ["mutatingwebhookconfigurations"], resourceNames: ["locked"], verbs: ["patch"]',
      );
    } finally {
      api.rules = undefined;
    }
    await rejectsCluster(cluster.setWebhookCABundle("locked", "not a certificate"), "no PEM certificate");
  });
});

describe("connectCluster: failures a user can cause", () => {
  let api: KubeApi;
  before(async () => {
    api = await startKubeApi();
  });
  after(async () => api.stop());

  it("403: names the object, the user, and the exact RBAC rule to grant", async () => {
    api.rules = [{ verbs: ["get"], resources: ["serviceaccounts"] }];
    const cluster = await connectCluster({ kubeconfig: await api.writeKubeconfig() });
    try {
      const message = await rejectsCluster(
        cluster.secret("prod", "regcred"),
        "cannot read Secret prod/regcred",
        `User "${api.user}" cannot get resource "secrets" in API group "" in the namespace "prod"`,
        'apiGroups: [""], resources: ["secrets"], verbs: ["get"]',
      );
      assert.match(message, /deploy\/base\/rbac\.yaml/);
      // A failure is not cached: once granted, the next read works.
      api.rules = undefined;
      assert.equal(await cluster.secret("prod", "regcred"), undefined);
    } finally {
      api.rules = undefined;
      await cluster.close();
    }
  });

  it("401: the credentials were rejected", async () => {
    const cluster = await connectCluster({ kubeconfig: await api.writeKubeconfig({ token: "expired" }) });
    try {
      await rejectsCluster(cluster.serviceAccount("prod", "default"), "cannot read ServiceAccount prod/default", "401", "token may have expired");
    } finally {
      await cluster.close();
    }
  });

  it("an API server whose certificate the kubeconfig's CA does not sign", async () => {
    const stranger = await createCa("another CA");
    const dir = await mkdtemp(join(tmpdir(), "krm-digester-kc-"));
    try {
      const file = join(dir, "config");
      const text = (await import("node:fs/promises")).readFile(await api.writeKubeconfig(), "utf8");
      await writeFile(file, (await text).replace(/certificate-authority-data: .*/, `certificate-authority-data: ${b64(stranger.caPem)}`));
      const cluster = await connectCluster({ kubeconfig: file });
      try {
        await rejectsCluster(cluster.secret("prod", "x"), "failed TLS verification", "certificate-authority");
        assert.equal(await cluster.reachable(), false);
      } finally {
        await cluster.close();
      }
    } finally {
      stranger.remove();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("an API server that is not there: unreachable, and reachable() is false", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const text = await (await import("node:fs/promises")).readFile(await api.writeKubeconfig(), "utf8");
    const dir = await mkdtemp(join(tmpdir(), "krm-digester-kc-"));
    const file = join(dir, "config");
    await writeFile(file, text.replace(api.url, `https://127.0.0.1:${port}`));
    const cluster = await connectCluster({ kubeconfig: file });
    try {
      await rejectsCluster(cluster.secret("prod", "regcred"), `https://127.0.0.1:${port}`, "unreachable (connection refused)", "--offline");
      assert.equal(await cluster.reachable(), false);
    } finally {
      await cluster.close();
      await rm(dir, { recursive: true, force: true });
    }
    const live = await connectCluster({ kubeconfig: await api.writeKubeconfig() });
    try {
      assert.equal(await live.reachable(), true);
    } finally {
      await live.close();
    }
  });

  it("kubeconfig files: a missing one, a broken one, none at all, and $KUBECONFIG", async () => {
    await rejectsCluster(connectCluster({ kubeconfig: "/nonexistent/kubeconfig" }), "--kubeconfig /nonexistent/kubeconfig: no such file");
    const dir = await mkdtemp(join(tmpdir(), "krm-digester-kc-"));
    const saved = { KUBECONFIG: process.env.KUBECONFIG, HOME: process.env.HOME, KUBERNETES_SERVICE_HOST: process.env.KUBERNETES_SERVICE_HOST };
    try {
      await writeFile(join(dir, "broken"), "clusters: [unclosed\n");
      await rejectsCluster(connectCluster({ kubeconfig: join(dir, "broken") }), `cannot load kubeconfig ${join(dir, "broken")}`);
      await writeFile(join(dir, "empty"), "apiVersion: v1\nkind: Config\n");
      await rejectsCluster(connectCluster({ kubeconfig: join(dir, "empty") }), "names no cluster for its current context");
      delete process.env.KUBECONFIG;
      delete process.env.KUBERNETES_SERVICE_HOST;
      process.env.HOME = dir;
      await rejectsCluster(connectCluster({}), "no Kubernetes configuration found", "--kubeconfig", "--offline");
      process.env.KUBECONFIG = `${join(dir, "absent")}:${await api.writeKubeconfig()}`;
      const cluster = await connectCluster({});
      try {
        assert.equal(await cluster.reachable(), true);
        assert.equal(await cluster.secret("x", "y"), undefined);
      } finally {
        await cluster.close();
      }
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await rm(dir, { recursive: true, force: true });
    }
  });
});
