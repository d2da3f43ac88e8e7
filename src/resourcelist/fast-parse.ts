// A fast path for parsing a ResourceList as kpt and kustomize write it:
// block mappings, block sequences and one-line scalars. Those items are
// composed here, straight into the yaml library's own node classes with the
// values, styles and source ranges its composer would give them. An item (or
// top-level key) with anything else (block scalars, flow collections,
// multi-line or escaped scalars, comment lines, anchors, tags) is parsed by
// the library on its own; whatever cannot be placed exactly that way (errors,
// anchors, merge keys, document markers, tabs, CRLF, trailing comments) makes the caller
// parse the whole input with the library. The library's CST parser and node
// constructors were ~90 % of a run over a large all-pinned list.
import { Document, Pair, Scalar, YAMLMap, YAMLSeq, isAlias, isMap, isScalar, isSeq, parseDocument, visit } from "yaml";
import type { DocumentOptions, Node, ParseOptions, Schema, SchemaOptions } from "yaml";

export type FastParseOptions = ParseOptions & DocumentOptions & SchemaOptions;

type Range = [number, number, number];

/**
 * Node constructors without the Object.defineProperty calls the library's
 * constructors make per node (a third of the time, with the GC they cause):
 * the node-type tag and the schema sit on one prototype per class, below the
 * library's own, so isMap/isScalar, instanceof and every method work as on
 * nodes the library composed.
 */
interface Factory {
  /** A scalar spanning [start, end) whose node ends at `after` (past its line's comment and newline). */
  scalar(value: unknown, start: number, end: number, after: number, source: string, type: Scalar.Type): Scalar;
  pair(key: Node, value: Node): Pair<Node, Node>;
  map(): YAMLMap;
  seq(): YAMLSeq;
}

const START = Symbol("start");
const END = Symbol("end");
const AFTER = Symbol("after");
const RANGE = Symbol("range");

interface OffsetScalar extends Scalar {
  [START]: number;
  [END]: number;
  [AFTER]: number;
  [RANGE]: Range | undefined;
}

/** The library's own node-type tag of a node, as property descriptors. */
function typeTag(node: object): PropertyDescriptorMap {
  const out: PropertyDescriptorMap = {};
  for (const sym of Object.getOwnPropertySymbols(node)) {
    const descriptor = Object.getOwnPropertyDescriptor(node, sym);
    if (descriptor) out[sym as unknown as string] = descriptor;
  }
  return out;
}

function factory(schema: Schema): Factory {
  const withSchema: PropertyDescriptorMap = { schema: { value: schema, configurable: true, enumerable: false, writable: true } };
  // A scalar keeps its offsets as numbers and makes its `range` array when asked: one object
  // per scalar instead of three (the array and its backing store), most of the GC's work here.
  const scalarProto = Object.create(Scalar.prototype, {
    ...typeTag(new Scalar(null)),
    range: {
      get(this: OffsetScalar): Range {
        return (this[RANGE] ??= [this[START], this[END], this[AFTER]]);
      },
      set(this: OffsetScalar, range: Range | undefined) {
        Object.defineProperty(this, "range", { value: range, writable: true, enumerable: true, configurable: true });
      },
      configurable: true,
    },
  }) as object;
  const pairProto = Object.create(Pair.prototype, typeTag(new Pair(null))) as object;
  const mapProto = Object.create(YAMLMap.prototype, { ...typeTag(new YAMLMap()), ...withSchema }) as object;
  const seqProto = Object.create(YAMLSeq.prototype, { ...typeTag(new YAMLSeq()), ...withSchema }) as object;
  // Plain constructor functions: one hidden class per node kind, as with `new`.
  function S(this: OffsetScalar, value: unknown, start: number, end: number, after: number, source: string, type: Scalar.Type): void {
    this.value = value;
    this[START] = start;
    this[END] = end;
    this[AFTER] = after;
    this[RANGE] = undefined;
    this.source = source;
    this.type = type;
  }
  function P(this: Pair<Node, Node>, key: Node, value: Node): void {
    this.key = key;
    this.value = value;
  }
  function M(this: YAMLMap | YAMLSeq): void {
    this.items = [];
  }
  function Q(this: YAMLMap | YAMLSeq): void {
    this.items = [];
  }
  S.prototype = scalarProto;
  P.prototype = pairProto;
  M.prototype = mapProto;
  Q.prototype = seqProto;
  const NewScalar = S as unknown as new (value: unknown, start: number, end: number, after: number, source: string, type: Scalar.Type) => Scalar;
  const NewPair = P as unknown as new (key: Node, value: Node) => Pair<Node, Node>;
  const NewMap = M as unknown as new () => YAMLMap;
  const NewSeq = Q as unknown as new () => YAMLSeq;
  return {
    scalar: (value, start, end, after, source, type) => new NewScalar(value, start, end, after, source, type),
    pair: (key, value) => new NewPair(key, value),
    map: () => new NewMap(),
    seq: () => new NewSeq(),
  };
}

