// The shared core of every front end: walk the items, find each image field,
// resolve the unique references (with the pull secrets that apply), and say
// per field what its pinned value is, or why it has none. Front ends turn the
// plan into their own output: the function into text edits of the
// ResourceList, the webhook into JSON Patch operations.
import { createHash } from "node:crypto";
import { isMap } from "yaml";
import type { Document, Scalar } from "yaml";
import { PullSecrets } from "../credentials/pull-secrets.js";
import type { CredentialScope, SecretEntry, SecretProblem, WorkloadSecrets } from "../credentials/pull-secrets.js";
import { formatPinned } from "../name/format.js";
import type { ImageFormat } from "../name/format.js";
import { InvalidReferenceError, parseReference } from "../name/reference.js";
import type { ImageReference } from "../name/reference.js";
import { RegistryError } from "../registry/errors.js";
import { fileRef, isLocalConfig, resourceRef } from "../resourcelist/identity.js";
import { describe } from "../resourcelist/resource-list.js";
import { lookupKey, resolveAll } from "../resolve.js";
import type { DigestSource } from "../resolve.js";
import { fieldValue } from "../results.js";
import type { FileRef, ResourceRef, Result } from "../results.js";
import { imageSlots } from "../workloads.js";
import type { FieldSpec } from "../workloads.js";
import { existingLookup, existingVerdict } from "./existing.js";
import type { ExistingDigestMode } from "./existing.js";
import { containerName, imageSkipReason, SkipAnnotations, skipRules } from "./skip.js";

/** A key or list index on the way from an item's root to a field. */
export type Segment = string | number;

export interface PlanInput {
  /** The objects to walk (yaml nodes of one document). */
  readonly items: readonly unknown[];
  readonly document: Document.Parsed;
  /**
   * Secrets and ServiceAccounts from elsewhere (read from the cluster), as
   * nodes of the same document: read for pull secrets after those among
   * `items`, never walked or changed.
   */
  readonly credentialObjects?: readonly unknown[] | undefined;
}

/** Where a field is, as a front end needs it (no node of the item: a streamed list drops each item once walked). */
export interface Slot {
  readonly itemIndex: number;
  /** "spec.template.spec.containers[0].image", as results print it. */
  readonly path: string;
  /** The same path as keys and indexes: ["spec", "template", "spec", "containers", 0, "image"]. */
  readonly segments: readonly Segment[];
}

export interface PlanOptions {
  readonly skipPrefixes: readonly string[];
  /** Glob patterns (src/name/glob.ts) of images left alone; default none. */
  readonly skipImages?: readonly string[] | undefined;
  /** How pinned references are written (src/name/format.ts); default tag-and-digest. */
  readonly format?: ImageFormat | undefined;
  /** Digests already written: keep (default, no request), verify, refresh (src/core/existing.ts). */
  readonly existingDigests?: ExistingDigestMode | undefined;
  /** Unique references resolved at once. */
  readonly concurrency: number;
  /** The caller gave up (a deadline): lookups in flight end, and fail. */
  readonly signal?: AbortSignal | undefined;
  /**
   * A digest this field must keep without a lookup (the webhook: the one
   * oldObject had for the same repo:tag), or undefined to resolve it.
   */
  readonly known?: ((slot: Slot, ref: ImageReference) => string | undefined) | undefined;
  /** More image fields, in kustomize's fieldSpec syntax (src/fields/field-spec.ts); default none. */
  readonly fieldSpecs?: readonly FieldSpec[] | undefined;
  /** Only these fields are looked at (the webhook on `pods/ephemeralcontainers`: ephemeral containers only); default all. */
  readonly include?: ((slot: Slot) => boolean) | undefined;
}

export interface Pin extends Slot {
  /** The yaml scalar that holds the image (shared by aliases: edit it once). */
  readonly node: Scalar;
  readonly ref: ImageReference;
  /** `repo:tag@sha256:…`: the reference as written with the digest appended (or as `format` says). */
  readonly value: string;
  readonly digest: string;
  /** True when the digest came from `known` rather than a lookup. */
  readonly kept: boolean;
}

