// Plain API objects (JSON from the cluster or an AdmissionReview) as nodes of
// a yaml document, so the one walk and the one pull-secret reader run on them.
import { Document, isMap, Pair, Scalar, YAMLMap, YAMLSeq } from "yaml";
import { MEASURED } from "../resourcelist/limits.js";
import { isBuiltinKind } from "../fields/builtin.js";
import { CONTAINER_LISTS, POD_SPEC_PATHS } from "../workloads.js";

/** A document holding `objects` as a list (no source text: nothing is edited in it). */
export function documentOf(objects: readonly unknown[]): { document: Document.Parsed; nodes: unknown[] } {
  // Built from the values, not parsed from text: the yaml parser reads about 1 MB/s.
  const nodes = objects.map(nodeOf);
  const document = new Document() as unknown as Document.Parsed;
  document.contents = new YAMLSeq() as unknown as typeof document.contents;
  (document.contents as unknown as YAMLSeq).items = nodes;
  return { document, nodes };
}

/** More nodes in an existing document (e.g. Secrets and ServiceAccounts read from the cluster). */
export function nodesIn(_document: Document.Parsed, objects: readonly unknown[]): unknown[] {
  return objects.map(nodeOf);
}

/**
 * JSON as yaml nodes, built directly: half the cost of Document.createNode
 * (no tag resolution, no alias tracking: parsed JSON shares no objects), and
 * a review's objects are built this way every time.
 */
function nodeOf(value: unknown): unknown {
  if (Array.isArray(value)) {
    const seq = new YAMLSeq();
    for (const v of value as unknown[]) seq.items.push(nodeOf(v));
    return seq;
  }
  if (typeof value === "object" && value !== null) {
    const map = new YAMLMap();
    for (const key of Object.keys(value)) {
      const v = (value as Json)[key];
      if (v !== undefined) map.items.push(new Pair(new Scalar(key), nodeOf(v)));
    }
    return map;
  }
  return new Scalar(value);
}

export interface NamespacedPodSpecs {
  /** "" for items without a namespace. */
  readonly namespace: string;
  readonly podSpecs: unknown[];
}

/** The pod specs of `items`, by namespace: what the cluster is asked pull secrets for (online mode). */
export function podSpecsByNamespace(items: readonly unknown[], document: Document.Parsed): NamespacedPodSpecs[] {
  const byNamespace = new Map<string, unknown[]>();
  for (const item of items) {
    if (!isMap(item)) continue;
    const object = item.toJS(document, MEASURED) as Record<string, unknown>; // expansion bounded at parse (resourcelist/limits.ts)
    const metadata = object.metadata as Record<string, unknown> | undefined;
    const namespace = typeof metadata?.namespace === "string" ? metadata.namespace : "";
    const specs = podSpecsOf(object);
    if (specs.length > 0) byNamespace.set(namespace, [...(byNamespace.get(namespace) ?? []), ...specs]);
  }
  return [...byNamespace].map(([namespace, podSpecs]) => ({ namespace, podSpecs }));
}

/** The pod specs of one plain object (what the walk reads containers from). */
export function podSpecsOf(object: unknown): unknown[] {
  const specs: unknown[] = [];
  for (const path of POD_SPEC_PATHS) {
    const spec = path.reduce<unknown>((node, key) => (node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined), object);
    if (spec && typeof spec === "object" && ("containers" in spec || "initContainers" in spec || "ephemeralContainers" in spec)) specs.push(spec);
  }
  return specs;
}

type Json = Record<string, unknown>;

/** A container's name and image, nothing else (written out: object spreads here were a tenth of a webhook review). */
function nameAndImage(c: Json): Json {
  const out: Json = {};
  if (c.name !== undefined) out.name = c.name;
  if ("image" in c) out.image = c.image;
  return out;
}
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const POD_SPEC_KEYS = ["imagePullSecrets", "serviceAccountName", "serviceAccount"] as const;

/**
 * The parts of an API object that the walk, the pull-secret reader and the
 * results read: identity, annotations, and along each pod spec path its
 * container lists (name and image of each container, at the same indexes)
 * and pull-secret fields. An object from the API server carries much more
 * (managedFields, status, the rest of every container); turning all of it
 * into yaml nodes was most of a review's time.
 */
export function walkable(object: Json): Json {
  const out: Json = { apiVersion: object.apiVersion, kind: object.kind };
  const metadata = object.metadata;
  if (isObject(metadata)) {
    const m: Json = {};
    for (const key of ["name", "namespace", "generateName", "annotations"]) if (metadata[key] !== undefined) m[key] = metadata[key];
    out.metadata = m;
  }
  // Tekton and Argo Workflows objects: their spec as it is (the built-in walk reads deep into it).
  if (isObject(object.spec) && isBuiltinKind(object.apiVersion, object.kind)) out.spec = structuredClone(object.spec);
  for (const path of POD_SPEC_PATHS) {
    let from: unknown = object;
    for (const key of path) from = isObject(from) ? from[key] : undefined;
    if (!isObject(from)) continue;
    let to = out;
    for (const key of path) {
      const next = isObject(to[key]) ? (to[key]) : {};
      to[key] = next;
      to = next;
    }
    for (const key of POD_SPEC_KEYS) if (from[key] !== undefined) to[key] = from[key];
    // Image volumes (name and image source), at the same indexes; other volumes as empty entries.
    if (Array.isArray(from.volumes) && from.volumes.some((v) => isObject(v) && v.image !== undefined)) {
      to.volumes = from.volumes.map((v: unknown) => (isObject(v) ? { ...(v.name !== undefined ? { name: v.name } : {}), ...(v.image !== undefined ? { image: v.image } : {}) } : v));
    }
    // The pod template's own skip annotations (src/core/skip.ts).
    const template = path.length > 1 ? path.slice(0, -1).reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), object) : undefined;
    const annotations = isObject(template) && isObject(template.metadata) ? template.metadata.annotations : undefined;
    if (annotations !== undefined) {
      let at = out;
      for (const key of path.slice(0, -1)) at = isObject(at[key]) ? at[key] : (at[key] = {});
      at.metadata = { annotations };
    }
    for (const list of CONTAINER_LISTS) {
      const containers = from[list];
      if (containers === undefined) continue;
      to[list] = Array.isArray(containers)
        ? containers.map((c: unknown) => (isObject(c) ? nameAndImage(c) : c))
        : containers;
    }
  }
  return out;
}
