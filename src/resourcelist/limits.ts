// Bounds on what one input may make us build. yaml composes aliases as
// references, but anything that reads the data (toJS and every walk over its
// result) expands them: a few hundred bytes of nested aliases ("billion
// laughs") expand to billions of nodes. Every parsed input is measured here,
// once, before anything reads it; the rest of the code may then expand it.
import { isAlias, isMap, isPair, isScalar, isSeq } from "yaml";
import type { Document, Node, ToJSOptions } from "yaml";
import { quote } from "../quote.js";
import { InputError } from "./errors.js";
import { describe } from "./nodes.js";

/**
 * Nodes that aliases (and merge keys, which name aliases) may add to the
 * input when expanded. A ResourceList that shares one image through an anchor
 * in 10,000 containers adds 10,000; an alias bomb adds billions.
 */
export const ALIAS_EXPANSION_LIMIT = 1_000_000;

/**
 * toJS options for input that checkExpansion has measured: yaml's own guard
 * (maxAliasCount, 100 by default, counted per anchor) is off, because ours
 * bounds the whole expansion and a list may use one anchor more than 100 times.
 */
export const MEASURED: ToJSOptions = { maxAliasCount: -1 };

/** Throws InputError when the document's aliases expand too far, point into themselves, or a merge key names no mapping. */
export function checkExpansion(document: Document.Parsed): void {
  const anchors = new Map<string, Node>();
  const sizes = new Map<Node, number>();
  const path: (string | number)[] = [];
  let added = 0;
  const where = (): string => (path.length === 0 ? "the input" : formatPath(path));

  const size = (node: unknown): number => {
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target === undefined) throw new InputError(`${where()}: alias *${node.source} names no anchor before it`);
      const n = sizes.get(target);
      if (n === undefined) throw new InputError(`${where()}: alias *${node.source} points into the node that carries &${node.source} (a cycle)`);
      added += n;
      if (added > ALIAS_EXPANSION_LIMIT) {
        throw new InputError(
          `${where()}: aliases expand the input by more than ${ALIAS_EXPANSION_LIMIT.toLocaleString("en")} nodes (an alias bomb?); write the values out or share fewer of them`,
        );
      }
      return n;
    }
    if (!isScalar(node) && !isMap(node) && !isSeq(node)) return 0;
    if (node.anchor) {
      anchors.set(node.anchor, node);
      sizes.delete(node);
    }
    let total = 1;
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = pair.key;
        const name = isScalar(key) ? keyName(key.value) : "?";
        path.push(name);
        total += size(key);
        if (isMergeKey(key)) checkMergeSource(pair.value, anchors, where);
        total += size(pair.value);
        path.pop();
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        path.push(i);
        total += size(item);
        path.pop();
      });
    }
    sizes.set(node, total);
    return total;
  };
  size(document.contents);
}

/** yaml with `merge: true` reads a plain `<<` key as this symbol. */
export function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === "symbol" && key.value.description === "<<";
}

function checkMergeSource(value: unknown, anchors: Map<string, Node>, where: () => string): void {
  const deref = (n: unknown): unknown => (isAlias(n) ? anchors.get(n.source) : n);
  const source = deref(value);
  const ok = isMap(source) || (isSeq(source) && source.items.every((item) => isMap(deref(item))));
  if (!ok) {
    throw new InputError(`${where()}: a merge key (<<) takes a mapping, an alias of one, or a list of those; got ${describe(source)}`);
  }
}

function keyName(value: unknown): string {
  if (typeof value === "symbol") return value.description ?? "?";
  const text = typeof value === "string" ? value : String(value);
  return text.length > 100 || /[\s.[\]]/.test(text) ? quote(text) : text;
}

/** items[2].spec.containers[0].image */
export function formatPath(path: readonly (string | number)[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? part : `.${part}`;
  }
  return out;
}
