// The KRM function as a pure-ish step: ResourceList text in, ResourceList
// text and an exit code out. I/O and process concerns stay in main.ts.
import type { KubeObject } from "./cluster/api.js";
import { parseConfig } from "./config.js";
import { nodesIn, podSpecsByNamespace } from "./core/objects.js";
import type { NamespacedPodSpecs } from "./core/objects.js";
import type { DigesterOptions } from "./config.js";
import { pinImages, startPins } from "./pin.js";
import type { PinReport } from "./pin.js";
import { applyEdits } from "./resourcelist/edits.js";
import type { TextEdit } from "./resourcelist/edits.js";
import { parseResourceList, parseResourceListPausing, parseResourceListStreamed, resultsEdit } from "./resourcelist/resource-list.js";
import { writeResourceList, writeStreamedList } from "./resourcelist/write.js";
import type { DigestSource } from "./resolve.js";
import { hasErrors } from "./results.js";
import { openPackageRun } from "./sources/package-run.js";
import type { PackageRun } from "./sources/package-run.js";
import { isMap } from "yaml";
import { imageSkipReason, skipRules } from "./core/skip.js";
import { existingLookup } from "./core/existing.js";
import { InvalidReferenceError, parseReference } from "./name/reference.js";
import type { ImageReference } from "./name/reference.js";
import { registryKey } from "./registry/mirrors.js";
import { readAhead } from "./resourcelist/read-ahead.js";
import type { Result } from "./results.js";

export interface ClosableSource extends DigestSource {
  close(): Promise<void>;
}

export interface FunctionOutput {
  output: string;
  results: Result[];
  exitCode: 0 | 1;
  stats: PinReport["stats"];
  /** Whether the items were read one at a time (runStreamed), not kept as one tree. */
  streamed: boolean;
}

/** What the command line adds to the function config (k8s-digester's flags and variables). */
export interface FunctionFlags {
  /** Added to the config's skipPrefixes (`--skip-prefixes`, `SKIP_PREFIXES`). */
  readonly skipPrefixes?: readonly string[];
  /**
   * Online mode (`--offline=false`): the Secrets and ServiceAccounts these pod
   * specs use, read from the cluster, beside those in the package.
   */
  readonly readCredentials?: ((workloads: NamespacedPodSpecs[]) => Promise<KubeObject[]>) | undefined;
  /** Read the items one at a time (runStreamed) where the list allows it: true, false, or by size (default: from STREAM_FROM). */
  readonly streamItems?: boolean | undefined;
}

/** What a run will ask the network for, read ahead of the parse (see lookupsAhead). */
export interface LookupsAhead {
  /** The options the full parse of functionConfig will give (the run checks that they do). */
  readonly options: DigesterOptions;
  /** Registries the run's lookups without a pull secret will ask. */
  readonly registries: string[];
  /**
   * References the run will look up without a pull secret, as far as the raw
   * text tells: their lookups can start before the parse. Empty when some
   * image the text shows might not be one the walk pins (a local-config item,
   * a block scalar that might hold YAML text): then only the probes go early.
   */
  readonly refs: ImageReference[];
}

/**
 * The registries a run will look images up in, known from the raw input in
 * a few milliseconds, so that their connections and `/v2/` probes (which
 * carry no credentials) are under way while the list is parsed. Only for a
 * plain pin run: no cache, build artifacts, pull secrets, cluster reads or
 * skip annotations to weigh first, and a functionConfig without problems.
 * undefined when the answer is not plain: the run then goes as it always did.
 */
export function lookupsAhead(input: string, flags: FunctionFlags = {}): LookupsAhead | undefined {
  if (flags.readCredentials || /imagePullSecrets|krm-digester\.dev\/skip/.test(input)) return undefined;
  const ahead = readAhead(input);
  if (!ahead) return undefined;
  const config = parseConfig(ahead.functionConfig, ahead.document);
  const options = config.options;
  if (flags.skipPrefixes) options.skipPrefixes.push(...flags.skipPrefixes);
  if (config.problems.length > 0 || options.mode !== "pin" || options.cacheTtlMs !== undefined || options.buildArtifacts.length > 0) return undefined;
  const rules = skipRules(options.skipPrefixes, options.skipImages);
  const mirrored = new Set(Object.keys(options.registryMirrors).map(registryKey));
  const registries = new Set<string>();
  const refs: ImageReference[] = [];
  const exact = prefetchIsExact(input);
  // Each text once: a large list repeats a few hundred images thousands of times.
  for (const image of new Set(ahead.images)) {
    if (image.startsWith("ko://")) continue;
    let ref;
    try {
      ref = parseReference(image);
    } catch (error) {
      if (error instanceof InvalidReferenceError) continue;
      throw error;
    }
    if (ref.digest !== undefined && existingLookup(ref, options.existingDigests) === undefined) continue;
    if (imageSkipReason(ref, rules) !== undefined || mirrored.has(registryKey(ref.registry))) continue;
    registries.add(ref.registry);
    if (exact && ref.digest === undefined) refs.push(ref);
  }
  return registries.size === 0 ? undefined : { options, registries: [...registries], refs };
}

