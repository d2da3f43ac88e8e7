// The walk over workloads: where pod specs live and which fields in them hold
// container images. Only these fields are touched; an `image:` key anywhere
// else (a ConfigMap, an env value, an arg) is not an image to pin. Beyond pod
// specs: the Tekton and Argo Workflows kinds (src/fields/builtin.ts) and the
// user's fieldSpecs (src/fields/field-spec.ts). Keys are looked up as
// Kubernetes reads YAML: with merge keys (`<<: *base`), so a container that
// inherits its image from an anchored mapping has that image.
import { isMap, isScalar, isSeq } from "yaml";
import type { Document, Node, YAMLMap } from "yaml";
import { quote } from "./quote.js";
import { describe } from "./resourcelist/nodes.js";
import { builtinSlots, imageVolume } from "./fields/builtin.js";
import { fieldSpecSlots, selects } from "./fields/field-spec.js";
import type { FieldSpec } from "./fields/field-spec.js";
import { deref, isNothing, lookup } from "./fields/lookup.js";
import type { Segment } from "./fields/lookup.js";
import type { ImageSlot } from "./fields/slot.js";

export type { ImageSlot } from "./fields/slot.js";
export type { FieldSpec } from "./fields/field-spec.js";

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

/**
 * Every image field of one item, in document order, and each malformed one:
 * pod specs (containers, then image volumes), the built-in custom resources,
 * then `fieldSpecs` (a field found already is not found twice).
 */
export function imageSlots(item: YAMLMap, document: Document.Parsed, fieldSpecs: readonly FieldSpec[] = []): ImageSlot[] {
  const slots: ImageSlot[] = [];
  POD_SPEC_PATHS.forEach((path, p) => {
    const spec = getPath(item, path, document);
    if (!isMap(spec) || !CONTAINER_LISTS.some((list) => lookup(spec, list, document) !== undefined)) return;
    for (const list of CONTAINER_LISTS) {
      const containers = deref(lookup(spec, list, document), document);
      if (isNothing(containers)) continue;
      const listPath = [...path, list];
      // Plain keys: the path is written as it is (formatSegments is for keys that need brackets).
      const listText = `${POD_SPEC_TEXT[p]}.${list}`;
      if (!isSeq(containers)) {
        slots.push({ kind: "problem", path: listText, segments: listPath, message: `${list} must be a list, got ${describe(containers)}` });
        continue;
      }
      containers.items.forEach((entry, i) => {
        const container = deref(entry as Node, document);
        if (!isMap(container)) {
          slots.push({ kind: "problem", path: `${listText}[${i}]`, segments: [...listPath, i], message: `container must be a mapping, got ${describe(container)}` });
          return;
        }
        slots.push(imageOf(container, `${listText}[${i}].image`, [...listPath, i, "image"], document));
      });
    }
    // Image volumes (Kubernetes 1.31+): `volumes[].image.reference`, pulled like a container image.
    const volumes = deref(lookup(spec, "volumes", document), document);
    if (isSeq(volumes)) {
      volumes.items.forEach((entry, i) => {
        const slot = imageVolume(deref(entry as Node, document), [...path, "volumes", i], document);
        if (slot) slots.push(slot);
      });
    }
  });
  const custom = builtinSlots(item, document);
  if (custom.length > 0) slots.push(...custom);
  if (fieldSpecs.length === 0) return slots;
  const seen = new Set(slots.map((s) => s.path));
  for (const spec of fieldSpecs) {
    if (!selects(spec, item, document)) continue;
    for (const slot of fieldSpecSlots(spec, item, document)) {
      if (seen.has(slot.path)) continue;
      seen.add(slot.path);
      slots.push(slot);
    }
  }
  return slots;
}

const POD_SPEC_TEXT = POD_SPEC_PATHS.map((path) => path.join("."));

function imageOf(container: YAMLMap, path: string, segments: Segment[], document: Document.Parsed): ImageSlot {
  const name = deref(lookup(container, "name", document), document);
  const who = isScalar(name) && typeof name.value === "string" ? `container ${quote(name.value)}` : "container";
  const raw = lookup(container, "image", document);
  if (raw === undefined) return { kind: "problem", path, segments, message: `${who} has no image` };
  // An alias points at the anchored scalar: edit that one, once.
  const node = deref(raw, document);
  if (!isScalar(node) || typeof node.value !== "string") {
    const currentValue = isScalar(node) ? node.value : undefined;
    return { kind: "problem", path, segments, message: `${who} image must be a string, got ${describe(node)}`, currentValue };
  }
  if (node.value === "") return { kind: "problem", path, segments, message: `${who} image is empty`, currentValue: "" };
  return { kind: "image", path, segments, node: node, value: node.value };
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
