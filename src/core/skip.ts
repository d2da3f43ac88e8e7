// The skip rules of the walk: which image fields are left alone, and the rule
// that says so (every skipped field gets an info result naming it).
import { isAlias, isMap, isScalar, isSeq } from "yaml";
import type { Document, Node, YAMLMap } from "yaml";
import { canonicalName, nameAsWritten } from "../name/format.js";
import { compileGlob, firstMatch } from "../name/glob.js";
import type { ImageGlob } from "../name/glob.js";
import type { ImageReference } from "../name/reference.js";

/** Per resource: every image field of it is left alone (the webhook honours the same one). */
export const SKIP_ANNOTATION = "krm-digester.dev/skip";
/** Per container name, comma-separated: sidecars that meshes inject and manage (istio-proxy, linkerd-proxy). */
export const SKIP_CONTAINERS_ANNOTATION = "krm-digester.dev/skip-containers";

export interface SkipRules {
  readonly prefixes: readonly string[];
  readonly globs: readonly ImageGlob[];
}

export function skipRules(prefixes: readonly string[], images: readonly string[] = []): SkipRules {
  return { prefixes, globs: images.map(compileGlob) };
}

/** Why the whole resource is left alone, or undefined. */
export function resourceSkipReason(item: YAMLMap, document: Document.Parsed): string | undefined {
  const value = annotation(item, SKIP_ANNOTATION, document);
  return value?.trim() === "true" ? `the resource has annotation ${SKIP_ANNOTATION}: "true"` : undefined;
}

/** The container names the resource's skip-containers annotation lists. */
export function skippedContainers(item: YAMLMap, document: Document.Parsed): ReadonlySet<string> {
  const value = annotation(item, SKIP_CONTAINERS_ANNOTATION, document);
  return new Set((value ?? "").split(/[\s,]+/).filter((s) => s !== ""));
}

export function containerSkipReason(name: string): string {
  return `container ${JSON.stringify(name)} is listed in annotation ${SKIP_CONTAINERS_ANNOTATION}`;
}

/**
 * Why this reference is left alone by skipPrefixes or skipImages, or undefined.
 * Prefixes match the reference as written or `registry/repository`; globs the
 * reference as written or canonical, each with and without its tag and digest
 * (so `gcr.io/distroless/static` skips every tag of it).
 */
export function imageSkipReason(ref: ImageReference, rules: SkipRules): string | undefined {
  const qualified = `${ref.registry}/${ref.repository}`;
  const prefix = rules.prefixes.find((p) => ref.original.startsWith(p) || qualified.startsWith(p));
  if (prefix !== undefined) return `it starts with skipPrefixes entry ${JSON.stringify(prefix)}`;
  if (rules.globs.length === 0) return undefined;
  const texts = [ref.original, nameAsWritten(ref), canonicalName(ref), qualified];
  if (ref.digest !== undefined) texts.push(`${canonicalName(ref)}@${ref.digest}`, `${qualified}@${ref.digest}`);
  const glob = firstMatch(rules.globs, texts);
  return glob ? `it matches skipImages pattern ${JSON.stringify(glob.pattern)}` : undefined;
}

/** The `name` of the container whose image field is at `segments` (…, "containers", 0, "image"). */
export function containerName(item: YAMLMap, segments: readonly (string | number)[], document: Document.Parsed): string | undefined {
  let node: Node | undefined = item;
  for (const key of segments.slice(0, -1)) {
    node = deref(node, document);
    if (isMap(node) && typeof key === "string") node = node.get(key, true);
    else if (isSeq(node) && typeof key === "number") node = node.items[key] as Node | undefined;
    else return undefined;
  }
  node = deref(node, document);
  const name = isMap(node) ? deref(node.get("name", true), document) : undefined;
  return isScalar(name) && typeof name.value === "string" ? name.value : undefined;
}

function annotation(item: YAMLMap, key: string, document: Document.Parsed): string | undefined {
  const metadata = deref(item.get("metadata", true), document);
  const annotations = isMap(metadata) ? deref(metadata.get("annotations", true), document) : undefined;
  const value = isMap(annotations) ? deref(annotations.get(key, true), document) : undefined;
  const v = isScalar(value) ? value.value : undefined;
  return typeof v === "string" || typeof v === "boolean" || typeof v === "number" ? String(v) : undefined;
}

function deref(node: Node | undefined, document: Document.Parsed): Node | undefined {
  return isAlias(node) ? node.resolve(document) : node;
}
