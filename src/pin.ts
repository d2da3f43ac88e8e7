// The transformer: find every image field, resolve the unique references,
// and produce text edits (pinned values) plus one result per field.
import { isMap } from "yaml";
import type { Scalar } from "yaml";
import type { DigesterOptions } from "./config.js";
import { PullSecrets } from "./credentials/pull-secrets.js";
import type { CredentialScope, SecretProblem, WorkloadSecrets } from "./credentials/pull-secrets.js";
import { InvalidReferenceError, parseReference } from "./name/reference.js";
import type { ImageReference } from "./name/reference.js";
import type { TextEdit } from "./resourcelist/edits.js";
import { fileRef, isLocalConfig, resourceRef } from "./resourcelist/identity.js";
import { scalarEdit } from "./resourcelist/scalar-text.js";
import { describe } from "./resourcelist/resource-list.js";
import type { ResourceList } from "./resourcelist/resource-list.js";
import { lookupKey, resolveAll } from "./resolve.js";
import type { DigestSource } from "./resolve.js";
import { fieldValue } from "./results.js";
import type { FileRef, ResourceRef, Result } from "./results.js";
import { imageSlots } from "./workloads.js";

export interface PinReport {
  edits: TextEdit[];
  results: Result[];
  /** Image fields seen, and how many unique references were looked up. */
  stats: { fields: number; pinned: number; unique: number };
}

interface Pending {
  ref: ImageReference;
  /** The pull secret of the workload that applies to this image, if any. */
  scope: CredentialScope | undefined;
  node: Scalar;
  where: Where;
}

interface Where {
  resourceRef: ResourceRef;
  file: FileRef | undefined;
  path: string;
}

function located(where: Where, result: Omit<Result, "resourceRef" | "file">, currentValue?: unknown, proposedValue?: unknown): Result {
  // Key order as kpt prints results: message, severity, resourceRef, field, file.
  const out: Result = { message: result.message, severity: result.severity, resourceRef: where.resourceRef };
  out.field = { path: where.path };
  if (fieldValue(currentValue) !== undefined) out.field.currentValue = currentValue;
  if (proposedValue !== undefined) out.field.proposedValue = proposedValue;
  if (where.file) out.file = where.file;
  return out;
}

export async function pinImages(list: ResourceList, options: DigesterOptions, source: DigestSource): Promise<PinReport> {
  // Results come out in document order; slot numbers keep that order across
  // the walk (immediate problems) and resolution (later outcomes).
  const ordered: { slot: number; result: Result }[] = [];
  let slotCount = 0;
  const report = (result: Result, slot = slotCount++): void => void ordered.push({ slot, result });
  const pending: (Pending & { slot: number })[] = [];
  let fields = 0;
  const pullSecrets = new PullSecrets(list.items?.items ?? [], list.document);

  (list.items?.items ?? []).forEach((entry, index) => {
    if (!isMap(entry)) {
      report({ severity: "error", message: `items[${index}] is not a Kubernetes object (got ${describe(entry)}); it was left as it is` });
      return;
    }
    if (isLocalConfig(entry)) return;
    const slots = imageSlots(entry, list.document);
    if (slots.length === 0) return;
    const resource = resourceRef(entry);
    const file = fileRef(entry);
    let secrets: WorkloadSecrets | undefined;
    for (const slot of slots) {
      const where = { resourceRef: resource, file, path: slot.path };
      fields++;
      if (slot.kind === "problem") {
        report(located(where, { severity: "error", message: `${slot.message}; set it to an image reference such as registry/repository:tag` }, slot.currentValue));
        continue;
      }
      let ref: ImageReference;
      try {
        ref = parseReference(slot.value);
      } catch (error) {
        if (!(error instanceof InvalidReferenceError)) throw error;
        report(located(where, { severity: "error", message: `${error.message}; fix the image field` }, slot.value));
        continue;
      }
      if (ref.digest !== undefined || skipped(ref, options.skipPrefixes)) continue;
      if (!secrets) {
        secrets = pullSecrets.forWorkload(entry);
        for (const problem of pullSecrets.takeProblems()) report(secretWarning(problem));
      }
      pending.push({ ref, scope: secrets.scope(slot.path, ref), node: slot.node, where, slot: slotCount++ });
    }
  });

  const outcomes = await resolveAll(pending, source, options.concurrency);

  const edits = new Map<number, TextEdit>();
  let pinned = 0;
  for (const { ref, scope, node, where, slot } of pending) {
    const outcome = outcomes.get(lookupKey(ref, scope));
    if (outcome === undefined) throw new Error(`no outcome for ${ref.original}`);
    if ("error" in outcome) {
      report(located(where, { severity: "error", message: failureMessage(ref, outcome.error) }, ref.original), slot);
      continue;
    }
    const value = `${ref.original}@${outcome.digest}`;
    const range = node.range;
    if (!range) throw new Error(`image node without a source range at ${where.path}`);
    // One edit per node: an anchored image shared through aliases is pinned once.
    edits.set(range[0], scalarEdit(list.source, node, value));
    pinned++;
    const how = outcome.note ? ` (${outcome.note})` : "";
    report(located(where, { severity: "info", message: `pinned ${ref.original} to ${outcome.digest}${how}` }, ref.original, value), slot);
  }
  const results = ordered.sort((a, b) => a.slot - b.slot).map((o) => o.result);
  return { edits: [...edits.values()], results, stats: { fields, pinned, unique: outcomes.size } };
}

/** A warning about a pull secret the workload uses, placed on the Secret. */
function secretWarning(problem: SecretProblem): Result {
  const result: Result = { message: problem.message, severity: "warning", resourceRef: resourceRef(problem.item) };
  const file = fileRef(problem.item);
  if (file) result.file = file;
  return result;
}

function skipped(ref: ImageReference, prefixes: readonly string[]): boolean {
  const qualified = `${ref.registry}/${ref.repository}`;
  return prefixes.some((p) => ref.original.startsWith(p) || qualified.startsWith(p));
}

function failureMessage(ref: ImageReference, error: unknown): string {
  if (error instanceof Error) {
    const message = error.message.includes(ref.original) ? error.message : `cannot resolve ${ref.original}: ${error.message}`;
    if (!("hint" in error) || typeof error.hint !== "string" || error.hint === "") return message;
    return `${message.replace(/\.?$/, ".")} ${error.hint}`;
  }
  return `cannot resolve ${ref.original}: ${String(error)}`;
}
