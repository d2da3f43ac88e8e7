// The set-up the integration tests share: a real registry seeded with the
// sample package's images, and a scratch directory for packages written from it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry } from "./registry.js";
import type { Registry } from "./registry.js";
import { seedSample, writeSample } from "./sample-package.js";
import type { SampleImages, SampleOptions } from "./sample-package.js";

export interface SampleRegistry {
  readonly registry: Registry;
  readonly images: SampleImages;
  /** Scratch directory, removed by stop(). */
  readonly work: string;
  /** A new directory under work (`name` plus a counter) holding the sample package. */
  fresh(name: string, options?: SampleOptions): Promise<string>;
  stop(): Promise<void>;
}

export async function startSampleRegistry(name: string): Promise<SampleRegistry> {
  const registry = await startRegistry();
  const work = await mkdtemp(join(tmpdir(), `krm-digester-${name}-`));
  let count = 0;
  try {
    const images = await seedSample(registry, registry.host);
    return {
      registry,
      images,
      work,
      fresh: async (prefix, options) => {
        const dir = join(work, `${prefix}${++count}`);
        await writeSample(dir, images, options);
        return dir;
      },
      stop: async () => {
        await registry.stop();
        await rm(work, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}
