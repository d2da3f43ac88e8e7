// The DigestLock model: read from a ResourceList, written as a document,
// updated in place with one line of diff per changed image.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse, parseDocument } from "yaml";
import type { YAMLMap } from "yaml";
import { findLocks, lockDocument, lockKey, lockUpdateEdit, nextLockEntries, readLock } from "../../src/lock/digest-lock.js";
import { parseReference } from "../../src/name/reference.js";
import { applyEdits } from "../../src/resourcelist/edits.js";
import { parseResourceList } from "../../src/resourcelist/resource-list.js";

const D = (c: string): string => `sha256:${c.repeat(64)}`;

function listWith(lock: string): string {
  const item = lock.replace(/^(?=.)/gm, "  ").replace(/^ {2}/, "- ");
  return `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n${item}`;
}

function changedLines(before: string, after: string): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  assert.equal(a.length, b.length, "same number of lines");
  return b.filter((line, i) => line !== a[i]);
}

describe("lockKey", () => {
  it("spells out registry, repository and tag", () => {
    assert.equal(lockKey(parseReference("nginx")), "docker.io/library/nginx:latest");
    assert.equal(lockKey(parseReference("index.docker.io/bitnami/redis:7")), "docker.io/bitnami/redis:7");
    assert.equal(lockKey(parseReference(`127.0.0.1:5000/shop/web:v1@${D("a")}`)), "127.0.0.1:5000/shop/web:v1");
  });
});

describe("a new lock", () => {
  const entries = new Map([
    ["registry.example.com/shop/web:v2", D("b")],
    ["[::1]:5000/app:v1", D("c")],
    ["docker.io/library/nginx:1.27", D("a")],
  ]);

  it("is a local-config DigestLock, sorted, one line per reference, that reads back the same", () => {
    const text = lockDocument(entries, { path: "digests.lock.yaml" });
    const object = parse(text) as { apiVersion: string; kind: string; metadata: { annotations: Record<string, string> }; digests: Record<string, string> };
    assert.equal(object.apiVersion, "fn.krm-digester.dev/v1alpha1");
    assert.equal(object.kind, "DigestLock");
    assert.equal(object.metadata.annotations["config.kubernetes.io/local-config"], "true");
    assert.equal(object.metadata.annotations["config.kubernetes.io/path"], "digests.lock.yaml");
    assert.deepEqual(Object.entries(object.digests), [...entries].sort(([a], [b]) => (a < b ? -1 : 1)));
    const lines = text.split("\n").filter((l) => l.startsWith("  ") && l.includes(": sha256:"));
    assert.deepEqual(lines, [`  "[::1]:5000/app:v1": ${D("c")}`, `  docker.io/library/nginx:1.27: ${D("a")}`, `  registry.example.com/shop/web:v2: ${D("b")}`]);
    const read = readLock(parseDocument(text).contents as YAMLMap, parseDocument(text));
    assert.deepEqual(read.problems, []);
    assert.deepEqual(read.entries, entries);
  });

  it("written as a file has no kpt path annotations, and an empty lock is still a valid one", () => {
    assert.doesNotMatch(lockDocument(entries), /path/);
    assert.deepEqual((parse(lockDocument(new Map())) as { digests: object }).digests, {});
  });
});

describe("reading a lock from a ResourceList", () => {
  const lock = lockDocument(new Map([["docker.io/library/nginx:1.27", D("a")]]), { path: "digests.lock.yaml" });

  it("finds it among the items and names its file", () => {
    const list = parseResourceList(listWith(lock));
    const found = findLocks(list.items?.items ?? [], list.document);
    assert.equal(found.length, 1);
    assert.deepEqual(found[0]?.file, { path: "digests.lock.yaml" });
    assert.equal(found[0]?.entries.get("docker.io/library/nginx:1.27"), D("a"));
  });

  it("canonicalises keys written short and reports bad entries by key, keeping the good ones", () => {
    const text = lock.replace(
      /digests:\n[\s\S]*$/,
      `digests:\n  nginx:1.27: ${D("a")}\n  "UPPER/Case:v1": ${D("b")}\n  app:v1: sha256:123\n  app:v2@${D("c")}: ${D("c")}\n  docker.io/library/nginx:1.27: ${D("d")}\n  ok:v1: ${D("e")}\n`,
    );
    const list = parseResourceList(listWith(text));
    const [found] = findLocks(list.items?.items ?? [], list.document);
    assert.ok(found);
    assert.deepEqual([...found.entries], [["docker.io/library/nginx:1.27", D("a")], ["docker.io/library/ok:v1", D("e")]]);
    assert.deepEqual(
      found.problems.map((p) => p.field),
      ['digests["UPPER/Case:v1"]', 'digests["app:v1"]', `digests["app:v2@${D("c")}"]`, 'digests["docker.io/library/nginx:1.27"]'],
    );
    assert.match(found.problems[1]?.message ?? "", /not a digest.*"sha256:123".*digests\.lock\.yaml.*lock: true/);
    assert.match(found.problems[3]?.message ?? "", /two digests for docker\.io\/library\/nginx:1\.27/);
  });

  it("reports digests that are not a mapping", () => {
    const list = parseResourceList(listWith(lock.replace(/digests:\n[\s\S]*$/, "digests: [a, b]\n")));
    const [found] = findLocks(list.items?.items ?? [], list.document);
    assert.equal(found?.problems[0]?.field, "digests");
  });
});

