// pullSecretObjects against the fake Kubernetes API: which ServiceAccounts and
// Secrets pod specs use, fetched as plain objects, and that PullSecrets reads
// them exactly as it reads Secrets written in a package.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Document } from "yaml";
import type { Cluster, KubeObject } from "../../src/cluster/api.js";
import { connectCluster } from "../../src/cluster/client.js";
import { pullSecretObjects } from "../../src/cluster/pull-secret-objects.js";
import { PullSecrets } from "../../src/credentials/pull-secrets.js";
import { parseReference } from "../../src/name/reference.js";
import { parseResourceList } from "../../src/resourcelist/resource-list.js";
import { startKubeApi } from "../support/kube-api.js";
import type { KubeApi } from "../support/kube-api.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");
const secret = (namespace: string, name: string, registry: string, user: string): Record<string, unknown> => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name, namespace },
  type: "kubernetes.io/dockerconfigjson",
  data: { ".dockerconfigjson": b64(JSON.stringify({ auths: { [registry]: { auth: b64(`${user}:pw`) } } })) },
});
const account = (namespace: string, name: string, secrets: string[]): Record<string, unknown> => ({
  apiVersion: "v1",
  kind: "ServiceAccount",
  metadata: { name, namespace },
  imagePullSecrets: secrets.map((n) => ({ name: n })),
});
const names = (objects: KubeObject[]): string[] => objects.map((o) => `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`).sort();

describe("pullSecretObjects", () => {
  let api: KubeApi;
  let cluster: Cluster;
  before(async () => {
    api = await startKubeApi();
    api.put(secret("prod", "regcred", "registry.example.com", "alice"));
    api.put(secret("prod", "builder-cred", "registry.example.com", "bob"));
    api.put(secret("prod", "own", "registry.example.com", "carol"));
    api.put(secret("staging", "regcred", "registry.example.com", "dave"));
    api.put(account("prod", "default", ["regcred"]));
    api.put(account("prod", "builder", ["builder-cred", "gone"]));
    cluster = await connectCluster({ kubeconfig: await api.writeKubeconfig() });
  });
  after(async () => {
    await cluster.close();
    await api.stop();
  });

  it("a pod spec without imagePullSecrets: the default ServiceAccount and its Secrets", async () => {
    assert.deepEqual(names(await pullSecretObjects(cluster, "prod", [{ containers: [{ name: "c", image: "x" }] }])), [
      "Secret/prod/regcred",
      "ServiceAccount/prod/default",
    ]);
  });

  it("serviceAccountName (and the deprecated serviceAccount) pick the account; missing Secrets are left out", async () => {
    assert.deepEqual(names(await pullSecretObjects(cluster, "prod", [{ serviceAccountName: "builder" }])), [
      "Secret/prod/builder-cred",
      "ServiceAccount/prod/builder",
    ]);
    assert.deepEqual(names(await pullSecretObjects(cluster, "prod", [{ serviceAccount: "builder" }])), [
      "Secret/prod/builder-cred",
      "ServiceAccount/prod/builder",
    ]);
    assert.deepEqual(await pullSecretObjects(cluster, "prod", [{ serviceAccountName: "nobody" }]), []);
  });

  it("a pod spec's own imagePullSecrets win over its ServiceAccount's; several pod specs, each object once, own namespace only", async () => {
    const objects = await pullSecretObjects(cluster, "prod", [
      { imagePullSecrets: [{ name: "own" }], serviceAccountName: "builder" },
      { imagePullSecrets: [{ name: "own" }, { name: "regcred" }] },
      {},
    ]);
    assert.deepEqual(names(objects), ["Secret/prod/own", "Secret/prod/regcred", "ServiceAccount/prod/default"]);
    assert.deepEqual(names(await pullSecretObjects(cluster, "staging", [{}])), [], "staging has no default ServiceAccount here");
  });

  it("objects the package holds are not fetched; a package's ServiceAccount is the one followed", async () => {
    const local: KubeObject[] = [account("prod", "default", ["builder-cred"]), secret("prod", "builder-cred", "registry.example.com", "pkg")];
    const before = api.requests.length;
    assert.deepEqual(await pullSecretObjects(cluster, "prod", [{}], local), []);
    assert.equal(api.requests.length, before, "nothing asked of the API");
  });

  it("the objects join a package's items and PullSecrets uses them as if written there", async () => {
    const list = parseResourceList(
      "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n" +
        "- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: web\n    namespace: prod\n" +
        "  spec:\n    template:\n      spec:\n        serviceAccountName: builder\n        containers:\n        - name: c\n          image: registry.example.com/shop/web:v1\n",
    );
    const deployment = list.items?.items[0];
    assert.ok(deployment);
    const objects = await pullSecretObjects(cluster, "prod", [{ serviceAccountName: "builder" }]);
    const doc = new Document();
    const nodes = objects.map((o) => doc.createNode(o));
    const secrets = new PullSecrets([deployment, ...nodes], list.document);
    const scope = secrets.forWorkload(deployment as never).scope("spec.template.spec.containers[0].image", parseReference("registry.example.com/shop/web:v1"));
    assert.equal(scope?.entry.secret, "prod/builder-cred");
    assert.deepEqual(scope?.entry.credential, { kind: "basic", username: "bob", password: "pw" });
  });
});
