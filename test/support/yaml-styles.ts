// ResourceLists written the ways people write YAML by hand, for the property
// tests of issue 9. A list is generated as a tree (with anchors, aliases and
// merge keys), then written out with a style chosen for every node: block or
// flow collections, indentless or deeper sequences, plain, quoted, escaped,
// tagged and block scalars with every chomping and indentation indicator,
// explicit and quoted keys, comments in every place YAML has one, byte-order
// mark, CRLF, directives, document markers, trailing white space, a missing
// final newline. Every choice is read from a list of numbers (`Choices`), so
// that fast-check can shrink a failing case to a small one: a missing number
// reads as 0, and choice 0 is always the plainest option.

export class Choices {
  private at = 0;
  constructor(private readonly numbers: readonly number[]) {}
  /** A number in [0, n). */
  int(n: number): number {
    const v = this.numbers[this.at++];
    return v === undefined ? 0 : v % n;
  }
  /** True with probability about 1/n (never when the choices have run out). */
  one(n: number): boolean {
    return this.int(n) === n - 1;
  }
  pick<T>(values: readonly T[]): T {
    return values[this.int(values.length)]!;
  }
}

type Key = string | { merge: true };
export type Tree =
  | { t: "map"; pairs: [Key, Tree][]; anchor?: string }
  | { t: "seq"; items: Tree[]; anchor?: string }
  | { t: "str"; v: string; anchor?: string }
  | { t: "raw"; text: string }
  | { t: "alias"; name: string };

export interface Generated {
  text: string;
  /** The list shares a pinned image's value with a field that is not an image (the function may refuse it). */
  mayRefuse: boolean;
  /** skipPrefixes the list's functionConfig sets. */
  skip: string[];
}

const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;

export interface Options {
  /** Image references to use (all resolvable by the digest source under test). */
  images: readonly string[];
}

const str = (v: string, anchor?: string): Tree => (anchor ? { t: "str", v, anchor } : { t: "str", v });
const map = (pairs: [Key, Tree][], anchor?: string): Tree => (anchor ? { t: "map", pairs, anchor } : { t: "map", pairs });

