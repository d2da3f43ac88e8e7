// The function config: kpt's ConfigMap (`-- key=value` arrives as string
// `data`) or our typed kind. Unknown keys and bad values are reported, never
// ignored, so a typo cannot silently turn a setting off.
import { isMap } from "yaml";
import type { Document, Node } from "yaml";
import { DEFAULT_REGISTRY_CONCURRENCY, DEFAULT_REGISTRY_STREAMS } from "./registry/defaults.js";
import { parseMirrorConfig } from "./registry/mirrors.js";
import { quote } from "./quote.js";
import { MEASURED } from "./resourcelist/limits.js";
import { describe } from "./resourcelist/resource-list.js";
import { IMAGE_FORMATS } from "./name/format.js";
import type { ImageFormat } from "./name/format.js";
import { compileGlob, InvalidGlobError } from "./name/glob.js";
import { EXISTING_DIGEST_MODES } from "./core/existing.js";
import type { ExistingDigestMode } from "./core/existing.js";
import { InvalidPlatformError, parsePlatform } from "./name/platform.js";
import type { Platform } from "./name/platform.js";
import { parseFieldSpecs } from "./fields/field-spec.js";
import type { FieldSpec } from "./fields/field-spec.js";

export const CONFIG_API_VERSION = "fn.krm-digester.dev/v1alpha1";
export const CONFIG_KIND = "DigesterConfig";

/** Where digests come from: `pin` asks registries (the default), `check` only checks that every image has one, `frozen` takes them from the DigestLock and build artifacts. */
export const MODES = ["pin", "check", "frozen"] as const;
export type Mode = (typeof MODES)[number];

export interface DigesterOptions {
  /** References that start with one of these are left alone. */
  skipPrefixes: string[];
  /** How many references are resolved at once. */
  concurrency: number;
  /** Time allowed for one registry request, in milliseconds. */
  timeoutMs: number;
  /** Registries reached over plain HTTP when HTTPS fails (loopback ones always are). */
  insecureRegistries: string[];
  /** Time allowed for connecting to a registry (TCP and TLS), in milliseconds; never more than timeoutMs. */
  connectTimeoutMs: number;
  /** Deadline of the whole run, in milliseconds: lookups still outstanding then fail with TIMEOUT. */
  runTimeoutMs: number;
  /** Requests in flight to one registry host at a time over HTTP/1.1 (one per connection), whatever `concurrency` allows. */
  registryConcurrency: number;
  /** Requests in flight to one registry host at a time over HTTP/2 (all on one connection). */
  registryStreams: number;
  /** Registry ("docker.io", "host:port") -> mirrors (host[:port][/path]) asked first, in order. */
  registryMirrors: Record<string, string[]>;
  /** pin (ask registries), check (no network: an image without digest is an error), frozen (no network: the DigestLock and build artifacts). */
  mode: Mode;
  /** Write the package's DigestLock (digests.lock.yaml) in pin mode. */
  lock: boolean;
  /** skaffold build --file-output files, relative to the working directory. */
  buildArtifacts: string[];
  /** Tag lookups remembered across runs for this long (ms) in the persistent cache; undefined: no cache. */
  cacheTtlMs: number | undefined;
  /** How pinned references are written (src/name/format.ts). */
  format: ImageFormat;
  /** Glob patterns (src/name/glob.ts): images matching one, as written or canonical, are left alone. */
  skipImages: string[];
  /** Digests already written: keep (no request), verify, refresh (src/core/existing.ts). */
  existingDigests: ExistingDigestMode;
  /** Pin this platform's manifest of multi-platform images (src/name/platform.ts); undefined: the index digest. */
  platform: Platform | undefined;
  /** More image fields, in kustomize's fieldSpec syntax (src/fields/field-spec.ts). */
  fieldSpecs: FieldSpec[];
}

export const DEFAULT_OPTIONS: Readonly<DigesterOptions> = Object.freeze({
  skipPrefixes: [],
  // Measured (docs/benchmarks.md): the per-registry limits decide (16 connections over HTTP/1.1,
  // 100 streams over HTTP/2); 1,000 unique images over HTTP/2 at 25 ms took ~3.0 s with 32 at once
  // and ~2.2 s with 100. Across registries this is the total in flight; 128 lets 120 unique images go in one round trip.
  concurrency: 128,
  timeoutMs: 30_000,
  insecureRegistries: [],
  connectTimeoutMs: 10_000,
  runTimeoutMs: 300_000,
  registryConcurrency: DEFAULT_REGISTRY_CONCURRENCY,
  registryStreams: DEFAULT_REGISTRY_STREAMS,
  registryMirrors: {},
  mode: "pin",
  lock: false,
  buildArtifacts: [],
  cacheTtlMs: undefined,
  format: "tag-and-digest",
  skipImages: [],
  existingDigests: "keep",
  platform: undefined,
  fieldSpecs: [],
});

