// Image fields of the custom resources krm-digester knows beyond pod specs:
// Tekton (tekton.dev) and Argo Workflows (argoproj.io), with the shapes of
// their v1 / v1beta1 and v1alpha1 APIs. Only these groups and kinds: another
// group's `Task` or `Workflow` is not assumed to look the same.
import { isMap, isScalar, isSeq } from "yaml";
import type { Document, Node, YAMLMap } from "yaml";
import { quote } from "../quote.js";
import { describe } from "../resourcelist/nodes.js";
import { deref, formatSegments, isNothing, lookup, stringAt } from "./lookup.js";
import type { Segment } from "./lookup.js";
import type { ImageSlot } from "./slot.js";

/** A Tekton TaskSpec (Task, ClusterTask; embedded in Pipelines, PipelineRuns and TaskRuns): relative paths. */
const TASK_SPEC = ["steps[]/image", "sidecars[]/image", "stepTemplate/image", "volumes[]"];
/** An Argo Workflows Template (in spec.templates of Workflow, WorkflowTemplate, ClusterWorkflowTemplate). */
const ARGO_TEMPLATE = ["container/image", "script/image", "initContainers[]/image", "sidecars[]/image", "containerSet/containers[]/image", "volumes[]"];
/** An Argo WorkflowSpec. */
const WORKFLOW_SPEC = [...ARGO_TEMPLATE.map((p) => `templates[]/${p}`), "volumes[]"];

const under = (prefix: string, paths: readonly string[]): string[] => paths.map((p) => `${prefix}/${p}`);

/** group -> kind -> paths. A path ending in `volumes[]` is a list of pod volumes (image volumes in it). */
const BUILTIN: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  "tekton.dev": {
    Task: under("spec", TASK_SPEC),
    ClusterTask: under("spec", TASK_SPEC),
    TaskRun: under("spec/taskSpec", TASK_SPEC),
    Pipeline: [...under("spec/tasks[]/taskSpec", TASK_SPEC), ...under("spec/finally[]/taskSpec", TASK_SPEC)],
    PipelineRun: [...under("spec/pipelineSpec/tasks[]/taskSpec", TASK_SPEC), ...under("spec/pipelineSpec/finally[]/taskSpec", TASK_SPEC)],
    StepAction: ["spec/image"],
  },
  "argoproj.io": {
    Workflow: under("spec", WORKFLOW_SPEC),
    WorkflowTemplate: under("spec", WORKFLOW_SPEC),
    ClusterWorkflowTemplate: under("spec", WORKFLOW_SPEC),
    CronWorkflow: under("spec/workflowSpec", WORKFLOW_SPEC),
  },
};

/** The kinds with built-in image fields, by group (for docs and tests). */
export const BUILTIN_KINDS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(Object.entries(BUILTIN).map(([g, kinds]) => [g, Object.keys(kinds)]));

interface Trie {
  /** Child by key as written ("steps[]" is the list `steps`). */
  readonly children: Map<string, Trie>;
}

function trieOf(paths: readonly string[]): Trie {
  const root: Trie = { children: new Map() };
  for (const path of paths) {
    let at = root;
    for (const key of path.split("/")) {
      let next = at.children.get(key);
      if (!next) at.children.set(key, (next = { children: new Map() }));
      at = next;
    }
  }
  return root;
}

const TRIES = new Map<string, Trie>();
for (const [group, kinds] of Object.entries(BUILTIN)) for (const [kind, paths] of Object.entries(kinds)) TRIES.set(`${group}/${kind}`, trieOf(paths));

/** The built-in paths for this item's group and kind, or undefined (most items: one string test). */
function trieFor(item: YAMLMap, document: Document.Parsed): Trie | undefined {
  const apiVersion = stringAt(item, "apiVersion", document);
  if (apiVersion === undefined || !(apiVersion.startsWith("tekton.dev/") || apiVersion.startsWith("argoproj.io/"))) return undefined;
  const kind = stringAt(item, "kind", document);
  return kind === undefined ? undefined : TRIES.get(`${apiVersion.slice(0, apiVersion.indexOf("/"))}/${kind}`);
}

/** Whether an object's apiVersion and kind (as JSON values) name a kind with built-in image fields beyond pod specs. */
export function isBuiltinKind(apiVersion: unknown, kind: unknown): boolean {
  if (typeof apiVersion !== "string" || typeof kind !== "string") return false;
  return TRIES.has(`${apiVersion.slice(0, apiVersion.indexOf("/"))}/${kind}`);
}