/**
 * Kinds whose schema puts containers only where the walk looks (a pod spec),
 * or nowhere; the references and roles objects carry (ownerReferences,
 * roleRef, subjects, scaleTargetRef) name such kinds too.
 */
const PREFETCH_KINDS = new Set([
  ...["ResourceList", "Pod", "PodTemplate", "ReplicationController", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"],
  ...["ConfigMap", "Secret", "Service", "ServiceAccount", "Namespace", "Endpoints", "Ingress", "IngressClass", "NetworkPolicy"],
  ...["PodDisruptionBudget", "HorizontalPodAutoscaler", "PersistentVolumeClaim", "PersistentVolume", "StorageClass", "LimitRange"],
  ...["ResourceQuota", "PriorityClass", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "User", "Group"],
]);

/**
 * Whether every image the read-ahead finds is one the walk will look up, so
 * that starting their lookups early adds no request: only kinds of
 * PREFETCH_KINDS (a custom resource may hold `containers` where the walk
 * does not look), no local-config item (not pinned), no block scalar (its
 * text might look like a container).
 */
function prefetchIsExact(input: string): boolean {
  if (/local-config|:[ \t]*[|>][-+0-9]*[ \t]*(#.*)?\r?$/m.test(input)) return false;
  for (const m of input.matchAll(/(?:^|[\s{,])["']?kind["']?[ \t]*:[ \t]*["']?([^\s"',}]*)/gm)) {
    if (!PREFETCH_KINDS.has(m[1]!)) return false;
  }
  return true;
}

/** Throws InputError when the input is not a ResourceList at all. */
export async function runFunction(
  input: string,
  openSource: (options: DigesterOptions) => ClosableSource,
  flags: FunctionFlags = {},
  /** One turn of the event loop, taken between groups of items while parsing: lookups started ahead go on meanwhile. */
  pause?: () => Promise<void>,
): Promise<FunctionOutput> {
  const streamed = streams(input, flags) ? await runStreamed(input, openSource, flags, pause) : undefined;
  if (streamed) return streamed;
  const list = pause ? await parseResourceListPausing(input, pause) : parseResourceList(input);
  const config = parseConfig(list.functionConfig, list.document);
  if (flags.skipPrefixes) config.options.skipPrefixes.push(...flags.skipPrefixes);
  let report: PinReport;
  let lock: TextEdit | undefined;
  if (config.problems.length > 0) {
    // A bad config resolves nothing: the user asked for something we would not do.
    const results: Result[] = config.problems.map((p) => ({
      severity: "error",
      message: `functionConfig: ${p.message}`,
      field: { path: `functionConfig.${p.field}` },
    }));
    report = { edits: [], results, stats: { fields: 0, pinned: 0, unique: 0 } };
  } else {
    const items = list.items?.items ?? [];
    // check and frozen ask no registry, so they need no pull secrets from the cluster either.
    const read = config.options.mode === "pin" ? flags.readCredentials : undefined;
    const credentialObjects = read ? nodesIn(list.document, await read(podSpecsByNamespace(items, list.document))) : undefined;
    // mode, lock, buildArtifacts, cacheTTL: the digest source and the DigestLock (src/sources/package-run.ts).
    const run = await openPackageRun({ source: list.source, document: list.document, itemsNode: list.items, items }, config.options, () => openSource(config.options));
    ({ report, lock } = await pinnedIn(run, async () =>
      run.fatal ? { edits: [], results: [], stats: { fields: 0, pinned: 0, unique: 0 } } : pinImages(list, config.options, run.source, credentialObjects),
    ));
  }
  // Throws InputError rather than return text that does not read back exactly.
  let output = writeResourceList(list, report.edits, report.results, config.options.fieldSpecs);
  if (lock) {
    // The pins and results are proven above; the DigestLock (a generated item) is written on top,
    // before the results edit at the same offset, and the whole list must still parse as one.
    const results = resultsEdit(list, report.results);
    output = applyEdits(list.source, [...report.edits, lock, ...(results ? [results] : [])]);
    parseResourceList(output);
  }
  return outputOf(output, report, false);
}

/** `pin` within a package run: the run's problems first, then the pins' results, then what finishing the run reported; the DigestLock edit it makes, if any. */
async function pinnedIn(run: PackageRun, pin: () => Promise<PinReport>): Promise<{ report: PinReport; lock: TextEdit | undefined }> {
  let report: PinReport;
  let after: Awaited<ReturnType<PackageRun["finish"]>>;
  try {
    report = await pin();
  } finally {
    after = await run.finish();
  }
  report.results.unshift(...run.problems);
  report.results.push(...after.results);
  return { report, lock: after.edit };
}

function outputOf(output: string, report: PinReport, streamed: boolean): FunctionOutput {
  return { output, results: report.results, exitCode: hasErrors(report.results) ? 1 : 0, stats: report.stats, streamed };
}

/**
 * Lists this large are read one item at a time where they can be: the tree
 * of 20,000 Deployments was 200 MB, most of a run's memory
 * (docs/benchmarks.md). Smaller lists are read whole, as always.
 */
export const STREAM_FROM = 4 << 20;

/**
 * Text that may hold an item the walk needs before the first item is
 * walked (a Secret, for pull secrets), or one that changes how every item
 * is read (a DigestLock, a skaffold Config): such a list is read whole.
 */
const NEEDED_FIRST = /\bSecret\b|DigestLock|skaffold\//;

function streams(input: string, flags: FunctionFlags): boolean {
  return (flags.streamItems ?? input.length >= STREAM_FROM) && !flags.readCredentials && !NEEDED_FIRST.test(input);
}

/** The item NEEDED_FIRST looks for, found anyway (its text escaped): the streamed run stops, and the list is read whole. */
function neededFirst(item: unknown): boolean {
  if (!isMap(item)) return false;
  const kind = item.get("kind");
  const apiVersion = item.get("apiVersion");
  return kind === "Secret" || kind === "DigestLock" || (typeof apiVersion === "string" && apiVersion.startsWith("skaffold/"));
}

/**
 * runFunction with the items walked as they are read and dropped
 * (parseResourceListStreamed), for a run whose config needs nothing from
 * the items up front (no lock, frozen mode or build artifacts, no config
 * problems to report). undefined: the list is not one this can read, and
 * nothing was asked of a registry: runFunction reads it whole.
 */
async function runStreamed(
  input: string,
  openSource: (options: DigesterOptions) => ClosableSource,
  flags: FunctionFlags,
  pause: (() => Promise<void>) | undefined,
): Promise<FunctionOutput | undefined> {
  let opened: { run: PackageRun; pins: ReturnType<typeof startPins>; options: DigesterOptions } | undefined;
  const list = await parseResourceListStreamed(
    input,
    async ({ document, functionConfig }) => {
      const config = parseConfig(functionConfig, document);
      const { options } = config;
      if (flags.skipPrefixes) options.skipPrefixes.push(...flags.skipPrefixes);
      if (config.problems.length > 0 || options.lock || options.mode === "frozen" || options.buildArtifacts.length > 0) return undefined;
      const run = await openPackageRun({ source: input, document, itemsNode: undefined, items: [] }, options, () => openSource(options));
      const pins = startPins(input, document, options, run.source);
      opened = { run, pins, options };
      // The walk asks no registry: lookups start in pins.finish, after the last item.
      return (entry, index) => {
        if (neededFirst(entry)) return false;
        pins.visit(entry, index);
        return true;
      };
    },
    pause,
  );
  if (!list || !opened) {
    await opened?.run.finish();
    return undefined;
  }
  const { run, pins, options } = opened;
  // No lock edit: a run with `lock` is not streamed.
  const { report } = await pinnedIn(run, pins.finish);
  return outputOf(writeStreamedList(list, report.edits, report.results, options.fieldSpecs), report, true);
}
