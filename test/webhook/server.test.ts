// The webhook over real HTTPS, against a real registry (Debian's
// docker-registry): AdmissionReview bodies as the API server sends them for
// every kind, v1 and v1beta1, CREATE and UPDATE; each patch applied with
// fast-json-patch and the result checked.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import jsonpatch from "fast-json-patch";
import { KINDS, object, review } from "../support/admission.js";
import type { Obj } from "../support/admission.js";
import { useServer } from "../support/client-helpers.js";
import { startFaultProxy } from "../support/fault-proxy.js";
import { startRegistry } from "../support/registry.js";
import { pushOciIndex, pushOciManifest } from "../support/seed.js";
import { answer, patchOf, startTestWebhook } from "../support/webhook.js";
import type { Answer, TestWebhook } from "../support/webhook.js";

const OLD = `sha256:${"1".repeat(64)}`;

function applied(obj: Obj, a: Answer): Obj {
  return jsonpatch.applyPatch(jsonpatch.deepClone(obj) as Obj, patchOf(a) as jsonpatch.Operation[], true, false).newDocument;
}

function at(obj: unknown, path: readonly (string | number)[]): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string | number, unknown> | undefined)?.[key], obj);
}

describe("webhook: every kind, v1 and v1beta1, CREATE and UPDATE", () => {
  const registry = useServer(() => startRegistry());
  let hook: TestWebhook;
  const digests: Record<string, string> = {};
  let host = "";

  before(async () => {
    host = registry().host;
    for (const [repo, tag] of [["shop/web", "v1"], ["shop/web", "v2"], ["shop/init", "v1"], ["shop/debug", "v1"]] as const) {
      digests[`${repo}:${tag}`] = (await pushOciManifest(registry(), repo, tag)).digest;
    }
    digests["shop/multi:v1"] = (await pushOciIndex(registry(), "shop/multi", "v1")).digest;
    hook = await startTestWebhook({ skipPrefixes: ["skipped.example/"] });
  });
  after(async () => {
    await hook.stop();
  });

  for (const apiVersion of ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"] as const) {
    for (const kind of KINDS) {
      it(`${kind.kind} CREATE (${apiVersion}): containers and initContainers pinned, only image fields patched`, async () => {
        const obj = object({
          kind: kind.kind,
          containers: [{ name: "app", image: `${host}/shop/web:v1` }, { name: "multi", image: `${host}/shop/multi:v1` }],
          initContainers: [{ name: "init", image: `${host}/shop/init:v1` }],
        });
        const body = review({ apiVersion, object: obj });
        const a = answer(await hook.post(body));
        assert.equal(a.apiVersion, apiVersion);
        assert.equal(a.kind, "AdmissionReview");
        assert.equal(a.response.uid, (body.request as Obj).uid);
        assert.equal(a.response.allowed, true);
        const ops = patchOf(a);
        assert.equal(ops.length, 3);
        for (const op of ops) {
          assert.equal(op.op, "replace");
          assert.match(op.path, /^\/.*\/(containers|initContainers)\/\d+\/image$/);
        }
        const out = applied(obj, a);
        const spec = at(out, kind.podSpec) as { containers: { image: string }[]; initContainers: { image: string }[] };
        assert.equal(spec.containers[0]?.image, `${host}/shop/web:v1@${digests["shop/web:v1"]}`);
        assert.equal(spec.containers[1]?.image, `${host}/shop/multi:v1@${digests["shop/multi:v1"]}`);
        assert.equal(spec.initContainers[0]?.image, `${host}/shop/init:v1@${digests["shop/init:v1"]}`);
        // Everything else is as it was.
        for (const c of spec.containers) (c as { image?: string }).image = "";
        for (const c of spec.initContainers) (c as { image?: string }).image = "";
        const before = jsonpatch.deepClone(obj) as Obj;
        const s2 = at(before, kind.podSpec) as typeof spec;
        for (const c of [...s2.containers, ...s2.initContainers]) (c as { image?: string }).image = "";
        assert.deepEqual(out, before);
        assert.match(a.response.auditAnnotations?.["images-pinned"] ?? "", /shop\/web:v1@sha256:/);
        assert.equal(a.response.warnings, undefined);
      });

      it(`${kind.kind} UPDATE (${apiVersion}): an unchanged repo:tag keeps oldObject's digest; a changed tag is resolved`, async () => {
        const old = object({
          kind: kind.kind,
          containers: [{ name: "app", image: `${host}/shop/web:v1@${OLD}` }, { name: "other", image: `${host}/shop/web:v1@${OLD}` }],
        });
        const obj = object({ kind: kind.kind, containers: [{ name: "other", image: `${host}/shop/web:v2` }, { name: "app", image: `${host}/shop/web:v1` }] });
        const a = answer(await hook.post(review({ apiVersion, operation: "UPDATE", object: obj, oldObject: old })));
        const spec = at(applied(obj, a), kind.podSpec) as { containers: { name: string; image: string }[] };
        // Matched by container name, not position.
        assert.equal(spec.containers[0]?.image, `${host}/shop/web:v2@${digests["shop/web:v2"]}`);
        assert.equal(spec.containers[1]?.image, `${host}/shop/web:v1@${OLD}`);
      });
    }
  }

  it("pods/ephemeralcontainers (kubectl debug): only the ephemeral container is patched", async () => {
    const old = object({ kind: "Pod", containers: [{ name: "app", image: `${host}/shop/web:v1` }] });
    const obj = object({
      kind: "Pod",
      containers: [{ name: "app", image: `${host}/shop/web:v1` }],
      ephemeralContainers: [{ name: "debugger", image: `${host}/shop/debug:v1` }],
    });
    const a = answer(await hook.post(review({ operation: "UPDATE", object: obj, oldObject: old, subResource: "ephemeralcontainers" })));
    assert.deepEqual(patchOf(a), [{ op: "replace", path: "/spec/ephemeralContainers/0/image", value: `${host}/shop/debug:v1@${digests["shop/debug:v1"]}` }]);
  });

  it("a ReplicaSet controlled by a Deployment is left alone; a Pod owned by a ReplicaSet is pinned", async () => {
    const owner = (kind: string) => [{ apiVersion: "apps/v1", kind, name: "web-5d9c", uid: "6c0a", controller: true, blockOwnerDeletion: true }];
    const rs = object({ kind: "ReplicaSet", ownerReferences: owner("Deployment"), containers: [{ name: "app", image: `${host}/shop/web:v1` }] });
    const a = answer(await hook.post(review({ object: rs })));
    assert.equal(a.response.allowed, true);
    assert.equal(a.response.patch, undefined);
    const pod = object({ kind: "Pod", ownerReferences: owner("ReplicaSet"), containers: [{ name: "app", image: `${host}/shop/web:v1` }] });
    assert.equal(patchOf(answer(await hook.post(review({ object: pod })))).length, 1);
  });

  it("no patch: already pinned, skipped prefixes, the webhook's own namespace, the opt-out annotation, DELETE, the status subresource", async () => {
    const cases: Obj[] = [
      review({ object: object({ kind: "Pod", containers: [{ name: "a", image: `${host}/shop/web:v1@${OLD}` }] }) }),
      review({ object: object({ kind: "Pod", containers: [{ name: "a", image: "skipped.example/app:v1" }] }) }),
      review({ object: object({ kind: "Pod", namespace: "krm-digester", containers: [{ name: "a", image: `${host}/shop/web:v1` }] }) }),
      review({ object: object({ kind: "Pod", annotations: { "krm-digester.dev/skip": "true" }, containers: [{ name: "a", image: `${host}/shop/web:v1` }] }) }),
      review({ operation: "DELETE", object: null, oldObject: object({ kind: "Pod", containers: [{ name: "a", image: `${host}/shop/web:v1` }] }) }),
      review({ operation: "UPDATE", subResource: "status", object: object({ kind: "Pod", containers: [{ name: "a", image: `${host}/shop/web:v1` }] }) }),
    ];
    for (const body of cases) {
      const a = answer(await hook.post(body));
      assert.equal(a.response.allowed, true);
      assert.equal(a.response.patch, undefined, JSON.stringify(body).slice(0, 300));
    }
  });

  it("an image that cannot be resolved: denied, the message names the image and the cause", async () => {
    const obj = object({ kind: "Deployment", containers: [{ name: "a", image: `${host}/shop/web:v1` }, { name: "b", image: `${host}/shop/web:nope` }] });
    const a = answer(await hook.post(review({ object: obj })));
    assert.equal(a.response.allowed, false);
    assert.equal(a.response.patch, undefined);
    assert.match(a.response.status?.message ?? "", new RegExp(`${host}/shop/web:nope`));
    assert.match(a.response.status?.message ?? "", /tag "nope" not found/);
  });

  it("a malformed image field or reference is denied with the field named, as the function reports it", async () => {
    const obj = object({ kind: "Pod", containers: [{ name: "a", image: "UPPER/Case:v1" }] });
    const a = answer(await hook.post(review({ object: obj })));
    assert.equal(a.response.allowed, false);
    assert.match(a.response.status?.message ?? "", /spec\.containers\[0\]\.image: .*UPPER\/Case:v1/);
    const bad = object({ kind: "Pod", containers: [{ name: "a", image: "x" }] });
    ((bad.spec as Obj).containers as Obj[])[0]!.image = 42;
    const b = answer(await hook.post(review({ object: bad })));
    assert.equal(b.response.allowed, false);
    assert.match(b.response.status?.message ?? "", /image must be a string/);
  });

  it("one JSON log line per review, with uid, kind, namespace/name, images pinned, outcome and ms", async () => {
    const obj = object({ kind: "StatefulSet", name: "db", containers: [{ name: "a", image: `${host}/shop/web:v2` }] });
    const body = review({ object: obj });
    answer(await hook.post(body));
    const lines = hook.logs.filter((l) => l.uid === (body.request as Obj).uid);
    assert.equal(lines.length, 1);
    const line = lines[0]!;
    assert.equal(line.msg, "review");
    assert.equal(line.kind, "StatefulSet");
    assert.equal(line.namespace, "shop");
    assert.equal(line.name, "db");
    assert.equal(line.outcome, "patched");
    assert.deepEqual(line.pinned, [`${host}/shop/web:v2@${digests["shop/web:v2"]}`]);
    assert.equal(typeof line.ms, "number");
  });

  it("bad bodies get a 4xx and the server stays healthy", async () => {
    const good = review({ object: object({ kind: "Pod", containers: [{ name: "a", image: `${host}/shop/web:v1` }] }) });
    const bad: [string, string | Buffer, number][] = [
      ["not JSON", "{not json", 400],
      ["JSON but not an object", "[1,2]", 400],
      ["no request", JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }), 400],
      ["wrong kind", JSON.stringify({ ...good, kind: "Pod" }), 400],
      ["unknown apiVersion", JSON.stringify({ ...good, apiVersion: "admission.k8s.io/v2" }), 400],
      ["uid a number", JSON.stringify({ ...good, request: { ...(good.request as Obj), uid: 42 } }), 400],
      ["object a string", JSON.stringify({ ...good, request: { ...(good.request as Obj), object: "pod" } }), 400],
      ["huge", Buffer.alloc(7 * 1024 * 1024, 0x20), 413],
    ];
    for (const [what, raw, status] of bad) {
      const res = await hook.post(undefined, { raw });
      assert.equal(res.status, status, `${what}: ${res.text}`);
      assert.ok(res.text.length > 0, `${what} says why`);
    }
    assert.equal((await hook.get("health", "/healthz")).status, 200);
    assert.equal((await hook.get("health", "/readyz")).status, 200);
    assert.equal(patchOf(answer(await hook.post(good))).length, 1);
  });

  it("other paths and methods: 404 and 405", async () => {
    const { request } = await import("undici");
    const res = await request(`https://127.0.0.1:${hook.running.ports.webhook}/v1/mutate`, { dispatcher: hook.agent });
    assert.equal(res.statusCode, 405);
    await res.body.dump();
    const other = await request(`https://127.0.0.1:${hook.running.ports.webhook}/mutate`, { method: "POST", body: "{}", dispatcher: hook.agent });
    assert.equal(other.statusCode, 404);
    await other.body.dump();
  });

  it("metrics: every series is krm_digester_…; reviews, latency, cache, registry lookups and errors are there", async () => {
    const { status, text } = await hook.get("metrics", "/metrics");
    assert.equal(status, 200);
    const names = new Set(text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(/[{ ]/)[0]));
    for (const name of names) assert.match(name ?? "", /^krm_digester_/);
    assert.match(text, /krm_digester_reviews_total\{kind="Deployment",operation="CREATE",outcome="patched"\} \d+/);
    assert.match(text, /krm_digester_reviews_total\{kind="Deployment",operation="CREATE",outcome="denied"\} 1/);
    assert.match(text, /krm_digester_review_duration_seconds_bucket\{le="0.005",outcome="patched"\} \d+/);
    assert.match(text, /krm_digester_cache_hits_total \d+/);
    assert.match(text, /krm_digester_cache_misses_total \d+/);
    assert.match(text, new RegExp(`krm_digester_registry_lookups_total\\{registry="${host.replace(/\./g, "\\.")}",outcome="ok"\\} \\d+`));
    assert.match(text, /krm_digester_resolution_errors_total\{cause="TAG_NOT_FOUND"\} \d+/);
    assert.match(text, /krm_digester_registry_requests_total\{kind="head"\} \d+/);
    assert.match(text, /krm_digester_bad_requests_total\{reason="not-json"\} 1/);
    // The cache answered the repeats: far fewer misses than image fields reviewed.
    const hits = Number(/krm_digester_cache_hits_total (\d+)/.exec(text)?.[1]);
    const misses = Number(/krm_digester_cache_misses_total (\d+)/.exec(text)?.[1]);
    assert.ok(hits > misses, `hits ${hits}, misses ${misses}`);
  });
});

