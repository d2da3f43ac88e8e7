// Shared pieces of the registry client tests: servers started per describe(),
// clients closed after each test, and assertions on RegistryError.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { parseReference } from "../../src/name/reference.js";
import { RegistryClient } from "../../src/registry/client.js";
import type { RegistryClientOptions, Resolution } from "../../src/registry/client.js";
import { RegistryError } from "../../src/registry/errors.js";
import type { RegistryErrorCode } from "../../src/registry/errors.js";

export const TIMEOUT_MS = 10_000;

/** Fast retries for tests: same count as the default, tiny backoff. */
export const QUICK_RETRY = { retries: 3, baseDelayMs: 20, maxDelayMs: 100, budgetMs: 10_000 } as const;

/** Starts a server for the enclosing describe() and stops it after; the getter asserts it started. */
export function useServer<T extends { stop(): Promise<void> | void }>(start: () => Promise<T>): () => T {
  let server: T | undefined;
  before(async () => {
    server = await start();
  });
  after(async () => {
    await server?.stop();
  });
  return () => {
    assert.ok(server, "server not started");
    return server;
  };
}

/** A client (empty environment unless given, quick retries) closed after fn. */
export async function withClient<T>(options: Partial<RegistryClientOptions>, fn: (c: RegistryClient) => Promise<T>): Promise<T> {
  const client = new RegistryClient({ timeoutMs: TIMEOUT_MS, retry: QUICK_RETRY, env: {}, ...options });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

export const resolve = (client: RegistryClient, image: string): Promise<string> => client.resolveDigest(parseReference(image));
export const resolveFull = (client: RegistryClient, image: string): Promise<Resolution> => client.resolve(parseReference(image));

export async function rejectsWith(promise: Promise<unknown>, code: RegistryErrorCode): Promise<RegistryError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
    assert.equal(err.code, code, `code of: ${err.message}`);
    assert.ok(err.hint.length > 0);
    assert.ok(!err.message.includes("\n"), "message is one line");
    return err;
  }
  assert.fail(`expected ${code}, but it resolved`);
}

export async function elapsed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}
