// The function over the ResourceList with a fake digest source: which fields
// are visited, what the output keeps byte for byte, results and exit codes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { runFunction } from "../../src/function.js";
import { parseReference } from "../../src/name/reference.js";
import { InputError } from "../../src/resourcelist/errors.js";
import type { Result } from "../../src/results.js";
import { FakeSource, fakeDigest } from "../support/fake-source.js";

const digestOf = (image: string): string => fakeDigest(parseReference(image));
const pinned = (image: string): string => `${image}@${digestOf(image)}`;

function list(items: string, extra = ""): string {
  return `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items}${extra}`;
}

async function run(input: string, source = new FakeSource()) {
  const out = await runFunction(input, () => source);
  return { ...out, source };
}

/** The output without its results block, to compare with the input. */
function withoutResults(output: string): string {
  return output.replace(/^results:\n(?:[- ].*\n?)*/m, "");
}

describe("which fields are pinned", () => {
  const cases: [string, string, string[]][] = [
    ["Pod", "spec", ["containers", "initContainers", "ephemeralContainers"]],
    ["PodTemplate", "template.spec", ["containers"]],
    ["Deployment", "spec.template.spec", ["containers", "initContainers"]],
    ["ReplicaSet", "spec.template.spec", ["containers"]],
    ["StatefulSet", "spec.template.spec", ["containers"]],
    ["DaemonSet", "spec.template.spec", ["containers"]],
    ["ReplicationController", "spec.template.spec", ["containers"]],
    ["Job", "spec.template.spec", ["containers"]],
    ["CronJob", "spec.jobTemplate.spec.template.spec", ["containers", "initContainers"]],
    ["Rollout", "spec.template.spec", ["containers"]],
  ];
  for (const [kind, path, lists] of cases) {
    it(`${kind}: ${lists.join(", ")} under ${path}`, async () => {
      const keys = path.split(".");
      let body = "";
      keys.forEach((key, depth) => (body += `${"  ".repeat(depth + 1)}${key}:\n`));
      const pad = "  ".repeat(keys.length + 1);
      lists.forEach((l, i) => (body += `${pad}${l}:\n${pad}- name: c${i}\n${pad}  image: reg.example/${kind.toLowerCase()}/${l.toLowerCase()}:v${i}\n`));
      const input = list(`- apiVersion: v1\n  kind: ${kind}\n  metadata:\n    name: x\n${body}`);
      const out = await run(input);
      assert.equal(out.exitCode, 0);
      const fields = out.results.map((r) => r.field?.path);
      assert.deepEqual(fields, lists.map((l) => `${path}.${l}[0].image`));
      for (const [i, l] of lists.entries()) {
        const image = `reg.example/${kind.toLowerCase()}/${l.toLowerCase()}:v${i}`;
        assert.ok(out.output.includes(`image: ${pinned(image)}\n`), `${image} pinned`);
      }
    });
  }

  it("a Knative Service (custom resource with spec.template.spec) is pinned", async () => {
    const input = list(`- apiVersion: serving.knative.dev/v1
  kind: Service
  metadata: {name: hello}
  spec:
    template:
      spec:
        containers:
        - image: ghcr.io/knative/helloworld-go:latest
`);
    const out = await run(input);
    assert.ok(out.output.includes(`- image: ${pinned("ghcr.io/knative/helloworld-go:latest")}\n`));
  });

  it("leaves image keys outside container lists alone", async () => {
    const items = `- apiVersion: v1
  kind: ConfigMap
  metadata: {name: cfg}
  data:
    image: nginx:1.25
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web}
  spec:
    image: nginx:1.25
    template:
      spec:
        containers:
        - name: web
          image: nginx:1.25
          args: ["--image", "nginx:1.25"]
          env:
          - name: IMAGE
            value: nginx:1.25
          - name: image
            value: "busybox"
`;
    const out = await run(list(items));
    assert.equal(out.results.length, 1);
    assert.equal(out.results[0]?.field?.path, "spec.template.spec.containers[0].image");
    assert.equal(withoutResults(out.output), list(items).replace("          image: nginx:1.25", `          image: ${pinned("nginx:1.25")}`));
  });

  it("skips local-config items, already pinned images and skipPrefixes", async () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const items = `- apiVersion: kpt.dev/v1
  kind: Kptfile
  metadata:
    name: pkg
    annotations:
      config.kubernetes.io/local-config: "true"
  spec:
    containers:
    - image: nginx
- apiVersion: v1
  kind: Pod
  metadata: {name: p}
  spec:
    containers:
    - image: nginx@${digest}
    - image: nginx:1.2@${digest}
    - image: internal.example/skip/me:1
    - image: nginx:1.25
`;
    const input = list(items, "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  data:\n    skipPrefixes: internal.example/skip/, other\n");
    const out = await run(input);
    assert.deepEqual(out.source.calls, ["docker.io/library/nginx:1.25"]);
    // A skipPrefixes skip is an info result naming the entry (issue 11); a digest already written stays silent.
    assert.deepEqual(
      out.results.map((r) => [r.severity, r.field?.path, r.message]),
      [
        ["info", "spec.containers[2].image", 'left internal.example/skip/me:1 alone: it starts with skipPrefixes entry "internal.example/skip/"'],
        ["info", "spec.containers[3].image", `pinned nginx:1.25 to ${digestOf("nginx:1.25")}`],
      ],
    );
  });
});

