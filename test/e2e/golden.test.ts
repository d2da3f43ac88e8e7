// Golden packages in the kpt function catalog's style: each directory under
// test/golden is a package plus `.expected/` (config.yaml, diff.patch,
// results.yaml). Each runs through kpt against a real registry, twice: the
// second run must change nothing. In the package, `REGISTRY` stands for the
// test registry's host; in diff.patch and results.yaml a seeded digest
// appears as `DIGEST(repository:tag)`. UPDATE_GOLDEN=1 rewrites the expected files.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "../support/node-test.js";
import { promisify } from "node:util";
import { parse, stringify } from "yaml";
import { listFiles } from "../support/corpus.js";
import { kpt, skipWithout } from "../support/kpt.js";
import { startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { BUNDLE, ROOT } from "../support/run-fn.js";
import { platformName, seedImages } from "../support/seed.js";
import type { ImageKind, Platform } from "../support/seed.js";

const git = promisify(execFile);
const GOLDEN = join(ROOT, "test", "golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

interface CaseConfig {
  testType: "eval" | "render";
  /** `kpt fn eval … -- key=value` arguments (a ConfigMap functionConfig). */
  args?: Record<string, string>;
  /** A file of the package passed with --fn-config. */
  fnConfig?: string;
  exitCode?: number;
  /** Images to push before the run: "repository:tag" (on the test registry), a manifest kind, an index's platforms. */
  images?: { image: string; kind: ImageKind; platforms?: Platform[]; attestation?: boolean }[];
}

interface Case {
  name: string;
  /** Package source directory. */
  dir: string;
  /** Where `.expected/` lives. */
  expected: string;
  /** Files of `dir` to copy (all by default). */
  copy?: (file: string) => boolean;
  /** Text standing for the registry host in the package. */
  placeholder: string;
}

async function goldenCases(): Promise<Case[]> {
  const cases: Case[] = [];
  for (const entry of await readdir(GOLDEN, { withFileTypes: true })) {
    if (entry.isDirectory() && !entry.name.startsWith(".")) {
      const dir = join(GOLDEN, entry.name);
      cases.push({ name: entry.name, dir, expected: join(dir, ".expected"), placeholder: "REGISTRY" });
    }
  }
  // The repository's own example package and top-level Kptfile pipeline.
  cases.push({
    name: "top-level Kptfile (example package)",
    dir: ROOT,
    expected: join(GOLDEN, ".top-level-kptfile"),
    copy: (f) => f === "Kptfile" || f === ".krmignore" || f.startsWith("example/") || f.startsWith("fn-config/"),
    placeholder: "127.0.0.1:5151",
  });
  return cases.sort((a, b) => a.name.localeCompare(b.name));
}

const cases = await goldenCases();

describe("golden packages through kpt", { skip: skipWithout("kpt") }, () => {
  let registry: Registry;
  let work: string;
  const names = new Map<string, string>(); // digest -> "repository:tag"

  before(async () => {
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), "krm-digester-golden-"));
  });
  after(async () => {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  });

  const normalise = (text: string): string => {
    // Blob hashes on git's `index` lines depend on the host and digests: dropped.
    let out = text.replace(/^index [0-9a-f]+\.\.[0-9a-f]+.*\n/gm, "").replaceAll(registry.host, "REGISTRY").replaceAll(BUNDLE, "krm-digester");
    for (const [digest, name] of names) out = out.replaceAll(digest, `DIGEST(${name})`);
    return out;
  };

  async function prepare(c: Case, config: CaseConfig, pkg: string): Promise<void> {
    for (const file of await listFiles(c.dir)) {
      if (file.startsWith(".expected/") || (c.copy && !c.copy(file))) continue;
      const text = await readFile(join(c.dir, file), "utf8");
      await cp(join(c.dir, file), join(pkg, file));
      await writeFile(join(pkg, file), text.replaceAll(c.placeholder, registry.host));
    }
    const specs = (config.images ?? []).map(({ image, kind, platforms, attestation }) => {
      const colon = image.lastIndexOf(":");
      return { repository: image.slice(0, colon), tag: image.slice(colon + 1), kind, ...(platforms ? { platforms } : {}), ...(attestation ? { attestation } : {}) };
    });
    const pushed = await seedImages(registry, specs);
    specs.forEach((s, i) => {
      names.set(pushed[i]?.digest ?? "", `${s.repository}:${s.tag}`);
      // An index's children, as `platform` pins them: DIGEST(repository:tag linux/arm64/v8).
      for (const c of pushed[i]?.children ?? []) if (c.platform) names.set(c.digest, `${s.repository}:${s.tag} ${platformName(c.platform)}`);
    });
    await git("git", ["init", "-q"], { cwd: pkg });
    await git("git", ["add", "-A"], { cwd: pkg });
    await git("git", ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "before"], { cwd: pkg });
  }

  async function runKpt(config: CaseConfig, pkg: string, results: string) {
    if (config.testType === "render") {
      // A relative `exec:` in a Kptfile resolves against the working directory.
      return kpt(["fn", "render", pkg, "--allow-exec", "--results-dir", results], { cwd: ROOT });
    }
    const args = ["fn", "eval", pkg, "--exec", BUNDLE, "--results-dir", results];
    if (config.fnConfig) args.push("--fn-config", join(pkg, config.fnConfig));
    if (config.args) args.push("--", ...Object.entries(config.args).map(([k, v]) => `${k}=${v}`));
    return kpt(args);
  }

  for (const c of cases) {
    it(c.name, async () => {
      const configText = await readFile(join(c.expected, "config.yaml"), "utf8");
      const config = parse(configText.replaceAll(c.placeholder, registry.host)) as CaseConfig;
      const pkg = join(work, c.name.replace(/\W+/g, "-"));
      await prepare(c, config, pkg);

      const results = join(pkg, "..", `${c.name.replace(/\W+/g, "-")}.results`);
      const first = await runKpt(config, pkg, results);
      assert.equal(first.code, config.exitCode ?? 0, `kpt exit code\n${first.stderr}`);
      const diff = normalise((await git("git", ["diff"], { cwd: pkg })).stdout);
      const fnResults = (parse(await readFile(join(results, "results.yaml"), "utf8")) as { items?: { results?: unknown[] }[] }).items ?? [];
      const resultsText = normalise(stringify(fnResults.map((item) => item.results ?? []), { lineWidth: 0 }));

      if (UPDATE) {
        await writeFile(join(c.expected, "diff.patch"), diff);
        await writeFile(join(c.expected, "results.yaml"), resultsText);
      }
      assert.equal(diff, await readFile(join(c.expected, "diff.patch"), "utf8"), "diff.patch");
      assert.equal(resultsText, await readFile(join(c.expected, "results.yaml"), "utf8"), "results.yaml");

      // Idempotence: a second run leaves the package as the first one did.
      await git("git", ["add", "-A"], { cwd: pkg });
      const second = await runKpt(config, pkg, `${results}2`);
      assert.equal(second.code, config.exitCode ?? 0, second.stderr);
      assert.equal((await git("git", ["diff"], { cwd: pkg })).stdout, "", "second run changed the package");
    });
  }
});
