// A stand-in for gcr.io/kpt-fn/apply-setters as an exec function, for tests
// on machines that cannot pull that image: every scalar whose line comment is
// `kpt-set: PATTERN` becomes PATTERN with each ${setter} replaced from the
// function config's data (left alone unless every setter it names is given).
// The quoting style of each value is kept; a string that would read as another type is quoted.
import { Scalar, isMap, parseDocument, visit } from "yaml";

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const source = Buffer.concat(chunks).toString("utf8");
  const doc = parseDocument(source);
  const config = doc.get("functionConfig");
  const data = isMap(config) ? config.get("data") : undefined;
  const setters = new Map<string, string>();
  if (isMap(data)) for (const pair of data.items) setters.set(String((pair.key as Scalar).value), String((pair.value as Scalar).value));
  const items = doc.get("items", true) as Parameters<typeof visit>[0];
  // Edits in place, by source range, as our own function does: kpt restores comments
  // around what a function emits, and re-emitted text gets its comments doubled.
  const edits: { from: number; to: number; text: string }[] = [];
  visit(items, {
    Scalar(_key, node) {
      const match = /^\s*kpt-set:\s*(.+?)\s*$/.exec(node.comment ?? "");
      if (!match?.[1] || !node.range) return;
      const pattern = match[1];
      const names = [...pattern.matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1] as string);
      if (names.length === 0 || !names.every((n) => setters.has(n))) return;
      const text = pattern.replace(/\$\{([^}]+)\}/g, (_m, n: string) => setters.get(n) ?? "");
      let out = text;
      if (node.type === Scalar.QUOTE_DOUBLE) out = JSON.stringify(text);
      else if (node.type === Scalar.QUOTE_SINGLE) out = `'${text.replace(/'/g, "''")}'`;
      else if (typeof node.value === "string" && typeof (parseDocument(text).contents as Scalar | null)?.value !== "string") out = JSON.stringify(text);
      edits.push({ from: node.range[0], to: node.range[1], text: out });
    },
  });
  let result = source;
  for (const e of edits.sort((a, b) => b.from - a.from)) result = result.slice(0, e.from) + e.text + result.slice(e.to);
  process.stdout.write(result);
}

void main();
