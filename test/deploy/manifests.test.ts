// deploy/: what `kubectl kustomize` makes of the base and each overlay, and
// what `kpt fn render` makes of the kpt package with its setters changed,
// validated against the Kubernetes schemas (kubernetes-models; cert-manager's
// for its kinds) and checked for what issue 10 asks of each object. Skipped,
// loudly, where kubectl or kpt is missing.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   the checks walk rendered manifests as plain JSON; the schemas validate their shape first */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, cp, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { skipWithout } from "../support/kpt.js";
import { describe, it } from "../support/node-test.js";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { ROOT, runFn } from "../support/run-fn.js";
import { useServer } from "../support/client-helpers.js";
import { startRegistry } from "../support/registry.js";
import { pushOciManifest } from "../support/seed.js";
import { DRAIN_TIMEOUT_MS, webhookFlags } from "../../src/cli/webhook.js";

/** A duration flag as the webhook reads it. */
function durationMs(value: string): number {
  const f = webhookFlags([`--shutdown-delay=${value}`], {});
  assert.ok(f !== "help");
  return f.shutdownDelayMs;
}

const run = promisify(execFile);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const DIGEST = /^[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}$/;
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const settersText = readFileSync(join(ROOT, "deploy/base/setters.yaml"), "utf8");
/** The image setter's value as shipped (checked against the version below). */
const shippedImage = /^ {2}image: (\S+)$/m.exec(settersText)?.[1] ?? "";

async function kustomize(dir: string): Promise<Obj[]> {
  const { stdout } = await run("kubectl", ["kustomize", join(ROOT, dir)], { maxBuffer: 16 << 20 });
  return parseAllDocuments(stdout).map((d) => d.toJS() as Obj);
}

/** Validates against the OpenAPI schema of the kind (throws with the schema's message). */
async function validate(object: Obj): Promise<void> {
  const [group, version] = String(object.apiVersion).includes("/") ? String(object.apiVersion).split("/") : ["", object.apiVersion];
  const kind = String(object.kind);
  const path = group?.endsWith("cert-manager.io")
    ? `@kubernetes-models/cert-manager/${group}/${version}/${kind}`
    : group
      ? `kubernetes-models/${group}/${version}/${kind}`
      : `kubernetes-models/v1/${kind}`;
  const mod = (await import(path)) as Record<string, new (o: unknown) => { validate(): void }>;
  const Model = mod[kind];
  assert.ok(Model, `no schema for ${object.apiVersion} ${kind}`);
  try {
    new Model(object).validate();
  } catch (err) {
    assert.fail(`${kind} ${object.metadata?.name}: ${(err as Error).message}`);
  }
}

const one = (objects: Obj[], kind: string): Obj => {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0] as Obj;
};

