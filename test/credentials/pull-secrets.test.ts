// Pull secrets in the ResourceList: which Secrets a pod spec uses (its own
// imagePullSecrets, else its ServiceAccount's, same namespace only), how
// their keys match, and warnings about unusable ones.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isMap } from "yaml";
import type { YAMLMap } from "yaml";
import { PullSecrets } from "../../src/credentials/pull-secrets.js";
import { parseReference } from "../../src/name/reference.js";
import { parseResourceList } from "../../src/resourcelist/resource-list.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");
const dockerconfigjson = (auths: Record<string, unknown>): string => b64(JSON.stringify({ auths }));

interface Fixture {
  secrets: PullSecrets;
  items: YAMLMap[];
}

function load(items: string): Fixture {
  const list = parseResourceList(`apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items}`);
  const nodes = (list.items?.items ?? []).filter(isMap);
  return { secrets: new PullSecrets(nodes, list.document), items: nodes };
}

function secret(name: string, namespace: string | undefined, auths: Record<string, unknown>, type = "kubernetes.io/dockerconfigjson"): string {
  const ns = namespace ? `\n    namespace: ${namespace}` : "";
  const field = type === "kubernetes.io/dockercfg" ? ".dockercfg" : ".dockerconfigjson";
  const value = type === "kubernetes.io/dockercfg" ? b64(JSON.stringify(auths)) : dockerconfigjson(auths);
  return `- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: ${name}${ns}\n  type: ${type}\n  data:\n    ${field}: ${value}\n`;
}

function deployment(name: string, namespace: string | undefined, podSpec: string): string {
  const ns = namespace ? `\n    namespace: ${namespace}` : "";
  const spec = podSpec.replace(/^/gm, "        ");
  return `- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: ${name}${ns}\n  spec:\n    template:\n      spec:\n${spec}\n`;
}

const PATH = "spec.template.spec.containers[0].image";

/** Which secret and key the workload at `index` uses for `image`, or undefined. */
function used(f: Fixture, index: number, image: string): string | undefined {
  const item = f.items[index];
  assert.ok(item);
  const scope = f.secrets.forWorkload(item).scope(PATH, parseReference(image));
  return scope && `${scope.entry.secret} ${scope.entry.key}`;
}

const pod = (extra = ""): string => `containers:\n- name: c\n  image: x\n${extra}`;

describe("pull secrets named by imagePullSecrets", () => {
  const f = load(
    secret("regcred", "prod", { "registry.example.com": { auth: b64("u:p") } }) +
      secret("regcred", "staging", { "registry.example.com": { auth: b64("s:p") } }) +
      secret("legacy", "prod", { "https://old.example.com": { auth: b64("l:p") } }, "kubernetes.io/dockercfg") +
      deployment("web", "prod", pod("imagePullSecrets:\n- name: regcred\n- name: legacy\n- name: absent")) +
      deployment("web", "staging", pod("imagePullSecrets:\n- name: regcred")) +
      deployment("web", "dev", pod("imagePullSecrets:\n- name: regcred")) +
      deployment("web", undefined, pod("imagePullSecrets:\n- name: regcred")),
  );

  it("uses the Secret of the pod's namespace", () => {
    assert.equal(used(f, 3, "registry.example.com/app:1"), "prod/regcred registry.example.com");
    assert.equal(used(f, 4, "registry.example.com/app:1"), "staging/regcred registry.example.com");
  });

  it("reads legacy kubernetes.io/dockercfg Secrets (the bare auths map)", () => {
    assert.equal(used(f, 3, "old.example.com/app:1"), "prod/legacy https://old.example.com");
  });

  it("never uses a Secret from another namespace, nor a namespaced one for an item without namespace", () => {
    assert.equal(used(f, 5, "registry.example.com/app:1"), undefined);
    assert.equal(used(f, 6, "registry.example.com/app:1"), undefined);
  });

  it("has no scope for registries no key matches", () => {
    assert.equal(used(f, 3, "nginx:1"), undefined);
  });

  it("gives equal ids to equal entries, different ids to different Secrets", () => {
    const [, , , prod, staging] = f.items;
    assert.ok(prod && staging);
    const ref = parseReference("registry.example.com/app:1");
    const a = f.secrets.forWorkload(prod).scope(PATH, ref);
    const b = f.secrets.forWorkload(prod).scope(PATH, parseReference("registry.example.com/other:2"));
    const c = f.secrets.forWorkload(staging).scope(PATH, ref);
    assert.ok(a && b && c);
    assert.equal(a.id, b.id);
    assert.notEqual(a.id, c.id);
  });
});

