// The properties of issue 9, shared by the property tests (npm test) and the
// fuzz script (npm run fuzz): generated hand-written-style ResourceLists and
// mutations of the real corpus, each run through the function and checked
// against yaml's own reading of the text.
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import fc from "fast-check";
import { parseDocument } from "yaml";
import { runFunction } from "../../src/function.js";
import { parseReference } from "../../src/name/reference.js";
import { InputError } from "../../src/resourcelist/errors.js";
import { formatResult } from "../../src/results.js";
import { CORPUS } from "../support/corpus.js";
import { FakeSource, fakeDigest } from "../support/fake-source.js";
import { checkInvariant } from "../support/yaml-oracle.js";
import type { Expect, Run, Runner, Verdict } from "../support/yaml-oracle.js";
import { seededRandom } from "../support/random.js";
import { Choices, generate } from "../support/yaml-styles.js";

/** The function in this process, with the unit tests' digest source. */
export const fakeRunner: Runner = async (input: string): Promise<Run> => {
  try {
    const out = await runFunction(input, () => new FakeSource());
    const stderr = out.results.filter((r) => r.severity !== "info").map((r) => `${formatResult(r)}\n`).join("");
    return { code: out.exitCode, stdout: out.output, stderr };
  } catch (error) {
    if (error instanceof InputError) return { code: 2, stdout: "", stderr: `krm-digester: ${error.message}\n` };
    return { code: 3, stdout: "", stderr: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
};

export const fakeExpect: Expect = (image) => `${image}@${fakeDigest(parseReference(image))}`;

export const IMAGES = ["nginx", "nginx:1.25", "registry.example:5000/team/app:v1", "ghcr.io/org/tool:2.0", "quay.io/a/b"];

/** fast-check's input for one generated list: the choices it is written from. */
export const choices = fc.array(fc.noBias(fc.nat({ max: 0xffff })), { maxLength: 800, size: "max" });

export interface Tally {
  pinned: number;
  refused: number;
  rejected: number;
  fields: number;
  refusals: string[];
}

export const tally = (): Tally => ({ pinned: 0, refused: 0, rejected: 0, fields: 0, refusals: [] });

function count(t: Tally, v: Verdict): void {
  t[v.outcome]++;
  t.fields += v.pinned;
  if (v.message) t.refusals.push(v.message);
}

/** One generated list through `run`. */
export async function generatedCase(numbers: readonly number[], run: Runner, expect: Expect, images: readonly string[], t?: Tally): Promise<void> {
  const g = generate(new Choices(numbers), { images });
  const v = await checkInvariant(g.text, run, expect, { mayRefuse: g.mayRefuse, skip: g.skip });
  if (t) count(t, v);
}

// ---- Mutations of the real corpus -------------------------------------------------------

export interface CorpusFile {
  name: string;
  text: string;
}

/** The corpus's YAML files with images (not the 1.9 MB Argo CD install: the e2e tests run it whole). */
export function corpusFiles(maxBytes = 120_000): CorpusFile[] {
  const out: CorpusFile[] = [];
  for (const entry of readdirSync(CORPUS, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !/\.ya?ml$/.test(entry.name)) continue;
    const path = join(entry.parentPath, entry.name);
    const text = readFileSync(path, "utf8");
    if (text.length <= maxBytes && /^\s*(?:-\s+)?image:/m.test(text)) out.push({ name: relative(CORPUS, path), text });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** A manifest file (one or more documents) as the items of a ResourceList, each document's text kept as it is. */
export function wrap(text: string): string {
  const docs = text.split(/^---[^\n]*\n/m).filter((d) => /^[A-Za-z]/m.test(d) && !/^\s*$/.test(d.replace(/^#.*$/gm, "")));
  const items = docs.map((d) => {
    const lines = d.replace(/\n+$/, "").split("\n");
    return lines.map((l, i) => (i === 0 ? `- ${l}` : l === "" ? "" : `  ${l}`)).join("\n");
  });
  return `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items.join("\n")}\n`;
}

const IMAGE_LINE = /^(\s*(?:-\s+)?image:[ \t]+)(["']?)([^\s"'#]+)\2([ \t]*(?:#.*)?)$/;

/** One text mutation of a wrapped list, picked by `c`: the surface of issue 9 applied to real files. */
export function mutate(text: string, c: Choices): string {
  let lines = text.split("\n");
  const imageLines = lines.flatMap((l, i) => (IMAGE_LINE.test(l) ? [i] : []));
  const rounds = 1 + c.int(4);
  for (let r = 0; r < rounds; r++) {
    const kind = c.int(14);
    const i = imageLines.length > 0 ? c.pick(imageLines) : 0;
    const m = IMAGE_LINE.exec(lines[i] ?? "");
    const indent = (lines[i] ?? "").length - (lines[i] ?? "").trimStart().length;
    const lead = m?.[1] ?? "";
    const valueCol = lead.replace(/-\s+/, (d) => " ".repeat(d.length)).search(/image:/);
    switch (kind) {
      case 0: // an image as a block scalar, any indicator
        if (m) lines[i] = `${m[1]}${c.pick(["|-", ">-", "|2-", ">1-", "|-  # c"])}\n${" ".repeat(valueCol + 2)}${m[3]}${m[4] ? "" : ""}`;
        break;
      case 1: // quoted, tagged, escaped
        if (m) lines[i] = `${m[1]}${c.pick([`"${m[3]}"`, `'${m[3]}'`, `!!str ${m[3]}`, `"${m[3]!.replace(/[a-z]/, (ch) => `\\x${ch.charCodeAt(0).toString(16)}`)}"`])}${m[4]}`;
        break;
      case 2: // an anchor on the first image and an alias on another
        if (m && imageLines.length > 1) {
          lines[i] = `${m[1]}&shared ${m[2]}${m[3]}${m[2]}${m[4]}`;
          const j = imageLines.find((k) => k > i);
          const n = j === undefined ? undefined : IMAGE_LINE.exec(lines[j] ?? "");
          if (j !== undefined && n) lines[j] = `${n[1]}*shared${n[4]}`;
        }
        break;
      case 3: // a comment between key and value
        if (m) lines[i] = `${lead.trimEnd()} # the image\n${" ".repeat(valueCol + 2)}${m[2]}${m[3]}${m[2]}`;
        break;
      case 4: // comment lines anywhere
        lines.splice(c.int(lines.length), 0, `${" ".repeat(c.int(8))}# comment`);
        break;
      case 5: // trailing spaces and tabs
        { const k = c.int(lines.length); if (lines[k] && !/[|>][-+0-9]*\s*$/.test(lines[k])) lines[k] += c.pick(["  ", "\t", " \t "]); }
        break;
      case 6: // explicit key
        if (m && !lead.includes("-")) lines[i] = `${" ".repeat(indent)}? image\n${" ".repeat(indent)}: ${m[2]}${m[3]}${m[2]}${m[4]}`;
        break;
      case 7: // quoted key
        if (m) lines[i] = lines[i]!.replace("image:", c.pick(['"image":', "'image':"]));
        break;
      case 8: // the image's container in flow style is too invasive for a line edit: a flow value instead
        if (m && c.one(2)) lines[i] = `${m[1]}${m[2]}${m[3]}${m[2]} # kpt-set: \${image}`;
        break;
      default:
        break;
    }
    lines = lines.join("\n").split("\n");
  }
  let out = lines.join("\n");
  if (c.one(4)) out = out.replace(/\n/g, "\r\n");
  const eol = out.includes("\r\n") ? "\r\n" : "\n";
  if (c.one(6)) out = `%YAML 1.2${eol}---${eol}${out}`;
  if (c.one(6)) out = `${out.replace(/(\r?\n)?$/, eol)}...${eol}`;
  if (c.one(5)) out = out.replace(/^items:/m, `results:${eol}- message: earlier${eol}  severity: info${eol}items:`);
  if (c.one(5)) out = out.replace(/(\r?\n)+$/, "");
  if (c.one(5)) out = `\ufeff${out}`;
  return out;
}

/** One mutation of a corpus file through `run`. */
export async function corpusCase(file: CorpusFile, numbers: readonly number[], run: Runner, expect: Expect, t?: Tally): Promise<void> {
  const text = mutate(wrap(file.text), new Choices(numbers));
  // An anchor shared by two image fields is pinned once; nothing else shares it.
  const v = await checkInvariant(text, run, expect);
  if (t) count(t, v);
}

/**
 * The texts the differential tests run both ways: each corpus file wrapped,
 * without its comment lines (then mostly the fast path's), `mutations`
 * mutations of it; `generated` generated lists, and as many written mostly
 * with the plainest choice (block lists with a few other shapes in them).
 */
export function differentialTexts(seed: number, mutations: number, generated: number): string[] {
  const random = seededRandom(seed);
  const numbers = (n: number): number[] => Array.from({ length: n }, () => Math.floor(random() * 0x10000));
  const texts: string[] = [];
  for (const file of corpusFiles()) {
    texts.push(wrap(file.text));
    texts.push(wrap(file.text.replace(/^[ \t]*#.*\n/gm, "")));
    for (let k = 0; k < mutations; k++) texts.push(mutate(wrap(file.text), new Choices(numbers(40))));
  }
  for (let k = 0; k < generated; k++) texts.push(generate(new Choices(numbers(800)), { images: IMAGES }).text);
  const sparse = (n: number): number[] => numbers(n).map((v) => (v % 20 === 0 ? v : 0));
  for (let k = 0; k < generated; k++) texts.push(generate(new Choices(sparse(800)), { images: IMAGES }).text);
  return texts;
}

/**
 * The lists among `texts` with each item (and the functionConfig) written as
 * one-line flow mappings, the same data: a list whose pinned values all sit
 * inside flow mappings, as users who write JSON-in-YAML have them.
 */
export function flowVariants(texts: readonly string[]): string[] {
  const out: string[] = [];
  for (const text of texts) {
    const doc = parseDocument(text);
    if (doc.errors.length > 0) continue;
    let data: Record<string, unknown> | null;
    try {
      data = doc.toJS() as Record<string, unknown> | null;
    } catch {
      continue; // an alias before its anchor: not data
    }
    if (typeof data !== "object" || data === null || !Array.isArray(data.items) || data.items.length === 0) continue;
    const lines = [`apiVersion: ${JSON.stringify(data.apiVersion ?? null)}`, `kind: ${JSON.stringify(data.kind ?? null)}`, "items:"];
    for (const item of data.items) lines.push(`- ${JSON.stringify(item)}`);
    if (data.functionConfig !== undefined) lines.push(`functionConfig: ${JSON.stringify(data.functionConfig)}`);
    out.push(`${lines.join("\n")}\n`);
  }
  return out;
}
