// A stand-in digest source for unit tests of the ResourceList walk and the
// edits. Resolving against a real registry is proven in the e2e tests.
import { createHash } from "node:crypto";
import type { ClosableSource } from "../../src/function.js";
import type { ImageReference } from "../../src/name/reference.js";
import { lookupKey } from "../../src/resolve.js";

export function fakeDigest(ref: ImageReference): string {
  return `sha256:${createHash("sha256").update(lookupKey(ref)).digest("hex")}`;
}

export class FakeSource implements ClosableSource {
  readonly calls: string[] = [];
  closed = false;
  constructor(private readonly failures: Record<string, Error> = {}) {}

  resolveDigest(ref: ImageReference): Promise<string> {
    this.calls.push(lookupKey(ref));
    const failure = this.failures[ref.original];
    return failure ? Promise.reject(failure) : Promise.resolve(fakeDigest(ref));
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
