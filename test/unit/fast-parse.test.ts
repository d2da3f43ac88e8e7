// The fast ResourceList parser against the yaml library it stands in for:
// wherever it answers, every node must have the library's class, value,
// style, format and source range; wherever the library reports an error, it
// must not answer. Hand-written edge cases, then hundreds of mutations.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isAlias, isMap, isScalar, isSeq, parseAllDocuments } from "yaml";
import type { Node } from "yaml";
import { everyEntry, fastParse } from "../../src/resourcelist/fast-parse.js";
import { PARSE_OPTIONS } from "../../src/resourcelist/resource-list.js";
import { seededRandom } from "../support/random.js";

// The options every input is read with (merge keys on).
const OPTIONS = PARSE_OPTIONS;

function kind(n: unknown): string {
  return isMap(n) ? "map" : isSeq(n) ? "seq" : isScalar(n) ? "scalar" : isAlias(n) ? "alias" : String(n);
}

/** The first difference between two trees (comments aside), or undefined. */
function difference(a: unknown, b: unknown, path = "$"): string | undefined {
  if (kind(a) !== kind(b)) return `${path}: ${kind(a)} vs ${kind(b)}`;
  if (a === null || a === undefined) return undefined;
  const x = a as Node;
  const y = b as Node;
  if (JSON.stringify(x.range) !== JSON.stringify(y.range)) return `${path}: range ${JSON.stringify(x.range)} vs ${JSON.stringify(y.range)}`;
  if (isScalar(x) && isScalar(y)) {
    for (const field of ["value", "type", "format", "source", "tag", "minFractionDigits"] as const) {
      // Each parse makes its own merge-key symbol: equal when both are `<<`.
      const same = typeof x[field] === "symbol" && typeof y[field] === "symbol" ? String(x[field]) === String(y[field]) : Object.is(x[field], y[field]);
      if (!same) return `${path}: ${field} ${String(x[field])} vs ${String(y[field])}`;
    }
    return undefined;
  }
  if ((isMap(x) || isSeq(x)) && (isMap(y) || isSeq(y))) {
    if (Boolean(x.flow) !== Boolean(y.flow)) return `${path}: flow`;
    if (x.items.length !== y.items.length) return `${path}: ${x.items.length} vs ${y.items.length} entries`;
    for (let i = 0; i < x.items.length; i++) {
      const p = x.items[i];
      const q = y.items[i];
      const d = isMap(x)
        ? (difference((p as { key: unknown }).key, (q as { key: unknown }).key, `${path}.key[${i}]`) ??
          difference((p as { value: unknown }).value, (q as { value: unknown }).value, `${path}[${i}]`))
        : difference(p, q, `${path}[${i}]`);
      if (d) return d;
    }
  }
  return undefined;
}

/** "fast" when the fast path answered (and agreed), "library" when it declined; throws on disagreement. */
function check(source: string): "fast" | "library" {
  const fast = fastParse(source, OPTIONS);
  const docs = parseAllDocuments(source, OPTIONS);
  const full = Array.isArray(docs) ? (docs[0]) : undefined;
  if (!fast) return "library";
  assert.ok(full && full.errors.length === 0 && docs.length === 1, `the fast path accepted what the library rejects:\n${source}`);
  const d = difference(fast.contents, full.contents);
  assert.equal(d, undefined, `${d}\n${source}`);
  return "fast";
}

const BASE = `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: apps/v1  # line comment
  kind: Deployment
  metadata:
    name: web
    namespace: prod
    labels: {}
    annotations:
      config.kubernetes.io/index: '0'
      config.kubernetes.io/path: 'web.yaml'
  spec:
    replicas: 3
    template:
      spec:
        containers:
        - name: main
          image: nginx:1.25
          args:
          - --port=8080
          - "--name=\\"x\\""
          env:
          - name: EMPTY
            value: ""
          - name: QUOTED
            value: 'it''s'
          resources: {}
        initContainers:
        -   name: init
            image: "busybox"
    selector:
      matchLabels:
        app: web
    paused: false
    ratio: 1.50
    mode: 0o644
    hex: 0x1F
    none: ~
    nested:
      empty:
      after: x
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: scripts
  data:
    run.sh: |
      #!/bin/sh
      echo hi
    keep: |+
      kept

    other: x
- apiVersion: batch/v1
  kind: CronJob
  metadata: {name: job, namespace: ns}
  spec:
    jobTemplate:
      spec:
        template:
          spec:
            containers:
            - name: c
              image: "quay.io/a/b:1"
              args: ["--a", "--b"]
              command:
              - sh
              - |
                echo hi
# a comment between items
- apiVersion: v1
  kind: Pod
  spec:
    containers:
    - name: x
      image: nginx
    volumes:
    - name: model
      image:
        reference: models/llm:v2
        pullPolicy: IfNotPresent
# issue 11's image fields beyond pod specs: Tekton and Argo Workflows
- apiVersion: tekton.dev/v1
  kind: Task
  metadata:
    name: build
  spec:
    stepTemplate:
      image: base:1
    steps:
    - name: compile
      image: golang:1.23 # the build
      script: |
        go build ./...
    - name: clone
      ref:
        name: git-clone
- apiVersion: argoproj.io/v1alpha1
  kind: CronWorkflow
  metadata:
    name: nightly
  spec:
    workflowSpec:
      templates:
      - name: main
        steps:
        - - name: a
            template: run
      - name: run
        script:
          image: python:3.12
          source: |
            print(1)
results:
- message: old
  severity: info
functionConfig:
  apiVersion: v1
  kind: ConfigMap
  data:
    concurrency: "8"
`;

