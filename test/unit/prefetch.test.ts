// Lookups started ahead of the parse (src/core/prefetch.ts) and what the
// read-ahead may start (lookupsAhead's refs): the plan's lookup of a started
// reference is that lookup, never a second one; nothing is started that the
// walk might not look up.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { PrefetchedSource } from "../../src/core/prefetch.js";
import { lookupsAhead } from "../../src/function.js";
import { parseReference } from "../../src/name/reference.js";
import type { ImageReference } from "../../src/name/reference.js";
import { parseResourceList, parseResourceListPausing } from "../../src/resourcelist/resource-list.js";
import type { ResourceList } from "../../src/resourcelist/resource-list.js";
import type { DigestSource } from "../../src/resolve.js";

const HEAD = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n";
const workload = (kind: string, name: string, image: string): string =>
  `- apiVersion: apps/v1\n  kind: ${kind}\n  metadata:\n    name: ${name}\n  spec:\n    template:\n      spec:\n        containers:\n        - name: c\n          image: ${image}\n`;

/** A source that counts what it is asked (one edge of the wrapper; the e2e test uses a real registry). */
function counting(): DigestSource & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    resolveDigest(ref: ImageReference, scope) {
      asked.push(`${ref.original}${scope ? ` ${scope.id}` : ""}`);
      return ref.tag === "missing" ? Promise.reject(new Error("no such tag")) : Promise.resolve(`sha256:${"a".repeat(64)}`);
    },
  };
}