/** One generated ResourceList. */
export function generate(c: Choices, options: Options): Generated {
  const anchors: { name: string; kind: "image" | "container" | "other"; local: boolean }[] = [];
  let mayRefuse = false;
  let inLocal = false;
  let n = 0;
  const anchor = (kind: "image" | "container" | "other"): string | undefined => {
    if (!c.one(5)) return undefined;
    const name = `${kind === "image" ? "img" : kind === "container" ? "base" : "a"}${n++}`;
    anchors.push({ name, kind, local: inLocal });
    return name;
  };
  const aliasOf = (kind: "image" | "container" | "other"): string | undefined => {
    const pool = anchors.filter((a) => a.kind === kind);
    const found = pool.length > 0 && c.one(3) ? c.pick(pool) : undefined;
    // A local-config item is never edited: sharing a pinned image with one is refused.
    if (found && (inLocal || found.local) && kind !== "other") mayRefuse = true;
    return found?.name;
  };

  const imageValue = (): Tree => {
    const alias = aliasOf("image");
    if (alias) return { t: "alias", name: alias };
    switch (c.int(12)) {
      case 8: return { t: "raw", text: c.pick(["42", "~", "true", "''", "1.5"]) };
      case 9: return str(c.pick(["Not A Ref", "nginx:", "UPPER/case", "-bad", " nginx", "nginx\n", "a".repeat(300)]));
      case 10: return str(`${c.pick(options.images)}@${DIGEST}`, anchor("image"));
      default: return str(c.pick(options.images), anchor("image"));
    }
  };
  const word = (): string => c.pick(["web", "main", "a b c", "x", "it's", 'say "hi"', "#not-comment", "value: with colon", "line one\nline two", "trailing ", "1.50", "true", "null", "", "~", "<<", "-", "tab\there"]);
  const other = (): Tree => {
    const alias = aliasOf("other") ?? aliasOf(c.one(4) ? "image" : "other");
    if (alias) {
      if (anchors.find((a) => a.name === alias)?.kind === "image") mayRefuse = true;
      return { t: "alias", name: alias };
    }
    return c.one(6) ? { t: "raw", text: c.pick(["1", "0x1F", "-2.5", "false", "null", "[]", "{}"]) } : str(word(), anchor("other"));
  };
  const container = (i: number): Tree => {
    const base = aliasOf("container");
    const pairs: [Key, Tree][] = [];
    if (base) {
      // Inherits image (and anything else) from an anchored container; may override the image.
      pairs.push([{ merge: true }, c.one(4) ? { t: "seq", items: [{ t: "alias", name: base }] } : { t: "alias", name: base }]);
      pairs.push(["name", str(`c${i}`)]);
      if (c.one(3)) pairs.push(["image", imageValue()]);
    } else {
      const last = c.one(3);
      if (!last) pairs.push(["name", str(`c${i}`)]);
      if (!c.one(12)) pairs.push(["image", imageValue()]);
      if (last) pairs.push(["name", str(`c${i}`)]);
    }
    if (c.one(3)) pairs.push(["args", { t: "seq", items: [other(), other()] }]);
    if (c.one(3)) pairs.push(["env", { t: "seq", items: [map([["name", str("IMAGE")], ["value", other()]])] }]);
    if (c.one(4)) pairs.push(["ports", { t: "seq", items: [map([["containerPort", { t: "raw", text: "8080" }]])] }]);
    return map(pairs, base ? undefined : anchor("container"));
  };
  const podSpec = (): Tree => {
    const pairs: [Key, Tree][] = [];
    let k = 0;
    pairs.push(["containers", { t: "seq", items: Array.from({ length: 1 + c.int(3) }, () => container(k++)) }]);
    if (c.one(3)) pairs.push(["initContainers", { t: "seq", items: [container(k++)] }]);
    if (c.one(5)) pairs.push(["restartPolicy", str("Never")]);
    // Image volumes (Kubernetes 1.31+) beside another volume type.
    if (c.one(4)) pairs.push(["volumes", { t: "seq", items: [map([["name", str("cfg")], ["configMap", map([["name", str("image")]])]]), map([["name", str("model")], ["image", map([["reference", imageValue()]])]])] }]);
    return map(pairs);
  };
  // Issue 11's built-in custom resources: a Tekton task spec, an Argo Workflows spec.
  const taskSpec = (): Tree => {
    let k = 0;
    const pairs: [Key, Tree][] = [["steps", { t: "seq", items: Array.from({ length: 1 + c.int(2) }, () => container(k++)) }]];
    if (c.one(3)) pairs.push(["sidecars", { t: "seq", items: [container(k++)] }]);
    if (c.one(3)) pairs.push(["stepTemplate", map([["image", imageValue()]])]);
    return map(pairs);
  };
  const workflowSpec = (): Tree =>
    map([["templates", { t: "seq", items: [map([["name", str("main")], ["container", container(0)]]), map([["name", str("s")], ["script", map([["image", imageValue()], ["source", str(word())]])]])] }]]);
  const metadata = (name: string, local: boolean): Tree => {
    const annotations: [Key, Tree][] = [["config.kubernetes.io/path", str(`${name}.yaml`)], ["description", other()]];
    if (local) annotations.push(["config.kubernetes.io/local-config", str("true")]);
    return map([["name", str(name)], ["annotations", map(annotations)]]);
  };
  const item = (index: number): Tree => {
    const kind = c.pick(["Pod", "Deployment", "CronJob", "PodTemplate", "ConfigMap", "Job", "Task", "Workflow"]);
    const name = `i${index}`;
    const local = c.one(10);
    inLocal = local;
    const apiVersion = { CronJob: "batch/v1", Job: "batch/v1", Deployment: "apps/v1", Task: "tekton.dev/v1", Workflow: "argoproj.io/v1alpha1" }[kind] ?? "v1";
    const head: [Key, Tree][] = [["apiVersion", str(apiVersion)], ["kind", str(kind)], ["metadata", metadata(name, local)]];
    if (kind === "Task") return map([...head, ["spec", taskSpec()]]);
    if (kind === "Workflow") return map([...head, ["spec", workflowSpec()]]);
    const spec = podSpec();
    switch (kind) {
      case "Pod": return map([...head, ["spec", spec]]);
      case "PodTemplate": return map([...head, ["template", map([["spec", spec]])]]);
      case "CronJob": return map([...head, ["spec", map([["schedule", str("* * * * *")], ["jobTemplate", map([["spec", map([["template", map([["spec", spec]])]])]])]])]]);
      case "ConfigMap": return map([...head, ["data", map([["image", str(c.pick(options.images))], ["other", other()]])]]);
      default: return map([...head, ["spec", map([["replicas", { t: "raw", text: "2" }], ["template", map([["spec", spec]])]])]]);
    }
  };

  const skip = c.one(6) ? [c.pick(options.images).split(":")[0]!] : [];
  const root: [Key, Tree][] = [["apiVersion", str("config.kubernetes.io/v1")], ["kind", str("ResourceList")]];
  root.push(["items", { t: "seq", items: Array.from({ length: 1 + c.int(3) }, (_, i) => item(i)) }]);
  if (c.one(3)) {
    const data: [Key, Tree][] = skip.length > 0 ? [["skipPrefixes", str(skip.join(","))]] : [];
    root.push(["functionConfig", map([["apiVersion", str("v1")], ["kind", str("ConfigMap")], ["metadata", map([["name", str("cfg")]])], ["data", map(data)]])]);
  } else if (skip.length > 0) skip.length = 0;
  if (c.one(4)) root.push(["results", c.one(3) ? { t: "raw", text: c.pick(["[]", "~", "[{message: earlier, severity: info}]"]) } : { t: "seq", items: [map([["message", str("earlier")], ["severity", str("info")]])] }]);
  if (c.one(2)) root.splice(c.int(root.length), 0, root.splice(c.int(root.length), 1)[0]!);
  return { text: new Writer(c).document(map(root)), mayRefuse, skip };
}

