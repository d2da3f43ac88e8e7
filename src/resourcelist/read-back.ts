// The incremental read-back: proof that an edited output reads as the input
// with the pinned values and our results, by reading again only the lines
// that changed, with the fast path's own Scanner. It proves what the full
// read-back (write.ts: parseOne(output), node by node) proves, at a fraction
// of its cost, for the lists the fast path composed; for any other list, or
// any step below that does not hold, it answers false and the caller reads
// the whole output back as before. It never refuses on its own: false only
// means "not proven this way".
//
// Why it is sound (docs/yaml.md, "The read-back", says the same in prose):
//
// 1. The input `S` was composed by fastParse (parseOne(S) took the fast path):
//    every edited scalar is a node the Scanner made (scannerToken), which no
//    other parse makes. fastParse's contract, kept by its differential tests:
//    when it returns a document, that document is yaml's own parse of the text.
//    So it is enough to show that fastParse(O) of the output `O` would return
//    fastParse(S)'s tree with the pinned scalars' new values and our results.
// 2. `O` is checked here to be `S` with each edited token replaced, byte for
//    byte, up to the tail (every unchanged stretch is compared), followed by
//    the tail (the `results:` key, last in the text).
// 3. fastParse decides everything line by line: the root keys (lines in column
//    0), the items (lines with a dash in the items' column), the regions of
//    both (contentEnd: which lines are content, blank or comments), and inside
//    a region the Scanner's map/seq/entry decisions, each from the characters
//    of a line at offsets relative to its start, plus duplicate-key checks on
//    key texts. Regions that hold no edit are identical text, read alike (the
//    library's fallback parses a slice of them, also identical). A line with
//    an edit keeps its prefix (indentation, dash, key, colon, spaces) and its
//    rest after the token; only the token changed, and it holds no line break
//    or CR. So every decision that reads the prefix or the rest is the same;
//    the decisions that read the token are those of reading the line as
//    `key: value`, and those are re-run here on both texts by the Scanner
//    itself (lineReader: map() over that one line, the path every
//    `key: value` line takes): on `S` it must give back the original node's
//    token (this is the line the parse read), on `O` the same key, a scalar
//    spanning exactly the new token, and the pinned value, a string, exactly.
//    The Scanner's state after the line (its position) is the line end in
//    both texts; what follows is unchanged.
// 4. The Scanner composes no anchors, aliases or tags, and fastParse refuses
//    any library piece with anchors or aliases: a pinned scalar is read at
//    one path only, so changing it changes nothing else (a `*` in a value of
//    such a list is text, not an alias). Merge keys (`<<`) are left to the
//    full read-back, which compares them as data.
// 5. The tail: root keys are parsed region by region, each from its own
//    slice, so the `results` key (the last root key of `O`, starting in
//    column 0 right after a line break) reads in `O` as fastParse(tail)
//    reads it alone; that parse must give exactly one root key, `results`,
//    reading as the results wanted (the same comparison as the full
//    read-back). `results` is then no duplicate: `S` has no other. The last
//    line and the absence of CR that fastParse checks are the tail's.
import type { Node, Scalar } from "yaml";
import { isMap, isScalar, isSeq } from "yaml";
import type { TextEdit } from "./edits.js";
import { everyEntry, fastParse, lineReader, scannerToken } from "./fast-parse.js";
import type { LineReader } from "./fast-parse.js";
import { PARSE_OPTIONS } from "./resource-list.js";
import type { ListText } from "./resource-list.js";
import { readsAsJSON, resultsReadAs, wantedResults } from "./results-check.js";
import type { ScalarEdit } from "./scalar-text.js";

const NL = 10;
const SPACE = 32;
const DASH = 45;

let reader: LineReader | null | undefined;

function lines(): LineReader | undefined {
  if (reader === undefined) reader = lineReader(PARSE_OPTIONS) ?? null;
  return reader ?? undefined;
}

/**
 * Whether `output` (= `list.source` with `edits` and `written`, the results
 * edit, applied) is proven here to read back as the input with each edit's
 * value and with `results` appended to any earlier ones. false: not proven
 * this way (the full read-back decides), never "wrong".
 */