describe("pull secrets through a ServiceAccount", () => {
  const f = load(
    secret("sa-cred", undefined, { "registry.example.com": { auth: b64("sa:p") } }) +
      secret("own", undefined, { "other.example.com": { auth: b64("own:p") } }) +
      `- apiVersion: v1\n  kind: ServiceAccount\n  metadata:\n    name: builder\n  imagePullSecrets:\n  - name: sa-cred\n` +
      `- apiVersion: v1\n  kind: ServiceAccount\n  metadata:\n    name: default\n  imagePullSecrets:\n  - name: sa-cred\n` +
      deployment("named", undefined, pod("serviceAccountName: builder")) +
      deployment("default-sa", undefined, pod()) +
      deployment("own-secrets", undefined, pod("serviceAccountName: builder\nimagePullSecrets:\n- name: own")) +
      deployment("unknown-sa", undefined, pod("serviceAccountName: nobody")),
  );

  it("uses the named ServiceAccount's secrets, and the default ServiceAccount's when none is named", () => {
    assert.equal(used(f, 4, "registry.example.com/app:1"), "sa-cred registry.example.com");
    assert.equal(used(f, 5, "registry.example.com/app:1"), "sa-cred registry.example.com");
  });

  it("ignores the ServiceAccount when the pod names its own secrets, as the admission controller does", () => {
    assert.equal(used(f, 6, "registry.example.com/app:1"), undefined);
    assert.equal(used(f, 6, "other.example.com/app:1"), "own other.example.com");
  });

  it("has nothing for a ServiceAccount that is not in the package", () => {
    assert.equal(used(f, 7, "registry.example.com/app:1"), undefined);
  });
});

describe("keys across a pod's secrets", () => {
  const f = load(
    secret("wide", undefined, { "*.example.com": { auth: b64("glob:p") }, "registry.example.com": { auth: b64("host:p") } }) +
      secret("narrow", undefined, { "registry.example.com/team": { auth: b64("team:p") } }) +
      `- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: plain\n  type: kubernetes.io/dockerconfigjson\n  stringData:\n    .dockerconfigjson: '${JSON.stringify({ auths: { "plain.example.org:5000": { username: "s", password: "d" } } })}'\n` +
      deployment("web", undefined, pod("imagePullSecrets:\n- name: wide\n- name: narrow\n- name: plain")),
  );

  it("picks the most specific key of all the pod's secrets", () => {
    assert.equal(used(f, 3, "registry.example.com/team/app:1"), "narrow registry.example.com/team");
    assert.equal(used(f, 3, "registry.example.com/other:1"), "wide registry.example.com");
    assert.equal(used(f, 3, "mirror.example.com/other:1"), "wide *.example.com");
    assert.equal(used(f, 3, "a.mirror.example.com/other:1"), undefined);
  });

  it("reads stringData, and matches ports exactly", () => {
    assert.equal(used(f, 3, "plain.example.org:5000/app:1"), "plain plain.example.org:5000");
    assert.equal(used(f, 3, "plain.example.org/app:1"), undefined);
    assert.equal(used(f, 3, "plain.example.org:5001/app:1"), undefined);
  });
});

describe("unusable secrets", () => {
  const f = load(
    `- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: opaque\n  type: Opaque\n  data:\n    password: ${b64("hunter2")}\n` +
      `- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: broken\n  type: kubernetes.io/dockerconfigjson\n  stringData:\n    .dockerconfigjson: '{"auths": {"r.example.com": {"auth": hunter2}}}'\n` +
      secret("bad-entry", undefined, { "r.example.com": { auth: "hunter2!" }, "ok.example.com": { auth: b64("u:p") } }) +
      secret("unused-broken", undefined, { "r.example.com": { auth: "hunter2!" } }) +
      deployment("web", undefined, pod("imagePullSecrets:\n- name: opaque\n- name: broken\n- name: bad-entry")),
  );

  it("are warnings on the Secret, once each, never quoting the secret; good entries still work", () => {
    const item = f.items[4];
    assert.ok(item);
    const workload = f.secrets.forWorkload(item);
    const problems = f.secrets.takeProblems();
    assert.deepEqual(
      problems.map((p) => p.message),
      [
        `Secret opaque named in imagePullSecrets has type "Opaque", so it holds no registry credentials and is not used; pull secrets have type kubernetes.io/dockerconfigjson (or kubernetes.io/dockercfg)`,
        `Secret broken named in imagePullSecrets has .dockerconfigjson that is not valid JSON; the Secret is not used`,
        `Secret bad-entry: .dockerconfigjson key "r.example.com": "auth" is not base64; the entry is not used`,
      ],
    );
    assert.equal(problems[0]?.item.get("metadata") !== undefined, true);
    assert.equal(workload.scope(PATH, parseReference("ok.example.com/app"))?.entry.secret, "bad-entry");
    f.secrets.forWorkload(item);
    assert.deepEqual(f.secrets.takeProblems(), [], "reported once");
  });
});

describe("an item with two pod specs", () => {
  it("gives each image the secrets of the pod spec that holds it", () => {
    const f = load(
      secret("outer", undefined, { "registry.example.com": { auth: b64("o:p") } }) +
        secret("inner", undefined, { "registry.example.com": { auth: b64("i:p") } }) +
        `- apiVersion: example.com/v1\n  kind: Odd\n  metadata:\n    name: odd\n  spec:\n    imagePullSecrets:\n    - name: outer\n    containers:\n    - name: a\n      image: x\n` +
        `    template:\n      spec:\n        imagePullSecrets:\n        - name: inner\n        containers:\n        - name: b\n          image: y\n`,
    );
    const item = f.items[2];
    assert.ok(item);
    const workload = f.secrets.forWorkload(item);
    const ref = parseReference("registry.example.com/app:1");
    assert.equal(workload.scope("spec.containers[0].image", ref)?.entry.secret, "outer");
    assert.equal(workload.scope("spec.template.spec.containers[0].image", ref)?.entry.secret, "inner");
  });
});
