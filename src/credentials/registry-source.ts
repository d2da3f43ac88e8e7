// The digest source the function uses: one registry client per credential
// scope. Workloads whose pull secrets differ must not share a client, whose
// tokens are cached per repository; everything without a matching pull
// secret shares the default one. UNAUTHORIZED / DENIED messages get the
// credential sources that were tried.
import type { ImageReference } from "../name/reference.js";
import type { CredentialProvider } from "../registry/credentials.js";
import { RegistryError } from "../registry/errors.js";
import { CredentialChain } from "./chain.js";
import type { CredentialSource } from "./chain.js";
import { PullSecretSource } from "./pull-secrets.js";
import type { CredentialScope } from "./pull-secrets.js";

/** What this needs of a RegistryClient; `S` is its request counters. */
export interface ScopedClient<S> {
  /** The digest, and a note on how it was found (a mirror answered). */
  resolve(ref: ImageReference, signal?: AbortSignal): Promise<{ readonly digest: string; readonly note?: string | undefined }>;
  readonly stats: S;
  close(): Promise<void>;
}

export interface ClientFactory<S> {
  open(credentials: CredentialProvider): ScopedClient<S>;
  /** Called after every client is closed, e.g. to close the network they share. */
  close?(): Promise<void>;
}

const DEFAULT_SCOPE = "";

export class CredentialedRegistry<S extends { readonly [K in keyof S]: number }> {
  private readonly clients = new Map<string, { client: ScopedClient<S>; chain: CredentialChain }>();
  private readonly annotated = new WeakSet<RegistryError>();

  constructor(
    /** The user's own sources (docker config, auth.json), shared by every scope. */
    private readonly host: readonly CredentialSource[],
    private readonly factory: ClientFactory<S>,
  ) {
    this.clientFor(undefined);
  }

  async resolveDigest(
    ref: ImageReference,
    scope?: CredentialScope,
    signal?: AbortSignal,
  ): Promise<{ readonly digest: string; readonly note?: string | undefined }> {
    const { client, chain } = this.clientFor(scope);
    try {
      return await client.resolve(ref, signal);
    } catch (err) {
      if (err instanceof RegistryError && (err.code === "UNAUTHORIZED" || err.code === "DENIED") && !this.annotated.has(err)) {
        this.annotated.add(err);
        err.message = `${err.message}; ${await chain.tried(err.registry, ref.repository)}`;
      }
      throw err;
    }
  }

  /** The counters of all clients added up. */
  get stats(): S {
    const [first, ...rest] = [...this.clients.values()].map((c) => c.client.stats);
    if (first === undefined) throw new Error("no registry client"); // the default one is opened up front
    const total = { ...first } as { [K in keyof S]: number };
    for (const stats of rest) for (const key of Object.keys(total) as (keyof S)[]) total[key] += stats[key];
    return total as S;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.client.close()));
    await this.factory.close?.();
  }

  private clientFor(scope: CredentialScope | undefined): { client: ScopedClient<S>; chain: CredentialChain } {
    const id = scope?.id ?? DEFAULT_SCOPE;
    let entry = this.clients.get(id);
    if (!entry) {
      const chain = new CredentialChain(scope ? [new PullSecretSource(scope.entry), ...this.host] : this.host);
      entry = { client: this.factory.open(chain), chain };
      this.clients.set(id, entry);
    }
    return entry;
  }
}
