// The admission handler: one AdmissionReview request in, one response out,
// apart from any server (as controller-runtime's admission package has it).
// The object goes through the same walk, pull-secret reader and resolver as
// the function (src/core/plan.ts); its pins become JSON Patch operations on
// image fields and nothing else.
import type { KubeObject } from "../cluster/api.js";
import { documentOf, nodesIn, podSpecsOf, walkable } from "../core/objects.js";
import { isMap } from "yaml";
import type { Document } from "yaml";
import { memo, planPins, segmentsOf } from "../core/plan.js";
import { SKIP_ANNOTATION } from "../core/skip.js";
import type { Failure, Pin, PinPlan, Segment, Slot } from "../core/plan.js";
import { parseReference } from "../name/reference.js";
import type { ImageReference } from "../name/reference.js";
import type { ImageFormat } from "../name/format.js";
import type { ExistingDigestMode } from "../core/existing.js";
import type { DigestSource } from "../resolve.js";
import { imageSlots } from "../workloads.js";
import { isRecord } from "./admission.js";
import type { AdmissionRequest, AdmissionResponse } from "./admission.js";

/** The per-object opt-out (the same annotation the function will honour, issue 11). */
const MIRROR_ANNOTATION = "kubernetes.io/config.mirror";
/** Warnings reach kubectl as HTTP 299 headers: each under 120 characters, a few in all. */
export const MAX_WARNING_CHARS = 119;
const MAX_WARNINGS = 8;
const MAX_ANNOTATION_CHARS = 4000;
const MAX_DENIAL_CHARS = 2000;

export interface HandlerOptions {
  /** The shared cache in front of the registry stack. */
  readonly source: DigestSource;
  readonly skipPrefixes: readonly string[];
  /** skipImages globs (src/name/glob.ts); fields they skip get no patch. */
  readonly skipImages?: readonly string[] | undefined;
  /** How pins are written (src/name/format.ts); default tag-and-digest. */
  readonly format?: ImageFormat | undefined;
  /** --existing-digests: keep (default), verify (a stale or missing digest is a failure), refresh (patched). */
  readonly existingDigests?: ExistingDigestMode | undefined;
  /** Unique references of one review resolved at once. */
  readonly concurrency: number;
  /** A failure admits the object with what could be pinned, and a warning; otherwise it is denied. */
  readonly ignoreErrors: boolean;
  /** Log what would be pinned, patch nothing. */
  readonly dryRun: boolean;
  /** The webhook's own namespace: never mutated (it must be able to start when it cannot resolve). */
  readonly ownNamespace?: string | undefined;
  /** Online: the Secrets and ServiceAccounts these pod specs use, from the cluster. */
  readonly credentials?: ((namespace: string, podSpecs: readonly unknown[]) => Promise<KubeObject[]>) | undefined;
}

export type Outcome = "patched" | "unchanged" | "skipped" | "denied" | "admitted-with-errors" | "dry-run";

/** What the log line and the metrics say about one review. */
export interface ReviewSummary {
  readonly uid: string;
  readonly kind: string;
  readonly operation: string;
  readonly namespace: string;
  readonly name: string;
  readonly outcome: Outcome;
  /** Why nothing was looked at (skipped). */
  readonly reason?: string;
  readonly pinned: readonly { readonly path: string; readonly image: string }[];
  readonly failures: readonly { readonly path: string; readonly image: string | undefined; readonly cause: string }[];
}

export interface JsonPatchOp {
  readonly op: "replace";
  readonly path: string;
  readonly value: string;
}

export interface HandledReview {
  readonly response: AdmissionResponse;
  readonly summary: ReviewSummary;
  /** The operations sent (or, in dry-run, that would have been). */
  readonly patch: readonly JsonPatchOp[];
}

