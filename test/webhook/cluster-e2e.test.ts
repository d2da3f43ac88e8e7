// `krm-digester webhook`, the built binary, against our fake Kubernetes API:
// without --disable-cert-rotation it makes its own certificate, writes the CA
// into its MutatingWebhookConfiguration, and serves TLS that verifies by the
// Service's name against that caBundle, as the API server would check it; online
// (--offline=false), a Pod's private image is pinned with the pull secret of the
// namespace's default ServiceAccount, read from the cluster.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { after, before, describe, it } from "node:test";
import { object, review } from "../support/admission.js";
import { startKubeApi } from "../support/kube-api.js";
import type { KubeApi } from "../support/kube-api.js";
import { freePort, startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { BUNDLE } from "../support/run-fn.js";
import { pushOciManifest } from "../support/seed.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");
const SERVICE = "krm-digester.digest-system.svc";

interface Running {
  readonly child: ChildProcess;
  readonly port: number;
  out(): string;
  stop(): Promise<number | null>;
}

async function startBinary(args: string[], env: NodeJS.ProcessEnv): Promise<Running> {
  const [port, health, metrics] = [await freePort(), await freePort(), await freePort()];
  // No shutdown delay: these tests stop the process as soon as they are done (test/webhook/shutdown.test.ts has the delay).
  const child = spawn(BUNDLE, ["webhook", `--port=${port}`, `--health-addr=127.0.0.1:${health}`, `--metrics-addr=127.0.0.1:${metrics}`, "--shutdown-delay=0s", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let out = "";
  child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  for (let i = 0; i < 300 && !out.includes("webhook serving") && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(out.includes("webhook serving"), `started: ${out}`);
  return {
    child,
    port,
    out: () => out,
    stop: async () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

/** POSTs a review over TLS that trusts only `caPem` and checks the certificate for the Service's name (SNI). */
function post(port: number, caPem: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: SERVICE, ca: caPem }, () => {
      const text = JSON.stringify(body);
      socket.write(
        `POST /v1/mutate?timeout=10s HTTP/1.1\r\nhost: ${SERVICE}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
      );
    });
    let raw = "";
    socket.on("data", (c: Buffer) => (raw += c.toString()));
    socket.on("error", reject);
    socket.on("end", () => {
      const [head = "", ...rest] = raw.split("\r\n\r\n");
      const bodyText = rest.join("\r\n\r\n");
      // The server may answer chunked: take the JSON between the first "{" and the last "}".
      const json = JSON.parse(bodyText.slice(bodyText.indexOf("{"), bodyText.lastIndexOf("}") + 1)) as Record<string, unknown>;
      resolve({ status: Number(head.split(" ")[1]), json });
    });
  });
}

function caBundle(api: KubeApi): string {
  const webhooks = (api.get("MutatingWebhookConfiguration", undefined, "krm-digester")?.webhooks ?? []) as { clientConfig: { caBundle?: string } }[];
  return Buffer.from(webhooks[0]?.clientConfig.caBundle ?? "", "base64").toString("utf8");
}

describe("krm-digester webhook against the fake Kubernetes API", () => {
  let api: KubeApi;
  let registry: Registry;
  let work: string;
  let kubeconfig: string;
  let digest: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    api = await startKubeApi();
    registry = await startRegistry({ tls: true, htpasswd: { user: "puller", password: "pw-1" } });
    digest = (await pushOciManifest(registry, "private/app", "v1")).digest;
    api.put({
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingWebhookConfiguration",
      metadata: { name: "krm-digester" },
      webhooks: [{ name: "digest.krm-digester.dev", sideEffects: "None", admissionReviewVersions: ["v1"], clientConfig: { service: { name: "krm-digester", namespace: "digest-system" } } }],
    });
    const auths = b64(JSON.stringify({ auths: { [registry.host]: { auth: b64("puller:pw-1") } } }));
    api.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "regcred", namespace: "prod" }, type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": auths } });
    api.put({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: "prod" }, imagePullSecrets: [{ name: "regcred" }] });
    kubeconfig = await api.writeKubeconfig();
    work = await mkdtemp(join(tmpdir(), "krm-digester-hook-"));
    await writeFile(join(work, "config.json"), "{}");
    assert.ok(registry.caFile);
    env = {
      PATH: process.env.PATH,
      HOME: work,
      DOCKER_CONFIG: work,
      NODE_EXTRA_CA_CERTS: registry.caFile,
      POD_NAMESPACE: "digest-system",
      KRM_DIGESTER_SERVICE: "krm-digester",
      KRM_DIGESTER_WEBHOOK_CONFIGURATION: "krm-digester",
    };
  });
  after(async () => {
    await Promise.all([api?.stop(), registry?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  it("its own certificate: the CA in caBundle, TLS verified by the Service's name; online, a private image pinned with the cluster's pull secret", async () => {
    const certDir = join(work, "certs");
    const hook = await startBinary(["--offline=false", `--kubeconfig=${kubeconfig}`, `--cert-dir=${certDir}`], env);
    try {
      const ca = caBundle(api);
      assert.match(ca, /^-----BEGIN CERTIFICATE-----/);
      assert.match(await readFile(join(certDir, "tls.crt"), "utf8"), /^-----BEGIN CERTIFICATE-----/);
      const pod = object({ kind: "Pod", namespace: "prod", containers: [{ name: "app", image: `${registry.host}/private/app:v1` }] });
      const res = await post(hook.port, ca, review({ object: pod, namespace: "prod" }));
      assert.equal(res.status, 200);
      const response = res.json.response as { allowed: boolean; patch?: string; warnings?: string[] };
      assert.equal(response.allowed, true, JSON.stringify(response));
      const patch = JSON.parse(Buffer.from(response.patch ?? "", "base64").toString("utf8")) as { value: string }[];
      assert.deepEqual(
        patch.map((p) => p.value),
        [`${registry.host}/private/app:v1@${digest}`],
      );
      assert.ok(api.requestCount({ verb: "get", resource: "secrets" }) >= 1);
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(api.watchers >= 1, "the webhook watches what it cached");
    } finally {
      assert.equal(await hook.stop(), 0, hook.out());
    }
  });

  it("offline without an API: one line saying how to run without rotation", async () => {
    const child = spawn(BUNDLE, ["webhook", "--offline", `--cert-dir=${join(work, "c2")}`], { stdio: ["ignore", "pipe", "pipe"], env });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(code, 2);
    assert.match(err, /certificate rotation .* no Kubernetes configuration found/);
    assert.match(err, /--disable-cert-rotation/);
    assert.equal(err.trim().split("\n").length, 1);
  });
});
