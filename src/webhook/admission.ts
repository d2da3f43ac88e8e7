// AdmissionReview, admission.k8s.io/v1 and v1beta1 (same shape), as the API
// server sends it: only what the webhook reads is checked; anything else the
// request carries is passed over. A body that is not a review is a BadReview
// (HTTP 400), never a crash.

export const ADMISSION_VERSIONS = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"] as const;
export type AdmissionVersion = (typeof ADMISSION_VERSIONS)[number];

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly subResource: string;
  readonly name: string;
  readonly namespace: string;
  readonly operation: string;
  /** The object as it would be stored; null for DELETE and CONNECT. */
  readonly object: Record<string, unknown> | null;
  readonly oldObject: Record<string, unknown> | null;
  readonly dryRun: boolean;
}

export interface AdmissionReview {
  readonly apiVersion: AdmissionVersion;
  readonly request: AdmissionRequest;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: "JSONPatch";
  /** base64 of an RFC 6902 JSON Patch array. */
  patch?: string;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
  status?: { code: number; message: string };
}

/** The body is not an AdmissionReview we can answer (HTTP 400). */
export class BadReview extends Error {
  override readonly name = "BadReview";
}

export function parseReview(body: unknown): AdmissionReview {
  if (!isRecord(body)) throw new BadReview(`expected an AdmissionReview object, got ${kindOf(body)}`);
  const { apiVersion, kind, request } = body;
  if (kind !== "AdmissionReview") throw new BadReview(`kind must be AdmissionReview, got ${JSON.stringify(kind ?? null)}`);
  if (!ADMISSION_VERSIONS.includes(apiVersion as AdmissionVersion)) {
    throw new BadReview(`apiVersion must be one of ${ADMISSION_VERSIONS.join(", ")}, got ${JSON.stringify(apiVersion ?? null)}`);
  }
  if (!isRecord(request)) throw new BadReview(`request must be an object, got ${kindOf(request)}`);
  const uid = request.uid;
  if (typeof uid !== "string" || uid === "") throw new BadReview("request.uid must be a non-empty string");
  const gvk = request.kind;
  if (!isRecord(gvk) || typeof gvk.kind !== "string" || typeof gvk.version !== "string" || (gvk.group !== undefined && typeof gvk.group !== "string")) {
    throw new BadReview("request.kind must be {group, version, kind} with string values");
  }
  const operation = request.operation;
  if (typeof operation !== "string") throw new BadReview("request.operation must be a string");
  const object = nullable(request.object, "request.object");
  const oldObject = nullable(request.oldObject, "request.oldObject");
  return {
    apiVersion: apiVersion as AdmissionVersion,
    request: {
      uid,
      kind: { group: typeof gvk.group === "string" ? gvk.group : "", version: gvk.version, kind: gvk.kind },
      subResource: optionalString(request.subResource, "request.subResource"),
      name: optionalString(request.name, "request.name"),
      namespace: optionalString(request.namespace, "request.namespace"),
      operation,
      object,
      oldObject,
      dryRun: request.dryRun === true,
    },
  };
}

/** The whole answer, in the version asked. */
export function reviewResponse(apiVersion: AdmissionVersion, response: AdmissionResponse): object {
  return { apiVersion, kind: "AdmissionReview", response };
}

function nullable(value: unknown, field: string): Record<string, unknown> | null {
  if (value === undefined || value === null) return null;
  if (!isRecord(value)) throw new BadReview(`${field} must be an object or null, got ${kindOf(value)}`);
  return value;
}

function optionalString(value: unknown, field: string): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw new BadReview(`${field} must be a string, got ${kindOf(value)}`);
  return value;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
