// AdmissionReview bodies shaped as the API server sends them (Kubernetes docs,
// "Dynamic Admission Control", Request): uid, kind/resource/requestKind/
// requestResource, subResource, name, namespace, operation, userInfo,
// object, oldObject (null on CREATE), dryRun, options. Objects come as the
// API server encodes them after defaulting: creationTimestamp null, status {}.
import { randomUUID } from "node:crypto";

export type Obj = Record<string, unknown>;

export interface KindInfo {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly resource: string;
  /** Where the pod spec is, as keys. */
  readonly podSpec: readonly string[];
}

export const KINDS: readonly KindInfo[] = [
  { group: "", version: "v1", kind: "Pod", resource: "pods", podSpec: ["spec"] },
  { group: "", version: "v1", kind: "PodTemplate", resource: "podtemplates", podSpec: ["template", "spec"] },
  { group: "", version: "v1", kind: "ReplicationController", resource: "replicationcontrollers", podSpec: ["spec", "template", "spec"] },
  { group: "apps", version: "v1", kind: "Deployment", resource: "deployments", podSpec: ["spec", "template", "spec"] },
  { group: "apps", version: "v1", kind: "ReplicaSet", resource: "replicasets", podSpec: ["spec", "template", "spec"] },
  { group: "apps", version: "v1", kind: "StatefulSet", resource: "statefulsets", podSpec: ["spec", "template", "spec"] },
  { group: "apps", version: "v1", kind: "DaemonSet", resource: "daemonsets", podSpec: ["spec", "template", "spec"] },
  { group: "batch", version: "v1", kind: "Job", resource: "jobs", podSpec: ["spec", "template", "spec"] },
  { group: "batch", version: "v1", kind: "CronJob", resource: "cronjobs", podSpec: ["spec", "jobTemplate", "spec", "template", "spec"] },
  { group: "argoproj.io", version: "v1alpha1", kind: "Rollout", resource: "rollouts", podSpec: ["spec", "template", "spec"] },
];

export const kindInfo = (kind: string): KindInfo => {
  const k = KINDS.find((i) => i.kind === kind);
  if (!k) throw new Error(`unknown kind ${kind}`);
  return k;
};

export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
}

export interface ObjectSpec {
  readonly kind: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly containers: readonly ContainerSpec[];
  readonly initContainers?: readonly ContainerSpec[];
  readonly ephemeralContainers?: readonly ContainerSpec[];
  readonly annotations?: Record<string, string>;
  readonly ownerReferences?: readonly Obj[];
  readonly imagePullSecrets?: readonly string[];
}

const container = (c: ContainerSpec): Obj => ({
  name: c.name,
  image: c.image,
  resources: {},
  terminationMessagePath: "/dev/termination-log",
  terminationMessagePolicy: "File",
  imagePullPolicy: "IfNotPresent",
});

/** An object of `kind` as the API server holds it at admission. */
export function object(spec: ObjectSpec): Obj {
  const info = kindInfo(spec.kind);
  const podSpec: Obj = {
    containers: spec.containers.map(container),
    restartPolicy: "Always",
    terminationGracePeriodSeconds: 30,
    dnsPolicy: "ClusterFirst",
    securityContext: {},
    schedulerName: "default-scheduler",
  };
  if (spec.initContainers) podSpec.initContainers = spec.initContainers.map(container);
  if (spec.ephemeralContainers) podSpec.ephemeralContainers = spec.ephemeralContainers.map((c) => ({ ...container(c), targetContainerName: "app" }));
  if (spec.imagePullSecrets) podSpec.imagePullSecrets = spec.imagePullSecrets.map((name) => ({ name }));
  const metadata: Obj = { name: spec.name ?? "web", namespace: spec.namespace ?? "shop", creationTimestamp: null };
  if (spec.annotations) metadata.annotations = spec.annotations;
  if (spec.ownerReferences) metadata.ownerReferences = spec.ownerReferences;
  const root: Obj = { apiVersion: info.group ? `${info.group}/${info.version}` : info.version, kind: info.kind, metadata };
  // Build the path down to the pod spec; templates carry their own metadata.
  let at: Obj = root;
  info.podSpec.forEach((key, i) => {
    const last = i === info.podSpec.length - 1;
    const next: Obj = last ? podSpec : {};
    if (key === "template") next.metadata = { creationTimestamp: null, labels: { app: "web" } };
    at[key] = next;
    at = next;
  });
  if (info.kind !== "PodTemplate") root.status = {};
  return root;
}

export interface ReviewSpec {
  readonly apiVersion?: "admission.k8s.io/v1" | "admission.k8s.io/v1beta1";
  readonly operation?: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
  readonly object: Obj | null;
  readonly oldObject?: Obj | null;
  readonly subResource?: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly kind?: string;
}

export function review(spec: ReviewSpec): Obj {
  const kind = spec.kind ?? String((spec.object ?? spec.oldObject)?.kind);
  const info = kindInfo(kind);
  const gvk = { group: info.group, version: info.version, kind: info.kind };
  const gvr = { group: info.group, version: info.version, resource: info.resource };
  const operation = spec.operation ?? "CREATE";
  const metadata = ((spec.object ?? spec.oldObject)?.metadata ?? {}) as Obj;
  const request: Obj = {
    uid: spec.uid ?? randomUUID(),
    kind: gvk,
    resource: gvr,
    requestKind: gvk,
    requestResource: gvr,
    name: metadata.name,
    namespace: spec.namespace ?? metadata.namespace ?? "shop",
    operation,
    userInfo: { username: "kubernetes-admin", groups: ["system:masters", "system:authenticated"] },
    object: spec.object,
    oldObject: spec.oldObject ?? null,
    dryRun: false,
    options: {
      kind: operation === "CREATE" ? "CreateOptions" : "UpdateOptions",
      apiVersion: "meta.k8s.io/v1",
      fieldManager: "kubectl-client-side-apply",
      fieldValidation: "Strict",
    },
  };
  if (spec.subResource) {
    request.subResource = spec.subResource;
    request.requestSubResource = spec.subResource;
  }
  return { kind: "AdmissionReview", apiVersion: spec.apiVersion ?? "admission.k8s.io/v1", request };
}