interface TypedTag {
  readonly test: RegExp;
  readonly format?: string;
  resolve(source: string, onError: (message: string) => void, options: FastParseOptions): unknown;
}

/** What every scanner of one input shares. */
interface Context {
  readonly options: FastParseOptions;
  readonly make: Factory;
  /** The schema's default tags with a test (null, bool, int, float), in the order the composer tries them. */
  readonly typed: readonly TypedTag[];
  /** One string per distinct key: a list repeats a few dozen keys thousands of times. */
  readonly keys: Map<string, string>;
}

/** Thrown inside an item to hand it to the library. */
class Unsupported extends Error {}
const UNSUPPORTED = new Unsupported("outside the fast path");

const TAB = 9;
const NL = 10;
const CR = 13;
const SPACE = 32;
const DQUOTE = 34;
const HASH = 35;
const SQUOTE = 39;
const DASH = 45;
const COLON = 58;
const LBRACKET = 91;
const BACKSLASH = 92;
const RBRACKET = 93;
const LBRACE = 123;
const RBRACE = 125;

/** One-line values whose first character makes them something other than a plain scalar (or an error). */
const INDICATOR = /^[&*!|>%@`,[\]{}#'"?:-]/;
/** `-x`, `?x`, `:x`: plain scalars despite the indicator. */
const PLAIN_AFTER_INDICATOR = /^[-?:][^\s]/;
/** Plain scalars a core-schema tag (null, bool, int, float) may claim; all others are strings. */
const MAYBE_TYPED = /^(?:[-+.~0-9]|null$|Null$|NULL$|true$|True$|TRUE$|false$|False$|FALSE$)/;

/** Composes the block structure of source[.., end) from a position the caller picks. */
class Scanner {
  /** Where the last composed node's last line ends. */
  pos = 0;
  private readonly make: Factory;

  constructor(
    readonly src: string,
    readonly end: number,
    private readonly ctx: Context,
  ) {
    this.make = ctx.make;
  }

  /** Offset just past the newline of the line holding `at` (or the end). */
  lineEnd(at: number): number {
    const nl = this.src.indexOf("\n", at);
    return nl < 0 || nl >= this.end ? this.end : nl + 1;
  }

  /** The start of the next line with content at or after `at`, or the end; blank lines are skipped. */
  nextContent(at: number): number {
    const { src, end } = this;
    let ls = at;
    while (ls < end) {
      let i = ls;
      while (i < end && src.charCodeAt(i) === SPACE) i++;
      if (i >= end) return end;
      const c = src.charCodeAt(i);
      if (c === NL) {
        ls = i + 1;
        continue;
      }
      // Which node a comment line joins, and whose range it stretches, depends
      // on its indentation and on what follows: that is the library's to decide.
      if (c === HASH || c === TAB || c === CR) throw UNSUPPORTED;
      return ls;
    }
    return end;
  }

  indentAt(ls: number): number {
    let i = ls;
    while (this.src.charCodeAt(i) === SPACE) i++;
    return i - ls;
  }

  isEntry(at: number): boolean {
    if (at >= this.end || this.src.charCodeAt(at) !== DASH) return false;
    const next = this.src.charCodeAt(at + 1);
    return at + 1 >= this.end || next === SPACE || next === NL;
  }

  /** A block sequence whose first dash is at `dash`, in column `col`. */
  seq(dash: number, col: number): YAMLSeq {
    const seq = this.make.seq();
    let at = dash;
    for (;;) {
      seq.items.push(this.entry(at));
      const next = this.nextContent(this.pos);
      if (next >= this.end) break;
      const indent = this.indentAt(next);
      if (indent > col) throw UNSUPPORTED;
      if (indent < col || !this.isEntry(next + indent)) break;
      at = next + indent;
    }
    const last = (seq.items[seq.items.length - 1] as Node).range!;
    seq.range = [dash, last[2], last[2]];
    return seq;
  }

  /** One `- …` entry: a compact mapping or a one-line value. */
  private entry(dash: number): Node {
    const { src } = this;
    if (src.charCodeAt(dash + 1) !== SPACE) throw UNSUPPORTED; // "-" alone: the entry is on the next lines
    let c = dash + 2;
    while (src.charCodeAt(c) === SPACE) c++;
    const first = src.charCodeAt(c);
    if (c >= this.end || first === NL || first === HASH || this.isEntry(c)) throw UNSUPPORTED; // empty, or "- - x"
    if (this.keyEnd(c) >= 0) return this.map(c, c - (src.lastIndexOf("\n", c - 1) + 1));
    return this.inlineValue(c);
  }

  /** The offset of the colon that ends a plain key starting at `at`, or -1 when the line holds a value, not a key. */
  private keyEnd(at: number): number {
    const { src } = this;
    const first = src.charCodeAt(at);
    if (first === DQUOTE || first === SQUOTE) {
      // A quoted value, or a quoted key: only the value is ours.
      let i = this.quotedEnd(at);
      while (src.charCodeAt(i) === SPACE) i++;
      if (src.charCodeAt(i) === COLON) throw UNSUPPORTED;
      return -1;
    }
    const eol = this.lineEnd(at);
    for (let i = at; i < eol; i++) {
      const ch = src.charCodeAt(i);
      if (ch === HASH && src.charCodeAt(i - 1) === SPACE) return -1;
      if (ch === COLON) {
        const next = i + 1 < this.end ? src.charCodeAt(i + 1) : NL;
        if (next === SPACE || next === NL) return i;
      }
    }
    return -1;
  }

  /** A block mapping whose first key starts at `first`, in column `col`. */
  map(first: number, col: number): YAMLMap {
    const map = this.make.map();
    let at = first;
    for (;;) {
      const colon = this.keyEnd(at);
      if (colon < 0) throw UNSUPPORTED;
      const key = this.key(at, colon);
      // Duplicate keys are an error the library reports (mappings are small: a linear check).
      for (const pair of map.items) if ((pair.key as Scalar).value === key.value) throw UNSUPPORTED;
      map.items.push(this.make.pair(key, this.value(colon, col)));
      const next = this.nextContent(this.pos);
      if (next >= this.end) break;
      const indent = this.indentAt(next);
      if (indent > col) throw UNSUPPORTED; // a continuation line, or stray indentation
      if (indent < col) break;
      if (this.isEntry(next + indent)) throw UNSUPPORTED;
      at = next + indent;
    }
    const last = (map.items[map.items.length - 1]!.value as Node).range!;
    map.range = [first, last[2], last[2]];
    return map;
  }

  private key(at: number, colon: number): Scalar {
    let end = colon;
    while (end > at && this.src.charCodeAt(end - 1) === SPACE) end--;
    const slice = this.src.slice(at, end);
    let text = this.ctx.keys.get(slice);
    if (text === undefined) {
      // The library also rejects a colon more than 1024 characters after the key's start.
      // `<<` is a merge key when merge keys are on: the library's to compose.
      if (colon - at > 1000 || slice === "" || slice === "<<" || INDICATOR.test(slice) || MAYBE_TYPED.test(slice) || slice.includes("\t")) throw UNSUPPORTED;
      text = slice;
      this.ctx.keys.set(text, text);
    }
    return this.make.scalar(text, at, end, end, text, Scalar.PLAIN);
  }

  /** The value after the colon of a key in a mapping at column `col`. */
  private value(colon: number, col: number): Node {
    const { src } = this;
    const after = colon + 1;
    if (after >= this.end || src.charCodeAt(after) === NL) {
      const next = this.nextContent(this.lineEnd(after));
      if (next < this.end) {
        const indent = this.indentAt(next);
        const at = next + indent;
        if (indent > col) return this.isEntry(at) ? this.seq(at, indent) : this.map(at, indent);
        // A sequence may sit in its key's column.
        if (indent === col && this.isEntry(at)) return this.seq(at, indent);
      }
      // Nothing nested: an empty (null) value, placed right after the colon.
      this.pos = this.lineEnd(after);
      return this.make.scalar(null, after, after, after, "", Scalar.PLAIN);
    }
    let v = after;
    while (src.charCodeAt(v) === SPACE) v++;
    const c = src.charCodeAt(v);
    if (v >= this.end || c === NL || c === HASH) throw UNSUPPORTED; // empty, with trailing space or a comment
    return this.inlineValue(v);
  }

  /** A one-line value at `v`: plain, single- or double-quoted scalar, or an empty flow collection. */
  private inlineValue(v: number): Node {
    const { src } = this;
    const c = src.charCodeAt(v);
    let valueEnd: number;
    let create: (start: number, end: number, after: number) => Node;
    if (c === SQUOTE || c === DQUOTE) {
      valueEnd = this.quotedEnd(v);
      const raw = src.slice(v + 1, valueEnd - 1);
      let value: string;
      if (c === SQUOTE) value = raw.includes("'") ? raw.replaceAll("''", "'") : raw;
      else if (!raw.includes("\\")) value = raw;
      else {
        // JSON's escapes are a subset of YAML's, with the same meaning; the others go to the library.
        try {
          value = JSON.parse(`"${raw}"`) as string;
        } catch {
          throw UNSUPPORTED;
        }
      }
      create = (start, end, after) => this.make.scalar(value, start, end, after, value, c === SQUOTE ? Scalar.QUOTE_SINGLE : Scalar.QUOTE_DOUBLE);
    } else if ((c === LBRACE && src.charCodeAt(v + 1) === RBRACE) || (c === LBRACKET && src.charCodeAt(v + 1) === RBRACKET)) {
      valueEnd = v + 2;
      create = (start, end, after) => {
        const flow = c === LBRACE ? this.make.map() : this.make.seq();
        flow.flow = true;
        flow.range = [start, end, after];
        return flow;
      };
    } else {
      const eol = this.lineEnd(v);
      let end = v;
      for (let i = v; i < eol; i++) {
        const ch = src.charCodeAt(i);
        if (ch === NL) break;
        if (ch === HASH && src.charCodeAt(i - 1) === SPACE) break;
        if (ch === TAB || ch === CR) throw UNSUPPORTED;
        // "a: b" in a value is a nested mapping: an error, or a key we did not see.
        if (ch === COLON && (i + 1 >= this.end || src.charCodeAt(i + 1) === SPACE || src.charCodeAt(i + 1) === NL)) throw UNSUPPORTED;
        if (ch !== SPACE) end = i + 1;
      }
      const text = src.slice(v, end);
      if (text === "" || (INDICATOR.test(text) && !PLAIN_AFTER_INDICATOR.test(text))) throw UNSUPPORTED;
      valueEnd = end;
      create = (start, end, after) => this.plain(text, start, end, after);
    }
    // Only spaces and a comment may follow on the line.
    const eol = this.lineEnd(valueEnd);
    for (let i = valueEnd; i < eol; i++) {
      const ch = src.charCodeAt(i);
      if (ch === SPACE) continue;
      if ((ch === HASH && i > valueEnd) || ch === NL) break;
      throw UNSUPPORTED;
    }
    this.pos = eol;
    return create(v, valueEnd, eol);
  }

  /** Offset after the closing quote of the one-line quoted scalar at `at`. */
  private quotedEnd(at: number): number {
    const { src } = this;
    const quote = src.charCodeAt(at);
    for (let i = at + 1; i < this.end; i++) {
      const ch = src.charCodeAt(i);
      if (ch === NL) throw UNSUPPORTED; // multi-line: the folding rules are the library's
      if (quote === DQUOTE && ch === BACKSLASH) {
        i++;
        continue;
      }
      if (ch === quote) {
        if (quote === SQUOTE && src.charCodeAt(i + 1) === SQUOTE) {
          i++;
          continue;
        }
        return i + 1;
      }
    }
    throw UNSUPPORTED;
  }

  /** A plain scalar, typed as the library's composer types it. */
  private plain(text: string, start: number, end: number, after: number): Scalar {
    if (!MAYBE_TYPED.test(text)) return this.make.scalar(text, start, end, after, text, Scalar.PLAIN);
    // null, bool, int, float: the schema's own tests and resolvers, tried in the composer's order.
    const tag = this.ctx.typed.find((t) => t.test.test(text));
    if (!tag) return this.make.scalar(text, start, end, after, text, Scalar.PLAIN);
    const resolved = tag.resolve(
      text,
      () => {
        throw UNSUPPORTED;
      },
      this.ctx.options,
    );
    // Some resolvers return a Scalar (bool; float with its trailing zeros): the composer keeps that node.
    const node = this.make.scalar(isScalar(resolved) ? resolved.value : resolved, start, end, after, text, Scalar.PLAIN);
    if (isScalar(resolved) && resolved.minFractionDigits !== undefined) node.minFractionDigits = resolved.minFractionDigits;
    if (tag.format) node.format = tag.format;
    return node;
  }
}

/** Moves a node parsed from a slice to its place in the whole text; false when it holds anchors or aliases. */
function shift(node: Node, offset: number): boolean {
  let ok = true;
  visit(node, {
    Node(_, n) {
      if (isAlias(n) || n.anchor) {
        ok = false;
        return visit.BREAK;
      }
      if (n.range) n.range = [n.range[0] + offset, n.range[1] + offset, n.range[2] + offset];
      return undefined;
    },
  });
  return ok;
}

/** The library's node for source[start, end), placed in the whole text; undefined on errors or anchors. */
function library(source: string, start: number, end: number, options: FastParseOptions): Node | undefined {
  const doc = parseDocument(source.slice(start, end), options);
  if (doc.errors.length > 0 || doc.contents === null) return undefined;
  const node = doc.contents as Node;
  return shift(node, start) ? node : undefined;
}

/** The last node in document order. */
function lastNode(node: Node): Node {
  let at = node;
  for (;;) {
    if (isMap(at) && at.items.length > 0) {
      const pair = at.items[at.items.length - 1]!;
      at = (pair.value ?? pair.key) as Node;
    } else if (isSeq(at) && at.items.length > 0) at = at.items[at.items.length - 1] as Node;
    else return at;
  }
}

/**
 * Whether the end of a piece is placed as in the whole text, given whether
 * blank or comment lines after it were `cut`: an empty value takes its
 * position and comments from what follows it, and a block scalar's value
 * (with keep chomping) the blank lines after it.
 */
function endsCleanly(node: Node, cut: boolean): boolean {
  const last = lastNode(node);
  if (!isScalar(last)) return true;
  if (last.source === "" && last.range && last.range[0] === last.range[1]) return false;
  return !(cut && (last.type === Scalar.BLOCK_LITERAL || last.type === Scalar.BLOCK_FOLDED));
}

/**
 * The end of the last content line in source[start, stop), or undefined when
 * the blank and comment lines after it cannot be left out of the piece: the
 * library hands a trailing comment to the innermost open collection its
 * indentation reaches (stretching that collection's range), and differently
 * at the end of the text, where a piece parsed alone ends. A comment in
 * column `maxCol` or left of it never reaches into the piece.
 */
function contentEnd(source: string, start: number, stop: number, maxCol: number): number | undefined {
  let end = start;
  let safe = true;
  for (let ls = start; ls < stop; ) {
    let i = ls;
    while (source.charCodeAt(i) === SPACE) i++;
    const nl = source.indexOf("\n", i);
    const next = nl < 0 || nl >= stop ? stop : nl + 1;
    const c = source.charCodeAt(i);
    if (c === HASH) {
      if (i - ls > maxCol) safe = false;
    } else if (c !== NL && i < stop) {
      end = next;
      safe = true;
    }
    ls = next;
  }
  return safe ? end : undefined;
}

const ROOT_KEY = /([A-Za-z_][A-Za-z0-9_./-]*):(?: |\n|$)/y;

/**
 * The ResourceList as the library would parse it (`parseAllDocuments(source,
 * options)[0]`, without comments), or undefined when the input is outside
 * what this path can place exactly: then parse it with the library.
 */
export function fastParse(source: string, options: FastParseOptions): Document.Parsed | undefined {
  if (source.charCodeAt(0) === 0xfeff || source.includes("\r")) return undefined;
  const end = source.length;
  // Blank or comment lines after the last content line stretch the ranges of
  // whichever collections the library hands them to: not modelled.
  const tail = end > 0 && source.charCodeAt(end - 1) === NL ? end - 1 : end;
  const lastLine = source.slice(source.lastIndexOf("\n", tail - 1) + 1, tail).trimStart();
  if (lastLine === "" || lastLine.startsWith("#")) return undefined;

  const doc = new Document(undefined, options) as unknown as Document.Parsed;
  // Which plain scalars are strings is written for YAML 1.2's core schema.
  if (doc.schema.name !== "core") return undefined;
  const typed = doc.schema.tags.filter((t) => t.default === true && "test" in t && t.test instanceof RegExp) as unknown as TypedTag[];
  const ctx: Context = { options, make: factory(doc.schema), typed, keys: new Map() };

  // Top-level keys: lines that start in column 0 with a plain key.
  const keys: { at: number; name: string }[] = [];
  for (let ls = 0; ls < end; ) {
    const c = source.charCodeAt(ls);
    const nl = source.indexOf("\n", ls);
    const next = nl < 0 ? end : nl + 1;
    if (c === SPACE || c === NL || c === HASH) {
      // Indented content belongs to a key above it.
      const text = source.slice(ls, next).trim();
      if (keys.length === 0 && text !== "" && !text.startsWith("#")) return undefined;
      ls = next;
      continue;
    }
    if (c === DASH) {
      const n = source.charCodeAt(ls + 1);
      if ((ls + 1 >= end || n === SPACE || n === NL) && keys.length > 0) {
        ls = next;
        continue;
      }
      return undefined; // a document marker, or a top-level sequence
    }
    ROOT_KEY.lastIndex = ls;
    const m = ROOT_KEY.exec(source);
    if (!m || keys.some((k) => k.name === m[1])) return undefined;
    keys.push({ at: ls, name: m[1]! });
    ls = next;
  }
  if (keys.length === 0) return undefined;

  const root = ctx.make.map();
  for (let k = 0; k < keys.length; k++) {
    const { at, name } = keys[k]!;
    const raw = keys[k + 1]?.at ?? end;
    const stop = contentEnd(source, at, raw, 0);
    if (stop === undefined) return undefined;
    let pair: Pair<Node, Node> | undefined;
    if (name === "items") pair = items(source, at, stop, ctx);
    else {
      // Small keys (apiVersion, kind, functionConfig) by the scanner too: then a run never starts yaml's parser.
      try {
        const map = new Scanner(source, stop, ctx).map(at, 0);
        if (map.items.length === 1) pair = map.items[0] as Pair<Node, Node>;
      } catch (err) {
        if (!(err instanceof Unsupported)) throw err;
      }
    }
    if (!pair) {
      const map = library(source, at, stop, options);
      if (!isMap(map) || map.items.length !== 1) return undefined;
      pair = map.items[0] as Pair<Node, Node>;
    }
    if (!endsCleanly(pair.value ?? pair.key, stop < raw)) return undefined;
    root.items.push(pair);
  }
  const last = (root.items[root.items.length - 1]!.value as Node | null)?.range;
  if (!last) return undefined;
  root.range = [keys[0]!.at, last[2], last[2]];
  doc.contents = root as unknown as Document.Parsed["contents"];
  doc.range = [0, end, end];
  return doc;
}

/**
 * `items:` with a block sequence on the next line: each entry composed here,
 * or by the library when it must be. Undefined hands the whole key to the library.
 */
function items(source: string, at: number, stop: number, ctx: Context): Pair<Node, Node> | undefined {
  const colon = at + "items".length;
  if (source.charCodeAt(colon + 1) !== NL) return undefined;
  const first = colon + 2;
  const { make, options } = ctx;
  const scan = new Scanner(source, stop, ctx);
  const col = scan.indentAt(first);
  if (!scan.isEntry(first + col)) return undefined;

  // Entries start on the lines with a dash in column `col`; content left of it, or not an entry, is not ours.
  const starts: number[] = [];
  for (let ls = first; ls < stop; ) {
    const nl = source.indexOf("\n", ls);
    const next = nl < 0 || nl >= stop ? stop : nl + 1;
    const indent = scan.indentAt(ls);
    const c = source.charCodeAt(ls + indent);
    if (ls + indent < stop && c !== NL && c !== HASH && indent <= col) {
      if (indent < col || !scan.isEntry(ls + indent)) return undefined;
      starts.push(ls);
    }
    ls = next;
  }

  const seq = make.seq();
  for (let i = 0; i < starts.length; i++) {
    const ls = starts[i]!;
    const raw = starts[i + 1] ?? stop;
    // Blank lines, and comments in the dash's column or left of it, between entries belong to neither.
    const regionEnd = contentEnd(source, ls, raw, col + 1);
    if (regionEnd === undefined) return undefined;
    let item: Node | undefined;
    try {
      const s = new Scanner(source, regionEnd, ctx);
      const node = s.seq(ls + col, col);
      if (node.items.length !== 1 || s.nextContent(s.pos) < regionEnd) throw UNSUPPORTED;
      item = node.items[0] as Node;
    } catch (err) {
      if (!(err instanceof Unsupported)) throw err;
      const parsed = library(source, ls, regionEnd, options);
      if (!isSeq(parsed) || parsed.items.length !== 1) return undefined;
      item = parsed.items[0] as Node;
    }
    if (!endsCleanly(item, regionEnd < raw)) return undefined;
    seq.items.push(item);
  }
  const last = (seq.items[seq.items.length - 1] as Node).range!;
  seq.range = [first + col, last[2], last[2]];
  return make.pair(make.scalar("items", at, colon, colon, "items", Scalar.PLAIN), seq);
}

// ---- For the incremental read-back of an edited output (src/resourcelist/read-back.ts).
// Appended; nothing above is changed. They expose the Scanner's own reading of one line.

/** The token a scalar composed by the Scanner spans, [start, end), or undefined for any other node. */
export function scannerToken(node: unknown): [number, number] | undefined {
  if (typeof node !== "object" || node === null || !Object.hasOwn(node, START)) return undefined;
  const scalar = node as OffsetScalar;
  return [scalar[START], scalar[END]];
}

/**
 * The mapping the Scanner composes from source[at, end) as a block mapping in
 * column `col` (the path map() takes for every `key: value` line), or
 * undefined where the Scanner hands that text to the library.
 */
export type LineReader = (source: string, at: number, end: number, col: number) => YAMLMap | undefined;

/** A LineReader with the schema, tags and options fastParse(…, options) reads with; undefined where fastParse reads nothing. */
export function lineReader(options: FastParseOptions): LineReader | undefined {
  const doc = new Document(undefined, options);
  if (doc.schema.name !== "core") return undefined;
  const typed = doc.schema.tags.filter((t) => t.default === true && "test" in t && t.test instanceof RegExp) as unknown as TypedTag[];
  const ctx: Context = { options, make: factory(doc.schema), typed, keys: new Map() };
  return (source, at, end, col) => {
    try {
      return new Scanner(source, end, ctx).map(at, col);
    } catch (err) {
      if (err instanceof Unsupported) return undefined;
      throw err;
    }
  };
}
