// A small package for the integration tests: two workloads in two files,
// three image fields, two unique images (one multi-platform index, one Docker
// manifest), comments and quoting that must survive, a local-config file, and
// optionally a pull secret both workloads name.
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { PushedManifest, SeedTarget } from "./seed.js";
import { pushDockerManifest, pushOciIndex } from "./seed.js";

export interface SampleImages {
  /** "HOST/shop/web:v1", an OCI index. */
  readonly web: string;
  /** "HOST/shop/init:v2", a Docker schema 2 manifest. */
  readonly init: string;
  readonly digests: ReadonlyMap<string, string>;
}

export interface SampleOptions {
  /** Adds secret.yaml, a kubernetes.io/dockerconfigjson Secret "regcred" in namespace shop, named by both workloads. */
  readonly pullSecret?: { readonly host: string; readonly user: string; readonly password: string };
}

/** Pushes the package's two images to `target` (whose host is `host`). */
export async function seedSample(target: SeedTarget, host: string): Promise<SampleImages> {
  const [web, init]: PushedManifest[] = await Promise.all([pushOciIndex(target, "shop/web", "v1"), pushDockerManifest(target, "shop/init", "v2")]);
  const images = { web: `${host}/shop/web:v1`, init: `${host}/shop/init:v2` };
  return { ...images, digests: new Map([[images.web, web?.digest ?? ""], [images.init, init?.digest ?? ""]]) };
}

const b64 = (text: string): string => Buffer.from(text).toString("base64");

/** A docker config.json holding one `auths` entry. */
export function dockerConfigJson(host: string, user: string, password: string): string {
  return JSON.stringify({ auths: { [host]: { auth: b64(`${user}:${password}`) } } }, null, 2) + "\n";
}

function sampleFiles(images: SampleImages, pinned: boolean, options: SampleOptions): Record<string, string> {
  const ref = (image: string): string => (pinned ? `${image}@${images.digests.get(image) ?? "?"}` : image);
  const secrets = (indent: string): string => (options.pullSecret ? `${indent}imagePullSecrets:\n${indent}- name: regcred\n` : "");
  const files: Record<string, string> = {
    "deployment.yaml": `# The web tier.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  template:
    spec:
${secrets("      ")}      initContainers:
      - name: init
        image: "${ref(images.init)}" # quoted on purpose
      containers:
      - name: web
        image: ${ref(images.web)}
        ports:
        - containerPort: 8080
`,
    "cronjob.yaml": `apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
  namespace: shop
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
${secrets("          ")}          containers:
          - name: report
            image: ${ref(images.web)} # same image as the web tier
`,
    // Not a resource of the package: kpt passes it, the function must not touch it.
    "settings.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  annotations:
    config.kubernetes.io/local-config: "true"
data:
  image: ${images.web}
`,
  };
  const secret = options.pullSecret;
  if (secret) {
    files["secret.yaml"] = `apiVersion: v1
kind: Secret
metadata:
  name: regcred
  namespace: shop
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: ${b64(dockerConfigJson(secret.host, secret.user, secret.password))}
`;
  }
  return files;
}

/** Writes the package into `dir` (created). */
export async function writeSample(dir: string, images: SampleImages, options: SampleOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(sampleFiles(images, false, options))) await writeFile(join(dir, name), text);
}

/** Each file as the function should leave it: every workload image pinned, nothing else changed. */
export function pinnedSample(images: SampleImages, options: SampleOptions = {}): Record<string, string> {
  return sampleFiles(images, true, options);
}

/** Each file as written (what a failed run must leave). */
export function unpinnedSample(images: SampleImages, options: SampleOptions = {}): Record<string, string> {
  return sampleFiles(images, false, options);
}

/** The package's YAML files (not the Kptfile) as they are now. */
export async function readSample(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const names = (await readdir(dir)).filter((n) => n.endsWith(".yaml") && n !== "kustomization.yaml").sort();
  for (const name of names) out[name] = await readFile(join(dir, name), "utf8");
  return out;
}