export interface ConfigProblem {
  /** The offending key, as the user wrote it. */
  field: string;
  message: string;
}

/** Values from ConfigMap data are strings; the typed kind carries YAML types. */
type Source = "configmap" | "typed";
type FieldParser = (value: unknown, source: Source) => { value: unknown } | { problem: string };

const FIELDS: Record<keyof DigesterOptions, { key: string; parse: FieldParser }> = {
  skipPrefixes: { key: "skipPrefixes", parse: stringList },
  concurrency: { key: "concurrency", parse: integerIn(1, 256) },
  timeoutMs: { key: "timeout", parse: duration },
  insecureRegistries: { key: "insecureRegistries", parse: stringList },
  connectTimeoutMs: { key: "connectTimeout", parse: duration },
  runTimeoutMs: { key: "runTimeout", parse: duration },
  registryConcurrency: { key: "registryConcurrency", parse: integerIn(1, 256) },
  registryStreams: { key: "registryStreams", parse: integerIn(1, 1000) },
  registryMirrors: { key: "registryMirrors", parse: parseMirrorConfig },
  mode: { key: "mode", parse: oneOf(MODES) },
  lock: { key: "lock", parse: boolean },
  buildArtifacts: { key: "buildArtifacts", parse: stringList },
  cacheTtlMs: { key: "cacheTTL", parse: duration },
  format: { key: "format", parse: oneOf(IMAGE_FORMATS) },
  skipImages: { key: "skipImages", parse: globList },
  existingDigests: { key: "existingDigests", parse: oneOf(EXISTING_DIGEST_MODES) },
  platform: { key: "platform", parse: platformValue },
  fieldSpecs: { key: "fieldSpecs", parse: parseFieldSpecs },
};

export interface ParsedConfig {
  options: DigesterOptions;
  problems: ConfigProblem[];
}

/** Reads the functionConfig node (absent = defaults). */
export function parseConfig(node: Node | undefined, document: Document.Parsed): ParsedConfig {
  const options: DigesterOptions = { ...DEFAULT_OPTIONS, skipPrefixes: [], insecureRegistries: [], registryMirrors: {}, buildArtifacts: [], fieldSpecs: [] };
  const problems: ConfigProblem[] = [];
  if (node === undefined) return { options, problems };
  if (!isMap(node)) {
    return { options, problems: [{ field: "functionConfig", message: `functionConfig must be a mapping, got ${describe(node)}` }] };
  }
  // parseResourceList has bounded what the config's aliases expand to (resourcelist/limits.ts).
  const config: unknown = node.toJS(document, MEASURED);
  if (!isRecord(config)) return { options, problems };
  const { apiVersion, kind } = config;

  let values: Record<string, unknown>;
  let source: Source;
  let prefix: string;
  if (kind === "ConfigMap" && (apiVersion === "v1" || apiVersion === undefined)) {
    source = "configmap";
    prefix = "data.";
    const data = config.data ?? {};
    if (!isRecord(data)) return { options, problems: [{ field: "data", message: `ConfigMap data must be a mapping, got ${typeof data}` }] };
    values = data;
  } else if (kind === CONFIG_KIND && apiVersion === CONFIG_API_VERSION) {
    source = "typed";
    prefix = "";
    values = Object.fromEntries(Object.entries(config).filter(([k]) => !["apiVersion", "kind", "metadata"].includes(k)));
  } else {
    const got = `${String(apiVersion).slice(0, 100)}/${String(kind).slice(0, 100)}`;
    return {
      options,
      problems: [{ field: "kind", message: `unsupported functionConfig ${got}: use a v1 ConfigMap or ${CONFIG_API_VERSION} ${CONFIG_KIND}` }],
    };
  }

  const byKey = new Map(Object.entries(FIELDS).map(([name, spec]) => [spec.key, { name: name as keyof DigesterOptions, ...spec }]));
  for (const [key, raw] of Object.entries(values)) {
    const spec = byKey.get(key);
    if (spec === undefined) {
      problems.push({ field: prefix + key, message: `unknown config key ${quote(key)}; known keys: ${[...byKey.keys()].join(", ")}` });
      continue;
    }
    const parsed = spec.parse(raw, source);
    if ("problem" in parsed) problems.push({ field: prefix + key, message: `${key}: ${parsed.problem}` });
    else (options as unknown as Record<string, unknown>)[spec.name] = parsed.value;
  }
  return { options, problems };
}

