// Real published manifests (../shared/corpus) pointed at a local registry:
// every container image reference gets the registry's host in front, so the
// same repositories and tags resolve on loopback.
import { cp, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { parseReference } from "../../src/name/reference.js";
import { ROOT } from "./run-fn.js";
import type { SeedSpec } from "./seed.js";
import { IMAGE_KINDS } from "./seed.js";

export const CORPUS = join(ROOT, "..", "shared", "corpus");

/** One package per case: a directory, or a directory holding one file. */
export const CORPUS_PACKAGES: readonly { name: string; paths: readonly string[]; root?: string }[] = [
  { name: "k8s-digester", paths: ["k8s-digester"] },
  { name: "online-boutique", paths: ["microservices-demo/kubernetes-manifests"] },
  { name: "online-boutique-release", paths: ["microservices-demo/release-kubernetes-manifests.yaml"] },
  { name: "ingress-nginx", paths: ["ingress-nginx/deploy.yaml"] },
  { name: "argo-cd", paths: ["argo-cd/install.yaml"] },
  // Ours: comments at the head of list items, which kpt's own identity run doubles.
  { name: "head-comments", paths: ["head-comments"], root: join(ROOT, "test", "fixtures") },
];

// `image: value` lines (list item or key), optionally quoted, with the value captured.
const IMAGE_LINE = /^(\s*(?:-\s+)?image:\s+)(["']?)([^\s"'#]+)\2/gm;

export interface PreparedPackage {
  dir: string;
  /** Images to seed: unique repository + tag of every reference without a digest. */
  seeds: SeedSpec[];
  /** How many image lines (with no digest) the function should pin. */
  unpinnedLines: number;
}

export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(dir, join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

/** Copies a corpus package into `dest` with its images moved onto `host`. */
export async function preparePackage(pkg: (typeof CORPUS_PACKAGES)[number], dest: string, host: string): Promise<PreparedPackage> {
  await mkdir(dest, { recursive: true });
  for (const path of pkg.paths) {
    const from = join(pkg.root ?? CORPUS, path);
    await cp(from, path.endsWith(".yaml") ? join(dest, path.split("/").pop() ?? path) : dest, { recursive: true });
  }
  const seeds = new Map<string, SeedSpec>();
  let unpinnedLines = 0;
  for (const file of await listFiles(dest)) {
    if (!/\.ya?ml$/.test(file)) continue;
    const path = join(dest, file);
    const text = await readFile(path, "utf8");
    const moved = text.replace(IMAGE_LINE, (_line, lead: string, quote: string, value: string) => {
      const image = `${host}/${value}`;
      const ref = parseReference(image);
      if (ref.digest === undefined) {
        unpinnedLines++;
        const tag = ref.tag ?? "latest";
        const kind = IMAGE_KINDS[seeds.size % IMAGE_KINDS.length] ?? "oci-manifest";
        seeds.set(`${ref.repository}:${tag}`, { repository: ref.repository, tag, kind });
      }
      return `${lead}${quote}${image}${quote}`;
    });
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, moved);
  }
  return { dir: dest, seeds: [...seeds.values()], unpinnedLines };
}

/** Every line where `after` differs from `before`; the two must have as many lines. */
export function changedLines(before: string, after: string): { before: string; after: string }[] {
  const a = before.split("\n");
  const b = after.split("\n");
  if (a.length !== b.length) throw new Error(`line count changed: ${a.length} -> ${b.length}`);
  return a.flatMap((line, i) => (line === b[i] ? [] : [{ before: line, after: b[i] ?? "" }]));
}
