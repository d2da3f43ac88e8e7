// The invariant of issue 9, checked with the yaml library's own reading of
// the text (merge keys on) as the oracle: a run either (a) exits 0 or 1 with
// output that reads back as the input's data except the pinned image fields
// and the results, or (b) refuses with exit 2 and no output. And a second run
// over the output changes nothing. Independent of src/: the image fields are
// found again here, on the data.
import { isDeepStrictEqual } from "node:util";
import { parseAllDocuments } from "yaml";
import { parseReference } from "../../src/name/reference.js";

export interface Run {
  /** 0, 1 or 2 (refused: InputError); anything else is a failure of the property. */
  code: number;
  stdout: string;
  stderr: string;
}

export type Runner = (input: string) => Promise<Run>;

const POD_SPECS = [["spec"], ["template", "spec"], ["spec", "template", "spec"], ["spec", "jobTemplate", "spec", "template", "spec"]];
const LISTS = ["containers", "initContainers", "ephemeralContainers"];

/** The one document's data, or undefined when yaml reports an error or there is not exactly one document. */
export function readData(text: string): { data: unknown } | undefined {
  const docs = parseAllDocuments(text, { merge: true });
  if (!Array.isArray(docs)) return undefined;
  const nonEmpty = docs.filter((d) => d.contents !== null || d.errors.length > 0);
  if (nonEmpty.length !== 1 || nonEmpty[0]!.errors.length > 0) return undefined;
  try {
    return { data: nonEmpty[0]!.toJS({ maxAliasCount: -1 }) as unknown };
  } catch {
    return undefined;
  }
}

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Every image field of the list's data: where it is and its value. */
export function imageFields(data: unknown): { path: (string | number)[]; value: unknown }[] {
  const out: { path: (string | number)[]; value: unknown }[] = [];
  const items = record(data)?.items;
  if (!Array.isArray(items)) return out;
  items.forEach((item, i) => {
    const annotations = record(record(record(item)?.metadata)?.annotations);
    const local = annotations?.["config.kubernetes.io/local-config"];
    if (typeof local === "string" && local.trim() === "true") return;
    for (const specPath of POD_SPECS) {
      let spec: unknown = item;
      for (const key of specPath) spec = record(spec)?.[key];
      const s = record(spec);
      if (!s) continue;
      if (!LISTS.some((list) => list in s)) continue;
      for (const list of LISTS) {
        const containers = s[list];
        if (!Array.isArray(containers)) continue;
        containers.forEach((c, j) => {
          const container = record(c);
          if (container && "image" in container) out.push({ path: ["items", i, ...specPath, list, j, "image"], value: container.image });
        });
      }
      volumeImages(s.volumes, ["items", i, ...specPath], out);
    }
    // Issue 11: Tekton task specs and Argo Workflows templates (the generator's shapes).
    const apiVersion = record(item)?.apiVersion;
    const kind = record(item)?.kind;
    const spec = record(record(item)?.spec);
    if (!spec || typeof apiVersion !== "string") return;
    if (apiVersion.startsWith("tekton.dev/") && kind === "Task") {
      for (const list of ["steps", "sidecars"]) {
        const entries = spec[list];
        if (!Array.isArray(entries)) continue;
        entries.forEach((e, j) => {
          const step = record(e);
          if (step && "image" in step) out.push({ path: ["items", i, "spec", list, j, "image"], value: step.image });
        });
      }
      const template = record(spec.stepTemplate);
      if (template && "image" in template) out.push({ path: ["items", i, "spec", "stepTemplate", "image"], value: template.image });
    }
    if (apiVersion.startsWith("argoproj.io/") && kind === "Workflow" && Array.isArray(spec.templates)) {
      spec.templates.forEach((t, j) => {
        for (const key of ["container", "script"]) {
          const holder = record(record(t)?.[key]);
          if (holder && "image" in holder) out.push({ path: ["items", i, "spec", "templates", j, key, "image"], value: holder.image });
        }
      });
    }
  });
  return out;
}

function volumeImages(volumes: unknown, at: readonly (string | number)[], out: { path: (string | number)[]; value: unknown }[]): void {
  if (!Array.isArray(volumes)) return;
  volumes.forEach((v, j) => {
    const image = record(record(v)?.image);
    if (image && "reference" in image) out.push({ path: [...at, "volumes", j, "image", "reference"], value: image.reference });
  });
}

/** The pinned value an image field should get, or undefined when it must stay as it is. */
export type Expect = (image: string) => string | undefined;

function pinnable(value: unknown, digestOf: Expect, skip: readonly string[]): string | undefined {
  if (typeof value !== "string") return undefined;
  try {
    const ref = parseReference(value);
    if (ref.digest !== undefined || skip.some((p) => value.startsWith(p) || `${ref.registry}/${ref.repository}`.startsWith(p))) return undefined;
  } catch {
    return undefined;
  }
  return digestOf(value);
}

function setIn(data: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (Array.isArray(data)) {
    const copy = [...(data as unknown[])];
    copy[head as number] = setIn(copy[head as number], rest, value);
    return copy;
  }
  const copy = { ...(data as Record<string, unknown>) };
  copy[head as string] = setIn(copy[head as string], rest, value);
  return copy;
}

