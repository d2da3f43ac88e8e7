// The webhook's own certificates: a CA and a serving certificate that verify
// for the Service's DNS names (node:crypto's X509Certificate and a real TLS
// handshake), files written atomically, the CA landing in the fake API's
// MutatingWebhookConfiguration, renewal before expiry, expired CAs dropped.
import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, createServer } from "node:tls";
import { after, before, describe, it } from "node:test";
import { ClusterError } from "../../src/cluster/api.js";
import type { Cluster } from "../../src/cluster/api.js";
import { connectCluster } from "../../src/cluster/client.js";
import { issueCertificate, serviceDnsNames, servingIdentity, startCertificateRotation, writeServingFiles } from "../../src/webhook/certificates.js";
import { startKubeApi } from "../support/kube-api.js";
import type { KubeApi } from "../support/kube-api.js";

const NAMES = serviceDnsNames("krm-digester", "digest-system");

function bundleOf(api: KubeApi, name: string): string[] {
  const webhooks = (api.get("MutatingWebhookConfiguration", undefined, name)?.webhooks ?? []) as { clientConfig: { caBundle?: string } }[];
  return webhooks.map((w) => Buffer.from(w.clientConfig.caBundle ?? "", "base64").toString("utf8"));
}

function configuration(name: string): Record<string, unknown> {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name },
    webhooks: ["pods", "workloads"].map((w) => ({
      name: `${w}.krm-digester.dev`,
      sideEffects: "None",
      admissionReviewVersions: ["v1"],
      clientConfig: { service: { name: "krm-digester", namespace: "digest-system", path: "/v1/mutate" } },
    })),
  };
}

/** A TLS handshake against the certificate, as the API server makes it (SNI = the Service name, the CA from the caBundle). */
async function handshake(certPem: string, keyPem: string, caPem: string, servername: string): Promise<string | undefined> {
  const server = createServer({ cert: certPem, key: keyPem }, (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  try {
    return await new Promise<string | undefined>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port, servername, ca: caPem }, () => {
        socket.end();
        resolve(undefined);
      });
      socket.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
  } finally {
    server.close();
  }
}