describe("PrefetchedSource", () => {
  test("a started lookup answers the plan's ask for it, once; equal references start one lookup", async () => {
    const inner = counting();
    const source = new PrefetchedSource(inner, 8);
    source.start([parseReference("reg.one/app:v1"), parseReference("reg.one/app:v1"), parseReference("reg.one/app:missing")]);
    assert.deepEqual(inner.asked, ["reg.one/app:v1", "reg.one/app:missing"]);
    assert.equal(source.count, 2);
    assert.equal(await source.resolveDigest(parseReference("reg.one/app:v1")), `sha256:${"a".repeat(64)}`);
    await assert.rejects(source.resolveDigest(parseReference("reg.one/app:missing")), /no such tag/);
    assert.deepEqual(inner.asked, ["reg.one/app:v1", "reg.one/app:missing"], "no second request");
    assert.equal(source.unused, 0);
    // Asked again (another run of the same source would): a lookup of its own.
    await source.resolveDigest(parseReference("reg.one/app:v1"));
    assert.equal(inner.asked.length, 3);
  });

  test("a lookup with a pull secret or a deadline is not the anonymous one started ahead", async () => {
    const inner = counting();
    const source = new PrefetchedSource(inner, 8);
    source.start([parseReference("reg.one/app:v1")]);
    const scope = { id: "ns/secret", entry: {} } as unknown as Parameters<DigestSource["resolveDigest"]>[1];
    await source.resolveDigest(parseReference("reg.one/app:v1"), scope);
    await source.resolveDigest(parseReference("reg.one/app:v1"), undefined, new AbortController().signal);
    assert.deepEqual(inner.asked, ["reg.one/app:v1", "reg.one/app:v1 ns/secret", "reg.one/app:v1"]);
    assert.equal(source.unused, 1);
  });

  test("at most `concurrency` lookups at once; one the plan waits for goes before the others queued", async () => {
    const inFlight: { ref: string; done: () => void }[] = [];
    let peak = 0;
    const order: string[] = [];
    const source = new PrefetchedSource(
      {
        resolveDigest(ref: ImageReference) {
          order.push(ref.original);
          return new Promise<string>((resolve) => {
            inFlight.push({ ref: ref.original, done: () => resolve(`sha256:${"c".repeat(64)}`) });
            peak = Math.max(peak, inFlight.length);
          });
        },
      },
      2,
    );
    const refs = Array.from({ length: 6 }, (_, i) => parseReference(`reg.one/app:v${i}`));
    source.start(refs);
    assert.deepEqual(order, ["reg.one/app:v0", "reg.one/app:v1"]);
    const sixth = source.resolveDigest(refs[5]!);
    const finish = async (): Promise<void> => {
      inFlight.shift()!.done();
      await new Promise((resolve) => setImmediate(resolve));
    };
    await finish();
    assert.deepEqual(order, ["reg.one/app:v0", "reg.one/app:v1", "reg.one/app:v5"], "the one asked for goes next");
    while (inFlight.length > 0) await finish();
    assert.equal(await sixth, `sha256:${"c".repeat(64)}`);
    assert.deepEqual(order.slice(3), ["reg.one/app:v2", "reg.one/app:v3", "reg.one/app:v4"]);
    assert.equal(peak, 2);
    assert.equal(source.unused, 5);
  });

  test("a failed lookup nobody asks for is not an unhandled rejection", async () => {
    const source = new PrefetchedSource(counting(), 8);
    source.start([parseReference("reg.one/app:missing")]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(source.unused, 1);
  });
});

describe("lookupsAhead: the references it starts", () => {
  test("every tagged image of known workload kinds, as the walk will look them up", () => {
    const input = HEAD + workload("Deployment", "a", "reg.one/app:v1") + workload("StatefulSet", "b", `reg.two/db:v2@sha256:${"b".repeat(64)}`) + workload("DaemonSet", "c", "nginx");
    const ahead = lookupsAhead(input);
    assert.deepEqual(ahead?.registries, ["reg.one", "docker.io"]);
    assert.deepEqual(ahead?.refs.map((r) => r.original), ["reg.one/app:v1", "nginx"]);
  });

  test("no references (the probes still go) where the text may show an image the walk does not pin", () => {
    const base = HEAD + workload("Deployment", "a", "reg.one/app:v1");
    for (const [why, input] of [
      ["a local-config item", base + workload("Deployment", "tpl", "reg.one/app:v2").replace("    name: tpl\n", "    name: tpl\n    annotations:\n      config.kubernetes.io/local-config: \"true\"\n")],
      ["a custom resource", base + workload("Rollout", "r", "reg.one/app:v3").replace("apps/v1\n  kind: Rollout", "argoproj.io/v1alpha1\n  kind: Rollout")],
      ["a block scalar", base + "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: m\n  data:\n    pod.yaml: |\n      containers:\n      - image: reg.one/app:v4\n"],
      ["a folded block scalar with indicators", base + "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: m\n  data:\n    note: >-2 # comment\n      text\n"],
    ] as const) {
      const ahead = lookupsAhead(input);
      assert.deepEqual(ahead?.registries, ["reg.one"], why);
      assert.deepEqual(ahead?.refs, [], why);
    }
  });

  test("JSON input: the same references as block style", () => {
    const input = HEAD + workload("Deployment", "a", "reg.one/app:v1") + workload("Job", "b", "reg.two/job:v1");
    const json = JSON.stringify(parse(input));
    assert.deepEqual(lookupsAhead(json)?.refs.map((r) => r.original), ["reg.one/app:v1", "reg.two/job:v1"]);
  });
});

describe("parseResourceListPausing", () => {
  const items200 = HEAD + Array.from({ length: 200 }, (_, i) => workload("Deployment", `d${i}`, `reg.one/app:v${i % 7}`)).join("");
  /** The list read pausing, checked to have paused between groups of items and to be parseResourceList's. */
  const readPausing = async (input: string): Promise<{ paused: ResourceList; plain: ResourceList }> => {
    let pauses = 0;
    const paused = await parseResourceListPausing(input, () => {
      pauses++;
      return Promise.resolve();
    });
    const plain = parseResourceList(input);
    assert.ok(pauses >= 5, `${pauses} pauses`);
    assert.equal(paused.source, plain.source);
    assert.deepEqual(paused.document.toJS(), plain.document.toJS());
    return { paused, plain };
  };

  test("the same list as parseResourceList, pausing between groups of items", async () => {
    const { paused, plain } = await readPausing(items200);
    const ranges = (l: ResourceList): unknown => l.items?.items.map((i) => (i as { range?: unknown }).range);
    assert.deepEqual(ranges(paused), ranges(plain));
  });

  test("JSON input: the block YAML written from it is read pausing too, into the same list", async () => {
    await readPausing(JSON.stringify(parse(items200), null, 1));
  });

  test("input the fast path declines (flow style, anchors), and bad input, as parseResourceList", async () => {
    const pause = (): Promise<void> => Promise.resolve();
    for (const input of [
      JSON.stringify(parse(HEAD + workload("Deployment", "a", "reg.one/app:v1"))),
      HEAD + workload("Deployment", "a", "&img reg.one/app:v1") + workload("Deployment", "b", "*img"),
    ]) {
      assert.equal((await parseResourceListPausing(input, pause)).source, parseResourceList(input).source);
    }
    for (const input of ["", "kind: Nope\n", "a: [\n"]) {
      const expected = ((): string => {
        try {
          parseResourceList(input);
          return "no error";
        } catch (error) {
          return (error as Error).message;
        }
      })();
      await assert.rejects(parseResourceListPausing(input, pause), (error: Error) => error.message === expected);
    }
  });
});