function withoutResults(data: unknown): unknown {
  const rest = { ...(data as Record<string, unknown>) };
  delete rest.results;
  return rest;
}

export interface Verdict {
  outcome: "pinned" | "refused" | "rejected";
  /** Image fields that were pinned. */
  pinned: number;
  /** The message of a refusal or rejection. */
  message?: string;
}

/**
 * Runs `input` through `run` and throws (with the input) when the invariant
 * breaks. `mayRefuse`: the input may be refused even though it is valid
 * (shapes the docs list as refused); otherwise valid input must be pinned.
 */
export async function checkInvariant(input: string, run: Runner, digestOf: Expect, options: { mayRefuse?: boolean; skip?: readonly string[] } = {}): Promise<Verdict> {
  const fail = (why: string, extra = ""): never => {
    throw new Error(`${why}${extra ? `\n${extra}` : ""}\n--- input (JSON-quoted) ---\n${JSON.stringify(input)}\n--- input ---\n${input}`);
  };
  const first = await run(input);
  const parsed = readData(input);
  if (first.code === 2) {
    if (first.stdout !== "") fail("exit 2 with output on stdout", first.stdout);
    if (first.stderr.trim().split("\n").length !== 1) fail("exit 2 without exactly one line on stderr", first.stderr);
    if (parsed && !options.mayRefuse && isResourceList(parsed.data)) fail(`valid ResourceList refused: ${first.stderr.trim()}`);
    return { outcome: parsed ? "refused" : "rejected", pinned: 0, message: first.stderr.trim() };
  }
  if (first.code !== 0 && first.code !== 1) fail(`exit ${first.code}`, first.stderr);
  if (!parsed) return fail("input yaml rejects was accepted", first.stdout);
  const out = readData(first.stdout);
  if (!out) return fail("output does not read back as one YAML document", first.stdout);

  let expected = withoutResults(parsed.data);
  let pinned = 0;
  for (const field of imageFields(parsed.data)) {
    const value = pinnable(field.value, digestOf, options.skip ?? []);
    if (value !== undefined) {
      expected = setIn(expected, field.path, value);
      pinned++;
    }
  }
  if (!isDeepStrictEqual(withoutResults(out.data), expected)) {
    fail("output data differs from the input's beyond the pinned image fields", `${first.stdout}\n--- expected (JSON) ---\n${JSON.stringify(expected)}\n--- got ---\n${JSON.stringify(withoutResults(out.data))}`);
  }
  const before = (parsed.data as Record<string, unknown>).results;
  const after = (out.data as Record<string, unknown>).results;
  const earlier = Array.isArray(before) ? before : [];
  if (!Array.isArray(after) && (pinned > 0 || first.code === 1)) fail("no results list in the output", first.stdout);
  if (Array.isArray(after)) {
    if (!isDeepStrictEqual(after.slice(0, earlier.length), earlier)) fail("earlier results were not kept", first.stdout);
    // A pin is an info result that proposes a value; skips are info results too, and propose none.
    const infos = after.slice(earlier.length).filter((r) => record(r)?.severity === "info" && record(record(r)?.field)?.proposedValue !== undefined).length;
    if (infos !== pinned) fail(`${pinned} fields pinned but ${infos} info results that pin`, first.stdout);
  }
  if (lineBreak(input) !== lineBreak(first.stdout)) fail("line breaks changed", JSON.stringify(first.stdout));

  // Idempotence: nothing left to pin, so nothing changes (a failed run reports its errors again).
  const second = await run(first.stdout);
  if (first.code === 0) {
    // Byte for byte, unless the second run reported skips again (info results that pin nothing,
    // appended after the first run's results as kpt keeps earlier ones): then the items stay the same data.
    const again = second.code === 0 ? readData(second.stdout) : undefined;
    const added = resultsOf(again?.data).slice(resultsOf(out.data).length);
    const onlySkips = added.length > 0 && added.every((r) => record(r)?.severity === "info" && record(record(r)?.field)?.proposedValue === undefined);
    const same = second.stdout === first.stdout || (onlySkips && again !== undefined && isDeepStrictEqual(withoutResults(again.data), withoutResults(out.data)));
    if (second.code !== 0 || !same) fail("a second run changed the output", `${first.stdout}\n--- second ---\n${second.stdout}\n${second.stderr}`);
  } else {
    const again = second.code === 1 ? readData(second.stdout) : undefined;
    if (!again || !isDeepStrictEqual(withoutResults(again.data), withoutResults(out.data))) fail("a second run changed the items", second.stdout + second.stderr);
  }
  return { outcome: "pinned", pinned };
}

function resultsOf(data: unknown): unknown[] {
  const results = record(data)?.results;
  return Array.isArray(results) ? results : [];
}

function isResourceList(data: unknown): boolean {
  const r = record(data);
  return r?.kind === "ResourceList" && (r.apiVersion === "config.kubernetes.io/v1" || r.apiVersion === "config.kubernetes.io/v1alpha1") && (Array.isArray(r.items) || r.items === null);
}

function lineBreak(text: string): string {
  const nl = text.indexOf("\n");
  return nl > 0 && text[nl - 1] === "\r" ? "crlf" : "lf";
}
