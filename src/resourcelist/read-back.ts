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
//    itself (readers().line: map() over that one line, the path every
//    `key: value` line takes): on `S` it must give back the original node's
//    token (this is the line the parse read), on `O` the same key, a scalar
//    spanning exactly the new token, and the pinned value, a string, exactly.
//    The Scanner's state after the line (its position) is the line end in
//    both texts; what follows is unchanged.
//    3a. An edit inside a one-line flow collection the Scanner composed is
//    proven the same way at the token: the Scanner's reading of a flow value
//    re-run on both texts (flowReadsBack).
//    3b. An edit on any other line (an entry the library composed) is
//    proven with its whole `items` entry, read again in both texts as
//    fastParse reads an entry (entryReadsBack says why that holds).
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
import { isMap, isScalar, isSeq, visit } from "yaml";
import type { TextEdit } from "./edits.js";
import { everyEntry, fastParse, itemEntries, readers, scannerToken } from "./fast-parse.js";
import type { EntryReader, FlowValueReader, ItemEntries, LineReader, Readers } from "./fast-parse.js";
import { PARSE_OPTIONS } from "./resource-list.js";
import type { ListText } from "./resource-list.js";
import { readsAsJSON, resultsReadAs, wantedResults } from "./results-check.js";
import { sameNodes } from "./same-nodes.js";
import type { ScalarEdit } from "./scalar-text.js";

const NL = 10;
const SPACE = 32;
const DASH = 45;
const COMMA = 44;
const RBRACKET = 93;
const RBRACE = 125;

let scanning: Readers | null | undefined;

/** The Scanner's readers with the options every list is parsed with, made once. */
function scanReaders(): Readers | undefined {
  if (scanning === undefined) scanning = readers(PARSE_OPTIONS) ?? null;
  return scanning ?? undefined;
}

/**
 * Whether `output` (= `list.source` with `edits` and `written`, the results
 * edit, applied) is proven here to read back as the input with each edit's
 * value and with `results` appended to any earlier ones. false: not proven
 * this way (the full read-back decides), never "wrong".
 */