describe("issueCertificate", () => {
  it("a CA and a serving certificate for the Service's DNS names that verify against it", async () => {
    assert.deepEqual(NAMES, ["krm-digester.digest-system.svc", "krm-digester.digest-system.svc.cluster.local"]);
    const issued = await issueCertificate(NAMES, 3600_000);
    const ca = new X509Certificate(issued.caPem);
    const cert = new X509Certificate(issued.certPem);
    assert.equal(ca.ca, true);
    assert.equal(cert.ca, false);
    assert.ok(cert.checkIssued(ca));
    assert.ok(cert.verify(ca.publicKey));
    for (const name of NAMES) assert.equal(cert.checkHost(name), name);
    assert.equal(cert.checkHost("krm-digester.other.svc"), undefined);
    assert.ok(cert.checkPrivateKey(createPrivateKey(issued.keyPem)));
    assert.deepEqual(cert.keyUsage, ["1.3.6.1.5.5.7.3.1"], "serverAuth");
    assert.ok(Date.parse(cert.validTo) >= Date.now() + 3500_000);
    assert.ok(Date.parse(cert.validFrom) <= Date.now(), "valid now, also for a server whose clock is a little behind");
    // Each call is a new CA: nothing is shared between replicas or rotations.
    const other = await issueCertificate(NAMES, 3600_000);
    assert.ok(!new X509Certificate(other.certPem).checkIssued(ca));
  });

  it("serves TLS as the API server dials it: by <svc>.<ns>.svc, trusting only the CA", async () => {
    const issued = await issueCertificate(NAMES, 3600_000);
    assert.equal(await handshake(issued.certPem, issued.keyPem, issued.caPem, "krm-digester.digest-system.svc"), undefined);
    assert.equal(await handshake(issued.certPem, issued.keyPem, issued.caPem, "krm-digester.digest-system.svc.cluster.local"), undefined);
    assert.equal(await handshake(issued.certPem, issued.keyPem, issued.caPem, "evil.digest-system.svc"), "ERR_TLS_CERT_ALTNAME_INVALID");
    const stranger = await issueCertificate(NAMES, 3600_000);
    assert.equal(await handshake(issued.certPem, issued.keyPem, stranger.caPem, NAMES[0] as string), "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
  });

  it("servingIdentity reads the Deployment's environment", () => {
    assert.deepEqual(servingIdentity({ POD_NAMESPACE: "ops", KRM_DIGESTER_SERVICE: "pin", KRM_DIGESTER_WEBHOOK_CONFIGURATION: "pin-cfg" }), {
      service: "pin",
      namespace: "ops",
      webhookConfiguration: "pin-cfg",
    });
    assert.equal(servingIdentity({ POD_NAMESPACE: "ops" }).service, "krm-digester");
  });
});

describe("certificate files and rotation", () => {
  let api: KubeApi;
  let cluster: Cluster;
  let dir: string;
  before(async () => {
    api = await startKubeApi();
    cluster = await connectCluster({ kubeconfig: await api.writeKubeconfig() });
    dir = await mkdtemp(join(tmpdir(), "krm-digester-certs-"));
  });
  after(async () => {
    await cluster.close();
    await api.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("writeServingFiles: tls.crt and tls.key, the key readable by its owner only, no temporary files left", async () => {
    const issued = await issueCertificate(NAMES, 3600_000);
    const target = join(dir, "plain");
    await writeServingFiles(target, issued);
    await writeServingFiles(target, issued);
    assert.deepEqual((await readdir(target)).sort(), ["tls.crt", "tls.key"]);
    assert.equal(await readFile(join(target, "tls.crt"), "utf8"), issued.certPem);
    assert.equal((await stat(join(target, "tls.key"))).mode & 0o777, 0o600);
  });

  it("start: the CA lands in every webhook's caBundle, the files verify; rotate: new CA added first, files replaced, old CA kept", async () => {
    api.put(configuration("krm-digester"));
    const certDir = join(dir, "rotating");
    const rotation = await startCertificateRotation({
      certDir,
      cluster,
      identity: { service: "krm-digester", namespace: "digest-system", webhookConfiguration: "krm-digester" },
      validityMs: 3600_000,
    });
    try {
      const first = await readFile(join(certDir, "tls.crt"), "utf8");
      const ca = new X509Certificate(rotation.caPem);
      assert.ok(new X509Certificate(first).checkIssued(ca));
      assert.deepEqual(bundleOf(api, "krm-digester"), [rotation.caPem, rotation.caPem]);
      // Renewal is due well before expiry: two thirds into the validity.
      assert.ok(rotation.nextRotation.getTime() < rotation.notAfter.getTime() - 15 * 60_000);
      assert.ok(rotation.nextRotation.getTime() > Date.now() + 30 * 60_000);
      const oldCa = rotation.caPem;
      await rotation.rotate();
      const second = await readFile(join(certDir, "tls.crt"), "utf8");
      assert.notEqual(second, first);
      assert.notEqual(rotation.caPem, oldCa);
      assert.ok(new X509Certificate(second).checkIssued(new X509Certificate(rotation.caPem)));
      assert.ok(new X509Certificate(second).checkPrivateKey(createPrivateKey(await readFile(join(certDir, "tls.key"), "utf8"))));
      const [bundle] = bundleOf(api, "krm-digester");
      assert.equal(bundle, rotation.caPem + oldCa, "the old CA stays trusted until it expires (connections made with the old certificate)");
    } finally {
      rotation.stop();
    }
  });

  it("renews by itself before the certificate expires", async () => {
    api.put(configuration("short"));
    const certDir = join(dir, "short");
    // 1.5 s of validity: due after 1 s.
    const rotation = await startCertificateRotation({
      certDir,
      cluster,
      identity: { service: "krm-digester", namespace: "digest-system", webhookConfiguration: "short" },
      validityMs: 1500,
    });
    try {
      const first = await readFile(join(certDir, "tls.crt"), "utf8");
      const firstExpiry = rotation.notAfter.getTime();
      let replaced = false;
      for (let i = 0; i < 200 && !replaced; i++) {
        await new Promise((r) => setTimeout(r, 50));
        replaced = (await readFile(join(certDir, "tls.crt"), "utf8")) !== first;
      }
      assert.ok(replaced, "tls.crt was renewed");
      assert.ok(rotation.notAfter.getTime() > firstExpiry);
    } finally {
      rotation.stop();
    }
  });

  it("expired CAs leave the caBundle when a new one is written", async () => {
    api.put(configuration("expiry"));
    const expired = await issueCertificate(NAMES, 1000, new Date(Date.now() - 3600_000));
    const live = await issueCertificate(NAMES, 3600_000);
    const fresh = await issueCertificate(NAMES, 3600_000);
    await cluster.setWebhookCABundle("expiry", live.caPem + expired.caPem);
    assert.deepEqual(bundleOf(api, "expiry"), [live.caPem, live.caPem], "an expired CA is never written");
    await cluster.setWebhookCABundle("expiry", fresh.caPem);
    assert.deepEqual(bundleOf(api, "expiry"), [fresh.caPem + live.caPem, fresh.caPem + live.caPem]);
  });

  it("start fails with the API's reason when the webhook configuration is missing", async () => {
    await assert.rejects(
      startCertificateRotation({
        certDir: join(dir, "missing"),
        cluster,
        identity: { service: "krm-digester", namespace: "digest-system", webhookConfiguration: "absent" },
      }),
      (err: unknown) => err instanceof ClusterError && /MutatingWebhookConfiguration absent does not exist/.test(err.message),
    );
  });
});
