// What the webhook and the online function read from (and write to) a
// Kubernetes cluster, and nothing more. The implementation (client.ts) loads
// @kubernetes/client-node lazily: the offline function never pays for it.

/** A Kubernetes object as the API serves it (JSON). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface ClusterOptions {
  /** Path of a kubeconfig; without it: $KUBECONFIG, ~/.kube/config, then the in-cluster service account. */
  kubeconfig?: string | undefined;
  /** How long a read Secret or ServiceAccount is reused, in milliseconds (a watch may keep it fresher). */
  cacheTtlMs?: number | undefined;
  /** Keep cached objects fresh with a watch per resource type (the long-running webhook); off for one-shot runs. */
  watch?: boolean | undefined;
}

export interface Cluster {
  /** The v1 Secret, or undefined when it does not exist (404). Throws ClusterError otherwise. */
  secret(namespace: string, name: string): Promise<KubeObject | undefined>;
  /** The v1 ServiceAccount, or undefined when it does not exist (404). Throws ClusterError otherwise. */
  serviceAccount(namespace: string, name: string): Promise<KubeObject | undefined>;
  /**
   * Adds the CA (PEM) to `caBundle` (base64-encoded as the API wants) of every webhook of the
   * MutatingWebhookConfiguration; CAs already there that are still valid stay (other replicas', the one before a rotation).
   */
  setWebhookCABundle(configurationName: string, caPem: string): Promise<void>;
  /** Whether the API server answers now (for /readyz); cheap, may be cached for a moment. */
  reachable(): Promise<boolean>;
  close(): Promise<void>;
}

/** The API could not be read: the message names the object, the cause and what to do (e.g. the RBAC rule to grant). */
export class ClusterError extends Error {
  override readonly name = "ClusterError";
}