const PLAIN_SAFE = /^[A-Za-z0-9][A-Za-z0-9._/@:+-]*(?: [A-Za-z0-9._/@:+-]+)*$/;
const TYPED = /^(?:[-+]?[0-9][0-9._a-fA-Fxo:+-]*|[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)|null|Null|NULL|true|True|TRUE|false|False|FALSE|~|<<)$/;

function plainOk(v: string, flow: boolean): boolean {
  if (!PLAIN_SAFE.test(v) || TYPED.test(v) || v.includes(": ") || v.endsWith(":")) return false;
  return !flow || !/[,[\]{}]/.test(v);
}

/** Writes a tree with a style chosen per node. */
class Writer {
  private readonly eol: string;
  private readonly step: number;
  private readonly seqIndent: number;
  constructor(private readonly c: Choices) {
    this.eol = c.one(4) ? "\r\n" : "\n";
    this.step = c.pick([2, 2, 4, 3]);
    this.seqIndent = c.pick([0, 2, 4]);
  }

  document(root: Tree): string {
    const { c } = this;
    let head = "";
    if (c.one(8)) head += "\ufeff";
    if (c.one(8)) head += `# leading comment${this.eol}`;
    if (c.one(8)) head += `%YAML 1.2${this.eol}---${this.eol}`;
    else if (c.one(5)) head += `---${c.one(3) ? " # start" : ""}${this.eol}`;
    const col = c.one(10) ? 2 : 0;
    const body = c.one(12) ? `${this.pad(col)}${this.flow(root, col)}${this.eol}` : this.block(root, col);
    let tail = "";
    if (c.one(6)) tail += `...${this.eol}`;
    if (c.one(6)) tail += `# trailing comment${this.eol}`;
    let text = head + body + tail;
    if (c.one(6)) text = text.replace(/(\r?\n)+$/, "");
    return text;
  }

