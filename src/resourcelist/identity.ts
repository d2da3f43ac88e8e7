// Who an item is and where it came from, for results: resourceRef from the
// object itself, file from kpt's path/index annotations.
import { isMap } from "yaml";
import type { YAMLMap } from "yaml";
import type { FileRef, ResourceRef } from "../results.js";
import { scalarString } from "./resource-list.js";

const PATH_ANNOTATIONS = ["internal.config.kubernetes.io/path", "config.kubernetes.io/path"];
const INDEX_ANNOTATIONS = ["internal.config.kubernetes.io/index", "config.kubernetes.io/index"];
const LOCAL_CONFIG = "config.kubernetes.io/local-config";

function annotations(item: YAMLMap): YAMLMap | undefined {
  const metadata = item.get("metadata", true);
  const node = isMap(metadata) ? metadata.get("annotations", true) : undefined;
  return isMap(node) ? node : undefined;
}

function annotation(item: YAMLMap, keys: readonly string[]): string | undefined {
  const node = annotations(item);
  if (!node) return undefined;
  for (const key of keys) {
    const value = node.get(key, true);
    if (value !== undefined) return scalarString(value) ?? String((value as { value?: unknown }).value);
  }
  return undefined;
}

export function resourceRef(item: YAMLMap): ResourceRef {
  const metadata = item.get("metadata", true);
  const ref: ResourceRef = {};
  const apiVersion = scalarString(item.get("apiVersion", true));
  const kind = scalarString(item.get("kind", true));
  if (apiVersion !== undefined) ref.apiVersion = apiVersion;
  if (kind !== undefined) ref.kind = kind;
  if (isMap(metadata)) {
    const name = scalarString(metadata.get("name", true));
    const namespace = scalarString(metadata.get("namespace", true));
    if (name !== undefined) ref.name = name;
    if (namespace !== undefined) ref.namespace = namespace;
  }
  return ref;
}

export function fileRef(item: YAMLMap): FileRef | undefined {
  const path = annotation(item, PATH_ANNOTATIONS);
  if (path === undefined) return undefined;
  const index = Number(annotation(item, INDEX_ANNOTATIONS));
  return Number.isInteger(index) ? { path, index } : { path };
}

/** kpt's meta resources (Kptfile, function configs) are not manifests to pin. */
export function isLocalConfig(item: YAMLMap): boolean {
  return annotation(item, [LOCAL_CONFIG])?.trim() === "true";
}