export function readsBackByLines(list: ListText, output: string, edits: readonly ScalarEdit[], written: TextEdit | undefined, results: readonly object[]): boolean {
  const { source } = list;
  const read = scanReaders();
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
  const entries = itemEntries(list.root.get("items", true));
  let at = 0; // in S: everything before `at` is proven
  let shift = 0; // O offset = S offset + shift, for S offsets at or after `at`
  for (let k = 0; k < sorted.length; ) {
    // A `key: value` line (step 3), a flow value (3a), else the whole entry that holds the edit (3b).
    const line = lineReadsBack(source, output, sorted[k]!, at, shift, tail, read.line) ?? flowReadsBack(source, output, sorted[k]!, at, shift, tail, read.flowValue);
    const step = line ? { next: k + 1, ...line } : entries && entryReadsBack(source, output, sorted, k, at, shift, tail, entries, read.entry);
    if (!step) return false;
    ({ next: k, at, shift } = step);
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

/**
 * Step 3 for one edit: the line holding it is `key: <token>` as the parse
 * read it, and reads in the output as the same key with the pinned value.
 * Returns the new `at` (the line's end) and `shift`.
 */
function lineReadsBack(source: string, output: string, edit: ScalarEdit, at: number, shift: number, tail: number, read: LineReader): { at: number; shift: number } | undefined {
  if (!scannerEdit(edit)) return undefined;
  const lineStart = source.lastIndexOf("\n", edit.start - 1) + 1;
  const lineEnd = source.indexOf("\n", edit.end) + 1;
  // One edit per line, all of them before the tail.
  if (lineStart < at || lineEnd === 0 || lineEnd > tail) return undefined;
  if (!sameText(source, at, lineStart, output, at + shift)) return undefined;
  let key = lineStart;
  while (source.charCodeAt(key) === SPACE) key++;
  if (source.charCodeAt(key) === DASH && source.charCodeAt(key + 1) === SPACE) {
    key += 2;
    while (source.charCodeAt(key) === SPACE) key++;
  }
  if (key >= edit.start) return undefined;
  const col = key - lineStart;
  // The line as the parse read it: `key: <this token>`.
  const before = onePair(read(source, key, lineEnd, col));
  if (!before || scannerToken(before.value)?.[0] !== edit.start || scannerToken(before.value)?.[1] !== edit.end) return undefined;
  // The same line in the output: the same key, the new token, the pinned value.
  const o = lineStart + shift;
  const grow = edit.text.length - (edit.end - edit.start);
  if (!sameText(source, lineStart, edit.start, output, o) || output.slice(edit.start + shift, edit.start + shift + edit.text.length) !== edit.text) return undefined;
  if (!sameText(source, edit.end, lineEnd, output, edit.end + shift + grow)) return undefined;
  const after = onePair(read(output, key + shift, lineEnd + shift + grow, col));
  const value = after ? scannerToken(after.value) : undefined;
  if (!after || !value || value[0] !== edit.start + shift || value[1] !== edit.start + shift + edit.text.length) return undefined;
  if ((after.key as Scalar).value !== (before.key as Scalar).value || !Object.is((after.value as Scalar).value, edit.value)) return undefined;
  return { at: lineEnd, shift: shift + grow };
}

/**
 * Step 3 for an edit inside a one-line flow collection the Scanner composed
 * (`{name: a, image: <token>}`): the token is followed, past spaces, by `,`,
 * `}` or `]`, which a block scalar would have taken in (and a key is followed
 * by `:`), so the Scanner read it as a flow value, and the line's start is
 * unchanged (not within two characters of its first). The Scanner's reading
 * of a flow value is re-run on both texts: on `S` it must give back the
 * original token, on `O` a scalar spanning exactly the new token with the
 * pinned value, and its entry going on at the same text. Everything after
 * is unchanged, read alike. Returns the new `at` (the token's end) and `shift`.
 */
function flowReadsBack(source: string, output: string, edit: ScalarEdit, at: number, shift: number, tail: number, read: FlowValueReader): { at: number; shift: number } | undefined {
  if (!scannerEdit(edit) || edit.start < at) return undefined;
  let after = edit.end;
  while (source.charCodeAt(after) === SPACE) after++;
  const c = source.charCodeAt(after);
  if (c !== COMMA && c !== RBRACE && c !== RBRACKET) return undefined;
  const lineEnd = source.indexOf("\n", edit.end) + 1;
  if (lineEnd === 0 || lineEnd > tail || !pastLineStart(source, edit.start)) return undefined;
  const before = read(source, edit.start, lineEnd);
  if (!before || scannerToken(before.node)?.[0] !== edit.start || scannerToken(before.node)?.[1] !== edit.end || before.next !== after) return undefined;
  const grow = edit.text.length - (edit.end - edit.start);
  if (!sameText(source, at, edit.start, output, at + shift) || !output.startsWith(edit.text, edit.start + shift)) return undefined;
  const o = read(output, edit.start + shift, lineEnd + shift + grow);
  const value = o && scannerToken(o.node);
  if (!o || !value || value[0] !== edit.start + shift || value[1] !== edit.start + shift + edit.text.length || o.next !== after + shift + grow) return undefined;
  if (!Object.is((o.node as Scalar).value, edit.value)) return undefined;
  return { at: edit.end, shift: shift + grow };
}

/**
 * Step 3b: the edits of one `items` entry (sorted from `k`) that are not each
 * a `key: <token>` line (in a flow mapping, say, or in an entry the library
 * composed), proven by reading that entry again in both texts. Its lines keep
 * their indentation and their first two characters (no edit starts there or
 * holds a line break), and those are all that decide where entries, their
 * regions and the root keys are (entryStarts, contentEnd, rootKeys): so
 * fastParse(O) reads this entry from the same lines, shifted, and composes it
 * as entryAt does here. It must read as the input's entry with the pinned
 * values: each edit's scalar found at its offsets, the rest the same data.
 * Returns the index of the next edit and the new `at` and `shift`.
 */
function entryReadsBack(
  source: string,
  output: string,
  edits: readonly ScalarEdit[],
  k: number,
  at: number,
  shift: number,
  tail: number,
  entries: ItemEntries,
  read: EntryReader,
): { next: number; at: number; shift: number } | undefined {
  const { starts, stop, col } = entries;
  const first = edits[k]!;
  // The entry holding the first edit: the last that starts at or before it.
  let lo = 0;
  for (let hi = starts.length; lo < hi; ) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! <= first.start) lo = mid + 1;
    else hi = mid;
  }
  const ls = starts[lo - 1];
  const next = starts[lo] ?? stop;
  if (ls === undefined || ls < at || first.start >= next || next > tail || !sameText(source, at, ls, output, at + shift)) return undefined;
  const from = ls + shift;
  const group = new Map<number, ScalarEdit>();
  let prev = ls;
  let j = k;
  for (; j < edits.length && edits[j]!.start < next; j++) {
    const e = edits[j]!;
    if (e.start < prev || e.end > next || !oneLineEdit(e) || !pastLineStart(source, e.start)) return undefined;
    if (!sameText(source, prev, e.start, output, prev + shift) || !output.startsWith(e.text, e.start + shift)) return undefined;
    shift += e.text.length - (e.end - e.start);
    prev = e.end;
    group.set(e.start, e);
  }
  if (!sameText(source, prev, next, output, prev + shift)) return undefined;
  const before = read(source, ls, next, col);
  const after = read(output, from, next + shift, col);
  if (!before || !after) return undefined;
  // Each edit's scalar in the entry read again, by its offsets and its value.
  const pinned = new Map<Scalar, string>();
  visit(before, {
    Scalar(_, node) {
      const e = node.range ? group.get(node.range[0]) : undefined;
      if (e && node.range![1] === e.end && node.value === e.node.value) pinned.set(node, e.value);
    },
  });
  if (pinned.size !== group.size || !sameNodes(before, after, pinned)) return undefined;
  return { next: j, at: next, shift };
}