const INDENTED = BASE.replace(/^items:\n([\s\S]*?)^results:/m, (_, body: string) => `items:\n${body.replace(/^(?=.)/gm, "  ")}results:`);

describe("fast ResourceList parser", () => {
  it("answers for block-style lists, with the library's nodes", () => {
    assert.equal(check(BASE), "fast");
    assert.equal(check(INDENTED), "fast");
    const many = BASE.replace(/^items:\n/m, `items:\n${"- kind: A\n  metadata:\n    name: a\n".repeat(50)}`);
    assert.equal(check(many), "fast");
  });

  it("declines what it cannot place exactly", () => {
    for (const input of [
      `${BASE}\n`, // trailing blank line
      `${BASE}# trailing comment\n`,
      BASE.replace("apiVersion: apps/v1", "apiVersion: &a apps/v1"),
      BASE.replace("kind: ResourceList", "kind: ResourceList\nkind: Again"),
      `---\n${BASE}`,
      // A CR that is not part of a CRLF break.
      BASE.replace("kind: ResourceList\n", "kind: ResourceList\r"),
      BASE.replaceAll("\n", "\r\n").replace("'web.yaml'", "'web\ryaml'"),
      BASE.replace("  kind: Deployment", "  kind: Deployment\n  kind: Twice"),
      '{"apiVersion":"config.kubernetes.io/v1","kind":"ResourceList","items":[]}',
      " apiVersion: v1\nkind: ResourceList\nitems: []\n",
      // Issue 9's shapes: a byte-order mark, directives.
      `\ufeff${BASE}`,
      `%YAML 1.2\n---\n${BASE}`,
    ]) {
      assert.equal(check(input), "library", input);
    }
  });

  it("CRLF line breaks: answers, with the library's nodes at the text's offsets", () => {
    assert.equal(check(BASE.replaceAll("\n", "\r\n")), "fast");
    assert.equal(check(INDENTED.replaceAll("\n", "\r\n")), "fast");
    // Mixed endings, no final line break, quoted and block scalars across CRLF lines: answered or declined, never different.
    let mixed = 0;
    const lines = BASE.split("\n");
    const mixedText = lines.map((l, i) => (i % 3 === 0 ? `${l}\r` : l)).join("\n");
    for (const input of [
      mixedText,
      BASE.replaceAll("\n", "\r\n").replace(/\r\n$/, ""),
      BASE.replace(/\n$/, "").replaceAll("\n", "\r\n"),
      BASE.replaceAll("\n", "\r\n").replace("value: \"\"", "value: \"a\r\n      b\""),
      BASE.replaceAll("\n", "\r\n").replace("value: \"\"", "value: 'a\r\n\r\n      b'"),
      BASE.replaceAll("\n", "\r\n").replace("value: \"\"", "value: plain\r\n        continued"),
      BASE.replaceAll("\n", "\r\n").replace("value: \"\"", "value: |\r\n        a\r\n\r\n        b\r\n"),
      BASE.replaceAll("\n", "\r\n").replace("value: \"\"", "value: \"a \\\r\n  b\""),
      BASE.replaceAll("\n", "\r\n").replace("value: \"\"", "value: x  \r\n"),
      BASE.replaceAll("\n", "\r\n").replace("value: \"\"", "value: x # c \r\n"),
    ]) {
      if (check(input) === "fast") mixed++;
    }
    assert.ok(mixed >= 3, `only ${mixed} CRLF shapes took the fast path`);
  });

  it("flow collections on one line (JSON-style items, `key: {…}`, `[…]`): answers, with the library's nodes", () => {
    const data = parseAllDocuments(BASE, OPTIONS)[0]!.toJS() as { items: unknown[] };
    const items = data.items.map((item) => `- ${JSON.stringify(item)}\n`).join("");
    const flowItems = `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items}`;
    assert.equal(check(flowItems), "fast");
    assert.equal(check(flowItems.replaceAll("\n", "\r\n")), "fast");
    assert.equal(check(`apiVersion: v1\nkind: ResourceList\nitems:\n- {kind: Pod, spec: {containers: [{name: a, image: 'x' }, {name: b , args: [ -1, .5, ~, "q" ,'s', x y ], env: []} ]}}  # c\n- [ a ,b, ]\n`), "fast");
    // Each shape either answers as the library does or declines; none may disagree.
    for (const flow of [
      "{a: 1,}", "{a : 1}", '{"a" :1, "b":"c"}', "{ }", "[ ]", "[[], {}, [[]]]", "{a: {b: {c: [d]}}}", '{"a\\"b": "\\u00e9"}',
      "{a}", "{a: }", "{a: , b: 1}", "[a: 1]", "{? a: 1}", "{a: 1, a: 2}", '{"a": 1, a: 2}', "{<<: {}}", '{"<<": 1}', "{a:1}",
      "{a: b: c}", "[a, , b]", "[,]", "{a: 1} x", "{a: 1}: v", "[a] # c", "{a: [1, 2}", "{a: 1", "[a\n  , b]", "{a: x #c}",
      "{a: nginx:1.25}", "{a: -x, b: -1, c: -.inf, d: ?x, e: :x}", "{a: *x}", "{a: &x 1}", "{a: !!str 1}", "{1: a}", "{true: a}",
      "{a: 'it''s', b: \"\\t\"}", "{a: \"\\x41\"}", "['a\n  b']", "{a: [1] , b: {c: d} }", "{a: 'x' , b: \"y\" }",
    ]) {
      check(BASE.replace("        - name: main\n", `        - ${flow}\n        - name: main\n`));
      check(BASE.replace("    labels: {}", `    labels: ${flow}`));
    }
  });

  it("merge keys: items holding them are the library's, and agree", () => {
    for (const input of [BASE.replace("    selector:", "    <<: {}\n    selector:"), BASE.replace("      after: x", "      <<:\n        k: v")]) check(input);
    assert.equal(check(BASE.replace("kind: ResourceList", "kind: ResourceList\n<<: {}")), "library");
  });

  it("agrees with the library on hundreds of mutated lists", () => {
    const random = seededRandom(20241127);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
    const values = [
      "x", "'q''s'", '"d\\"q"', '"t\\tb"', '"e\\x41"', "{}", "[]", "[a, b]", "{a: 1}", "|\n    block", ">-\n    folded",
      "true", "True", "false", "0x1F", "0o17", "1e3", ".5", "-1", "+1", "~", "null", "NULL", "", "&anc x", "*anc",
      "!!str 1", "!custom v", "a: b", "a #b", "a#b", "- x", "@x", "`x", "%x", "? x", ":x", "-x", "x:", "x :y",
      "'unterminated", '"multi\n  line"', "plain\n      continued", "2001-12-14", "1_000", "yes", ".inf", "-.Inf",
      ".NaN", "12:30", "1.0", "0", "007", "'", '""', "1.50", "2.0", "1e+3",
      // Issue 9's shapes.
      "|-\n    block", "|2-\n     x", ">+\n    kept\n", "|- # c\n    x", "!!str x", "&a !!str x", "\"x\\\n    y\"", "'a\n    b'",
      "{<<: {a: 1}}", "<<", "\"<<\"", "x\t", "x \t# c",
    ];
    const mutate = (text: string): string => {
      const lines = text.split("\n");
      for (let k = 1 + Math.floor(random() * 3); k > 0; k--) {
        const i = Math.floor(random() * lines.length);
        const line = lines[i]!;
        const indent = line.length - line.trimStart().length;
        switch (Math.floor(random() * 21)) {
          case 0: lines.splice(i, 0, " ".repeat(Math.floor(random() * 10)) + "# comment"); break;
          case 1: lines.splice(i, 0, ""); break;
          case 2: lines[i] = ` ${line}`; break;
          case 3: lines[i] = line.slice(1); break;
          case 4: lines[i] = `${line} # trailing`; break;
          case 5: lines[i] = `${line}  `; break;
          case 6: lines[i] = line.replace(/^(\s*(?:- )?[\w./-]+:) (.*)$/, (_, k: string) => `${k} ${pick(values)}`); break;
          case 7: lines.splice(i, 0, line); break;
          case 8: lines[i] = line.replace(": ", ":\t"); break;
          case 9: lines[i] = `${line}\r`; break;
          case 10: lines.splice(i + 1, 0, " ".repeat(indent + 2) + pick(["k: v", "- x", "cont", "# c", "k:", "'q'"])); break;
          case 11: lines.splice(i, 0, pick(["---", "...", "%YAML 1.2", "- stray", "key: v", "results:", "functionConfig: {}", "  - x", "items: []"])); break;
          case 12: lines[i] = line.replace(/^(\s*)(- )?([\w./-]+):$/, (_, s: string, d = "", k: string) => `${s}${d}${k}: ${pick(values)}`); break;
          case 13: lines[i] = line.replace(/^(\s*)- /, "$1-   "); break;
          case 14: lines[i] = line.replace(/^(\s*)- .*$/, (_, s: string) => s + pick(["- ", "-", "- # c", "- - x", "- |", "- [a]", "- {}", "- 1.50", "- ~"])); break;
          case 15: lines[i] = line.replace(/: (\S+)$/, () => `: ${pick(["1.50", "-.inf", "0o7", "+12", "FALSE", "Null", "1.2.3", "-", "--", "-x", "?x", ":x", "x:y"])}`); break;
          case 16: lines[i] = line.replace(/^(\s*(?:- )?[\w./-]+):( .*)?$/, "$1:"); break;
          // Issue 9: merge keys, explicit and quoted keys, comments between key and value.
          case 17: lines.splice(i + 1, 0, " ".repeat(indent) + pick(["<<: {}", "<<: []", "<<:", "? k", ": v", '"<<": x', "'q': v"])); break;
          case 18: lines[i] = line.replace(/^(\s*)([\w./-]+):/, (_, s: string, k: string) => `${s}${pick([`"${k}"`, `'${k}'`, `? ${k}\n${s}`])}:`); break;
          case 19: lines[i] = line.replace(/^(\s*(?:- )?[\w./-]+:) (\S.*)$/, (_, k: string, v: string) => `${k} # c\n${" ".repeat(indent + 2)}${v}`); break;
          case 20: lines[i] = line.replace(/^(\s*)([\w./-]+):$/, "$1<<:"); break;
        }
      }
      return lines.join("\n");
    };
    const seen = { fast: 0, library: 0 };
    // Flow collections on one line, built from pieces the library may read in more than one way.
    const atoms = ["a", "x y", "1", "-1", ".5", "~", "null", "true", "'s'", "'it''s'", '"d"', '"e\\u0041"', '"\\x41"', "nginx:1.25", "a:b", "a#b", "-", "-x", "?x", ":x", "*x", "&x v", "!t v", "", "'", '"a\tb"', "@x", "`x"];
    const keys = ["k", "'k'", '"k"', "k ", "a b", "1", "<<", "? k", '"<<"', "k:x", ""];
    const flow = (depth: number): string => {
      const sp = (): string => pick(["", "", " ", "  "]);
      const entry = (): string => (depth < 2 && random() < 0.3 ? flow(depth + 1) : pick(atoms));
      const n = Math.floor(random() * 4);
      const map = random() < 0.6;
      const entries = Array.from({ length: n }, () => (map ? `${sp()}${pick(keys)}${sp()}:${pick([" ", " ", ""])}${entry()}${sp()}` : `${sp()}${entry()}${sp()}`));
      const trailing = n > 0 && random() < 0.1 ? "," : "";
      return map ? `{${entries.join(",")}${trailing}}` : `[${entries.join(",")}${trailing}]`;
    };
    const flowSeen = { fast: 0, library: 0 };
    for (let n = 0; n < 600; n++) {
      const text = flow(0);
      const input = random() < 0.5 ? BASE.replace("        - name: main\n", `        - ${text}${pick(["", "  ", " # c"])}\n        - name: main\n`) : BASE.replace("    labels: {}", `    labels: ${text}`);
      flowSeen[check(random() < 0.2 ? input.replaceAll("\n", "\r\n") : input)]++;
    }
    assert.ok(flowSeen.fast > 100 && flowSeen.library > 100, `flow collections: ${JSON.stringify(flowSeen)}`);

    // Line breaks: LF, CRLF, mixed, or a lone CR; with or without a final one.
    const endings = (text: string): string => {
      const r = random();
      let out = text;
      if (r < 0.35) out = text.replaceAll("\n", "\r\n");
      else if (r < 0.45) out = text.split("\n").map((l) => (random() < 0.5 ? `${l}\r` : l)).join("\n");
      else if (r < 0.5) {
        const i = Math.floor(random() * text.length);
        out = `${text.slice(0, i)}\r${text.slice(i)}`;
      }
      return random() < 0.1 ? out.replace(/\r?\n$/, "") : out;
    };
    for (let n = 0; n < 900; n++) seen[check(endings(mutate(pick([BASE, INDENTED]))))]++;
    // Both paths must have been exercised for the comparison to mean something.
    assert.ok(seen.fast > 100 && seen.library > 100, JSON.stringify(seen));
  });

  it("everyEntry: visits exactly the library's entries of a one-key block sequence, or answers false", () => {
    const RESULTS = `results:
- message: pinned reg.local/a:1 to sha256:${"a".repeat(64)}
  severity: info
  resourceRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  field:
    path: spec.template.spec.containers[0].image
    proposedValue: "reg.local/a:1@sha256:${"a".repeat(64)}"
  file:
    path: deployments/web.yaml
    index: 0
- message: 'left x alone: it''s skipped'
  severity: warning
- message: |-
    two
    lines
  severity: error
`;
    /** "fast" when everyEntry answered (and agreed with the library), "declined" otherwise; throws on disagreement. */
    const entries = (text: string): "fast" | "declined" => {
      const seen: unknown[] = [];
      if (!everyEntry(text, "results", OPTIONS, (entry, i) => seen.push(entry) === i + 1)) return "declined";
      const docs = parseAllDocuments(text, OPTIONS);
      const doc = Array.isArray(docs) && docs.length === 1 ? docs[0]! : undefined;
      assert.ok(doc && doc.errors.length === 0 && isMap(doc.contents), `everyEntry answered for what the library does not read as one mapping:\n${text}`);
      const pairs = doc.contents.items;
      assert.ok(pairs.length === 1 && isScalar(pairs[0]!.key) && pairs[0]!.key.value === "results" && isSeq(pairs[0]!.value), `not one results list:\n${text}`);
      const library = (pairs[0]!.value as { items: unknown[] }).items;
      assert.equal(seen.length, library.length, text);
      seen.forEach((entry, i) => assert.equal(difference(entry, library[i], `$[${i}]`), undefined, text));
      return "fast";
    };
    assert.equal(entries(RESULTS), "fast");
    assert.equal(entries(RESULTS.replace(/^(?=.)/gm, (_, at: number) => (at === 0 ? "" : "  "))), "fast");
    // A visit that says no is an answer of false.
    assert.equal(everyEntry(RESULTS, "results", OPTIONS, (_, i) => i < 1), false);
    for (const text of [
      `${RESULTS}\n`, `${RESULTS}# c\n`, `other: 1\n${RESULTS}`, `${RESULTS}other: 1\n`, RESULTS.replace("results:\n", "results: []\n"),
      RESULTS.replace("results:\n", "results: &a\n"), RESULTS.replaceAll("\n", "\r\n"), `\ufeff${RESULTS}`, RESULTS.replace("results:", "items:"),
      RESULTS.replace("  severity: info", "  severity: &s info"), "results:\n", "results:\n  x: 1\n",
    ]) {
      assert.equal(entries(text), "declined", text);
    }
    // Mutated tails: answered as the library reads them, or declined.
    const random = seededRandom(20261203);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
    const seen = { fast: 0, declined: 0 };
    for (let n = 0; n < 400; n++) {
      const lines = RESULTS.split("\n");
      for (let k = 1 + Math.floor(random() * 2); k > 0; k--) {
        const i = Math.floor(random() * lines.length);
        const line = lines[i]!;
        switch (Math.floor(random() * 7)) {
          case 0: lines.splice(i, 0, pick(["", "# c", "  # c", "- stray", "  - x", "other: v", "   deeper: v"])); break;
          case 1: lines[i] = ` ${line}`; break;
          case 2: lines[i] = line.slice(1); break;
          case 3: lines[i] = `${line} # trailing`; break;
          case 4: lines[i] = line.replace(/: (.*)$/, () => `: ${pick(["x", "'q''s'", "{a: 1}", "[]", "&a x", "*a", "|\n    b", "~", "1.50", "a: b", "\"t\\tb\""])}`); break;
          case 5: lines.splice(i, 0, line); break;
          default: lines[i] = line.replace(/^- /, pick(["-   ", "- - ", "-\n  "])); break;
        }
      }
      seen[entries(lines.join("\n"))]++;
    }
    assert.ok(seen.fast > 50 && seen.declined > 50, JSON.stringify(seen));
  });
});