/** `signal`: the review's deadline; lookups still open then fail as timeouts and the answer goes out. */
export async function handleReview(request: AdmissionRequest, options: HandlerOptions, signal?: AbortSignal): Promise<HandledReview> {
  const object = request.object;
  const base = {
    uid: request.uid,
    kind: request.subResource ? `${request.kind.kind}/${request.subResource}` : request.kind.kind,
    operation: request.operation,
    namespace: request.namespace,
    name: nameOf(object) ?? request.name,
  };
  const skip = (reason: string): HandledReview => ({
    response: { uid: request.uid, allowed: true },
    summary: { ...base, outcome: "skipped", reason, pinned: [], failures: [] },
    patch: [],
  });
  const why = skipReason(request, options);
  if (why !== undefined || object === null) return skip(why ?? "no object");

  // The walk reads the namespace from the object (pull secrets are the namespace's); a pod
  // created through a controller often has none of its own yet.
  const walked = withNamespace(object, request.namespace);
  const old = request.operation === "UPDATE" && request.oldObject ? request.oldObject : undefined;
  const walkedPart = anonymous(walkable(walked));
  const { document, nodes } = walkedDocument(old ? [walkedPart, anonymous(walkable(old))] : [walkedPart]);
  const item = nodes[0];
  let credentialObjects: unknown[] | undefined;
  const warnings: string[] = [];
  if (options.credentials) {
    const specs = podSpecsOf(walkedPart);
    try {
      credentialObjects = nodesIn(document, await options.credentials(request.namespace, specs));
    } catch (error) {
      warnings.push(`pull secrets not read: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const keep = old ? oldDigests(nodes[1], document) : undefined;
  const ephemeralOnly = request.subResource === "ephemeralcontainers";
  const plan = await planPins(
    { items: [item], document, credentialObjects },
    {
      skipPrefixes: options.skipPrefixes,
      skipImages: options.skipImages,
      format: options.format,
      existingDigests: options.existingDigests,
      concurrency: options.concurrency,
      signal,
      known: keep && ((slot, ref) => keep.get(containerKey(walked, slot.segments))?.(ref)),
      // The ephemeralcontainers subresource may change nothing but ephemeral containers.
      include: ephemeralOnly ? (slot: Slot) => slot.segments.includes("ephemeralContainers") : undefined,
    },
    options.source,
  );
  return respond(request, options, plan, base, warnings);
}

function respond(
  request: AdmissionRequest,
  options: HandlerOptions,
  plan: PinPlan,
  base: Omit<ReviewSummary, "outcome" | "pinned" | "failures">,
  warnings: string[],
): HandledReview {
  const patch = patchOf(plan.pins);
  const pinned = plan.pins.map((p) => ({ path: p.path, image: p.value }));
  const failures = plan.failures.map((f) => ({ path: f.path, image: f.image, cause: f.cause }));
  for (const r of plan.results) if (r.severity === "warning") warnings.push(r.message);
  const response: AdmissionResponse = { uid: request.uid, allowed: true };
  let outcome: Outcome;
  if (plan.failures.length > 0 && !options.ignoreErrors && !options.dryRun) {
    response.allowed = false;
    response.status = { code: 403, message: denial(base, plan.failures) };
    return { response, summary: { ...base, outcome: "denied", pinned: [], failures }, patch: [] };
  }
  // The cause first: a warning is cut at 119 characters, and an image with its digest is about 100.
  for (const f of plan.failures) warnings.push(`not pinned (${f.cause}): ${f.image ?? f.path}`);
  if (options.dryRun) outcome = "dry-run";
  else {
    if (patch.length > 0) {
      response.patchType = "JSONPatch";
      response.patch = Buffer.from(JSON.stringify(patch)).toString("base64");
      response.auditAnnotations = { "images-pinned": capped(pinned.map((p) => `${p.path}=${p.image}`).join(", "), MAX_ANNOTATION_CHARS) };
    }
    outcome = plan.failures.length > 0 ? "admitted-with-errors" : patch.length > 0 ? "patched" : "unchanged";
  }
  if (warnings.length > 0) response.warnings = shortWarnings(warnings);
  const summary: ReviewSummary = { uid: base.uid, kind: base.kind, operation: base.operation, namespace: base.namespace, name: base.name, outcome, pinned, failures };
  return { response, summary, patch };
}

/** Why a review is answered without looking at the object, or undefined. */
function skipReason(request: AdmissionRequest, options: HandlerOptions): string | undefined {
  if (request.operation !== "CREATE" && request.operation !== "UPDATE") return `operation ${request.operation}`;
  if (request.subResource !== "" && !(request.subResource === "ephemeralcontainers" && request.kind.kind === "Pod")) {
    return `subresource ${request.subResource}`;
  }
  if (options.ownNamespace && request.namespace === options.ownNamespace) return "the webhook's own namespace";
  const object = request.object;
  if (!object) return undefined;
  const metadata = isRecord(object.metadata) ? object.metadata : {};
  const annotations = isRecord(metadata.annotations) ? metadata.annotations : {};
  if (String(annotations[SKIP_ANNOTATION]).trim() === "true") return `annotation ${SKIP_ANNOTATION}: "true"`;
  // Static pods' API copies: the kubelet owns them and the API refuses changes.
  if (request.kind.kind === "Pod" && annotations[MIRROR_ANNOTATION] !== undefined) return "mirror pod";
  if (request.kind.kind === "ReplicaSet") {
    // The pin belongs in the Deployment's template: a mutated ReplicaSet makes the Deployment create another, without end.
    const owners = Array.isArray(metadata.ownerReferences) ? metadata.ownerReferences : [];
    const owner = owners.find((o): o is Record<string, unknown> => isRecord(o) && o.controller === true && o.kind === "Deployment");
    if (owner) return `controlled by Deployment ${String(owner.name)}`;
  }
  return undefined;
}

/** One `replace` per image field (an image given twice through the same node is still two fields in JSON). */
function patchOf(pins: readonly Pin[]): JsonPatchOp[] {
  return pins.map((p) => ({ op: "replace", path: pointer(p.segments), value: p.value }));
}

/** RFC 6901. Built afresh each time: cheaper than a WeakMap of the segments, which are new for every review. */
function pointer(segments: readonly Segment[]): string {
  let text = "";
  for (const segment of segments) {
    const s = String(segment);
    text += s.includes("~") || s.includes("/") ? `/${s.replaceAll("~", "~0").replaceAll("/", "~1")}` : `/${s}`;
  }
  return text;
}

/**
 * The digest each container of oldObject was pinned to, by pod spec, list and
 * container name: an UPDATE that leaves a container's repo:tag as it was
 * keeps that digest, so re-applying a manifest never rolls the workload.
 */
function oldDigests(old: unknown, document: Document.Parsed): Map<string, (ref: ImageReference) => string | undefined> {
  const out = new Map<string, (ref: ImageReference) => string | undefined>();
  if (!isMap(old)) return out;
  const oldJs: unknown = old.toJS(document);
  for (const slot of imageSlots(old, document)) {
    if (slot.kind !== "image") continue;
    let ref: ImageReference;
    try {
      ref = parseReference(slot.value);
    } catch {
      continue;
    }
    const digest = ref.digest;
    if (digest === undefined) continue;
    const written = ref.original.slice(0, ref.original.lastIndexOf("@"));
    out.set(containerKey(oldJs, segmentsOf(slot.path)), (now) => (now.original === written ? digest : undefined));
  }
  return out;
}

/** "spec/template/spec/containers#web": the container's pod spec, list and name (its index may change). */
function containerKey(object: unknown, segments: readonly Segment[]): string {
  const container = segments.slice(0, -1).reduce<unknown>((node, key) => (isRecord(node) || Array.isArray(node) ? (node as Record<string, unknown>)[key] : undefined), object);
  const name = isRecord(container) && typeof container.name === "string" ? container.name : `#${String(segments[segments.length - 2])}`;
  return `${segments.slice(0, -2).join("/")}#${name}`;
}

/**
 * The walk's yaml nodes of these parts, shared by reviews whose parts are the
 * same (a ReplicaSet's pods, a re-applied Deployment): building nodes was a
 * sixth of a warm review. Nothing changes the nodes (the webhook answers with
 * a JSON Patch, it never edits them), and the key is their whole content.
 */
const documents = new Map<string, { document: Document.Parsed; nodes: unknown[] }>();
const DOCUMENTS_MAX = 1024;

function walkedDocument(parts: readonly Record<string, unknown>[]): { document: Document.Parsed; nodes: unknown[] } {
  return memo(documents, JSON.stringify(parts), () => documentOf(parts), DOCUMENTS_MAX);
}

/**
 * Without its name: the webhook reads none of what the walk says about the
 * object's identity (its log and denials name the object from the request),
 * so objects that differ only in name share one walk.
 */
function anonymous(part: Record<string, unknown>): Record<string, unknown> {
  const metadata = part.metadata;
  if (!isRecord(metadata) || (metadata.name === undefined && metadata.generateName === undefined)) return part;
  const rest: Record<string, unknown> = {};
  for (const key of Object.keys(metadata)) if (key !== "name" && key !== "generateName") rest[key] = metadata[key];
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(part)) out[key] = key === "metadata" ? rest : part[key];
  return out;
}

function withNamespace(object: Record<string, unknown>, namespace: string): Record<string, unknown> {
  const metadata = isRecord(object.metadata) ? object.metadata : {};
  if (namespace === "" || (typeof metadata.namespace === "string" && metadata.namespace !== "")) return object;
  return { ...object, metadata: { ...metadata, namespace } };
}

function nameOf(object: Record<string, unknown> | null): string | undefined {
  const metadata = object && isRecord(object.metadata) ? object.metadata : undefined;
  if (typeof metadata?.name === "string" && metadata.name !== "") return metadata.name;
  if (typeof metadata?.generateName === "string" && metadata.generateName !== "") return `${metadata.generateName}*`;
  return undefined;
}

function denial(base: Omit<ReviewSummary, "outcome" | "pinned" | "failures">, failures: readonly Failure[]): string {
  const who = `${base.kind} ${[base.namespace, base.name].filter(Boolean).join("/")}`;
  const each = failures.map((f) => `${f.path}: ${f.message}`).join("; ");
  return capped(`krm-digester could not pin every image of ${who}: ${each}`, MAX_DENIAL_CHARS);
}

/** Each under 120 characters, at most a few, the rest counted. */
export function shortWarnings(messages: readonly string[]): string[] {
  const unique = [...new Set(messages)];
  const shown = unique.slice(0, unique.length > MAX_WARNINGS ? MAX_WARNINGS - 1 : MAX_WARNINGS).map((m) => capped(`krm-digester: ${m}`, MAX_WARNING_CHARS));
  if (unique.length > shown.length) shown.push(`krm-digester: ${unique.length - shown.length} more (see the webhook's log)`);
  return shown;
}

function capped(text: string, max: number): string {
  if (text.length <= max && !/[\n\r\t]/.test(text)) return text;
  const flat = text.replace(/\s+/g, " ");
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
