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
  /** Sets the range of a block collection made here, [start, end, end], as numbers (offsets already placed in the input). */
  span(node: YAMLMap | YAMLSeq, start: number, end: number): void;
}

const START = Symbol("start");
const END = Symbol("end");
const AFTER = Symbol("after");
/**
 * A block collection's offsets, apart from START, which marks a scalar the
 * Scanner made (scannerToken). Its value ends where its node does: one number for both.
 */
const C_START = Symbol("collection start");
const C_END = Symbol("collection end");

interface OffsetScalar extends Scalar {
  [START]: number;
  [END]: number;
  [AFTER]: number;
}

interface OffsetCollection {
  [C_START]: number;
  [C_END]: number;
}

/** The library's node-type tag of a node, as property descriptors. */
function typeTag(node: object): PropertyDescriptorMap {
  const out: PropertyDescriptorMap = {};
  for (const sym of Object.getOwnPropertySymbols(node)) {
    const descriptor = Object.getOwnPropertyDescriptor(node, sym);
    if (descriptor) out[sym as unknown as string] = descriptor;
  }
  return out;
}

/** Where an offset of the text parsed sits in the input (they differ for CRLF input: see withCrlf). */
type Place = (offset: number) => number;

/**
 * A `range` kept as three numbers on the node and made into the array when
 * first read (then an own property, as on the library's nodes): an array and
 * its backing store per node were a quarter of a large list's heap, and few
 * ranges are ever read.
 */
function lazyRange(start: symbol, end: symbol, after: symbol): PropertyDescriptor {
  const own = (node: object, range: Range | undefined): void => {
    Object.defineProperty(node, "range", { value: range, writable: true, enumerable: true, configurable: true });
  };
  return {
    get(this: Record<symbol, number>): Range | undefined {
      const range: Range | undefined = this[start]! < 0 ? undefined : [this[start]!, this[end]!, this[after]!];
      own(this, range);
      return range;
    },
    set(this: object, range: Range | undefined) {
      own(this, range);
    },
    configurable: true,
  };
}

/** range[2] of a node, without making the array of one made here. */
function rangeEnd(node: Node): number | undefined {
  if (Object.hasOwn(node, "range")) return node.range?.[2];
  if (Object.hasOwn(node, AFTER)) return (node as OffsetScalar)[AFTER];
  if (Object.hasOwn(node, C_END)) {
    const c = node as unknown as OffsetCollection;
    return c[C_START] < 0 ? undefined : c[C_END];
  }
  return node.range?.[2];
}

