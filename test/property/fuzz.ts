// npm run fuzz -- --seconds N [--seed S [--path P]] [--property generated|corpus]
// The property tests of issue 9 for longer: new seeds until the time is up,
// 100 cases each. A failure prints its seed and path (replay it with
// `--seed S --path P`), the shrunk input, and writes the input to
// build/fuzz-failures/; make each one a regression case in
// test/unit/yaml-shapes.test.ts.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import fc from "fast-check";
import { Choices, generate } from "../support/yaml-styles.js";
import { ROOT } from "../support/run-fn.js";
import { IMAGES, choices, corpusCase, corpusFiles, fakeExpect, fakeRunner, generatedCase, mutate, tally, wrap } from "./properties.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    seed: { type: "string" },
    path: { type: "string" },
    property: { type: "string", default: "all" },
    runs: { type: "string", default: "100" },
  },
});
const deadline = Date.now() + Number(values.seconds) * 1000;
const files = corpusFiles();
const t = tally();

interface Property {
  prop: () => fc.IAsyncProperty<unknown[]>;
  input: (args: unknown[]) => string;
}

const properties: Record<"generated" | "corpus", Property> = {
  generated: {
    prop: () => fc.asyncProperty(choices, (n) => generatedCase(n, fakeRunner, fakeExpect, IMAGES, t)),
    input: (args: unknown[]) => generate(new Choices(args[0] as number[]), { images: IMAGES }).text,
  },
  corpus: {
    prop: () => fc.asyncProperty(fc.nat(files.length - 1), choices, (i, n) => corpusCase(files[i]!, n, fakeRunner, fakeExpect, t)),
    input: (args: unknown[]) => mutate(wrap(files[args[0] as number]!.text), new Choices(args[1] as number[])),
  },
};
const names = values.property === "all" ? (Object.keys(properties) as (keyof typeof properties)[]) : [values.property as keyof typeof properties];
if (!names.every((n) => n in properties)) throw new Error(`--property: one of ${Object.keys(properties).join(", ")}, all`);

let cases = 0;
let failures = 0;
const once = values.seed !== undefined;
do {
  for (const name of names) {
    const seed = once ? Number(values.seed) : (Math.random() * 2 ** 31) | 0;
    const { prop, input } = properties[name];
    const result = await fc.check(prop(), { seed, numRuns: Number(values.runs), ...(values.path ? { path: values.path } : {}), endOnFailure: false });
    cases += result.numRuns;
    if (!result.failed) continue;
    failures++;
    const text = input(result.counterexample as unknown[]);
    const dir = join(ROOT, "build", "fuzz-failures");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${name}-${seed}.yaml`);
    writeFileSync(file, text);
    const error = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
    process.stdout.write(
      `FAILED property ${name}: seed ${seed}, path ${result.counterexamplePath}\n` +
        `replay: npm run fuzz -- --property ${name} --seed ${seed} --path ${result.counterexamplePath}\n` +
        `input written to ${file}\n${error.slice(0, 4000)}\n\n`,
    );
  }
} while (!once && Date.now() < deadline);

const refusals = new Map<string, number>();
for (const r of t.refusals) {
  const key = r.replace(/items\[\d+\][^:]*?(?= would|:)/, "items[…]").replace(/line \d+, column \d+/, "line …").slice(0, 120);
  refusals.set(key, (refusals.get(key) ?? 0) + 1);
}
process.stdout.write(`${cases} cases, ${failures} failure(s); outcomes (shrinking included): pinned ${t.pinned}, refused ${t.refused}, rejected ${t.rejected}, fields pinned ${t.fields}\n`);
for (const [message, n] of [...refusals].sort((a, b) => b[1] - a[1]).slice(0, 12)) process.stdout.write(`  ${n} × ${message}\n`);
process.exitCode = failures > 0 ? 1 : 0;