describe("updating a lock in place", () => {
  const old = new Map([
    ["docker.io/library/nginx:1.27", D("a")],
    ["docker.io/library/redis:7", D("b")],
    ["ghcr.io/org/tool:v3", D("c")],
  ]);

  it("changes one line per changed image and nothing else, in a ResourceList or a file", () => {
    for (const text of [listWith(lockDocument(old, { path: "digests.lock.yaml" })), lockDocument(old)]) {
      const document = parseDocument(text);
      const item = text.startsWith("apiVersion: config") ? parseResourceList(text).items?.items[1] : document.contents;
      const list = text.startsWith("apiVersion: config") ? parseResourceList(text) : undefined;
      const node = (item ?? document.contents) as YAMLMap;
      const current = readLock(node, list?.document ?? document).entries;
      const next = new Map(old).set("docker.io/library/redis:7", D("9"));
      const edit = lockUpdateEdit(text, node, current, next);
      assert.ok(edit);
      const after = applyEdits(text, [edit]);
      assert.deepEqual(changedLines(text, after).map((l) => l.trim()), [`docker.io/library/redis:7: ${D("9")}`]);
      assert.equal(lockUpdateEdit(text, node, current, current), undefined, "nothing to change, no edit");
    }
  });

  it("adds and drops entries in sorted place, and keeps comments and keys around the map", () => {
    const text = `# my lock\n${lockDocument(old)}# trailing comment\n`;
    const document = parseDocument(text);
    const node = document.contents as YAMLMap;
    const next = new Map(old);
    next.delete("docker.io/library/redis:7");
    next.set("docker.io/library/busybox:1", D("d"));
    const after = applyEdits(text, [lockUpdateEdit(text, node, readLock(node, document).entries, next)!]);
    assert.ok(after.startsWith("# my lock\n"));
    assert.ok(after.endsWith("# trailing comment\n"));
    const lines = after.split("\n").filter((l) => l.includes(": sha256:"));
    assert.deepEqual(lines, [`  docker.io/library/busybox:1: ${D("d")}`, `  docker.io/library/nginx:1.27: ${D("a")}`, `  ghcr.io/org/tool:v3: ${D("c")}`]);
  });

  it("writes a digests map into a lock that had none, or an empty one", () => {
    for (const text of [lockDocument(new Map()), lockDocument(new Map()).replace("digests: {}\n", "")]) {
      const document = parseDocument(text);
      const node = document.contents as YAMLMap;
      const after = applyEdits(text, [lockUpdateEdit(text, node, new Map(), old)!]);
      assert.deepEqual((parse(after) as { digests: object }).digests, Object.fromEntries(old));
    }
  });
});

describe("what the lock holds after a run", () => {
  it("every tagged reference with its digest now; a failed one keeps its old entry; unused ones go", () => {
    const previous = new Map([
      ["docker.io/library/redis:7", D("b")],
      ["docker.io/library/gone:1", D("e")],
    ]);
    const next = nextLockEntries(
      [
        { ref: parseReference("nginx:1.27"), digest: D("a") },
        { ref: parseReference(`docker.io/library/nginx:1.27@${D("a")}`), digest: D("a") },
        { ref: parseReference("redis:7"), digest: undefined },
        { ref: parseReference(`app@${D("f")}`), digest: D("f") },
        { ref: parseReference("new:1"), digest: undefined },
      ],
      previous,
    );
    assert.deepEqual([...next], [["docker.io/library/nginx:1.27", D("a")], ["docker.io/library/redis:7", D("b")]]);
  });
});