describe("resolving", () => {
  it("resolves each unique reference once: 40 pods, 2 images, 2 lookups", async () => {
    let items = "";
    for (let i = 0; i < 40; i++) {
      const image = i % 2 === 0 ? "nginx" : "docker.io/library/nginx:latest";
      items += `- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p${i}\n  spec:\n    containers:\n    - name: a\n      image: ${image}\n    - name: b\n      image: quay.io/app:${i % 2}\n`;
    }
    const out = await run(list(items));
    assert.equal(out.source.calls.length, 3);
    assert.equal(out.stats.pinned, 80);
    assert.ok(out.source.closed);
    // The user's string is kept, and a bare name is resolved as latest.
    assert.ok(out.output.includes(`image: nginx@${digestOf("nginx:latest")}\n`));
  });

  it("reports every failure with image, resource, field and file, pins the rest, exits 1", async () => {
    const items = `- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: web
    namespace: prod
    annotations:
      config.kubernetes.io/path: web.yaml
      config.kubernetes.io/index: '0'
  spec:
    template:
      spec:
        containers:
        - name: ok
          image: nginx:1
        - name: missing
          image: nginx:nope
        - name: bad
          image: "Not A Ref"
        - name: none
        - name: number
          image: 42
        - "string container"
`;
    const source = new FakeSource({ "nginx:nope": new Error("tag \"nope\" not found in repository docker.io/library/nginx") });
    const out = await run(list(items), source);
    assert.equal(out.exitCode, 1);
    const errors = out.results.filter((r) => r.severity === "error");
    assert.equal(errors.length, 5);
    const byPath = new Map<string | undefined, Result>(errors.map((r) => [r.field?.path, r]));
    const base = "spec.template.spec.containers";
    assert.match(byPath.get(`${base}[1].image`)?.message ?? "", /nginx:nope.*not found/);
    assert.match(byPath.get(`${base}[2].image`)?.message ?? "", /invalid image reference "Not A Ref"/);
    assert.match(byPath.get(`${base}[3].image`)?.message ?? "", /container "none" has no image/);
    assert.match(byPath.get(`${base}[4].image`)?.message ?? "", /must be a string, got the number 42/);
    assert.match(byPath.get(`${base}[5]`)?.message ?? "", /container must be a mapping/);
    for (const e of errors) {
      assert.deepEqual(e.resourceRef, { apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: "prod" });
      assert.deepEqual(e.file, { path: "web.yaml", index: 0 });
    }
    assert.ok(out.output.includes(`image: ${pinned("nginx:1")}\n`));
    // The results are in the output too, as YAML the spec defines.
    const parsed = parse(out.output) as { results: Result[]; items: unknown[] };
    assert.equal(parsed.results.length, 6);
    assert.equal(parsed.items.length, 1);
  });

  it("a non-object item is an error result and stays in the output", async () => {
    const input = list(`- just a string\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec:\n    containers:\n    - image: a/b\n`);
    const out = await run(input);
    assert.equal(out.exitCode, 1);
    assert.match(out.results[0]?.message ?? "", /items\[0\] is not a Kubernetes object/);
    assert.ok(out.output.startsWith(list("- just a string\n")));
  });
});

