// `krm-digester images --kustomization FILE PATH...`: the images used under
// PATH, resolved, written into a kustomization's `images:` as `name` and
// `digest` entries, as `kustomize edit set image NAME@DIGEST` writes them. The
// resources stay as they are; kustomize's image transformer applies the
// digests when it builds.
import { isMap, isScalar, parseDocument, stringify } from "yaml";
import type { Pair } from "yaml";
import type { DigesterOptions } from "../config.js";
import { InvalidReferenceError, parseReference } from "../name/reference.js";
import type { ImageReference } from "../name/reference.js";
import { isLocalConfig } from "../resourcelist/identity.js";
import { lookupKey, resolveAll } from "../resolve.js";
import type { DigestSource } from "../resolve.js";
import { imageSlots } from "../workloads.js";
import { lineOf } from "./pin-files.js";
import type { FileResult, YamlFile } from "./pin-files.js";
import { lineEnd } from "../resourcelist/offsets.js";

interface Use {
  readonly ref: ImageReference;
  /** The image's name as written, without tag or digest: what kustomize matches `images[].name` against. */
  readonly name: string;
  readonly where: string;
}

export interface ImageEntries {
  /** name -> digest, for every image name used under the paths. */
  readonly digests: Map<string, string>;
  readonly results: FileResult[];
  readonly unique: number;
}

function nameOf(original: string): string {
  const at = original.indexOf("@");
  const base = at < 0 ? original : original.slice(0, at);
  const colon = base.lastIndexOf(":");
  return colon > base.lastIndexOf("/") ? base.slice(0, colon) : base;
}

/** Resolves every image used in the files, one digest per image name. */
export async function imageDigests(files: readonly YamlFile[], options: DigesterOptions, source: DigestSource): Promise<ImageEntries> {
  const uses: Use[] = [];
  const results: FileResult[] = [];
  for (const file of files) {
    for (const [index, document] of file.documents.entries()) {
      const item = document.contents;
      if (!isMap(item) || isLocalConfig(item)) continue;
      for (const slot of imageSlots(item, document)) {
        if (slot.kind !== "image") continue;
        const line = slot.node.range ? lineOf(file.text, slot.node.range[0]) : undefined;
        const where = `${file.display}${line === undefined ? "" : `:${line}`}`;
        try {
          const ref = parseReference(slot.value);
          if (options.skipPrefixes.some((p) => ref.original.startsWith(p) || `${ref.registry}/${ref.repository}`.startsWith(p))) continue;
          uses.push({ ref, name: nameOf(ref.original), where });
        } catch (error) {
          if (!(error instanceof InvalidReferenceError)) throw error;
          const result: FileResult = { severity: "error", message: `${slot.path}: ${error.message}; fix the image field`, file: { path: file.display, index } };
          if (line !== undefined) result.line = line;
          results.push(result);
        }
      }
    }
  }
  const outcomes = await resolveAll(
    uses.filter((u) => u.ref.digest === undefined).map((u) => ({ ref: u.ref })),
    source,
    options.concurrency,
  );
  const digests = new Map<string, string>();
  const firstUse = new Map<string, Use>();
  for (const use of uses) {
    let digest = use.ref.digest;
    if (digest === undefined) {
      const outcome = outcomes.get(lookupKey(use.ref));
      if (!outcome || "error" in outcome) {
        const error = outcome && "error" in outcome ? outcome.error : undefined;
        const why = error instanceof Error ? `${error.message}${"hint" in error && typeof error.hint === "string" ? ` ${error.hint}` : ""}` : String(error);
        results.push({ severity: "error", message: `${use.where}: cannot resolve ${use.ref.original}: ${why}` });
        continue;
      }
      digest = outcome.digest;
    }
    const before = digests.get(use.name);
    const first = firstUse.get(use.name);
    if (before !== undefined && before !== digest && first) {
      results.push({
        severity: "error",
        message:
          `kustomize's images: holds one digest per name, and ${use.name} is used as ${first.ref.original} (${first.where}, ${before}) ` +
          `and as ${use.ref.original} (${use.where}, ${digest}); use one tag, or pin these resources with krm-digester pin instead`,
      });
      continue;
    }
    digests.set(use.name, digest);
    if (!first) firstUse.set(use.name, use);
  }
  return { digests, results, unique: outcomes.size };
}

/** Problems with the kustomization itself: a bad command line, exit 2. */
export class KustomizationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KustomizationError";
  }
}

/**
 * The kustomization's text with `images:` holding `digests`: an entry per name
 * (kept, with its digest set and newTag dropped: a digest replaces the tag),
 * sorted by name as kustomize edit writes them. Only the `images` key's text
 * changes. Entries with newName are left alone (their image is another one),
 * with a warning.
 */
export function setImages(text: string, file: string, digests: ReadonlyMap<string, string>): { text: string; warnings: string[] } {
  const document = parseDocument(text);
  const error = document.errors[0];
  if (error) throw new KustomizationError(`${file} is not valid YAML: ${error.message.split("\n")[0] ?? error.code}`);
  const root = document.contents;
  if (root !== null && !isMap(root)) throw new KustomizationError(`${file} is not a kustomization (expected a mapping)`);
  const pair = isMap(root) ? root.items.find((p: Pair) => isScalar(p.key) && p.key.value === "images") : undefined;
  const current: unknown = pair ? (pair.value as { toJSON?: () => unknown } | null)?.toJSON?.() ?? null : null;
  if (current !== null && !Array.isArray(current)) throw new KustomizationError(`${file}: images must be a list`);
  const entries = ((current ?? []) as unknown[]).map((e, i) => {
    if (typeof e !== "object" || e === null || typeof (e as { name?: unknown }).name !== "string") throw new KustomizationError(`${file}: images[${i}] has no name`);
    return { ...(e as Record<string, unknown>) } as Record<string, unknown> & { name: string };
  });
  const warnings: string[] = [];
  for (const [name, digest] of digests) {
    const entry = entries.find((e) => e.name === name);
    if (!entry) {
      entries.push({ name, digest });
      continue;
    }
    if (entry.newName !== undefined) {
      warnings.push(`${file}: images entry ${name} has newName ${JSON.stringify(entry.newName)}, so its image is not the one used under the paths; it was left as it is`);
      continue;
    }
    delete entry.newTag;
    entry.digest = digest;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const block = stringify({ images: entries }, { indentSeq: false, lineWidth: 0 });
  const keyRange = pair && isScalar(pair.key) ? pair.key.range : undefined;
  if (pair && keyRange) {
    const end = lineEnd(text, (pair.value as { range?: [number, number, number] } | null)?.range?.[1] ?? keyRange[1]);
    return { text: text.slice(0, keyRange[0]) + block + text.slice(end), warnings };
  }
  const prefix = text === "" || text.endsWith("\n") ? "" : "\n";
  return { text: text + prefix + block, warnings };
}