describe("webhook: --ignore-errors and --dry-run", () => {
  const registry = useServer(() => startRegistry());
  let ignoring: TestWebhook;
  let dry: TestWebhook;
  let host = "";
  let digest = "";
  before(async () => {
    host = registry().host;
    digest = (await pushOciManifest(registry(), "shop/web", "v1")).digest;
    [ignoring, dry] = await Promise.all([startTestWebhook({ ignoreErrors: true }), startTestWebhook({ dryRun: true })]);
  });
  after(async () => {
    await Promise.all([ignoring.stop(), dry.stop()]);
  });

  it("--ignore-errors: admitted, what resolves is pinned, what does not stays and gets a short warning", async () => {
    const obj = object({
      kind: "Deployment",
      containers: [{ name: "a", image: `${host}/shop/web:v1` }, ...Array.from({ length: 12 }, (_, i) => ({ name: `b${i}`, image: `${host}/shop/missing-${i}-${"x".repeat(60)}:v1` }))],
    });
    const a = answer(await ignoring.post(review({ object: obj })));
    assert.equal(a.response.allowed, true);
    assert.deepEqual(patchOf(a), [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: `${host}/shop/web:v1@${digest}` }]);
    const warnings = a.response.warnings ?? [];
    assert.ok(warnings.length > 0 && warnings.length <= 8, `${warnings.length} warnings`);
    for (const w of warnings) assert.ok(w.length < 120, `under 120 characters: ${w}`);
    assert.match(warnings[0] ?? "", /missing-0/);
    assert.match(warnings.at(-1) ?? "", /more/);
  });

  it("--dry-run: logs what it would pin, patches nothing", async () => {
    const body = review({ object: object({ kind: "Pod", containers: [{ name: "a", image: `${host}/shop/web:v1` }] }) });
    const a = answer(await dry.post(body));
    assert.equal(a.response.allowed, true);
    assert.equal(a.response.patch, undefined);
    const line = dry.logs.find((l) => l.uid === (body.request as Obj).uid);
    assert.equal(line?.outcome, "dry-run");
    assert.deepEqual(line?.wouldPin, [`${host}/shop/web:v1@${digest}`]);
  });
});

