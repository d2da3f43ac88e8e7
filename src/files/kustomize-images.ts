// `krm-digester images --kustomization FILE PATH...`: the images used under
// PATH, resolved, written into a kustomization's `images:` as `name` and
// `digest` entries, as `kustomize edit set image NAME@DIGEST` writes them. The
// resources stay as they are; kustomize's image transformer applies the
// digests when it builds.
import { isMap, isScalar, parseDocument, stringify } from "yaml";
import type { Pair, Scalar } from "yaml";
import type { DigesterOptions } from "../config.js";
import { planPins } from "../core/plan.js";
import { SkipAnnotations, containerName, imageSkipReason, skipRules } from "../core/skip.js";
import { InvalidReferenceError, parseReference } from "../name/reference.js";
import type { ImageReference } from "../name/reference.js";
import { isLocalConfig } from "../resourcelist/identity.js";
import type { DigestSource } from "../resolve.js";
import { imageSlots } from "../workloads.js";
import { SharedSource, asList, credentialObjects, lineOf, placeResults, uniqueResults } from "./pin-files.js";
import type { FileResult, YamlFile } from "./pin-files.js";
import { lineEnd } from "../resourcelist/offsets.js";

interface Use {
  readonly ref: ImageReference;
  /** The image's name as written, without tag or digest: what kustomize matches `images[].name` against. */
  readonly name: string;
  /** The entry's value: a digest, and a new name where the field is a build artifact's placeholder. */
  readonly entry: ImageEntry;
  readonly where: string;
}

export interface ImageEntry {
  readonly digest: string;
  /** `REPO/app` for a build artifact's placeholder `app` (buildArtifacts): kustomize's newName. */
  readonly newName?: string | undefined;
}

export interface ImageEntries {
  /** name -> its entry, for every image name used under the paths. */
  readonly digests: Map<string, ImageEntry>;
  readonly results: FileResult[];
  readonly unique: number;
}

function nameOf(original: string): string {
  const at = original.indexOf("@");
  const base = at < 0 ? original : original.slice(0, at);
  const colon = base.lastIndexOf(":");
  return colon > base.lastIndexOf("/") ? base.slice(0, colon) : base;
}

/**
 * Resolves every image used in the files, one entry per image name, through the
 * same core as `pin` and the function (src/core/plan.ts): the pull secrets and
 * ServiceAccounts among the files, skip rules and annotations, placeholders of
 * other tools, build artifacts, the lock, the cache. Nothing is edited.
 */
export async function imageDigests(files: readonly YamlFile[], options: DigesterOptions, source: DigestSource): Promise<ImageEntries> {
  const shared = new SharedSource(source, options.concurrency);
  const located = credentialObjects(files);
  const credentials = located.map((c) => c.item);
  const rules = skipRules(options.skipPrefixes, options.skipImages);
  // tag-and-digest: a pin's value keeps the field's own name, so another name is a build artifact's.
  const planOptions = { ...options, format: "tag-and-digest" as const };
  const perFile = await Promise.all(
    files.map(async (file) => {
      const uses: Use[] = [];
      const results: FileResult[] = [];
      for (const [index, document] of file.documents.entries()) {
        const item = document.contents;
        if (!isMap(item) || isLocalConfig(item)) continue;
        const list = asList(file.text, document, item, credentials);
        const plan = await planPins({ items: list.items?.items ?? [], document }, planOptions, shared);
        results.push(...placeResults(file, index, item, document, plan.results, located, options).filter((r) => r.severity !== "info"));
        const lineAt = (node: Scalar): string => `${file.display}${node.range ? `:${lineOf(file.text, node.range[0])}` : ""}`;
        const pinned = new Set<Scalar>();
        for (const pin of plan.pins) {
          pinned.add(pin.node);
          const name = nameOf(pin.ref.original);
          const target = nameOf(pin.value);
          uses.push({ ref: pin.ref, name, entry: target === name ? { digest: pin.digest } : { digest: pin.digest, newName: target }, where: lineAt(pin.node) });
        }
        // A digest already written (existingDigests keep, or verified): its name gets that digest, unless a rule skips it.
        const failed = new Set(plan.failures.map((f) => f.path));
        const annotations = new SkipAnnotations(item, document);
        for (const slot of imageSlots(item, document, options.fieldSpecs)) {
          if (slot.kind !== "image" || pinned.has(slot.node) || failed.has(slot.path)) continue;
          let ref: ImageReference;
          try {
            ref = parseReference(slot.value);
          } catch (error) {
            if (error instanceof InvalidReferenceError) continue; // reported by the plan
            throw error;
          }
          if (ref.digest === undefined || imageSkipReason(ref, rules) !== undefined) continue;
          if (annotations.reason(slot.segments, () => containerName(item, slot.segments, document)) !== undefined) continue;
          uses.push({ ref, name: nameOf(ref.original), entry: { digest: ref.digest }, where: lineAt(slot.node) });
        }
      }
      return { uses, results };
    }),
  );
  const results = uniqueResults(perFile.flatMap((f) => f.results));
  const digests = new Map<string, ImageEntry>();
  const firstUse = new Map<string, Use>();
  for (const use of perFile.flatMap((f) => f.uses)) {
    const first = firstUse.get(use.name);
    if (first && (first.entry.digest !== use.entry.digest || first.entry.newName !== use.entry.newName)) {
      const shown = (u: Use): string => `${u.ref.original} (${u.where}, ${u.entry.newName ? `${u.entry.newName}@` : ""}${u.entry.digest})`;
      results.push({
        severity: "error",
        message:
          `kustomize's images: holds one digest per name, and ${use.name} is used as ${shown(first)} ` +
          `and as ${shown(use)}; use one tag, or pin these resources with krm-digester pin instead`,
      });
      continue;
    }
    if (first) continue;
    digests.set(use.name, use.entry);
    firstUse.set(use.name, use);
  }
  return { digests, results, unique: shared.size };
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
export function setImages(text: string, file: string, digests: ReadonlyMap<string, ImageEntry>): { text: string; warnings: string[] } {
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
  for (const [name, { digest, newName }] of digests) {
    const entry = entries.find((e) => e.name === name);
    if (!entry) {
      entries.push(newName === undefined ? { name, digest } : { name, newName, digest });
      continue;
    }
    if (newName !== undefined) entry.newName = newName;
    else if (entry.newName !== undefined) {
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