/** Why a field could not be pinned: a RegistryError code, INVALID_REFERENCE or INVALID_FIELD. */
export interface Failure extends Slot {
  /** The image as written, when the field holds a string. */
  readonly image: string | undefined;
  readonly cause: string;
  /** The error result's message. */
  readonly message: string;
}

export interface PinPlan {
  readonly pins: Pin[];
  readonly failures: Failure[];
  /** KRM results in document order: one per pinned field, failure and pull-secret problem. */
  readonly results: Result[];
  /** Image fields seen, pinned, and how many unique references were looked up. */
  readonly stats: { fields: number; pinned: number; unique: number };
}

interface Where {
  resourceRef: ResourceRef;
  file: FileRef | undefined;
  path: string;
}

interface Pending {
  ref: ImageReference;
  /** For a field that has a digest already (existingDigests verify/refresh): what is looked up, and that digest. */
  existing?: { lookup: ImageReference; written: string; mode: "verify" | "refresh" } | undefined;
  /** The pull secret of the workload that applies to this image, if any. */
  scope: CredentialScope | undefined;
  node: Scalar;
  where: Where;
  at: Slot;
  order: number;
}

export async function planPins(input: PlanInput, options: PlanOptions, source: DigestSource): Promise<PinPlan> {
  const plan = startPlan(input.document, [...input.items, ...(input.credentialObjects ?? [])], options, source);
  input.items.forEach((entry, index) => plan.visit(entry, index));
  return plan.finish();
}

/** A plan made item by item: each item is walked once by `visit` (and may be dropped then); `finish` resolves and answers. */
export interface PlanInProgress {
  readonly visit: (entry: unknown, itemIndex: number) => void;
  readonly finish: () => Promise<PinPlan>;
}

/**
 * planPins in two steps, for a list read one item at a time. `credentials`:
 * every Secret and ServiceAccount the walk may need (all of them, before the
 * first visit), as nodes of `document`.
 */
