// The seam to the cluster (src/cluster/, @kubernetes/client-node, loaded only
// here and only in online mode). Until src/cluster/client.ts is on main,
// online mode says that it is missing instead of pretending to work. Wiring
// it is these lines (whoever lands second):
//   connect:  const { connectCluster } = await import("../cluster/client.js");
//             const { pullSecretObjects } = await import("../cluster/pull-secret-objects.js");
//             const cluster = await connectCluster(options);
//             return { cluster, pullSecretObjects: (ns, specs) => pullSecretObjects(cluster, ns, specs) };
//   startCertRotation: const { startCertificateRotation } = await import("../webhook/certificates.js");
//             return startCertificateRotation(options);
// and the tests: test/e2e/cli.test.ts's "--offline=false says what online mode needs" and
// "without --offline or --disable-cert-rotation" become runs against test/support/kube-api.ts.
import type { Cluster, ClusterOptions, KubeObject } from "../cluster/api.js";
import { InputError } from "../resourcelist/errors.js";

export interface ClusterAccess {
  readonly cluster: Cluster;
  /** The Secrets and ServiceAccounts these pod specs of one namespace use. */
  pullSecretObjects(namespace: string, podSpecs: readonly unknown[]): Promise<KubeObject[]>;
}

export function connect(options: ClusterOptions): Promise<ClusterAccess> {
  void options;
  return Promise.reject(
    new InputError(
      "reading the cluster (online mode, --offline=false; the webhook's certificate rotation) needs the cluster client, which is not in this build yet: " +
        "the function runs with --offline (its default), the webhook with --offline --disable-cert-rotation",
    ),
  );
}

/**
 * Self-signed serving certificate, rotated, its CA written into the
 * MutatingWebhookConfiguration (src/webhook/certificates.ts, the cluster
 * side's). Until that lands, the webhook runs with --disable-cert-rotation.
 */
export function startCertRotation(options: {
  readonly certDir: string;
  readonly cluster: Cluster;
  readonly log: (line: Record<string, unknown>) => void;
}): Promise<{ stop(): void }> {
  void options;
  return Promise.reject(
    new InputError(
      "certificate rotation is not in this build yet: run with --disable-cert-rotation and tls.crt/tls.key in --cert-dir (e.g. from cert-manager)",
    ),
  );
}
