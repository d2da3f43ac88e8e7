// The function's transformer: the core's plan (src/core/plan.ts) turned into
// text edits of the ResourceList, plus one result per field.
import type { Document } from "yaml";
import type { DigesterOptions } from "./config.js";
import { planPins, startPlan } from "./core/plan.js";
import type { PinPlan } from "./core/plan.js";
import type { ScalarEdit } from "./resourcelist/scalar-text.js";
import { scalarEdit } from "./resourcelist/scalar-text.js";
import type { ResourceList } from "./resourcelist/resource-list.js";
import type { DigestSource } from "./resolve.js";
import type { Result } from "./results.js";

export interface PinReport {
  edits: ScalarEdit[];
  results: Result[];
  /** Image fields seen, and how many unique references were looked up. */
  stats: PinPlan["stats"];
}

/** `credentialObjects`: Secrets and ServiceAccounts read from the cluster (online mode), as nodes of `list.document`. */
export async function pinImages(
  list: ResourceList,
  options: DigesterOptions,
  source: DigestSource,
  credentialObjects?: readonly unknown[],
): Promise<PinReport> {
  const plan = await planPins({ items: list.items?.items ?? [], document: list.document, credentialObjects }, options, source);
  return reportOf(list.source, plan);
}

/**
 * pinImages for a list read one item at a time (parseResourceListStreamed):
 * each item is visited as it is read, then dropped. The caller makes sure no
 * item is one the walk needs before the first visit (a Secret: pull secrets).
 */
export function startPins(text: string, document: Document.Parsed, options: DigesterOptions, source: DigestSource): { visit: (entry: unknown, index: number) => void; finish: () => Promise<PinReport> } {
  const plan = startPlan(document, [], options, source);
  return { visit: plan.visit, finish: async () => reportOf(text, await plan.finish()) };
}

function reportOf(text: string, plan: PinPlan): PinReport {
  const edits = new Map<number, ScalarEdit>();
  for (const pin of plan.pins) {
    const range = pin.node.range;
    if (!range) throw new Error(`image node without a source range at ${pin.path}`);
    // One edit per node: an anchored image shared through aliases is pinned once.
    edits.set(range[0], scalarEdit(text, pin.node, pin.value));
  }
  return { edits: [...edits.values()], results: plan.results, stats: plan.stats };
}