function factory(schema: Schema, at: Place | undefined): Factory {
  const withSchema: PropertyDescriptorMap = { schema: { value: schema, configurable: true, enumerable: false, writable: true } };
  const collectionRange = lazyRange(C_START, C_END, C_END);
  const scalarProto = Object.create(Scalar.prototype, { ...typeTag(new Scalar(null)), range: lazyRange(START, END, AFTER) }) as object;
  const pairProto = Object.create(Pair.prototype, typeTag(new Pair(null))) as object;
  const mapProto = Object.create(YAMLMap.prototype, { ...typeTag(new YAMLMap()), ...withSchema, range: collectionRange }) as object;
  const seqProto = Object.create(YAMLSeq.prototype, { ...typeTag(new YAMLSeq()), ...withSchema, range: collectionRange }) as object;
  // Plain constructor functions: one hidden class per node kind, as with `new`.
  function S(this: OffsetScalar, value: unknown, start: number, end: number, after: number, source: string, type: Scalar.Type): void {
    this.value = value;
    if (at === undefined) {
      this[START] = start;
      this[END] = end;
      this[AFTER] = after;
    } else {
      this[START] = at(start);
      this[END] = at(end);
      this[AFTER] = at(after);
    }
    this.source = source;
    this.type = type;
  }
  function P(this: Pair<Node, Node>, key: Node, value: Node): void {
    this.key = key;
    this.value = value;
  }
  function M(this: YAMLMap & OffsetCollection): void {
    this.items = [];
    this[C_START] = -1;
    this[C_END] = -1;
  }
  function Q(this: YAMLSeq & OffsetCollection): void {
    this.items = [];
    this[C_START] = -1;
    this[C_END] = -1;
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
    span(node, start, end) {
      if (Object.hasOwn(node, "range") || !Object.hasOwn(node, C_START)) {
        node.range = [start, end, end];
        return;
      }
      const c = node as unknown as OffsetCollection;
      c[C_START] = start;
      c[C_END] = end;
    },
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
  /** Offsets of the parsed text to the input's; undefined when they are the same. */
  readonly at: Place | undefined;
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
const COMMA = 44;
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
/** Whether a `:` before `c` stays inside a plain scalar in flow context (else it would end a key). */
function inPlain(c: number): boolean {
  return c !== SPACE && c !== NL && c !== CR && c !== TAB && c !== COMMA && c !== LBRACE && c !== RBRACE && c !== LBRACKET && c !== RBRACKET && !Number.isNaN(c);
}

/** `-1`, `-x`, `.5`: a plain scalar in flow context may start with `-` before a letter, digit or dot. */
const FLOW_PLAIN_AFTER_INDICATOR = /^-[A-Za-z0-9.]/;
const MAYBE_TYPED = /^(?:[-+.~0-9]|null$|Null$|NULL$|true$|True$|TRUE$|false$|False$|FALSE$)/;

/** Composes the block structure of source[.., end) from a position the caller picks. */
class Scanner {
  /** Where the last composed node's last line ends. */
  pos = 0;
  /** Inside a flow collection: where the last entry ends. */
  private cursor = 0;
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

  /** The input's offset of an offset in the text parsed. */
  place(offset: number): number {
    return this.ctx.at === undefined ? offset : this.ctx.at(offset);
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
    const last = rangeEnd(seq.items[seq.items.length - 1] as Node)!;
    seq.items = seq.items.slice(); // exactly as long as it is: pushing left room for 17
    this.make.span(seq, this.place(dash), last);
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
    // `- {…}` / `- […]`: a flow collection, never the first key of a block mapping (its `: ` are inside).
    if (first === LBRACE || first === LBRACKET) return this.inlineValue(c);
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
    const last = rangeEnd(map.items[map.items.length - 1]!.value as Node)!;
    map.items = map.items.slice(); // exactly as long as it is: pushing left room for 17
    this.make.span(map, this.place(first), last);
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

  /** flowValue for the read-back (readers().flowValue): the value at `at` in a flow collection, and where its entry goes on. */
  flowValueAt(at: number): { node: Node; next: number } {
    const node = this.flowValue(at, 0);
    return { node, next: this.cursor };
  }

  /** A one-line value at `v`: plain, single- or double-quoted scalar, or an empty flow collection. */
  private inlineValue(v: number): Node {
    const { src } = this;
    const c = src.charCodeAt(v);
    let valueEnd: number;
    let create: (start: number, end: number, after: number) => Node;
    if (c === SQUOTE || c === DQUOTE) {
      valueEnd = this.quotedEnd(v);
      const value = this.quotedValue(v, valueEnd);
      create = (start, end, after) => this.make.scalar(value, start, end, after, value, c === SQUOTE ? Scalar.QUOTE_SINGLE : Scalar.QUOTE_DOUBLE);
    } else if (c === LBRACE || c === LBRACKET) {
      const flow = this.flow(v, 0);
      valueEnd = this.cursor;
      create = (start, end, after) => {
        flow.range = [this.place(start), this.place(end), this.place(after)];
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

  /** The value of the one-line quoted scalar source[at, end). */
  private quotedValue(at: number, end: number): string {
    const raw = this.src.slice(at + 1, end - 1);
    if (this.src.charCodeAt(at) === SQUOTE) return raw.includes("'") ? raw.replaceAll("''", "'") : raw;
    if (!raw.includes("\\")) return raw;
    // JSON's escapes are a subset of YAML's, with the same meaning; the others go to the library.
    try {
      return JSON.parse(`"${raw}"`) as string;
    } catch {
      throw UNSUPPORTED;
    }
  }

  /** Past the spaces at `at`. */
  private spaces(at: number): number {
    let i = at;
    while (this.src.charCodeAt(i) === SPACE) i++;
    return i;
  }

  /**
   * A flow mapping or sequence on one line, `{a: 1, "b": [x, 'y']}`, of
   * plain and one-line quoted scalars and flow collections; its range is
   * the caller's to set, `cursor` is left after its closing bracket. As the
   * library places them, a value's range runs on over the spaces after it
   * (up to the `,` or bracket), a key's does not. Anything else in it (a
   * line break, a comment, an empty or implicit entry, `?`, anchors, tags,
   * aliases, a plain scalar yaml might read differently) is the library's.
   */
  private flow(open: number, depth: number): YAMLMap | YAMLSeq {
    const { src } = this;
    if (depth > 32) throw UNSUPPORTED;
    const isMap = src.charCodeAt(open) === LBRACE;
    const close = isMap ? RBRACE : RBRACKET;
    const node = isMap ? this.make.map() : this.make.seq();
    node.flow = true;
    let i = this.spaces(open + 1);
    while (src.charCodeAt(i) !== close) {
      if (isMap) {
        const key = this.flowKey(i);
        i = this.spaces(this.cursor);
        if (src.charCodeAt(i) !== COLON) throw UNSUPPORTED;
        for (const pair of (node as YAMLMap).items) if ((pair.key as Scalar).value === key.value) throw UNSUPPORTED;
        (node as YAMLMap).items.push(this.make.pair(key, this.flowValue(this.spaces(i + 1), depth)));
      } else (node as YAMLSeq).items.push(this.flowValue(i, depth));
      i = this.cursor;
      const ch = src.charCodeAt(i);
      if (ch === COMMA) i = this.spaces(i + 1);
      else if (ch !== close) throw UNSUPPORTED;
    }
    this.cursor = i + 1;
    return node;
  }

  /** A key in a flow mapping: quoted, or plain and followed by `: `; `cursor` is left at its end. */
  private flowKey(at: number): Scalar {
    const { src } = this;
    const c = src.charCodeAt(at);
    if (c === SQUOTE || c === DQUOTE) {
      const end = this.quotedEnd(at);
      const value = this.quotedValue(at, end);
      // `<<` is a merge key when merge keys are on: the library's to compose.
      if (value === "<<" || end - at > 1000) throw UNSUPPORTED;
      this.cursor = end;
      return this.make.scalar(value, at, end, end, value, c === SQUOTE ? Scalar.QUOTE_SINGLE : Scalar.QUOTE_DOUBLE);
    }
    let end = at;
    for (let i = at; ; i++) {
      const ch = src.charCodeAt(i);
      if (ch === COLON && src.charCodeAt(i + 1) === SPACE) break;
      if (ch === COLON && inPlain(src.charCodeAt(i + 1))) continue; // `a:b`: one scalar
      if (i >= this.end || ch === NL || ch === TAB || ch === COLON || ch === COMMA || ch === HASH || ch === LBRACE || ch === RBRACE || ch === LBRACKET || ch === RBRACKET || ch === SQUOTE || ch === DQUOTE) throw UNSUPPORTED;
      if (ch !== SPACE) end = i + 1;
    }
    const slice = src.slice(at, end);
    let text = this.ctx.keys.get(slice);
    if (text === undefined) {
      if (end - at > 1000 || slice === "" || slice === "<<" || INDICATOR.test(slice) || MAYBE_TYPED.test(slice)) throw UNSUPPORTED;
      text = slice;
      this.ctx.keys.set(text, text);
    }
    this.cursor = end;
    return this.make.scalar(text, at, end, end, text, Scalar.PLAIN);
  }

  /** A value in a flow collection; `cursor` is left past the spaces after it, where its range ends. */
  private flowValue(at: number, depth: number): Node {
    const { src } = this;
    const c = src.charCodeAt(at);
    if (c === LBRACE || c === LBRACKET) {
      const node = this.flow(at, depth + 1);
      const end = this.cursor;
      this.cursor = this.spaces(end);
      node.range = [this.place(at), this.place(end), this.place(this.cursor)];
      return node;
    }
    if (c === SQUOTE || c === DQUOTE) {
      const end = this.quotedEnd(at);
      const value = this.quotedValue(at, end);
      this.cursor = this.spaces(end);
      return this.make.scalar(value, at, end, this.cursor, value, c === SQUOTE ? Scalar.QUOTE_SINGLE : Scalar.QUOTE_DOUBLE);
    }
    // A plain scalar runs to the `,` or bracket that ends the entry; a `:`, `#`, quote or
    // flow indicator in it, or one it would start with, is left to the library.
    let end = at;
    let i = at;
    for (; ; i++) {
      const ch = src.charCodeAt(i);
      if (ch === COMMA || ch === RBRACE || ch === RBRACKET) break;
      if (ch === COLON && inPlain(src.charCodeAt(i + 1))) {
        end = i + 1; // `nginx:1.25`: a colon before a character that is not space or a flow indicator
        continue;
      }
      if (i >= this.end || ch === NL || ch === TAB || ch === COLON || ch === HASH || ch === LBRACE || ch === LBRACKET || ch === SQUOTE || ch === DQUOTE) throw UNSUPPORTED;
      if (ch !== SPACE) end = i + 1;
    }
    const text = src.slice(at, end);
    if (text === "" || (INDICATOR.test(text) && !FLOW_PLAIN_AFTER_INDICATOR.test(text))) throw UNSUPPORTED;
    this.cursor = i;
    return this.plain(text, at, end, i);
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
function shift(node: Node, offset: number, at: Place | undefined): boolean {
  let ok = true;
  visit(node, {
    Node(_, n) {
      if (isAlias(n) || n.anchor) {
        ok = false;
        return visit.BREAK;
      }
      if (n.range) {
        const [a, b, c] = n.range;
        n.range = at === undefined ? [a + offset, b + offset, c + offset] : [at(a + offset), at(b + offset), at(c + offset)];
      }
      return undefined;
    },
  });
  return ok;
}

/** The library's node for source[start, end), placed in the whole text; undefined on errors or anchors. */
function library(source: string, start: number, end: number, ctx: Context): Node | undefined {
  const doc = parseDocument(source.slice(start, end), ctx.options);
  if (doc.errors.length > 0 || doc.contents === null) return undefined;
  const node = doc.contents as Node;
  return shift(node, start, ctx.at) ? node : undefined;
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

/** Nesting jsonData leaves to the library (which reads JSON about 1,000 deep before it gives up). */
const JSON_DEPTH = 200;

/**
 * A ResourceList written as JSON, as data: what yaml's parse of the same
 * text gives with toJS(), or undefined when that is not certain. YAML 1.2
 * reads JSON as JSON.parse does (strings and their escapes, numbers, true,
 * false, null, line breaks and spaces anywhere between tokens: the
 * differential test holds the two against each other), except duplicate
 * keys (an error to yaml: counted here), a lone CR or a tab as white space
 * other than indentation (read differently), and what this path leaves to
 * yaml: `<<` keys (a merge key once the text is block style), `__proto__`
 * keys, nesting deeper than JSON_DEPTH.
 */
export function jsonData(input: string): Record<string, unknown> | undefined {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  // Inside JSON strings both must be escaped: here they can only be white space. Tabs that
  // indent a line (JSON.stringify(data, null, "\t")) yaml reads as JSON does; elsewhere not always.
  if ((text.includes("\t") && /(?:^|[^\n\t])\t/.test(text)) || /\r(?!\n)/.test(text)) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return undefined;
  let read = 0;
  const walk = (value: unknown, depth: number): boolean => {
    if (typeof value !== "object" || value === null) return true;
    // Deeper than any manifest: the recursive walks after the parse are the library's to bound (and refuse).
    if (depth > JSON_DEPTH) return false;
    if (Array.isArray(value)) {
      for (const item of value) if (!walk(item, depth + 1)) return false;
      return true;
    }
    for (const key of Object.keys(value)) {
      if (key === "<<" || key === "__proto__") return false;
      read++;
      if (!walk((value as Record<string, unknown>)[key], depth + 1)) return false;
    }
    return true;
  };
  // JSON.parse keeps the last of duplicate keys: fewer keys read than written means duplicates.
  if (!walk(data, 0) || read !== keysWritten(text)) return undefined;
  return data as Record<string, unknown>;
}

/** The keys in valid JSON text: its strings followed by a colon. */
function keysWritten(text: string): number {
  let keys = 0;
  for (let i = text.indexOf('"'); i >= 0; ) {
    let close = i;
    for (;;) {
      close = text.indexOf('"', close + 1);
      let b = close - 1;
      while (text.charCodeAt(b) === BACKSLASH) b--;
      // An even run of backslashes before it: the quote closes the string.
      if ((close - 1 - b) % 2 === 0) break;
    }
    let k = close + 1;
    for (let c = text.charCodeAt(k); c === SPACE || c === NL || c === CR || c === TAB; c = text.charCodeAt(++k));
    if (text.charCodeAt(k) === COLON) keys++;
    i = text.indexOf('"', k);
  }
  return keys;
}

const ROOT_KEY = /([A-Za-z_][A-Za-z0-9_./-]*):(?: |\n|$)/y;

/** Items composed between two pauses of fastParseSteps: a few milliseconds of work. */
const ITEMS_PER_STEP = 32;

// Loops over every line stay out of the generators: V8 does not optimise a
// loop inside a generator while it runs (no on-stack replacement).

/** Top-level keys: lines that start in column 0 with a plain key (undefined: something else is there). */
function rootKeys(source: string): { at: number; name: string }[] | undefined {
  const end = source.length;
  const keys: { at: number; name: string }[] = [];
  for (let ls = 0; ls < end; ) {
    const c = source.charCodeAt(ls);
    const nl = source.indexOf("\n", ls);
    const next = nl < 0 ? end : nl + 1;
    if (c === SPACE || c === NL || c === HASH) {
      // Indented content belongs to a key above it (before the first key: no ResourceList this path reads).
      if (keys.length === 0) {
        const text = source.slice(ls, next).trim();
        if (text !== "" && !text.startsWith("#")) return undefined;
      }
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
  return keys;
}

/**
 * The ResourceList as the library would parse it (`parseAllDocuments(source,
 * options)[0]`, without comments), or undefined when the input is outside
 * what this path can place exactly: then parse it with the library.
 */
export function fastParse(source: string, options: FastParseOptions): Document.Parsed | undefined {
  const steps = fastParseSteps(source, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * fastParse in steps: it pauses (yields) between groups of items, so that a
 * caller can let other work run (the function's registry lookups, under way
 * while it parses) and then go on. The result is the same.
 */
export function* fastParseSteps(source: string, options: FastParseOptions): Generator<StreamHead | void, Document.Parsed | undefined, EntryVisitor | undefined> {
  if (source.charCodeAt(0) === 0xfeff) return undefined;
  return yield* source.includes("\r") ? withCrlf(source, options) : fastParseLf(source, options);
}

/** What a streamed parse yields once, before the items: the root's other keys, parsed. */
export interface StreamHead {
  readonly document: Document.Parsed;
  /** The root mapping without the `items` pair (which the finished document has, its sequence empty). */
  readonly root: YAMLMap;
}

/** Called with each entry of `items` as it is composed, which is then dropped; false stops the parse (it returns undefined). */
export type EntryVisitor = (entry: Node, index: number) => boolean;

/**
 * fastParseSteps without keeping the items (a large list: its tree was most
 * of a run's memory). The root's other keys are parsed first and yielded as
 * a StreamHead; the caller answers (`next(visit)`) with the visitor for the
 * entries, or undefined to stop. The document returned is fastParse's with
 * an empty `items` sequence (its range as in the full parse); undefined when
 * fastParse would decline the text, or when the visitor stopped it.
 */
export function* fastParseStreamed(source: string, options: FastParseOptions): Generator<StreamHead | void, Document.Parsed | undefined, EntryVisitor | undefined> {
  if (source.charCodeAt(0) === 0xfeff) return undefined;
  return yield* source.includes("\r") ? withCrlf(source, options, true) : fastParseLf(source, options, undefined, true);
}

/**
 * CRLF line breaks (a file from Windows): the LF view of the text is parsed,
 * and every range moved back onto the text as it is. The library reads
 * CRLF as one line break, the same as LF, so an offset in the view sits
 * that many bytes earlier than in the text as there are CRLF breaks before
 * it (an offset at a break's LF is the CR's in the text, where the library
 * ends the line's content). A CR that is not part of a CRLF is the
 * library's: it reads that differently from a line break.
 */
function* withCrlf(source: string, options: FastParseOptions, streamed = false): Generator<StreamHead | void, Document.Parsed | undefined, EntryVisitor | undefined> {
  const view = source.replaceAll("\r\n", "\n");
  if (view.includes("\r")) return undefined;
  // The view's offset of each CRLF break's LF, in order.
  const breaks = new Int32Array(source.length - view.length);
  for (let i = source.indexOf("\r\n"), k = 0; i >= 0; i = source.indexOf("\r\n", i + 2), k++) breaks[k] = i - k;
  return yield* fastParseLf(view, options, placeAfter(breaks), streamed);
}

/**
 * offset + the number of `breaks` before it. The scan asks in nearly
 * increasing order: from where the last answer was, a few steps forward or back, else a binary search.
 */
function placeAfter(breaks: Int32Array): Place {
  const n = breaks.length;
  let k = 0; // breaks before the offset asked last
  return (offset) => {
    if (k < n && breaks[k]! < offset) {
      let steps = 0;
      while (k < n && breaks[k]! < offset && steps++ < 8) k++;
      if (k < n && breaks[k]! < offset) k = lowerBound(breaks, offset, k, n);
    } else if (k > 0 && breaks[k - 1]! >= offset) {
      k = lowerBound(breaks, offset, 0, k - 1);
    }
    return offset + k;
  };
}

/** The first index in [lo, hi) whose break is at or after `offset` (hi when none). */
function lowerBound(breaks: Int32Array, offset: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (breaks[mid]! < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Whether the text's last line holds content. Blank or comment lines after the
 * last content line stretch the ranges of whichever collections the library
 * hands them to: not modelled.
 */
function endsWithContent(source: string): boolean {
  const end = source.length;
  const tail = end > 0 && source.charCodeAt(end - 1) === NL ? end - 1 : end;
  const lastLine = source.slice(source.lastIndexOf("\n", tail - 1) + 1, tail).trimStart();
  return lastLine !== "" && !lastLine.startsWith("#");
}

/** A new document and the Context its scanners share; undefined under any schema but YAML 1.2's core, which the typing of plain scalars here is written for. */
function scanContext(options: FastParseOptions, at: Place | undefined): { doc: Document; ctx: Context } | undefined {
  const doc = new Document(undefined, options);
  if (doc.schema.name !== "core") return undefined;
  const typed = doc.schema.tags.filter((t) => t.default === true && "test" in t && t.test instanceof RegExp) as unknown as TypedTag[];
  return { doc, ctx: { options, make: factory(doc.schema, at), typed, keys: new Map(), at } };
}

/**
 * The entries of the block sequence on the lines after the key at `at`
 * (`key:` and a line break), in the column of its first dash; undefined when
 * the text is not that.
 */
function blockEntries(source: string, at: number, key: string, stop: number, ctx: Context): { first: number; col: number; starts: number[] } | undefined {
  const colon = at + key.length;
  if (source.charCodeAt(colon) !== COLON || source.charCodeAt(colon + 1) !== NL) return undefined;
  const first = colon + 2;
  const scan = new Scanner(source, stop, ctx);
  const col = scan.indentAt(first);
  if (!scan.isEntry(first + col)) return undefined;
  const starts = entryStarts(source, first, stop, scan, col);
  return starts && { first, col, starts };
}

/**
 * fastParse of LF-only text; `at` places its offsets in the input when that
 * differs (CRLF). `streamed`: as fastParseStreamed says (the other keys
 * first, one StreamHead yielded, the items visited and not kept).
 */
function* fastParseLf(
  source: string,
  options: FastParseOptions,
  at?: Place,
  streamed = false,
): Generator<StreamHead | void, Document.Parsed | undefined, EntryVisitor | undefined> {
  const end = source.length;
  if (!endsWithContent(source)) return undefined;
  const scanning = scanContext(options, at);
  if (!scanning) return undefined;
  const { ctx } = scanning;
  const doc = scanning.doc as unknown as Document.Parsed;

  const keys = rootKeys(source);
  if (!keys) return undefined;
  if (keys.length === 0) return undefined;

  const pairs: Pair<Node, Node>[] = [];
  const itemsAt = keys.findIndex((k) => k.name === "items");
  // Without `items` this is no ResourceList: the full parse says so.
  if (streamed && itemsAt < 0) return undefined;
  // Streamed, `items` comes last: the visitor is made from what the other keys say (functionConfig).
  const order = streamed && itemsAt >= 0 ? [...keys.keys()].filter((k) => k !== itemsAt).concat(itemsAt) : keys.keys();
  for (const k of order) {
    const { at, name } = keys[k]!;
    const raw = keys[k + 1]?.at ?? end;
    const stop = contentEnd(source, at, raw, 0);
    if (stop === undefined) return undefined;
    let pair: Pair<Node, Node> | undefined;
    if (streamed && k === itemsAt) {
      const root = ctx.make.map();
      root.items = pairs.filter(Boolean);
      const visit = yield { document: doc, root };
      if (!visit) return undefined;
      // The library's reading of the whole key would keep its tree: not streamed.
      pair = yield* items(source, at, stop, ctx, { visit, cut: stop < raw });
      if (!pair) return undefined;
    } else if (name === "items") pair = yield* items(source, at, stop, ctx);
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
      const map = library(source, at, stop, ctx);
      if (!isMap(map) || map.items.length !== 1) return undefined;
      pair = map.items[0] as Pair<Node, Node>;
    }
    if (!endsCleanly(pair.value ?? pair.key, stop < raw)) return undefined;
    pairs[k] = pair;
  }
  const root = ctx.make.map();
  root.items = pairs;
  const last = (root.items[root.items.length - 1]!.value as Node | null)?.range;
  if (!last) return undefined;
  root.range = [at === undefined ? keys[0]!.at : at(keys[0]!.at), last[2], last[2]];
  doc.contents = root as unknown as Document.Parsed["contents"];
  const whole = at === undefined ? end : at(end);
  doc.range = [0, whole, whole];
  return doc;
}

/**
 * `items:` with a block sequence on the next line: each entry composed here,
 * or by the library when it must be. Undefined hands the whole key to the
 * library. `stream`: each entry handed to `visit` and not kept (`cut`: blank
 * or comment lines were cut after the key, as fastParseLf's endsCleanly is told).
 */
function* items(source: string, at: number, stop: number, ctx: Context, stream?: { visit: EntryVisitor; cut: boolean }): Generator<void, Pair<Node, Node> | undefined> {
  const entries = blockEntries(source, at, "items", stop, ctx);
  if (!entries) return undefined;
  const { first, col, starts } = entries;
  const colon = at + "items".length;
  const { make } = ctx;

  const seq = make.seq();
  let last: Node | undefined;
  for (let i = 0; i < starts.length; i++) {
    if (i % ITEMS_PER_STEP === ITEMS_PER_STEP - 1) yield;
    const item = entryAt(source, starts[i]!, starts[i + 1] ?? stop, col, ctx);
    if (!item) return undefined;
    last = item;
    if (!stream) seq.items.push(item);
    // The last entry ends the key: checked here, since the sequence kept is empty.
    else if ((i === starts.length - 1 && !endsCleanly(item, stream.cut)) || !stream.visit(item, i)) return undefined;
  }
  make.span(seq, ctx.at === undefined ? first + col : ctx.at(first + col), rangeEnd(last!)!);
  // Where each entry was read from, for the read-back of an entry the library composed (itemEntries).
  if (ctx.at === undefined) (seq as YAMLSeq & { [ENTRIES]?: ItemEntries })[ENTRIES] = { starts, stop, col };
  return make.pair(make.scalar("items", at, colon, colon, "items", Scalar.PLAIN), seq);
}

const ENTRIES = Symbol("entries");

/** The lines the entries of an `items` sequence were composed from: entry i is source[starts[i], starts[i + 1] ?? stop), its dash in column `col`. */
export interface ItemEntries {
  readonly starts: readonly number[];
  readonly stop: number;
  readonly col: number;
}

/** Where entries start: the lines with a dash in column `col`; undefined when content left of it, or not an entry, is there. */
function entryStarts(source: string, first: number, stop: number, scan: Scanner, col: number): number[] | undefined {
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
  return starts;
}

/** The entry of `items` starting at `ls` (the next one at `raw`), composed here or by the library; undefined hands the whole key to the library. */
function entryAt(source: string, ls: number, raw: number, col: number, ctx: Context): Node | undefined {
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
    const parsed = library(source, ls, regionEnd, ctx);
    if (!isSeq(parsed) || parsed.items.length !== 1) return undefined;
    item = parsed.items[0] as Node;
  }
  return endsCleanly(item, regionEnd < raw) ? item : undefined;
}

/**
 * fastParse of a text that holds one root key, `key`, whose value is a block
 * sequence (the results tail of an output), without keeping the tree: each
 * entry is composed as `items` entries are (by the Scanner, or the library
 * for that entry's lines), handed to `visit`, and dropped. true when
 * fastParse(text) would return a document whose root holds only `key`, its
 * value a block sequence of exactly the entries visited, and every visit said
 * true; false means "not read this way", never "different".
 */
export function everyEntry(text: string, key: string, options: FastParseOptions, visit: (entry: Node, index: number) => boolean): boolean {
  // fastParse's own refusals: BOM, CR, a last line that is blank or a comment, a schema other than core.
  if (text.charCodeAt(0) === 0xfeff || text.includes("\r") || !endsWithContent(text)) return false;
  const ctx = scanContext(options, undefined)?.ctx;
  if (!ctx) return false;
  const end = text.length;
  const keys = rootKeys(text);
  if (keys?.length !== 1 || keys[0]!.name !== key || keys[0]!.at !== 0) return false;
  const stop = contentEnd(text, 0, end, 0);
  if (stop === undefined) return false;
  // `key:` with the sequence on the next line, as items() reads `items:`.
  const entries = blockEntries(text, 0, key, stop, ctx);
  if (!entries) return false;
  const { col, starts } = entries;
  for (let i = 0; i < starts.length; i++) {
    const entry = entryAt(text, starts[i]!, starts[i + 1] ?? stop, col, ctx);
    if (!entry || !visit(entry, i)) return false;
    // The last entry's end is the whole value's: placed as in the whole text (fastParseLf's endsCleanly).
    if (i === starts.length - 1 && !endsCleanly(entry, stop < end)) return false;
  }
  return true;
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

/**
 * The entries an `items` sequence was composed from, when fastParse composed
 * it from LF text (offsets as in the input); undefined for any other node.
 */
export function itemEntries(seq: unknown): ItemEntries | undefined {
  return typeof seq === "object" && seq !== null && Object.hasOwn(seq, ENTRIES) ? (seq as { [ENTRIES]: ItemEntries })[ENTRIES] : undefined;
}

/**
 * The entry fastParse composes from source[ls, next) (an `items` entry whose
 * dash is in column `col`, the next entry or the key's end at `next`), by the
 * Scanner or by the library, as it does; undefined where it would hand the
 * whole key to the library.
 */
export type EntryReader = (source: string, ls: number, next: number, col: number) => Node | undefined;

/**
 * The value the Scanner reads at `at` inside a one-line flow collection
 * (flowValue, the path every flow value and sequence entry takes), and where
 * its entry goes on (past the spaces after it); undefined where the Scanner
 * hands that text to the library. `end`: the end of the line.
 */
export type FlowValueReader = (source: string, at: number, end: number) => { node: Node; next: number } | undefined;

/** The read-back's readers (read-back.ts): the Scanner's own readings of a line, an entry and a flow value. */
export interface Readers {
  readonly line: LineReader;
  readonly entry: EntryReader;
  readonly flowValue: FlowValueReader;
}

/** Readers with the schema, tags and options fastParse(…, options) reads with; undefined where fastParse reads nothing. */
export function readers(options: FastParseOptions): Readers | undefined {
  // The output is read as it is: its offsets need no placing.
  const ctx = scanContext(options, undefined)?.ctx;
  if (!ctx) return undefined;
  const scanned = <T>(scan: () => T): T | undefined => {
    try {
      return scan();
    } catch (err) {
      if (err instanceof Unsupported) return undefined;
      throw err;
    }
  };
  return {
    line: (source, at, end, col) => scanned(() => new Scanner(source, end, ctx).map(at, col)),
    entry: (source, ls, next, col) => entryAt(source, ls, next, col, ctx),
    flowValue: (source, at, end) => scanned(() => new Scanner(source, end, ctx).flowValueAt(at)),
  };
}
