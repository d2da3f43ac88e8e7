// The walk over workloads: where pod specs live and which fields in them hold
// container images. Only these fields are touched; an `image:` key anywhere
// else (a ConfigMap, an env value, an arg) is not an image to pin.
import { isMap, isScalar, isSeq, isAlias } from "yaml";
import type { Document, Node, Scalar, YAMLMap } from "yaml";
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
    if (!isMap(spec) || !CONTAINER_LISTS.some((list) => spec.has(list))) continue;
    for (const list of CONTAINER_LISTS) {
      const containers = deref(spec.get(list, true), document);
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
  const name = container.get("name");
  const who = typeof name === "string" ? `container ${JSON.stringify(name)}` : "container";
  const raw = container.get("image", true) as Node | undefined;
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
    node = node.get(key, true);
  }
  return deref(node, document);
}

function deref(node: Node | undefined, document: Document.Parsed): Node | undefined {
  return isAlias(node) ? (node.resolve(document)) : node;
}
