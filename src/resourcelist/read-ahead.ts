// Reading ahead: a ResourceList's functionConfig and the image values of its
// containers, from the raw text, in a few milliseconds, before the faithful
// parse (which takes the bulk of a run's CPU). The function uses it to open
// its registry connections while it parses: nothing read here is written
// back or trusted; the full parse decides everything. When the text is not
// plainly one block-style or JSON list, it says nothing (undefined).
import { isMap, parseDocument } from "yaml";
import type { Document, Node } from "yaml";

export interface ReadAhead {
  /** The functionConfig node (undefined: none), in `document`, a parse of its own text only. */
  readonly functionConfig: Node | undefined;
  readonly document: Document.Parsed;
  /** Values of `image` keys inside containers, initContainers and ephemeralContainers, as written. */
  readonly images: string[];
}

const CONTAINER_KEYS = new Set(["containers", "initContainers", "ephemeralContainers"]);

export function readAhead(input: string): ReadAhead | undefined {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  if (/^\s*\{/.test(text)) return fromJson(text);
  // Several documents, directives, complex keys or a quoted top-level key: left to the full parse.
  if (/^(---|\.\.\.|%|\?|["'])/m.test(text)) return undefined;
  const keys = [...text.matchAll(/^functionConfig[ \t]*:/gm)];
  if (keys.length > 1) return undefined;
  let document = parseDocument("");
  let functionConfig: Node | undefined;
  const at = keys[0]?.index;
  if (at !== undefined) {
    // Its text runs to the next line that starts a top-level key (or the end).
    const lineEnd = text.indexOf("\n", at);
    const next = lineEnd < 0 ? -1 : text.slice(lineEnd + 1).search(/^[^\s#]/m);
    const snippet = next < 0 ? text.slice(at) : text.slice(at, lineEnd + 1 + next);
    document = parseDocument(snippet, { merge: true });
    if (document.errors.length > 0 || !isMap(document.contents)) return undefined;
    functionConfig = document.contents.get("functionConfig", true);
  }
  return { functionConfig, document, images: blockImages(text) };
}

function fromJson(text: string): ReadAhead | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return undefined;
  const config = (data as Record<string, unknown>).functionConfig;
  const document = parseDocument(config === undefined ? "" : JSON.stringify({ functionConfig: config }));
  const functionConfig = isMap(document.contents) ? (document.contents.get("functionConfig", true) as Node | undefined) : undefined;
  const images: string[] = [];
  const walk = (value: unknown, inContainers: boolean): void => {
    if (Array.isArray(value)) for (const v of value) walk(v, inContainers);
    else if (typeof value === "object" && value !== null) {
      for (const [k, v] of Object.entries(value)) {
        if (inContainers && k === "image" && typeof v === "string") images.push(v);
        else walk(v, inContainers || CONTAINER_KEYS.has(k));
      }
    }
  };
  walk((data as Record<string, unknown>).items, false);
  return { functionConfig, document, images };
}

/**
 * `image` values under a container key. Only the lines that hold an `image`
 * key are looked at, and from each the lines above it, up to its container
 * key: a key belongs to the nearest key above it that is indented less (a
 * list item's first key stands for its dash). A line holding a flow
 * collection (an item written `- {…}`) is searched as text: its `image`
 * keys after a container key count.
 */
function blockImages(text: string): string[] {
  const images: string[] = [];
  for (let at = text.indexOf("image"); at >= 0; at = text.indexOf("image", at + 5)) {
    const lineStart = text.lastIndexOf("\n", at) + 1;
    let lineEnd = text.indexOf("\n", at);
    if (lineEnd < 0) lineEnd = text.length;
    const line = text.slice(lineStart, lineEnd).replace(/\r$/, "");
    const block = /^([ -]*)(["']?)image\2[ \t]*:[ \t]+(.*)$/.exec(line);
    if (block) {
      const value = scalarAt(block[3]!);
      if (value !== undefined && underContainers(text, lineStart, block[1]!.length)) images.push(value);
    } else if (line.includes("{") || line.includes("[")) {
      // A flow line: every image of it at once, then on past its end.
      flowImages(line, false, images);
    }
    at = Math.max(at, lineEnd - 5);
  }
  return images;
}

/** The plain or quoted scalar a value starts with (no escapes, no flow or block syntax), or undefined. */
function scalarAt(rest: string): string | undefined {
  const m = /^(?:"([^"\\]+)"|'([^']+)'|([^\s#'"{}[\],|>&*!]+))/.exec(rest);
  return m?.[1] ?? m?.[2] ?? m?.[3];
}

/** Whether the key at `column` of the line at `lineStart` sits under a container key, by the lines above it. */
function underContainers(text: string, lineStart: number, column: number): boolean {
  let threshold = column;
  for (let end = lineStart - 1; end > 0; ) {
    const start = text.lastIndexOf("\n", end - 1) + 1;
    const line = text.slice(start, end);
    end = start - 1;
    const m = /^( *)((?:- +)*)(["']?)([^\s"':#][^"':]*?)\3[ \t]*:(?:[ \t]|\r?$)/.exec(line);
    if (!m) {
      // Blank lines, comments and continuation lines say nothing; anything else is a shape not read here.
      if (/^\s*(#|$)/.test(line)) continue;
      return false;
    }
    const dash = m[1]!.length;
    const key = dash + m[2]!.length;
    if (key < threshold) {
      if (CONTAINER_KEYS.has(m[4]!)) return true;
      if (key === 0) return false;
      threshold = key;
    }
    // A list item's first key: its parent is the key at or left of the dash.
    if (m[2] && key <= threshold) threshold = dash + 1;
  }
  return false;
}
function flowImages(flow: string, inContainers: boolean, images: string[]): void {
  const start = inContainers ? 0 : flow.search(/"?(?:containers|initContainers|ephemeralContainers)"?\s*:/);
  if (start < 0) return;
  for (const m of flow.slice(start).matchAll(/"?image"?\s*:\s*(?:"([^"\\]+)"|'([^']+)'|([^\s,}\]#'"]+))/g)) {
    images.push(m[1] ?? m[2] ?? m[3]!);
  }
}
