// The network side of a run read ahead of its parse (lookupsAhead): the
// registry stack the run will use, its `/v2/` probes started and the
// lookups the raw text shows queued, before the parse takes the event loop.
import type { LookupsAhead } from "../function.js";
import { probeOrigins } from "../name/reference.js";
import { EarlySockets } from "../registry/early.js";
import { proxyFor, proxySettings } from "../registry/proxy.js";
import { PrefetchedSource } from "./prefetch.js";
import { RegistryStack } from "./registry-stack.js";

export interface StartedAhead {
  readonly stack: RegistryStack;
  /** The lookups started ahead, when the text showed them all (LookupsAhead.refs). */
  readonly prefetched: PrefetchedSource | undefined;
}

/**
 * Opens the stack and starts the probes and lookups. Resolves once the
 * probes' connections are being made: the registry modules load (~35 ms) and
 * the probes are dispatched in microtasks and the turns after (a loopback or
 * insecure registry's HTTPS attempt follows its plain one once that is
 * connected, 20 ms at most), and a parse begun before them would hold them
 * back by a group of items each (~15-20 ms at 600 items). It does not wait
 * for an answer.
 */
export async function startAhead(ahead: LookupsAhead, env: NodeJS.ProcessEnv = process.env): Promise<StartedAhead> {
  // How many lookups follow each registry's probe: over HTTP/1.1 their connections open early (Network.expect).
  const lookups = new Map<string, number>();
  for (const ref of ahead.refs) lookups.set(ref.registry, (lookups.get(ref.registry) ?? 0) + 1);
  // The TCP connections first: they are made while the registry stack loads.
  const early = new EarlySockets();
  for (const origin of earlyOrigins(ahead, env)) early.open(origin);
  const stack = new RegistryStack({ ...ahead.options, shortRun: true, early, env });
  const warming = stack.warm(ahead.registries, lookups).catch(() => undefined);
  const prefetched = ahead.refs.length > 0 ? new PrefetchedSource(stack, ahead.options.concurrency) : undefined;
  prefetched?.start(ahead.refs);
  await warming;
  // One turn: every microtask of the dispatch has run, the connect calls included.
  await new Promise((resolve) => setImmediate(resolve));
  return { stack, prefetched };
}

/**
 * The origins each registry's probe will connect to directly (probeOrigins:
 * both attempts go at once; Transport.probe). Not those a proxy carries: the pool connects to the
 * proxy. The lookups' own connections are not opened here: over HTTP/2 one
 * connection carries them all, and which protocol a port speaks is known
 * only from the probe (Network.openSpares opens them then).
 */
export function earlyOrigins(ahead: LookupsAhead, env: Readonly<Record<string, string | undefined>>): URL[] {
  const proxies = proxySettings(env);
  const insecure = new Set(ahead.options.insecureRegistries);
  const origins: URL[] = [];
  for (const registry of ahead.registries) {
    for (const origin of probeOrigins(registry, insecure)) {
      let url;
      try {
        url = new URL(origin);
      } catch {
        continue;
      }
      // A proxy variable set to something unusable fails the lookups; nothing is connected for them.
      if (proxyFor(url, proxies) === undefined && !proxies.invalid.some((p) => p.scheme === url.protocol)) origins.push(url);
    }
  }
  return origins;
}