describe("what the output keeps", () => {
  const items = `# head comment of the list
- apiVersion: apps/v1 # trailing
  kind: Deployment
  metadata:
    name: web
    annotations:
      internal.config.kubernetes.io/path: 'deploy/web.yaml'
      config.k8s.io/id: '1'
      description: |-
        a block scalar
        over two lines
  spec:
    template:
      spec:
        containers:
        - # a comment at the head of an item
          name: plain
          image: nginx:1.25 # kpt-set: \${image}
        - name: double
          image: "redis:7"
        - name: single
          image: 'busybox:1.36'
        - {name: flow, image: alpine:3}
        - name: anchored
          image: &img quay.io/team/app:v1
        initContainers:
        - name: aliased
          image: *img
- apiVersion: v1
  kind: Service
  metadata:   {name: untouched}   # odd spacing survives
  spec:
    ports: [ {port: 80} ]
`;
  const expected = items
    .replace("image: nginx:1.25 #", `image: ${pinned("nginx:1.25")} #`)
    .replace('image: "redis:7"', `image: "${pinned("redis:7")}"`)
    .replace("image: 'busybox:1.36'", `image: '${pinned("busybox:1.36")}'`)
    .replace("image: alpine:3}", `image: ${pinned("alpine:3")}}`)
    .replace("&img quay.io/team/app:v1", `&img ${pinned("quay.io/team/app:v1")}`);

  it("changes only the pinned values, byte for byte", async () => {
    const out = await run(list(items));
    assert.equal(out.exitCode, 0);
    assert.equal(withoutResults(out.output), list(expected));
    // The anchored image is pinned once and reported for both fields.
    assert.equal(out.results.length, 6);
  });

  it("is idempotent: a second run changes nothing and reports nothing", async () => {
    const first = await run(list(items));
    const second = await run(withoutResults(first.output));
    assert.equal(second.output, withoutResults(first.output));
    assert.equal(second.source.calls.length, 0);
    assert.equal(second.results.length, 0);
  });

  it("writes results after the last top-level key, keeping functionConfig", async () => {
    const input = list(
      "- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec:\n    containers:\n    - image: a/b:1\n",
      "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: cfg}\n  data: {}\n",
    );
    const out = await run(input);
    const kept = input.replace("a/b:1", pinned("a/b:1"));
    assert.ok(out.output.startsWith(kept));
    assert.match(out.output.slice(kept.length), /^results:\n- message: pinned a\/b:1 to sha256:[0-9a-f]{64}\n {2}severity: info\n/);
  });

  it("appends to results already in the list", async () => {
    const input = list("- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec:\n    containers:\n    - image: a/b:1\n", "results:\n- message: earlier\n  severity: info\n");
    const out = await run(input);
    const parsed = parse(out.output) as { results: Result[] };
    assert.deepEqual(parsed.results.map((r) => r.message), ["earlier", `pinned a/b:1 to ${digestOf("a/b:1")}`]);
  });

  it("reads JSON and writes block YAML", async () => {
    const json = JSON.stringify({
      apiVersion: "config.kubernetes.io/v1",
      kind: "ResourceList",
      items: [{ apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "nginx:1" }] } }],
    });
    const out = await run(json);
    assert.ok(!out.output.trimStart().startsWith("{"));
    assert.match(out.output, /^apiVersion: config.kubernetes.io\/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n/);
    const parsed = parse(out.output) as { items: { spec: { containers: { image: string }[] } }[] };
    assert.equal(parsed.items[0]?.spec.containers[0]?.image, pinned("nginx:1"));
  });

  it("an item with nothing to pin comes out byte-identical, even with CRLF and odd indentation", async () => {
    const input = "apiVersion: config.kubernetes.io/v1\r\nkind: ResourceList\r\nitems:\r\n    -   apiVersion: v1\r\n        kind: ConfigMap\r\n        data:\r\n            k: 'v'   # c\r\n";
    const out = await run(input);
    assert.equal(out.output, input);
  });
});

