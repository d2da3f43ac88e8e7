// A package's lock in a ResourceList: which references it records after a run,
// a new DigestLock item appended for kpt, an existing one updated in place.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isMap, parse } from "yaml";
import type { Scalar } from "yaml";
import { lockEdit, packageLock, usedReferences } from "../../src/lock/package-lock.js";
import { lockDocument } from "../../src/lock/digest-lock.js";
import { applyEdits } from "../../src/resourcelist/edits.js";
import { parseResourceList } from "../../src/resourcelist/resource-list.js";
import { imageSlots } from "../../src/workloads.js";

const D = (c: string): string => `sha256:${c.repeat(64)}`;

function pod(name: string, images: string[], indent = ""): string {
  const containers = images.map((image, i) => `${indent}    - name: c${i}\n${indent}      image: ${image}\n`).join("");
  return `${indent}- apiVersion: v1\n${indent}  kind: Pod\n${indent}  metadata:\n${indent}    name: ${name}\n${indent}  spec:\n${indent}    containers:\n${containers}`;
}

function list(items: string, tail = ""): string {
  return `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items}${tail}`;
}

/** What a run did per image value: pinned digests by value, a set of failures. */
function outcomes(text: string, pinned: Record<string, string>, failed: string[] = []): (node: Scalar) => string | null | undefined {
  return (node) => {
    const value = String(node.value);
    if (value in pinned) return pinned[value];
    return failed.includes(value) ? null : undefined;
  };
}

describe("the lock of a package", () => {
  it("a new DigestLock item is appended after the last item, at the list's column, for kpt to write to digests.lock.yaml", () => {
    for (const indent of ["", "  "]) {
      const text = list(pod("a", ["nginx:1.27", `redis:7@${D("b")}`, "skipped/app:v1"], indent), "functionConfig:\n  kind: ConfigMap\n");
      const parsed = parseResourceList(text);
      const items = parsed.items?.items ?? [];
      const used = usedReferences(items, parsed.document, outcomes(text, { "nginx:1.27": D("a") }));
      const { edit, entries } = lockEdit(text, parsed.items, packageLock(items, parsed.document).lock, used);
      assert.deepEqual([...entries], [["docker.io/library/nginx:1.27", D("a")], ["docker.io/library/redis:7", D("b")]]);
      assert.ok(edit);
      const out = parse(applyEdits(text, [edit])) as { items: { kind: string; metadata: { annotations?: Record<string, string> }; digests?: object }[]; functionConfig: object };
      assert.equal(out.items.length, 2);
      assert.equal(out.items[1]?.kind, "DigestLock");
      assert.equal(out.items[1]?.metadata.annotations?.["config.kubernetes.io/path"], "digests.lock.yaml");
      assert.equal(out.items[1]?.metadata.annotations?.["config.kubernetes.io/local-config"], "true");
      assert.deepEqual(out.items[1]?.digests, Object.fromEntries(entries));
      assert.deepEqual(out.functionConfig, { kind: "ConfigMap" }, "what follows items stays");
    }
  });

  it("an existing lock is updated in place: one line for the image that changed, a failed image keeps its entry", () => {
    const lock = lockDocument(
      new Map([
        ["docker.io/library/nginx:1.27", D("a")],
        ["docker.io/library/redis:7", D("b")],
      ]),
      { path: "deploy/digests.lock.yaml" },
    );
    const lockItem = lock.replace(/^(?=.)/gm, "  ").replace(/^ {2}/, "- ");
    const text = list(pod("a", ["nginx:1.27", "redis:7"]) + lockItem);
    const parsed = parseResourceList(text);
    const items = parsed.items?.items ?? [];
    const found = packageLock(items, parsed.document);
    assert.equal(found.lock?.file?.path, "deploy/digests.lock.yaml");
    const used = usedReferences(items, parsed.document, outcomes(text, { "nginx:1.27": D("c") }, ["redis:7"]));
    const { edit } = lockEdit(text, parsed.items, found.lock, used);
    assert.ok(edit);
    const after = applyEdits(text, [edit]);
    const before = text.split("\n");
    const changed = after.split("\n").filter((line, i) => line !== before[i]);
    assert.deepEqual(changed, [`    docker.io/library/nginx:1.27: ${D("c")}`]);
  });

  it("nothing to lock in an empty package; the lock's own items are not images; two locks are a problem", () => {
    const empty = list("[]\n".replace(/^/, "")).replace("items:\n[]", "items: []");
    const parsed = parseResourceList(empty);
    assert.equal(lockEdit(empty, parsed.items, undefined, []).edit, undefined);
    const lock = lockDocument(new Map()).replace(/^(?=.)/gm, "  ").replace(/^ {2}/, "- ");
    const two = parseResourceList(list(lock + lock));
    const locks = packageLock(two.items?.items ?? [], two.document);
    assert.equal(locks.lock, undefined);
    assert.match(locks.problems[0]?.message ?? "", /the package has 2 DigestLocks/);
    const item = two.items?.items[0];
    assert.ok(isMap(item));
    assert.deepEqual(imageSlots(item, two.document), []);
  });
});