export function startPlan(document: Document.Parsed, credentials: readonly unknown[], options: PlanOptions, source: DigestSource): PlanInProgress {
  // Results come out in document order; order numbers keep that order across
  // the walk (immediate problems) and resolution (later outcomes).
  const ordered: { order: number; result: Result }[] = [];
  let orderCount = 0;
  const report = (result: Result, order = orderCount++): void => void ordered.push({ order, result });
  const pending: Pending[] = [];
  const pins: Pin[] = [];
  const failures: Failure[] = [];
  let fields = 0;
  const rules = skipRules(options.skipPrefixes, options.skipImages);
  const format = options.format;
  const pullSecrets = new PullSecrets(credentials, document);

  const visit = (entry: unknown, itemIndex: number): void => {
    if (!isMap(entry)) {
      report({ severity: "error", message: `items[${itemIndex}] is not a Kubernetes object (got ${describe(entry)}); it was left as it is` });
      return;
    }
    if (isLocalConfig(entry)) return;
    const slots = imageSlots(entry, document, options.fieldSpecs);
    if (slots.length === 0) return;
    const resource = resourceRef(entry);
    const file = fileRef(entry);
    // The resource's own annotations, and those of each pod template's metadata.
    const annotations = new SkipAnnotations(entry, document);
    let secrets: WorkloadSecrets | undefined;
    for (const slot of slots) {
      const where = { resourceRef: resource, file, path: slot.path };
      const at: Slot = { itemIndex, path: slot.path, segments: slot.segments };
      if (options.include && !options.include(at)) continue;
      fields++;
      const current = slot.kind === "image" ? slot.value : slot.currentValue;
      const skipWhy = annotations.reason(at.segments, () => containerName(entry, at.segments, document));
      if (skipWhy !== undefined) {
        const what = slot.kind === "image" ? `left ${slot.value} alone` : "left alone";
        report(located(where, { severity: "info", message: `${what}: ${skipWhy}` }, current));
        continue;
      }
      if (slot.kind === "problem") {
        const message = `${slot.message}; ${slot.hint ?? "set it to an image reference such as registry/repository:tag"}`;
        report(located(where, { severity: "error", message }, slot.currentValue));
        failures.push({ ...at, image: undefined, cause: "INVALID_FIELD", message });
        continue;
      }
      if (slot.value.startsWith(KO_SCHEME)) {
        const message = `left ko placeholder ${slot.value} alone: ko resolve (or ko apply) replaces it with the image ko builds; run krm-digester on ko's output to pin that image`;
        report(located(where, { severity: "warning", message }, slot.value));
        continue;
      }
      let ref: ImageReference;
      try {
        ref = parsed(slot.value);
      } catch (error) {
        if (!(error instanceof InvalidReferenceError)) throw error;
        const message = `${error.message}; fix the image field`;
        report(located(where, { severity: "error", message }, slot.value));
        failures.push({ ...at, image: slot.value, cause: "INVALID_REFERENCE", message });
        continue;
      }
      const mode = options.existingDigests ?? "keep";
      const lookup = existingLookup(ref, mode);
      if (ref.digest !== undefined && lookup === undefined) continue;
      const ruled = imageSkipReason(ref, rules);
      if (ruled !== undefined) {
        report(located(where, { severity: "info", message: `left ${ref.original} alone: ${ruled}` }, ref.original));
        continue;
      }
      // A source may know the field for another tool's placeholder (a skaffold artifact name).
      const notice = source.notice?.(ref);
      if (notice) {
        report(located(where, { severity: "warning", message: notice.message }, ref.original));
        if (notice.leave) continue;
      }
      const known = ref.digest === undefined ? options.known?.(at, ref) : undefined;
      if (known !== undefined) {
        const value = formatPinned(ref, known, format);
        pins.push(pinOf(at, slot.node, ref, value, known, true));
        report(located(where, { severity: "info", message: `kept ${ref.original} at ${known}, as before this update` }, ref.original, value));
        continue;
      }
      if (!secrets) {
        secrets = pullSecrets.forWorkload(entry);
        for (const problem of pullSecrets.takeProblems()) report(secretWarning(problem));
      }
      const existing = lookup && ref.digest !== undefined && mode !== "keep" ? { lookup, written: ref.digest, mode } : undefined;
      pending.push({ ref, existing, scope: withCredential(secrets.scope(slot.path, ref)), node: slot.node, where, at, order: orderCount++ });
    }
  };

  const finish = async (): Promise<PinPlan> => {
    const lookups = pending.map((p) => ({ ref: p.existing?.lookup ?? p.ref, scope: p.scope }));
    const outcomes = await resolveAll(lookups, source, options.concurrency, options.signal);

    let pinned = pins.length;
    for (const { ref, existing, scope, node, where, at, order } of pending) {
      const outcome = outcomes.get(lookupKey(existing?.lookup ?? ref, scope));
      if (outcome === undefined) throw new Error(`no outcome for ${ref.original}`);
      const verdict = existing && existingVerdict(ref, existing.written, existing.mode, outcome);
      if (verdict && "refreshed" in verdict) {
        const value = formatPinned(ref, verdict.refreshed, format);
        pins.push(pinOf(at, node, ref, value, verdict.refreshed, false));
        pinned++;
        report(located(where, { severity: "info", message: verdict.message }, ref.original, value), order);
        continue;
      }
      if (verdict) {
        report(located(where, { severity: verdict.severity, message: verdict.message }, ref.original), order);
        if (verdict.severity === "error") failures.push({ ...at, image: ref.original, cause: verdict.cause ?? "ERROR", message: verdict.message });
        continue;
      }
      if ("error" in outcome) {
        const message = failureMessage(ref, outcome.error);
        report(located(where, { severity: "error", message }, ref.original), order);
        failures.push({ ...at, image: ref.original, cause: causeOf(outcome.error), message });
        continue;
      }
      // A source may rewrite the field (a build artifact's placeholder becomes the artifact's tag).
      const value = outcome.value ?? formatPinned(ref, outcome.digest, format);
      pins.push(pinOf(at, node, ref, value, outcome.digest, false));
      pinned++;
      const how = outcome.note ? ` (${outcome.note})` : "";
      report(located(where, { severity: "info", message: `pinned ${ref.original} to ${outcome.digest}${how}` }, ref.original, value), order);
    }
    const results = ordered.sort((a, b) => a.order - b.order).map((o) => o.result);
    return { pins, failures, results, stats: { fields, pinned, unique: outcomes.size } };
  };
  return { visit, finish };
}

