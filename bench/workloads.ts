// ResourceLists for the benchmark: realistic Deployments (labels, probes,
// resources, env, a comment) as kpt sends them, one container each.
import { createHash } from "node:crypto";
import { parse } from "yaml";

export interface ImageSpec {
  /** Repository path inside the registry, e.g. "bench/svc-007". */
  readonly repository: string;
  readonly tag: string;
}

/** One item's image: the reference as written, pinned or not. */
export type Reference = string;

/** `count` distinct images spread over `repositories` repositories (tags v1, v2, … per repository). */
export function imageSpecs(prefix: string, count: number, repositories = count): ImageSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    repository: `${prefix}/svc-${String(i % repositories).padStart(4, "0")}`,
    tag: `v${Math.floor(i / repositories) + 1}.0.${i % 7}`,
  }));
}

/** A stand-in digest for an image that needs no registry (already-pinned workloads). */
export function fakeDigest(seed: string): string {
  return `sha256:${createHash("sha256").update(seed).digest("hex")}`;
}

function deployment(index: number, image: Reference, file: string): string {
  const name = `app-${String(index).padStart(5, "0")}`;
  return `- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: ${name}
    namespace: team-${index % 13}
    labels:
      app.kubernetes.io/name: ${name}
      app.kubernetes.io/part-of: bench
    annotations:
      config.kubernetes.io/index: '${index % 50}'
      config.kubernetes.io/path: '${file}'
      internal.config.kubernetes.io/index: '${index % 50}'
      internal.config.kubernetes.io/path: '${file}'
  spec:
    replicas: ${1 + (index % 3)}
    selector:
      matchLabels:
        app.kubernetes.io/name: ${name}
    template:
      metadata:
        labels:
          app.kubernetes.io/name: ${name}
      spec:
        containers:
        - name: main
          image: ${image} # pinned by krm-digester
          ports:
          - containerPort: 8080
            name: http
          env:
          - name: LOG_LEVEL
            value: "info"
          - name: GREETING
            value: 'hello, world'
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              memory: 256Mi
`;
}

/** A ResourceList of one Deployment per entry of `images`, 50 per file as kpt would group them. */
export function resourceList(images: readonly Reference[]): string {
  return listOf(images.map((image, i) => deployment(i, image, fileOf(i))));
}

/** The file kpt would read item `index` from: 50 per file. */
function fileOf(index: number): string {
  return `deployments/part-${Math.floor(index / 50)}.yaml`;
}

function listOf(items: readonly string[]): string {
  return `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
${items.join("")}`;
}

/** `uses` references per image, interleaved (a, b, c, …, a, b, c, …) as repeats are spread in real packages. */
export function repeated(images: readonly Reference[], uses: number): Reference[] {
  return Array.from({ length: images.length * uses }, (_, i) => images[i % images.length]!);
}

/** resourceList's items as flow mappings, one line each (JSON, as `kpt fn source` never writes but users do): the same data. */
export function flowResourceList(images: readonly Reference[]): string {
  return listOf(images.map((image, i) => `- ${JSON.stringify((parse(deployment(i, image, fileOf(i))) as unknown[])[0])}\n`));
}