  private pad(n: number): string {
    return " ".repeat(n);
  }

  private trail(): string {
    return this.c.pick(["", "", "", " # c", "  ", "\t", " \t# tabbed"]);
  }

  private commentLine(col: number): string {
    return this.c.one(8) ? `${this.pad(col)}# comment${this.eol}` : this.c.one(12) ? this.eol : "";
  }

  private props(node: Tree): string {
    return "anchor" in node && node.anchor ? `&${node.anchor} ` : "";
  }

  /** A block collection whose entries start at column `col`, ending with a line break. */
  private block(node: Tree, col: number, compact = false): string {
    const { c } = this;
    let out = "";
    if (node.t === "map") {
      for (const [i, [key, value]] of node.pairs.entries()) {
        if (!(compact && i === 0)) out += this.commentLine(col);
        const k = typeof key === "string" ? this.key(key) : "<<";
        if (typeof key === "string" && c.one(12)) {
          // Explicit key: "? key" then ": value" on the next line.
          out += `${this.pad(col)}? ${k}${this.eol}${this.pad(col)}:${this.afterIndicator(value, col)}`;
        } else out += `${this.pad(col)}${k}:${this.afterIndicator(value, col, true)}`;
      }
      return out;
    }
    if (node.t === "seq") {
      for (const item of node.items) {
        out += this.commentLine(col);
        if ((item.t === "map" && !this.props(item) && item.pairs.length > 0 && !c.one(6))) {
          // Compact: "- key: value" with the rest of the mapping under the first key.
          const extra = c.one(6) ? 2 : 0;
          out += `${this.pad(col)}-${this.pad(1 + extra)}${this.block(item, col + 2 + extra, true).slice(col + 2 + extra)}`;
        } else out += `${this.pad(col)}-${this.afterIndicator(item, col)}`;
      }
      return out;
    }
    throw new Error("block() of a scalar");
  }

  /** What follows "key:" or "-" (or ":" of an explicit key) for `value`, through its last line break. */
  private afterIndicator(value: Tree, col: number, underKey = false): string {
    const { c } = this;
    const props = this.props(value);
    const nonEmpty = (value.t === "map" && value.pairs.length > 0) || (value.t === "seq" && value.items.length > 0);
    if (nonEmpty) {
      if (!c.one(5)) {
        const inner = value.t === "seq" && underKey ? col + this.seqIndent : col + this.step;
        const comment = c.one(6) ? " # on the key" : "";
        return ` ${props}`.trimEnd() + comment + this.eol + this.block(value, inner);
      }
      return ` ${props}${this.flow(value, col)}${this.trail()}${this.eol}`;
    }
    if (value.t === "str" && !c.one(3)) {
      const block = this.blockScalar(value.v, col);
      if (block) return ` ${props}${block}`;
    }
    if (value.t !== "alias" && c.one(10)) {
      // The value on its own line, after a comment line.
      return `${this.eol}${this.pad(col + this.step)}# between key and value${this.eol}${this.pad(col + this.step)}${props}${this.inline(value, col + this.step, false)}${this.eol}`;
    }
    return ` ${props}${this.inline(value, col, false)}${this.trail()}${this.eol}`;
  }