export function readsBackByLines(list: ListText, output: string, edits: readonly ScalarEdit[], written: TextEdit | undefined, results: readonly object[]): boolean {
  const { source } = list;
  const read = lines();
  if (!read || source.length === 0 || source.charCodeAt(source.length - 1) !== NL || source.includes("<<")) return false;
  // Where the tail starts in `S`: the results key's line when `results` is the last root key, else the end.
  const pairs = list.root.items;
  const last = pairs[pairs.length - 1];
  const lastIsResults = last !== undefined && isScalar(last.key) && last.key.value === "results";
  if (pairs.some((p, i) => i < pairs.length - 1 && isScalar(p.key) && p.key.value === "results")) return false;
  let tail = source.length;
  if (lastIsResults) {
    const key = scannerToken(last.key) ?? (last.key as Scalar).range;
    if (!key || (key[0] > 0 && source.charCodeAt(key[0] - 1) !== NL) || !source.startsWith("results:", key[0])) return false;
    tail = key[0];
  }
  if (written && (written.start < tail || written.end !== source.length)) return false;
  // No edit: nothing shows that the parse was the fast path; a root key the Scanner made does.
  if (edits.length === 0 && !pairs.some((p) => scannerToken(p.key))) return false;

  const sorted = [...edits].sort((a, b) => a.start - b.start);
  let at = 0; // in S: everything before `at` is proven
  let shift = 0; // O offset = S offset + shift, for S offsets at or after `at`
  for (const edit of sorted) {
    const token = scannerToken(edit.node);
    if (!token || token[0] !== edit.start || token[1] !== edit.end || edit.value === "" || /[\n\r]/.test(edit.text)) return false;
    const lineStart = source.lastIndexOf("\n", edit.start - 1) + 1;
    const lineEnd = source.indexOf("\n", edit.end) + 1;
    // One edit per line, all of them before the tail.
    if (lineStart < at || lineEnd === 0 || lineEnd > tail) return false;
    if (!sameText(source, at, lineStart, output, at + shift)) return false;
    let key = lineStart;
    while (source.charCodeAt(key) === SPACE) key++;
    if (source.charCodeAt(key) === DASH && source.charCodeAt(key + 1) === SPACE) {
      key += 2;
      while (source.charCodeAt(key) === SPACE) key++;
    }
    if (key >= edit.start) return false;
    const col = key - lineStart;
    // The line as the parse read it: `key: <this token>`.
    const before = onePair(read(source, key, lineEnd, col));
    if (!before || scannerToken(before.value)?.[0] !== edit.start || scannerToken(before.value)?.[1] !== edit.end) return false;
    // The same line in the output: the same key, the new token, the pinned value.
    const o = lineStart + shift;
    const grow = edit.text.length - (edit.end - edit.start);
    if (!sameText(source, lineStart, edit.start, output, o) || output.slice(edit.start + shift, edit.start + shift + edit.text.length) !== edit.text) return false;
    if (!sameText(source, edit.end, lineEnd, output, edit.end + shift + grow)) return false;
    const after = onePair(read(output, key + shift, lineEnd + shift + grow, col));
    const value = after ? scannerToken(after.value) : undefined;
    if (!after || !value || value[0] !== edit.start + shift || value[1] !== edit.start + shift + edit.text.length) return false;
    if ((after.key as Scalar).value !== (before.key as Scalar).value || !Object.is((after.value as Scalar).value, edit.value)) return false;
    at = lineEnd;
    shift += grow;
  }
  if (!written) return output.length === source.length + shift && sameText(source, at, source.length, output, at + shift);
  if (!sameText(source, at, tail, output, at + shift)) return false;

  const text = output.slice(tail + shift);
  if (!text.startsWith("results:")) return false;
  const before = lastIsResults ? last.value : undefined;
  if (!before) {
    // Only ours: each entry read against its result as it is composed, none kept (a tree of
    // 20,000 results was 62 MB at the run's peak); a shape not read that way goes on below.
    let entries = 0;
    const each = (entry: Node, i: number): boolean => {
      entries = i + 1;
      return i < results.length && readsAsJSON(entry, results[i]);
    };
    if (everyEntry(text, "results", PARSE_OPTIONS, each) && entries === results.length) return true;
  }
  const doc = fastParse(text, PARSE_OPTIONS);
  const root = doc?.contents;
  if (!doc || !isMap(root) || root.items.length !== 1) return false;
  const pair = root.items[0]!;
  if (!isScalar(pair.key) || pair.key.value !== "results") return false;
  if (before) return resultsReadAs(pair.value as Node | undefined, doc, wantedResults(before, list.document, results), isSeq(before)).same;
  // Only ours: each entry against its result, without a JSON copy of them all.
  const seq = pair.value;
  if (!isSeq(seq) || seq.anchor || seq.tag || seq.items.length !== results.length) return false;
  for (let i = 0; i < results.length; i++) if (!readsAsJSON(seq.items[i], results[i])) return false;
  return true;
}

function onePair(map: ReturnType<LineReader>): { key: unknown; value: unknown } | undefined {
  return map && map.items.length === 1 ? map.items[0] : undefined;
}

/** Whether a[from, to) is b[at, at + to - from). Two slices compared with ===: 25x faster than startsWith here. */
function sameText(a: string, from: number, to: number, b: string, at: number): boolean {
  return to <= from || (at + (to - from) <= b.length && b.slice(at, at + (to - from)) === a.slice(from, to));
}
