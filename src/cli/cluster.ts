// The seam to the cluster (src/cluster/, @kubernetes/client-node), loaded
// only here and only when asked for: online mode, the webhook's own
// certificates. A ClusterError (what, why, what to do) reaches the user as
// an InputError: one line, no stack.
import { ClusterError } from "../cluster/api.js";
import type { Cluster, ClusterOptions, KubeObject } from "../cluster/api.js";
import { InputError } from "../resourcelist/errors.js";

export interface ClusterAccess {
  readonly cluster: Cluster;
  /** The Secrets and ServiceAccounts these pod specs of one namespace use. */
  pullSecretObjects(namespace: string, podSpecs: readonly unknown[]): Promise<KubeObject[]>;
}

/** `forCertificates`: the API is needed only to write the caBundle (the webhook with --offline). */
export async function connect(options: ClusterOptions, forCertificates = false): Promise<ClusterAccess> {
  const [{ connectCluster }, { pullSecretObjects }] = await Promise.all([import("../cluster/client.js"), import("../cluster/pull-secret-objects.js")]);
  const cluster = await connectCluster(options).catch((error: unknown) => {
    if (!forCertificates || !(error instanceof ClusterError)) return asInputError(error);
    // --offline is already given: the way out is certificates of one's own.
    const reason = error.message.replace(/, or run with --offline$/, "");
    throw new InputError(
      `webhook: certificate rotation writes its CA into the MutatingWebhookConfiguration through the Kubernetes API: ${reason}; ` +
        "without an API, run with --disable-cert-rotation and tls.crt/tls.key in --cert-dir",
    );
  });
  return {
    cluster,
    pullSecretObjects: (namespace, podSpecs) => pullSecretObjects(cluster, namespace, podSpecs).catch(asInputError),
  };
}

/**
 * Self-signed serving certificate, rotated, its CA written into the
 * MutatingWebhookConfiguration (src/webhook/certificates.ts).
 */
export async function startCertRotation(options: {
  readonly certDir: string;
  readonly cluster: Cluster;
  readonly log: (line: Record<string, unknown>) => void;
}): Promise<{ stop(): void }> {
  const { startCertificateRotation } = await import("../webhook/certificates.js");
  return startCertificateRotation(options).catch((error: unknown) =>
    asInputError(error instanceof ClusterError ? new ClusterError(`certificate rotation: ${error.message}`) : error),
  );
}

function asInputError(error: unknown): never {
  throw error instanceof ClusterError ? new InputError(error.message) : error;
}
