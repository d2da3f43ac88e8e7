// The skip rules of the walk: which image fields are left alone, and the rule
// that says so (every skipped field gets an info result naming it).
import { isAlias, isMap, isScalar, isSeq } from "yaml";
import type { Document, Node, YAMLMap } from "yaml";
import { canonicalName, nameAsWritten } from "../name/format.js";
import { compileGlob, firstMatch } from "../name/glob.js";
import type { ImageGlob } from "../name/glob.js";
import type { ImageReference } from "../name/reference.js";
import { formatSegments, lookup } from "../fields/lookup.js";
import { POD_SPEC_PATHS } from "../workloads.js";

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

/** The skip annotations of one metadata: the resource's own, or a pod template's. */
interface SkipScope {
  /** Where the annotations are, for a pod template's ("spec.template.metadata.annotations"); undefined for the resource's own. */
  readonly where: string | undefined;
  readonly skip: boolean;
  readonly containers: ReadonlySet<string>;
}

/** Pod spec paths that sit in a template with its own metadata (all but a Pod's `spec`). */
const TEMPLATE_SPECS = POD_SPEC_PATHS.filter((path) => path.length > 1);

/**
 * The skip annotations that apply to an item's fields: on its own metadata,
 * and on each pod template's metadata (`spec.template.metadata`,
 * `template.metadata`, CronJob's `spec.jobTemplate.spec.template.metadata`),
 * which cover that template's pod spec only. A template's metadata is read
 * when a field under it is asked about, once.
 */
export class SkipAnnotations {
  private readonly resource: SkipScope | undefined;
  private templates: Map<readonly string[], SkipScope | undefined> | undefined;

  constructor(
    private readonly item: YAMLMap,
    private readonly document: Document.Parsed,
  ) {
    this.resource = scopeOf(deref(item.get("metadata", true), document), () => undefined, document);
  }

  /**
   * Why the field at `segments` is left alone by an annotation, or undefined:
   * `skip: "true"` on the resource, then on the pod template holding the
   * field, then `skip-containers` of either naming the field's container.
   */
  reason(segments: readonly (string | number)[], containerOf: () => string | undefined): string | undefined {
    const template = this.template(segments);
    const skipped = this.resource?.skip ? this.resource : template?.skip ? template : undefined;
    if (skipped) {
      return skipped.where === undefined
        ? `the resource has annotation ${SKIP_ANNOTATION}: "true"`
        : `its pod template has annotation ${SKIP_ANNOTATION}: "true" (${skipped.where})`;
    }
    if (!this.resource && !template) return undefined;
    const name = containerOf();
    if (name === undefined) return undefined;
    const listing = this.resource?.containers.has(name) ? this.resource : template?.containers.has(name) ? template : undefined;
    if (!listing) return undefined;
    const container = `container ${JSON.stringify(name)} is listed in`;
    return listing.where === undefined
      ? `${container} annotation ${SKIP_CONTAINERS_ANNOTATION}`
      : `${container} its pod template's annotation ${SKIP_CONTAINERS_ANNOTATION} (${listing.where})`;
  }

  /** The skip annotations of the pod template whose pod spec holds the field, if it has any. */
  private template(segments: readonly (string | number)[]): SkipScope | undefined {
    const spec = TEMPLATE_SPECS.find((path) => segments.length > path.length && path.every((key, i) => segments[i] === key));
    if (!spec) return undefined;
    this.templates ??= new Map();
    if (this.templates.has(spec)) return this.templates.get(spec);
    const metadataPath = [...spec.slice(0, -1), "metadata"];
    let node: Node | undefined = this.item;
    for (const key of metadataPath) {
      node = deref(node, this.document);
      node = isMap(node) ? lookup(node, key, this.document) : undefined;
    }
    const scope = scopeOf(deref(node, this.document), () => formatSegments([...metadataPath, "annotations"]), this.document);
    this.templates.set(spec, scope);
    return scope;
  }
}

function scopeOf(metadata: unknown, where: () => string | undefined, document: Document.Parsed): SkipScope | undefined {
  // Most metadata has no annotations, or none of ours: nothing to build.
  const annotations = isMap(metadata) ? deref(metadata.get("annotations", true), document) : undefined;
  if (!isMap(annotations) || (!annotations.has(SKIP_ANNOTATION) && !annotations.has(SKIP_CONTAINERS_ANNOTATION))) return undefined;
  const skip = annotation(metadata, SKIP_ANNOTATION, document)?.trim() === "true";
  const containers = new Set((annotation(metadata, SKIP_CONTAINERS_ANNOTATION, document) ?? "").split(/[\s,]+/).filter((s) => s !== ""));
  return skip || containers.size > 0 ? { where: where(), skip, containers } : undefined;
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
    if (isMap(node) && typeof key === "string") node = lookup(node, key, document);
    else if (isSeq(node) && typeof key === "number") node = node.items[key] as Node | undefined;
    else return undefined;
  }
  node = deref(node, document);
  const name = isMap(node) ? deref(lookup(node, "name", document), document) : undefined;
  return isScalar(name) && typeof name.value === "string" ? name.value : undefined;
}

function annotation(metadata: unknown, key: string, document: Document.Parsed): string | undefined {
  const annotations = isMap(metadata) ? deref(metadata.get("annotations", true), document) : undefined;
  const value = isMap(annotations) ? deref(annotations.get(key, true), document) : undefined;
  const v = isScalar(value) ? value.value : undefined;
  return typeof v === "string" || typeof v === "boolean" || typeof v === "number" ? String(v) : undefined;
}

function deref(node: Node | undefined, document: Document.Parsed): Node | undefined {
  return isAlias(node) ? node.resolve(document) : node;
}