/** What issue 10 asks of the webhook's objects, for a given namespace and replica count. */
function checkBase(objects: Obj[], namespace = "krm-digester", replicas = 3): void {
  assert.deepEqual(objects.map((o) => o.kind).sort(), [
    "ClusterRole",
    "ClusterRoleBinding",
    "Deployment",
    "MutatingWebhookConfiguration",
    "Namespace",
    "PodDisruptionBudget",
    "Service",
    "ServiceAccount",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
  ]);
  for (const o of objects) if (!["Namespace", "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration"].includes(o.kind) && !o.kind.startsWith("Validating")) assert.equal(o.metadata.namespace, namespace, `${o.kind} namespace`);
  assert.equal(one(objects, "Namespace").metadata.name, namespace);

  const deployment = one(objects, "Deployment");
  assert.equal(deployment.spec.replicas, replicas);
  const pod = deployment.spec.template.spec;
  assert.equal(pod.serviceAccountName, one(objects, "ServiceAccount").metadata.name);
  assert.ok(pod.topologySpreadConstraints.some((t: Obj) => t.topologyKey === "kubernetes.io/hostname"));
  assert.equal(pod.securityContext.runAsNonRoot, true);
  const [container] = pod.containers as Obj[];
  assert.ok(container);
  assert.equal(container.image, shippedImage, "our own image, as setters.yaml has it");
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(container.securityContext.capabilities.drop, ["ALL"]);
  assert.ok(container.resources.requests.cpu && container.resources.requests.memory && container.resources.limits.memory);
  const args = container.args as string[];
  assert.equal(args[0], "webhook");
  const flags = new Map(args.slice(1).map((a) => a.replace(/^--/, "").split("=") as [string, string]));
  const known = ["port", "cert-dir", "health-addr", "metrics-addr", "offline", "disable-cert-rotation", "dry-run", "ignore-errors", "skip-prefixes", "kubeconfig", "shutdown-delay"];
  for (const f of flags.keys()) assert.ok(known.includes(f), `--${f} is one of issue 10's flags`);
  // SIGTERM: unready but serving for --shutdown-delay, then at most DRAIN_TIMEOUT_MS for reviews in flight; the kubelet waits the grace period.
  const delayMs = durationMs(flags.get("shutdown-delay") ?? "5s");
  assert.ok(pod.terminationGracePeriodSeconds * 1000 > delayMs + DRAIN_TIMEOUT_MS, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > shutdown delay + drain`);
  const healthPort = Number(flags.get("health-addr")?.split(":").pop());
  const ports = new Map((container.ports as Obj[]).map((p) => [p.name, p.containerPort]));
  assert.equal(ports.get("health"), healthPort);
  assert.equal(ports.get("webhook"), Number(flags.get("port")));
  assert.equal(ports.get("metrics"), Number(flags.get("metrics-addr")?.split(":").pop()));
  for (const probe of ["livenessProbe", "readinessProbe"]) assert.equal(container[probe].httpGet.port, "health");
  assert.equal(container.livenessProbe.httpGet.path, "/healthz");
  assert.equal(container.readinessProbe.httpGet.path, "/readyz");
  const mount = (container.volumeMounts as Obj[]).find((m) => m.name === "certs");
  assert.equal(mount?.mountPath, flags.get("cert-dir"));

  const pdb = one(objects, "PodDisruptionBudget");
  assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
  const service = one(objects, "Service");
  assert.deepEqual(service.spec.selector, deployment.spec.template.metadata.labels);
  assert.equal((service.spec.ports as Obj[]).find((p) => p.name === "webhook")?.targetPort, "webhook");

  const role = one(objects, "ClusterRole");
  const binding = one(objects, "ClusterRoleBinding");
  assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: one(objects, "ServiceAccount").metadata.name, namespace }]);
  assert.equal(binding.roleRef.name, role.metadata.name);
  const mwc = one(objects, "MutatingWebhookConfiguration");
  assert.deepEqual(role.rules, [
    { apiGroups: [""], resources: ["secrets", "serviceaccounts"], verbs: ["get", "list", "watch"] },
    { apiGroups: ["admissionregistration.k8s.io"], resources: ["mutatingwebhookconfigurations"], resourceNames: [mwc.metadata.name], verbs: ["get", "patch"] },
  ]);
  const env = new Map((container.env as Obj[]).map((e) => [e.name, e.value]));
  assert.equal(env.get("KRM_DIGESTER_WEBHOOK_CONFIGURATION"), mwc.metadata.name, "the certificate code patches this configuration");
  assert.equal(env.get("KRM_DIGESTER_SERVICE"), service.metadata.name);

  const [webhook, ...more] = mwc.webhooks as Obj[];
  assert.equal(more.length, 0);
  assert.ok(webhook);
  assert.equal(webhook.failurePolicy, "Ignore");
  assert.equal(webhook.reinvocationPolicy, "IfNeeded");
  assert.equal(webhook.sideEffects, "None");
  assert.ok(webhook.timeoutSeconds >= 1 && webhook.timeoutSeconds <= 30);
  assert.deepEqual(webhook.admissionReviewVersions, ["v1", "v1beta1"]);
  assert.deepEqual(webhook.namespaceSelector, { matchLabels: { "digest-resolution": "enabled" } });
  assert.deepEqual(webhook.clientConfig.service, { name: service.metadata.name, namespace, path: "/v1/mutate", port: 443 });
  const conditions = (webhook.matchConditions as Obj[]).map((c) => c.expression);
  assert.ok(conditions.includes("request.namespace != 'kube-system'"));
  assert.ok(conditions.includes(`request.namespace != '${namespace}'`));
  const resources = (webhook.rules as Obj[]).flatMap((r) => (r.resources as string[]).map((res) => `${r.apiGroups[0]}/${res}`));
  for (const r of ["/pods", "/pods/ephemeralcontainers", "/podtemplates", "/replicationcontrollers", "apps/deployments", "apps/replicasets", "apps/statefulsets", "apps/daemonsets", "batch/jobs", "batch/cronjobs"]) {
    assert.ok(resources.includes(r), `rule for ${r}`);
  }
  for (const r of webhook.rules as Obj[]) assert.deepEqual(r.operations, ["CREATE", "UPDATE"]);

  const policy = one(objects, "ValidatingAdmissionPolicy");
  const policyBinding = one(objects, "ValidatingAdmissionPolicyBinding");
  assert.equal(policyBinding.spec.policyName, policy.metadata.name);
  assert.deepEqual(policy.spec.matchConstraints.namespaceSelector, webhook.namespaceSelector);
  assert.ok((policy.spec.matchConstraints.resourceRules[0].resources as string[]).includes("pods/ephemeralcontainers"));
}

describe("deploy/ with kubectl kustomize", { skip: skipWithout("kubectl") }, () => {
  it("deploy/ (= deploy/base): valid objects, as issue 10 asks; the policy warns", async () => {
    const objects = await kustomize("deploy");
    for (const o of objects) await validate(o);
    checkBase(objects);
    assert.deepEqual(one(objects, "ValidatingAdmissionPolicyBinding").spec.validationActions, ["Warn", "Audit"]);
    const args = one(objects, "Deployment").spec.template.spec.containers[0].args as string[];
    assert.ok(args.includes("--disable-cert-rotation=false"), "the webhook makes its own certificate");
    assert.deepEqual(await kustomize("deploy/base"), objects);
  });

  it("deploy/cert-manager: Certificate and Issuer, CA injection, --disable-cert-rotation, no write permission on the webhook configuration", async () => {
    const objects = await kustomize("deploy/cert-manager");
    for (const o of objects) await validate(o);
    const certificate = one(objects, "Certificate");
    const issuer = one(objects, "Issuer");
    assert.equal(certificate.spec.issuerRef.name, issuer.metadata.name);
    assert.deepEqual(certificate.spec.dnsNames, ["krm-digester.krm-digester.svc", "krm-digester.krm-digester.svc.cluster.local"]);
    const mwc = one(objects, "MutatingWebhookConfiguration");
    assert.equal(mwc.metadata.annotations["cert-manager.io/inject-ca-from"], `${certificate.metadata.namespace}/${certificate.metadata.name}`);
    const pod = one(objects, "Deployment").spec.template.spec;
    assert.ok((pod.containers[0].args as string[]).includes("--disable-cert-rotation=true"));
    const volume = (pod.volumes as Obj[]).find((v) => v.name === "certs");
    assert.deepEqual(volume, { name: "certs", secret: { secretName: certificate.spec.secretName, defaultMode: 0o440 } });
    assert.deepEqual(one(objects, "ClusterRole").rules, [{ apiGroups: [""], resources: ["secrets", "serviceaccounts"], verbs: ["get", "list", "watch"] }]);
  });

  it("deploy/deny-unpinned: the same objects, with unpinned images denied", async () => {
    const objects = await kustomize("deploy/deny-unpinned");
    for (const o of objects) await validate(o);
    checkBase(objects);
    assert.deepEqual(one(objects, "ValidatingAdmissionPolicyBinding").spec.validationActions, ["Deny", "Audit"]);
  });

  it("the schema check can fail: a wrong type is reported", async () => {
    const objects = await kustomize("deploy");
    const broken = structuredClone(one(objects, "Deployment"));
    broken.spec.replicas = "three";
    await assert.rejects(validate(broken), /replicas/);
  });
});

describe("deploy/base with kpt fn render", { skip: skipWithout("kpt") }, () => {
  it("renders with changed setters into valid objects, every occurrence set (namespace, names, CEL, ports, replicas)", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "krm-digester-deploy-"));
    try {
      const pkg = join(dir, "base");
      await cp(join(ROOT, "deploy/base"), pkg, { recursive: true });
      const setters = await readFile(join(pkg, "setters.yaml"), "utf8");
      await writeFile(
        join(pkg, "setters.yaml"),
        setters.replace("namespace: krm-digester", "namespace: pinning").replace('replicas: "3"', 'replicas: "5"').replace('health-port: "9090"', 'health-port: "9191"'),
      );
      let image = "gcr.io/kpt-fn/apply-setters:v0.2.0";
      let exists = false;
      try {
        await run("podman", ["image", "exists", image]);
        exists = true;
      } catch {
        exists = false;
      }
      const args = ["fn", "render", pkg];
      if (!exists) {
        // No registry but npm and Debian here: the pipeline's image step runs our stand-in of it instead.
        const wrapper = join(dir, "apply-setters");
        await writeFile(wrapper, `#!/bin/sh\nexec node ${join(ROOT, "build/test/support/apply-setters.js")}\n`);
        await chmod(wrapper, 0o755);
        const kptfile = await readFile(join(pkg, "Kptfile"), "utf8");
        assert.ok(kptfile.includes(`- image: ${image}`));
        await writeFile(join(pkg, "Kptfile"), kptfile.replace(`- image: ${image}`, `- exec: ${wrapper}`));
        args.push("--allow-exec");
        const note = `SUBSTITUTED: ${image} cannot be pulled here; kpt fn render ran the pipeline with test/support/apply-setters.ts in its place`;
        t.diagnostic(note);
        console.error(note);
        image = wrapper;
      } else {
        process.env.KPT_FN_RUNTIME ??= "podman";
      }
      await run("kpt", args, { cwd: dir });
      const files = (await readdir(pkg)).filter((f) => f.endsWith(".yaml") && !["setters.yaml", "kustomization.yaml"].includes(f));
      const objects: Obj[] = [];
      for (const f of files) objects.push(...parseAllDocuments(await readFile(join(pkg, f), "utf8")).map((d) => d.toJS() as Obj));
      for (const o of objects) await validate(o);
      checkBase(objects, "pinning", 5);
      const container = one(objects, "Deployment").spec.template.spec.containers[0] as Obj;
      assert.ok((container.args as string[]).includes("--health-addr=:9191"));
      // Rendering again with the same setters changes nothing (the pipeline is idempotent).
      const before = await Promise.all(files.map((f) => readFile(join(pkg, f), "utf8")));
      await run("kpt", args, { cwd: dir });
      assert.deepEqual(await Promise.all(files.map((f) => readFile(join(pkg, f), "utf8"))), before);
      void image;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("every kpt-set comment names a setter of setters.yaml, and the files hold the setters' values", async () => {
    const setters = parseAllDocuments(await readFile(join(ROOT, "deploy/base/setters.yaml"), "utf8"))[0]?.toJS() as Obj;
    const values = new Map(Object.entries(setters.data as Record<string, string>));
    const files = (await readdir(join(ROOT, "deploy/base"))).filter((f) => f.endsWith(".yaml"));
    let count = 0;
    for (const f of files) {
      for (const line of (await readFile(join(ROOT, "deploy/base", f), "utf8")).split("\n")) {
        const m = /^\s*(?:- )?(?:[\w./-]+: )?(.*?) # kpt-set: (.*)$/.exec(line);
        if (!m) continue;
        count++;
        const expected = (m[2] as string).replace(/\$\{([^}]+)\}/g, (_x, name: string) => {
          assert.ok(values.has(name), `${f}: setter ${name} is not in setters.yaml`);
          return values.get(name) ?? "";
        });
        assert.equal((m[1] as string).replace(/^(['"])(.*)\1$/, "$2"), expected, `${f}: ${line.trim()}`);
      }
    }
    assert.ok(count > 20, `${count} setter comments`);
  });
});

describe("deploy/base: our own image", () => {
  const registry = useServer(() => startRegistry());

  it("is this version's (package.json), in setters.yaml and the Deployment alike", async () => {
    assert.match(shippedImage, new RegExp(`^[^@\\s]+/krm-digester:${VERSION.replaceAll(".", "\\.")}(@sha256:[0-9a-f]{64})?$`), `setters.yaml image ${shippedImage} is version ${VERSION}`);
    const deployment = await readFile(join(ROOT, "deploy/base/deployment.yaml"), "utf8");
    assert.ok(deployment.includes(`image: ${shippedImage} # kpt-set: \${image}`), "the Deployment uses the setter's value");
  });

  it("scripts/pin-deploy.mjs (npm run release with RELEASE_IMAGE) pins it with our own function; then the function finds nothing to resolve", async () => {
    const { digest } = await pushOciManifest(registry(), "team/krm-digester", VERSION);
    const dir = await mkdtemp(join(tmpdir(), "krm-digester-pin-deploy-"));
    try {
      await cp(join(ROOT, "deploy/base"), dir, { recursive: true });
      const home = { ...process.env, HOME: dir, DOCKER_CONFIG: join(dir, "none") };
      const image = `${registry().host}/team/krm-digester`;
      const { stdout } = await run("node", [join(ROOT, "scripts/pin-deploy.mjs"), image, "--dir", dir], { env: home });
      const pinned = `${image}:${VERSION}@${digest}`;
      assert.equal(stdout.trim(), pinned);
      assert.match(pinned, DIGEST);
      assert.ok((await readFile(join(dir, "setters.yaml"), "utf8")).includes(`  image: ${pinned}\n`));
      assert.ok((await readFile(join(dir, "deployment.yaml"), "utf8")).includes(`        image: ${pinned} # kpt-set: \${image}\n`));
      // Only the image changed.
      for (const f of await readdir(dir)) {
        const was = await readFile(join(ROOT, "deploy/base", f), "utf8");
        assert.equal((await readFile(join(dir, f), "utf8")).replaceAll(pinned, shippedImage), was, f);
      }
      const items = await packageItems(dir);
      const out = await runFn(items, { env: home });
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stderr, /0 of 1 image fields pinned, 0 unique references resolved/);
      assert.equal(out.stdout, items);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses another version's tag, or an image that was not pushed, and leaves deploy/ as it was", async () => {
    const dir = await mkdtemp(join(tmpdir(), "krm-digester-pin-deploy-"));
    try {
      await cp(join(ROOT, "deploy/base"), dir, { recursive: true });
      const env = { ...process.env, HOME: dir, DOCKER_CONFIG: join(dir, "none") };
      const pin = (image: string) => run("node", [join(ROOT, "scripts/pin-deploy.mjs"), image, "--dir", dir], { env });
      await assert.rejects(pin(`${registry().host}/team/krm-digester:0.0.9`), (e: { stderr: string }) => e.stderr.includes(`the tag must be the version being released, ${VERSION}`));
      await assert.rejects(pin(`${registry().host}/never/pushed`), (e: { stderr: string }) => /could not be pinned .*push the image first; deploy\/ is unchanged/.test(e.stderr));
      for (const f of await readdir(dir)) assert.equal(await readFile(join(dir, f), "utf8"), await readFile(join(ROOT, "deploy/base", f), "utf8"), f);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** deploy/base's objects as a ResourceList, the way kpt hands a package to a function. */
async function packageItems(dir: string): Promise<string> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".yaml")).sort();
  const items = (await Promise.all(files.map((f) => readFile(join(dir, f), "utf8"))))
    .flatMap((text) => text.split(/^---$/m))
    .map((doc) => doc.replace(/^/gm, "  ").replace(/^ {2}/, "- "))
    .join("\n");
  return `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items}`;
}
