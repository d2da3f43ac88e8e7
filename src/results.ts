// Results as the KRM Functions Specification defines them (ResourceList.results).

export type Severity = "error" | "warning" | "info";

export interface ResourceRef {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

export interface FileRef {
  path: string;
  index?: number;
}

export interface FieldRef {
  path: string;
  currentValue?: unknown;
  proposedValue?: unknown;
}

export interface Result {
  message: string;
  severity: Severity;
  resourceRef?: ResourceRef;
  field?: FieldRef;
  file?: FileRef;
  tags?: Record<string, string>;
}

/** Longest field value a result carries as currentValue/proposedValue, in characters. */
export const FIELD_VALUE_MAX = 512;

/**
 * A field's value for a result, or undefined when it is too long to repeat:
 * a valid image reference is at most ~460 characters, and the message quotes
 * a longer value cut short, with its length (quote.ts).
 */
export function fieldValue(value: unknown): unknown {
  return typeof value === "string" && value.length > FIELD_VALUE_MAX ? undefined : value;
}

export function hasErrors(results: readonly Result[]): boolean {
  return results.some((r) => r.severity === "error");
}

/** One line for stderr: "error: deployment.yaml Deployment default/web spec…image: message". */
export function formatResult(result: Result): string {
  const where = [
    result.file?.path,
    result.resourceRef && [result.resourceRef.kind, [result.resourceRef.namespace, result.resourceRef.name].filter(Boolean).join("/")].filter(Boolean).join(" "),
    result.field?.path,
  ].filter((part) => part !== undefined && part !== "");
  return `${result.severity}: ${where.length > 0 ? `${where.join(" ")}: ` : ""}${result.message}`;
}