/** A config value as the user wrote it, cut short when long. */
function shown(value: unknown): string {
  if (typeof value === "string") return quote(value);
  const json = JSON.stringify(value) ?? String(value);
  return json.length <= 100 ? json : `${json.slice(0, 100)}… (${json.length} characters of JSON)`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A YAML list of strings, or (in a ConfigMap) one string split on commas and white space. */
function stringList(value: unknown, source: Source): { value: string[] } | { problem: string } {
  if (typeof value === "string" && (source === "configmap" || !value.includes("\n"))) {
    return { value: value.split(/[\s,]+/).filter((s) => s !== "") };
  }
  if (Array.isArray(value) && value.every((v): v is string => typeof v === "string" && v.trim() !== "")) {
    return { value: value.map((v) => v.trim()) };
  }
  return { problem: "expected a list of non-empty strings" + (source === "configmap" ? " (comma-separated)" : "") };
}

/** true or false; in a ConfigMap the strings "true" and "false". */
function boolean(value: unknown, source: Source): { value: boolean } | { problem: string } {
  if (typeof value === "boolean") return { value };
  if (typeof value === "string" && ["true", "false"].includes(value.trim())) return { value: value.trim() === "true" };
  return { problem: `expected true or false${source === "configmap" ? ' (the string "true" or "false")' : ""}, got ${JSON.stringify(value)}` };
}

function integerIn(min: number, max: number): FieldParser {
  return (value) => {
    const n = typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
      return { problem: `expected a whole number from ${min} to ${max}, got ${shown(value)}` };
    }
    return { value: n };
  };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go-style duration ("30s", "1m30s", "500ms") or a number of seconds; result in ms. */
function duration(value: unknown): { value: number } | { problem: string } {
  const bad = { problem: `expected a duration such as "30s", "2m" or "1500ms", got ${shown(value)}` };
  let ms: number;
  if (typeof value === "number") ms = value * 1000;
  else if (typeof value === "string" && /^\s*\d+(\.\d+)?\s*$/.test(value)) ms = Number(value) * 1000;
  else if (typeof value === "string" && /^(\d+(\.\d+)?(ms|s|m|h))+$/.test(value.trim())) {
    ms = 0;
    for (const m of value.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? "s"] ?? 1000);
  } else return bad;
  if (!Number.isFinite(ms) || ms <= 0) return { problem: `must be more than zero, got ${shown(value)}` };
  return { value: Math.round(ms) };
}

function oneOf(allowed: readonly string[]): FieldParser {
  return (value) => {
    const text = typeof value === "string" ? value.trim() : value;
    if (typeof text !== "string" || !allowed.includes(text)) {
      return { problem: `expected one of ${allowed.join(", ")}, got ${JSON.stringify(value)}` };
    }
    return { value: text };
  };
}

/** A list of image globs, each checked here so that a bad one names the key. */
function globList(value: unknown, source: Source): { value: string[] } | { problem: string } {
  const list = stringList(value, source);
  if ("problem" in list) return list;
  for (const pattern of list.value) {
    try {
      compileGlob(pattern);
    } catch (error) {
      if (error instanceof InvalidGlobError) return { problem: `${error.message} (patterns: * within a path segment, ** across segments)` };
      throw error;
    }
  }
  return list;
}

/** One platform, `linux/arm64`, `linux/arm/v7`, `windows(10.0.17763.1234)/amd64` or `windows/amd64:10.0.17763.1234`. */
function platformValue(value: unknown): { value: Platform } | { problem: string } {
  if (typeof value !== "string") return { problem: `expected one platform as a string (${PLATFORM_EXAMPLES}), got ${shown(value)}` };
  try {
    return { value: parsePlatform(value) };
  } catch (error) {
    if (error instanceof InvalidPlatformError) return { problem: `${error.message}; expected ${PLATFORM_EXAMPLES}` };
    throw error;
  }
}

const PLATFORM_EXAMPLES = "os/architecture[/variant] such as linux/amd64, linux/arm64, linux/arm/v7, or with an os.version windows(10.0.17763.1234)/amd64 or windows/amd64:10.0.17763.1234";