/** What a list entry holding an image is called in messages. */
const NOUNS: Record<string, string> = {
  steps: "step",
  sidecars: "sidecar",
  containers: "container",
  initContainers: "container",
  container: "container",
  script: "script",
  stepTemplate: "stepTemplate",
  spec: "StepAction",
};

/** The image fields (and malformed ones) of a Tekton or Argo Workflows object, in document order. */
export function builtinSlots(item: YAMLMap, document: Document.Parsed): ImageSlot[] {
  const trie = trieFor(item, document);
  const out: ImageSlot[] = [];
  if (trie) walk(trie, item, [], document, out);
  return out;
}

function walk(trie: Trie, map: YAMLMap, at: readonly Segment[], document: Document.Parsed, out: ImageSlot[]): void {
  for (const [written, child] of trie.children) {
    const list = written.endsWith("[]");
    const key = list ? written.slice(0, -2) : written;
    const value = deref(lookup(map, key, document), document);
    const here = [...at, key];
    if (child.children.size === 0 && !list) {
      imageLeaf(map, key, value, here, document, out);
      continue;
    }
    if (isNothing(value)) continue;
    if (!list) {
      if (isMap(value)) walk(child, value, here, document, out);
      continue;
    }
    if (!isSeq(value)) {
      out.push({ kind: "problem", path: formatSegments(here), segments: here, message: `${key} must be a list, got ${describe(value)}` });
      continue;
    }
    value.items.forEach((entry, i) => {
      const node = deref(entry as Node, document);
      const path = [...here, i];
      if (key === "volumes") {
        const slot = imageVolume(node, path, document);
        if (slot) out.push(slot);
      } else if (!isMap(node)) {
        out.push({ kind: "problem", path: formatSegments(path), segments: path, message: `${NOUNS[key] ?? "entry"} must be a mapping, got ${describe(node)}` });
      } else walk(child, node, path, document, out);
    });
  }
}

/** An optional image field: absent is fine (a Tekton step may use a StepAction's), anything but a string is not. */
function imageLeaf(map: YAMLMap, key: string, value: Node | undefined, at: Segment[], document: Document.Parsed, out: ImageSlot[]): void {
  if (value === undefined) return;
  const owner = at[at.length - 2];
  const ownerKey = typeof owner === "number" ? at[at.length - 3] : owner;
  const named = stringAt(map, "name", document);
  const name = named === undefined ? "" : ` ${quote(named)}`;
  const who = `${NOUNS[String(ownerKey)] ?? "entry"}${name}`;
  const path = formatSegments(at);
  if (!isScalar(value) || typeof value.value !== "string") {
    out.push({ kind: "problem", path, segments: at, message: `${who} ${key} must be a string, got ${describe(value)}`, currentValue: isScalar(value) ? value.value : undefined });
  } else if (value.value === "") {
    out.push({ kind: "problem", path, segments: at, message: `${who} ${key} is empty`, currentValue: "" });
  } else out.push({ kind: "image", path, segments: at, node: value, value: value.value });
}

/**
 * The image of one pod volume (`image: {reference}`, Kubernetes 1.31+), or
 * undefined for a volume of any other type. Entries that are not mappings
 * are the API server's to refuse: they hold no image.
 */
export function imageVolume(volume: Node | undefined, at: readonly Segment[], document: Document.Parsed): ImageSlot | undefined {
  if (!isMap(volume)) return undefined;
  const source = deref(lookup(volume, "image", document), document);
  if (source === undefined) return undefined;
  const name = stringAt(volume, "name", document);
  const who = `image volume${name === undefined ? "" : ` ${quote(name)}`}`;
  const segments = [...at, "image", "reference"];
  const path = formatSegments(segments);
  if (!isMap(source)) return { kind: "problem", path: formatSegments([...at, "image"]), segments: [...at, "image"], message: `${who}: image must be a mapping with a reference, got ${describe(source)}` };
  const raw = lookup(source, "reference", document);
  if (raw === undefined) return { kind: "problem", path, segments, message: `${who} has no reference` };
  const node = deref(raw, document);
  if (!isScalar(node) || typeof node.value !== "string") {
    return { kind: "problem", path, segments, message: `${who} reference must be a string, got ${describe(node)}`, currentValue: isScalar(node) ? node.value : undefined };
  }
  if (node.value === "") return { kind: "problem", path, segments, message: `${who} reference is empty`, currentValue: "" };
  return { kind: "image", path, segments, node, value: node.value };
}