describe("webhook: deadline, coalescing, shutdown", () => {
  const registry = useServer(() => startRegistry());
  const proxy = useServer(() => startFaultProxy(registry()));
  let hook: TestWebhook;
  before(async () => {
    await pushOciManifest(registry(), "slow/app", "v1");
    await pushOciManifest(registry(), "hot/app", "v1");
    await pushOciManifest(registry(), "drain/app", "v1");
    hook = await startTestWebhook();
  });
  after(async () => {
    await hook.stop();
  });

  it("a registry that never answers: the answer comes before the API server's timeout, naming the image, and the lookup is cancelled", async () => {
    proxy().script({ method: "HEAD", path: /slow\/app\/manifests/, fault: { kind: "stall" } }, { method: "GET", path: /slow\/app\/manifests/, fault: { kind: "stall" } });
    const image = `${proxy().host}/slow/app:v1`;
    // The API server gives up after timeoutSeconds: a client with the same patience.
    const res = await hook.post(review({ object: object({ kind: "Pod", containers: [{ name: "a", image }] }) }), { query: "?timeout=2s", headersTimeout: 2000 });
    const a = answer(res);
    assert.equal(a.response.allowed, false);
    assert.match(a.response.status?.message ?? "", new RegExp(image.replace(/[.:/]/g, "\\$&")));
    assert.match(a.response.status?.message ?? "", /did not answer in time/);
    assert.equal(hook.running.cache.pending, 0, "no lookup left running");
    proxy().reset();
  });

  it("50 concurrent reviews of one new image: one registry request", async () => {
    proxy().script({ method: "HEAD", path: /hot\/app\/manifests/, fault: { kind: "delay", ms: 300 } });
    const image = `${proxy().host}/hot/app:v1`;
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => hook.post(review({ object: object({ kind: "Pod", name: `p${i}`, containers: [{ name: "a", image }] }) }))),
    );
    for (const res of answers) assert.equal(patchOf(answer(res)).length, 1);
    const heads = proxy().requests.filter((r) => r.method === "HEAD" && r.path.includes("hot/app/manifests"));
    assert.equal(heads.length, 1);
    proxy().reset();
  });

  it("SIGTERM's drain: a review in flight gets its answer; then the port is closed", async () => {
    proxy().script({ method: "HEAD", path: /drain\/app\/manifests/, fault: { kind: "delay", ms: 400 } });
    const image = `${proxy().host}/drain/app:v1`;
    const inFlight = hook.post(review({ object: object({ kind: "Pod", containers: [{ name: "a", image }] }) }));
    while (hook.running.server.activeReviews === 0) await new Promise((r) => setTimeout(r, 10));
    const stopped = hook.running.stop();
    assert.equal(patchOf(answer(await inFlight)).length, 1);
    await stopped;
    await assert.rejects(hook.post(review({ object: object({ kind: "Pod", containers: [{ name: "a", image }] }) })));
  });
});