/** An edit of a non-empty value whose text holds no line break: it changes no line's count or end. */
function oneLineEdit(edit: ScalarEdit): boolean {
  return edit.value !== "" && !/[\n\r]/.test(edit.text);
}

/**
 * oneLineEdit, of exactly the token of a scalar the Scanner made. (The
 * offsets of a CRLF input's tokens are those of its LF view: unequal to the
 * edit's, so never proven by steps 3 and 3a.)
 */
function scannerEdit(edit: ScalarEdit): boolean {
  const token = scannerToken(edit.node);
  return token !== undefined && token[0] === edit.start && token[1] === edit.end && oneLineEdit(edit);
}

/**
 * Whether `offset` is at least two characters past the first non-space of
 * its line: an edit there leaves the line's indentation and first two
 * characters, which decide entries, regions and root keys, as they were.
 */
function pastLineStart(source: string, offset: number): boolean {
  let first = source.lastIndexOf("\n", offset - 1) + 1;
  while (source.charCodeAt(first) === SPACE) first++;
  return offset >= first + 2;
}

function onePair(map: ReturnType<LineReader>): { key: unknown; value: unknown } | undefined {
  return map && map.items.length === 1 ? map.items[0] : undefined;
}

/** Whether a[from, to) is b[at, at + to - from). Two slices compared with ===: 25x faster than startsWith here. */
function sameText(a: string, from: number, to: number, b: string, at: number): boolean {
  return to <= from || (at + (to - from) <= b.length && b.slice(at, at + (to - from)) === a.slice(from, to));
}