describe("bad input", () => {
  const bad: [string, string, RegExp][] = [
    ["empty", "", /no input on stdin/],
    ["white space", "  \n\n", /no input on stdin/],
    ["not YAML", "a: [b\n", /not valid YAML/],
    ["a scalar", "hello", /expected a YAML mapping/],
    ["another kind", "apiVersion: v1\nkind: ConfigMap\n", /kind is "ConfigMap", expected ResourceList/],
    ["no kind", "items: []\n", /kind is missing/],
    ["wrong apiVersion", "apiVersion: v9\nkind: ResourceList\nitems: []\n", /apiVersion is "v9"/],
    ["no items", "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n", /items/],
    ["items a map", list("  a: b\n"), /items must be a list, got a mapping/],
    ["two documents", `${list("- a\n")}---\n${list("- b\n")}`, /2 YAML documents/],
  ];
  for (const [name, input, message] of bad) {
    it(name, async () => {
      await assert.rejects(run(input), (error: unknown) => error instanceof InputError && message.test(error.message));
    });
  }
  it("empty items is fine", async () => {
    const out = await run(`${list("")}`.replace("items:\n", "items: []\n"));
    assert.equal(out.exitCode, 0);
  });
});

describe("functionConfig", () => {
  const pod = "- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec:\n    containers:\n    - image: a/b:1\n";
  it("accepts the typed kind", async () => {
    const out = await run(list(pod, "functionConfig:\n  apiVersion: fn.krm-digester.dev/v1alpha1\n  kind: DigesterConfig\n  metadata: {name: d}\n  skipPrefixes: [a/]\n  concurrency: 4\n  timeout: 1m30s\n  insecureRegistries: [reg.local:5000]\n"));
    assert.equal(out.exitCode, 0);
    assert.equal(out.source.calls.length, 0);
  });
  const problems: [string, string, RegExp][] = [
    ["unknown ConfigMap key", "  apiVersion: v1\n  kind: ConfigMap\n  data:\n    skipPrefix: a\n", /unknown config key "skipPrefix"/],
    ["unknown typed key", "  apiVersion: fn.krm-digester.dev/v1alpha1\n  kind: DigesterConfig\n  concurency: 2\n", /unknown config key "concurency"/],
    ["bad concurrency", "  apiVersion: v1\n  kind: ConfigMap\n  data:\n    concurrency: lots\n", /whole number from 1 to 256/],
    ["bad timeout", "  apiVersion: v1\n  kind: ConfigMap\n  data:\n    timeout: soon\n", /duration/],
    ["zero timeout", "  apiVersion: v1\n  kind: ConfigMap\n  data:\n    timeout: 0s\n", /more than zero/],
    ["other kind", "  apiVersion: example.com/v1\n  kind: Thing\n", /unsupported functionConfig example.com\/v1\/Thing/],
  ];
  for (const [name, config, message] of problems) {
    it(`${name} is an error result and nothing is resolved`, async () => {
      const out = await run(list(pod, `functionConfig:\n${config}`));
      assert.equal(out.exitCode, 1);
      assert.equal(out.source.calls.length, 0);
      assert.match(out.results[0]?.message ?? "", message);
    });
  }
});