/** A Pin written out (an object spread here was a tenth of a warm webhook review). */
function pinOf(at: Slot, node: Scalar, ref: ImageReference, value: string, digest: string, kept: boolean): Pin {
  return { itemIndex: at.itemIndex, path: at.path, segments: at.segments, node, ref, value, digest, kept };
}

/**
 * A long-running front end (the webhook) sees the same few field paths and
 * image references in every request: each is parsed once (both are pure, and
 * what they return is never changed), up to a bound.
 */
const MEMO_MAX = 4096;
const segmentMemo = new Map<string, readonly Segment[]>();
const referenceMemo = new Map<string, ImageReference>();

/** `make(key)`, remembered in `map`; a full map is emptied rather than grown (a webhook sees new keys all day). */
export function memo<T>(map: Map<string, T>, key: string, make: (key: string) => T, max = MEMO_MAX): T {
  let value = map.get(key);
  if (value === undefined) {
    value = make(key);
    if (map.size >= max) map.clear();
    map.set(key, value);
  }
  return value;
}

/** parseReference, remembered (an invalid reference throws every time). */
function parsed(image: string): ImageReference {
  return memo(referenceMemo, image, parseReference);
}

/** "spec.template.spec.containers[0].image" as keys and indexes (the walk's keys hold no dots or brackets). */
export function segmentsOf(path: string): readonly Segment[] {
  return memo(segmentMemo, path, parseSegments);
}

function parseSegments(path: string): Segment[] {
  const segments: Segment[] = [];
  for (const part of path.split(".")) {
    const bracket = part.indexOf("[");
    if (bracket < 0) {
      segments.push(part);
      continue;
    }
    segments.push(part.slice(0, bracket));
    for (const m of part.slice(bracket).matchAll(/\[(\d+)\]/g)) segments.push(Number(m[1]));
  }
  return segments;
}

const scoped = new WeakMap<SecretEntry, CredentialScope>();

/**
 * The scope's id with the credential itself folded in: a pull secret rotated
 * under the same name must not share cached digests or a client (holding the
 * old password) with its former self. Within one run this changes nothing.
 */
function withCredential(scope: CredentialScope | undefined): CredentialScope | undefined {
  if (!scope) return undefined;
  let out = scoped.get(scope.entry);
  if (!out) {
    const fingerprint = createHash("sha256").update(JSON.stringify(scope.entry.credential)).digest("hex").slice(0, 16);
    out = { id: `${scope.id}.${fingerprint}`, entry: scope.entry };
    scoped.set(scope.entry, out);
  }
  return out;
}

function located(where: Where, result: Omit<Result, "resourceRef" | "file">, currentValue?: unknown, proposedValue?: unknown): Result {
  // Key order as kpt prints results: message, severity, resourceRef, field, file.
  const out: Result = { message: result.message, severity: result.severity, resourceRef: where.resourceRef };
  out.field = { path: where.path };
  // A long value is not repeated (results.ts fieldValue); the message quotes it cut short.
  if (fieldValue(currentValue) !== undefined) out.field.currentValue = currentValue;
  if (proposedValue !== undefined) out.field.proposedValue = proposedValue;
  if (where.file) out.file = where.file;
  return out;
}

/** A warning about a pull secret the workload uses, placed on the Secret. */
function secretWarning(problem: SecretProblem): Result {
  const result: Result = { message: problem.message, severity: "warning", resourceRef: resourceRef(problem.item) };
  const file = fileRef(problem.item);
  if (file) result.file = file;
  return result;
}

/** ko's placeholder (`ko://import/path`), replaced by `ko resolve` with the image it builds. */
const KO_SCHEME = "ko://";

function causeOf(error: unknown): string {
  return error instanceof RegistryError ? error.code : "ERROR";
}

function failureMessage(ref: ImageReference, error: unknown): string {
  if (error instanceof Error) {
    const message = error.message.includes(ref.original) ? error.message : `cannot resolve ${ref.original}: ${error.message}`;
    if (!("hint" in error) || typeof error.hint !== "string" || error.hint === "") return message;
    return `${message.replace(/\.?$/, ".")} ${error.hint}`;
  }
  return `cannot resolve ${ref.original}: ${String(error)}`;
}