  /** A block scalar for `v` under column `col`, or undefined when `v` has no block form we write. */
  private blockScalar(v: string, col: number): string | undefined {
    const { c } = this;
    if (v === "" || /^\s/.test(v) || /[\t\r]/.test(v) || !c.one(3)) return undefined;
    const lines = v.replace(/\n$/, "").split("\n");
    const trailing = v.endsWith("\n");
    const indicator = trailing ? c.pick(["", "+"]) : "-";
    const literal = lines.length > 1 || c.one(2) ? "|" : ">";
    if (literal === ">" && lines.length > 1) return undefined;
    const explicit = c.one(4);
    const indent = explicit ? 1 + c.int(3) : this.step;
    const header = `${literal}${explicit ? String(indent) : ""}${indicator}${c.one(4) ? " # header comment" : ""}`;
    const body = lines.map((l) => `${l === "" ? "" : this.pad(col + indent)}${l}${this.eol}`).join("");
    // Strip chomping drops blank lines after the content (keep would take them into the value).
    return `${header}${this.eol}${body}${indicator === "-" && c.one(4) ? this.eol : ""}`;
  }

  private key(k: string): string {
    const { c } = this;
    if (!plainOk(k, false) || c.one(10)) return c.one(2) ? JSON.stringify(k) : `'${k.replaceAll("'", "''")}'`;
    return k;
  }

  /** A scalar, alias or flow collection on one line (or a few, for long flow and folded scalars). */
  private inline(node: Tree, col: number, flow: boolean): string {
    const { c } = this;
    switch (node.t) {
      case "alias": return `*${node.name}`;
      case "raw": return node.text;
      case "map":
      case "seq": return this.flow(node, col);
      case "str": {
        const v = node.v;
        const tag = c.one(8) ? "!!str " : "";
        const style = c.int(6);
        if (style <= 2 && plainOk(v, flow)) {
          // Multi-line plain: words folded onto the next line.
          if (!flow && v.includes(" ") && c.one(3)) return tag + v.replace(" ", `${this.eol}${this.pad(col + this.step)}`);
          return tag + v;
        }
        if (style === 3 && !/[\n\t]/.test(v)) return `${tag}'${v.replaceAll("'", "''")}'`;
        // Double-quoted, with escapes a hand might write.
        let body = JSON.stringify(v).slice(1, -1);
        if (c.one(4)) body = body.replace(/(?<!\\)[a-z]/, (ch) => `\\x${ch.charCodeAt(0).toString(16)}`);
        if (c.one(5) && body.length > 3 && !flow && !body.slice(0, 2).includes("\\")) body = `${body.slice(0, 2)}\\${this.eol}${this.pad(col + this.step)}${body.slice(2)}`;
        return `${tag}"${body}"`;
      }
    }
  }

  private flow(node: Tree, col: number): string {
    const { c } = this;
    const multi = c.one(4);
    const sep = multi ? `,${this.eol}${this.pad(col + this.step)}` : c.pick([", ", ",", " , "]);
    const open = multi ? this.eol + this.pad(col + this.step) : c.pick(["", " "]);
    if (node.t === "map") {
      const parts = node.pairs.map(([k, v]) => {
        const key = typeof k === "string" ? (plainOk(k, true) && !c.one(6) ? k : JSON.stringify(k)) : "<<";
        const value = v.t === "map" || v.t === "seq" ? `${this.props(v)}${this.flow(v, col + this.step)}` : `${this.props(v)}${this.inline(v, col + this.step, true)}`;
        // JSON-like keys may be followed by ":" with no space.
        return key.startsWith('"') && c.one(3) ? `${key}:${value}` : `${key}: ${value}`;
      });
      return `{${open}${parts.join(sep)}${multi ? this.eol + this.pad(col) : open}}`;
    }
    if (node.t === "seq") {
      const parts = node.items.map((v) => (v.t === "map" || v.t === "seq" ? `${this.props(v)}${this.flow(v, col + this.step)}` : `${this.props(v)}${this.inline(v, col + this.step, true)}`));
      return `[${open}${parts.join(sep)}${multi ? this.eol + this.pad(col) : open}]`;
    }
    return this.inline(node, col, true);
  }
}
