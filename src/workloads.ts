// The walk over workloads: where pod specs live and which fields in them hold
// container images. Only these fields are touched; an `image:` key anywhere
// else (a ConfigMap, an env value, an arg) is not an image to pin. Keys are
// looked up as Kubernetes reads YAML: with merge keys (`<<: *base`), so a
// container that inherits its image from an anchored mapping has that image.
import { isMap, isScalar, isSeq, isAlias, isPair } from "yaml";
import type { Document, Node, Scalar, YAMLMap } from "yaml";
import { quote } from "./quote.js";
import { isMergeKey } from "./resourcelist/limits.js";
import { describe } from "./resourcelist/resource-list.js";

/**
 * Paths at which an object may hold a pod spec: Pod (`spec`), PodTemplate
 * (`template.spec`), the workload controllers and any custom resource shaped
 * like them (`spec.template.spec`), CronJob (`spec.jobTemplate.spec.template.spec`).
 */
export const POD_SPEC_PATHS: readonly (readonly string[])[] = [
  ["spec"],
  ["template", "spec"],
  ["spec", "template", "spec"],
  ["spec", "jobTemplate", "spec", "template", "spec"],
];

export const CONTAINER_LISTS = ["containers", "initContainers", "ephemeralContainers"] as const;

export type ImageSlot =
  | { readonly kind: "image"; readonly path: string; readonly node: Scalar; readonly value: string }
  | { readonly kind: "problem"; readonly path: string; readonly message: string; readonly currentValue?: unknown };

/** Every image field of one item, in document order, and each malformed container. */
export function imageSlots(item: YAMLMap, document: Document.Parsed): ImageSlot[] {
  const slots: ImageSlot[] = [];
  for (const path of POD_SPEC_PATHS) {
    const spec = getPath(item, path, document);
    if (!isMap(spec) || !CONTAINER_LISTS.some((list) => lookup(spec, list, document) !== undefined)) continue;
    for (const list of CONTAINER_LISTS) {
      const containers = deref(lookup(spec, list, document), document);
      if (containers === undefined || (isScalar(containers) && containers.value === null)) continue;
      const listPath = `${path.join(".")}.${list}`;
      if (!isSeq(containers)) {
        slots.push({ kind: "problem", path: listPath, message: `${list} must be a list, got ${describe(containers)}` });
        continue;
      }
      containers.items.forEach((entry, i) => {
        const container = deref(entry as Node, document);
        const containerPath = `${listPath}[${i}]`;
        if (!isMap(container)) {
          slots.push({ kind: "problem", path: containerPath, message: `container must be a mapping, got ${describe(container)}` });
          return;
        }
        slots.push(imageOf(container, `${containerPath}.image`, document));
      });
    }
  }
  return slots;
}

function imageOf(container: YAMLMap, path: string, document: Document.Parsed): ImageSlot {
  const name = deref(lookup(container, "name", document), document);
  const who = isScalar(name) && typeof name.value === "string" ? `container ${quote(name.value)}` : "container";
  const raw = lookup(container, "image", document);
  if (raw === undefined) return { kind: "problem", path, message: `${who} has no image` };
  // An alias points at the anchored scalar: edit that one, once.
  const node = deref(raw, document);
  if (!isScalar(node) || typeof node.value !== "string") {
    const currentValue = isScalar(node) ? node.value : undefined;
    return { kind: "problem", path, message: `${who} image must be a string, got ${describe(node)}`, currentValue };
  }
  if (node.value === "") return { kind: "problem", path, message: `${who} image is empty`, currentValue: "" };
  return { kind: "image", path, node: node, value: node.value };
}

function getPath(item: YAMLMap, path: readonly string[], document: Document.Parsed): Node | undefined {
  let node: Node | undefined = item;
  for (const key of path) {
    node = deref(node, document);
    if (!isMap(node)) return undefined;
    node = lookup(node, key, document);
  }
  return deref(node, document);
}

/**
 * The value node of `key` in `map`: its own pair, else the first merged
 * mapping (`<<: *a` or `<<: [*a, *b]`, earlier ones first) that has the key,
 * as yaml's `merge: true` and Kubernetes' YAML reader resolve it.
 */
function lookup(map: YAMLMap, key: string, document: Document.Parsed, depth = 0): Node | undefined {
  const own = map.get(key, true) as Node | undefined;
  if (own !== undefined || depth > 64) return own;
  for (const pair of map.items) {
    if (!isPair(pair) || !isMergeKey(pair.key)) continue;
    const value = deref(pair.value as Node | undefined, document);
    const sources = isSeq(value) ? value.items.map((item) => deref(item as Node, document)) : [value];
    for (const source of sources) {
      if (!isMap(source)) continue;
      const found = lookup(source, key, document, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

function deref(node: Node | undefined, document: Document.Parsed): Node | undefined {
  return isAlias(node) ? (node.resolve(document)) : node;
}
