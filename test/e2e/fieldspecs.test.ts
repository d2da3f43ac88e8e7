// Issue 11's "every image field" through the built function against a real
// registry: the built-in Tekton and Argo Workflows paths, image volumes,
// user fieldSpecs (filters, implicit lists, a path that is not there, a value
// that is not a string), skip annotations on a pod template's own metadata;
// and the same walk in the webhook (JSON Patch paths of image volumes and
// Tekton steps).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse, parseDocument } from "yaml";
import { parseConfig } from "../../src/config.js";
import type { Result } from "../../src/results.js";
import { startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { seedImages } from "../support/seed.js";
import { ROOT, runFn } from "../support/run-fn.js";
import { object, review } from "../support/admission.js";
import type { Obj } from "../support/admission.js";
import { answer, patchOf, startTestWebhook } from "../support/webhook.js";
import type { TestWebhook } from "../support/webhook.js";

const IMAGES = [
  "ci/step:1", "ci/sidecar:1", "ci/template:1", "ci/action:1", "ci/volume:1",
  "wf/main:1", "wf/script:1", "wf/init:1", "wf/side:1", "wf/set:1",
  "vol/model:1", "custom/runner:1", "custom/tool:1", "custom/tool:2", "shop/app:v1",
];

interface Output {
  items: unknown[];
  results?: Result[];
}

/** A ResourceList of the YAML documents given (each indented as a list item), and a function config. */
function list(items: readonly string[], functionConfig = ""): string {
  const body = items.map((text) => text.trim().split("\n").map((line, i) => (i === 0 ? `- ${line}` : `  ${line}`)).join("\n")).join("\n");
  const config = functionConfig ? `functionConfig:\n${functionConfig.trim().split("\n").map((l) => `  ${l}`).join("\n")}\n` : "";
  return `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${body}\n${config}`;
}

/** The output with every digest this run added taken out again, and without results: must be the input, byte for byte. */
function unpinned(output: string, digests: ReadonlyMap<string, string>): string {
  let text = output.replace(/^results:\n[\s\S]*$/m, "");
  for (const digest of digests.values()) text = text.replaceAll(`@${digest}`, "");
  return text;
}

describe("every image field, against a real registry", () => {
  let registry: Registry;
  let R: string;
  const digests = new Map<string, string>();
  const pinned = (image: string): string => `${R}/${image}@${digests.get(image) ?? "?"}`;

  before(async () => {
    registry = await startRegistry();
    R = registry.host;
    const specs = IMAGES.map((image) => ({ repository: image.split(":")[0]!, tag: image.split(":")[1]!, kind: "oci-manifest" as const }));
    const pushed = await seedImages(registry, specs);
    IMAGES.forEach((image, i) => digests.set(image, pushed[i]!.digest));
  });
  after(() => registry.stop());

  const pins = (out: Output): [string | undefined, string | undefined, string][] =>
    (out.results ?? []).map((r) => [r.resourceRef?.kind, r.field?.path, r.message.replace(/ to sha256:[0-9a-f]{64}$/, "")]);

  it("Tekton: Task, ClusterTask, TaskRun, Pipeline, PipelineRun and StepAction, v1 and v1beta1; every field pinned, named by its real path, nothing else changed", async () => {
    const input = list([
      `apiVersion: tekton.dev/v1
kind: Task
metadata: {name: build}
spec:
  stepTemplate:
    image: ${R}/ci/template:1
  steps:
  - name: compile
    image: ${R}/ci/step:1 # the build step
    script: 'echo image: not-an-image'
  - name: clone
    ref: {name: git-clone}
  sidecars:
  - name: docker
    image: ${R}/ci/sidecar:1
  volumes:
  - name: tools
    image: {reference: ${R}/ci/volume:1}`,
      `apiVersion: tekton.dev/v1beta1
kind: ClusterTask
metadata: {name: shared}
spec:
  steps:
  - {name: s, image: "${R}/ci/step:1"}`,
      `apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: run}
spec:
  taskSpec:
    steps:
    - {name: s, image: ${R}/ci/step:1}`,
      `apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  tasks:
  - name: ref
    taskRef: {name: build}
  - name: inline
    taskSpec:
      steps:
      - {name: s, image: ${R}/ci/step:1}
  finally:
  - name: notify
    taskSpec:
      sidecars:
      - {name: x, image: ${R}/ci/sidecar:1}`,
      `apiVersion: tekton.dev/v1beta1
kind: PipelineRun
metadata: {name: pr}
spec:
  pipelineSpec:
    tasks:
    - name: t
      taskSpec:
        stepTemplate: {image: ${R}/ci/template:1}
    finally:
    - name: f
      taskSpec:
        steps:
        - {name: s, image: ${R}/ci/step:1}`,
      `apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata: {name: git-clone}
spec:
  image: ${R}/ci/action:1`,
      `apiVersion: example.com/v1
kind: Task
metadata: {name: not-tekton}
spec:
  steps:
  - {name: s, image: ${R}/ci/step:1}`,
    ]);
    const run = await runFn(input);
    assert.equal(run.code, 0, run.stderr);
    const out = parse(run.stdout) as Output;
    assert.deepEqual(pins(out), [
      ["Task", "spec.steps[0].image", `pinned ${R}/ci/step:1`],
      ["Task", "spec.sidecars[0].image", `pinned ${R}/ci/sidecar:1`],
      ["Task", "spec.stepTemplate.image", `pinned ${R}/ci/template:1`],
      ["Task", "spec.volumes[0].image.reference", `pinned ${R}/ci/volume:1`],
      ["ClusterTask", "spec.steps[0].image", `pinned ${R}/ci/step:1`],
      ["TaskRun", "spec.taskSpec.steps[0].image", `pinned ${R}/ci/step:1`],
      ["Pipeline", "spec.tasks[1].taskSpec.steps[0].image", `pinned ${R}/ci/step:1`],
      ["Pipeline", "spec.finally[0].taskSpec.sidecars[0].image", `pinned ${R}/ci/sidecar:1`],
      ["PipelineRun", "spec.pipelineSpec.tasks[0].taskSpec.stepTemplate.image", `pinned ${R}/ci/template:1`],
      ["PipelineRun", "spec.pipelineSpec.finally[0].taskSpec.steps[0].image", `pinned ${R}/ci/step:1`],
      ["StepAction", "spec.image", `pinned ${R}/ci/action:1`],
    ]);
    assert.ok(run.stdout.includes(`image: ${pinned("ci/step:1")} # the build step`));
    assert.ok(run.stdout.includes(`image: "${pinned("ci/step:1")}"`), "quoting kept");
    assert.equal(unpinned(run.stdout, digests), input);
    // The same image in example.com's Task stays as it was.
    assert.ok(run.stdout.includes(`- {name: s, image: ${R}/ci/step:1}\n`));
    assert.match(run.stderr, /5 unique references resolved/);
  });

  it("Argo Workflows: templates' container, script, initContainers, sidecars, containerSet, in Workflow, WorkflowTemplate, ClusterWorkflowTemplate and CronWorkflow", async () => {
    const templates = (indent: string): string =>
      `templates:
- name: main
  container: {image: ${R}/wf/main:1, command: [sh]}
  initContainers: [{name: init, image: ${R}/wf/init:1}]
  sidecars: [{name: side, image: ${R}/wf/side:1}]
- name: script
  script:
    image: ${R}/wf/script:1
    source: |
      print("image: nope")
- name: set
  containerSet:
    containers: [{name: a, image: ${R}/wf/set:1}]
- name: dag
  dag: {tasks: [{name: a, template: main}]}`.split("\n").map((l) => indent + l).join("\n");
    const input = list([
      `apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: hello-}\nspec:\n  entrypoint: main\n${templates("  ")}`,
      `apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: wt}\nspec:\n${templates("  ")}`,
      `apiVersion: argoproj.io/v1alpha1\nkind: ClusterWorkflowTemplate\nmetadata: {name: cwt}\nspec:\n${templates("  ")}`,
      `apiVersion: argoproj.io/v1alpha1\nkind: CronWorkflow\nmetadata: {name: cron}\nspec:\n  schedule: "0 * * * *"\n  workflowSpec:\n${templates("    ")}`,
    ]);
    const run = await runFn(input);
    assert.equal(run.code, 0, run.stderr);
    const out = parse(run.stdout) as Output;
    const each = (kind: string, prefix: string): [string, string, string][] => [
      [kind, `${prefix}.templates[0].container.image`, `pinned ${R}/wf/main:1`],
      [kind, `${prefix}.templates[0].initContainers[0].image`, `pinned ${R}/wf/init:1`],
      [kind, `${prefix}.templates[0].sidecars[0].image`, `pinned ${R}/wf/side:1`],
      [kind, `${prefix}.templates[1].script.image`, `pinned ${R}/wf/script:1`],
      [kind, `${prefix}.templates[2].containerSet.containers[0].image`, `pinned ${R}/wf/set:1`],
    ];
    assert.deepEqual(pins(out), [...each("Workflow", "spec"), ...each("WorkflowTemplate", "spec"), ...each("ClusterWorkflowTemplate", "spec"), ...each("CronWorkflow", "spec.workflowSpec")]);
    assert.equal(unpinned(run.stdout, digests), input);
  });

  it("errors name the real field path: a tag the registry lacks, a step image that is not a string", async () => {
    const input = list([
      `apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  steps:\n  - {name: a, image: ${R}/ci/step:missing}\n  - {name: b, image: 42}`,
      `apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: w}\nspec:\n  templates:\n  - name: x\n  - name: y\n    script: {image: ${R}/wf/script:missing}`,
    ]);
    const run = await runFn(input);
    assert.equal(run.code, 1);
    const out = parse(run.stdout) as Output;
    assert.deepEqual(out.results?.map((r) => [r.severity, r.field?.path]), [
      ["error", "spec.steps[0].image"],
      ["error", "spec.steps[1].image"],
      ["error", "spec.templates[1].script.image"],
    ]);
    assert.match(out.results?.[0]?.message ?? "", /ci\/step:missing/);
    assert.equal(out.results?.[1]?.message, 'step "b" image must be a string, got the number 42; set it to an image reference such as registry/repository:tag');
    assert.equal(out.results?.[1]?.field?.currentValue, 42);
  });

  it("image volumes (Kubernetes 1.31+) in every pod spec: Pod, Deployment, CronJob; other volume types untouched", async () => {
    const input = list([
      `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: ${R}/shop/app:v1}]\n  volumes:\n  - {name: model, image: {reference: ${R}/vol/model:1, pullPolicy: IfNotPresent}}`,
      `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: ${R}/shop/app:v1}]\n      volumes:\n      - name: cfg\n        configMap: {name: image}\n      - name: model\n        image:\n          reference: ${R}/vol/model:1`,
      `apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: "@daily"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers: [{name: a, image: ${R}/shop/app:v1}]\n          volumes: [{name: m, image: {reference: "${R}/vol/model:1"}}]`,
    ]);
    const run = await runFn(input);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(pins(parse(run.stdout) as Output).filter((p) => p[2].includes("vol/model")).map((p) => [p[0], p[1]]), [
      ["Pod", "spec.volumes[0].image.reference"],
      ["Deployment", "spec.template.spec.volumes[1].image.reference"],
      ["CronJob", "spec.jobTemplate.spec.template.spec.volumes[0].image.reference"],
    ]);
    assert.equal(unpinned(run.stdout, digests), input);
    assert.ok(run.stdout.includes(`reference: ${pinned("vol/model:1")}\n`));
  });

  describe("fieldSpecs", () => {
    const runner = (): string => `apiVersion: ci.example.com/v1
kind: Runner
metadata: {name: r}
spec:
  runner:
    image: ${R}/custom/runner:1
  jobs:
  - name: a
    tools: [${R}/custom/tool:1, ${R}/custom/tool:2]
  - name: b
    tools:
    - ${R}/custom/tool:1`;
    const other = (): string => `apiVersion: other.example.com/v1
kind: Runner
metadata: {name: other}
spec:
  runner: {image: ${R}/custom/runner:1}`;
    const typed = (specs: string): string => `apiVersion: fn.krm-digester.dev/v1alpha1\nkind: DigesterConfig\nmetadata: {name: c}\nfieldSpecs:\n${specs}`;

    it("typed config: a group/kind filter picks one Runner, lists are walked implicitly, results name each field", async () => {
      const input = list([runner(), other()], typed("- {group: ci.example.com, kind: Runner, path: spec/runner/image}\n- {kind: Runner, version: v1, path: spec/jobs/tools}"));
      const run = await runFn(input);
      assert.equal(run.code, 0, run.stderr);
      const out = parse(run.stdout) as Output;
      assert.deepEqual(out.results?.map((r) => [r.resourceRef?.name, r.field?.path, r.field?.proposedValue]), [
        ["r", "spec.runner.image", pinned("custom/runner:1")],
        ["r", "spec.jobs[0].tools[0]", pinned("custom/tool:1")],
        ["r", "spec.jobs[0].tools[1]", pinned("custom/tool:2")],
        ["r", "spec.jobs[1].tools[0]", pinned("custom/tool:1")],
      ]);
      // other.example.com's Runner has no list of tools, and the group filter keeps its runner image as it is.
      assert.ok(run.stdout.includes(`runner: {image: ${R}/custom/runner:1}`));
      assert.equal(unpinned(run.stdout, digests), input);
    });

    it("ConfigMap: the list as a YAML string (kpt fn eval -- fieldSpecs='[…]'); a path that is not there changes nothing and is no error", async () => {
      const config = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  fieldSpecs: "[{kind: Runner, path: spec/runner/image}, {path: spec/nothing/here}, {kind: Deployment, path: spec/template/spec/containers/image}]"`;
      const input = list([runner(), `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: ${R}/shop/app:v1}]`], config);
      const run = await runFn(input);
      assert.equal(run.code, 0, run.stderr);
      const out = parse(run.stdout) as Output;
      // kustomize's own Deployment path, pasted: the field is pinned once, not twice.
      assert.deepEqual(out.results?.map((r) => r.field?.path), ["spec.runner.image", "spec.template.spec.containers[0].image"]);
    });

    it("a path that reaches a mapping or a number is an error naming the field, the fieldSpec and what to do; nothing is resolved from it", async () => {
      const input = list([runner(), `apiVersion: ci.example.com/v1\nkind: Runner\nmetadata: {name: n}\nspec:\n  runner: {image: 7}`], typed("- {kind: Runner, path: spec/runner}\n- {kind: Runner, path: spec/runner/image}"));
      const run = await runFn(input);
      assert.equal(run.code, 1);
      const out = parse(run.stdout) as Output;
      assert.deepEqual(out.results?.map((r) => [r.severity, r.resourceRef?.name, r.field?.path, r.message.split(";")[0]]), [
        ["error", "r", "spec.runner", "spec.runner must be an image string (fieldSpecs path spec/runner), got a mapping"],
        ["info", "r", "spec.runner.image", `pinned ${R}/custom/runner:1 to ${digests.get("custom/runner:1")}`],
        ["error", "n", "spec.runner", "spec.runner must be an image string (fieldSpecs path spec/runner), got a mapping"],
        ["error", "n", "spec.runner.image", "spec.runner.image must be an image string (fieldSpecs path spec/runner/image), got the number 7"],
      ]);
      assert.match(out.results?.[0]?.message ?? "", /; point the fieldSpecs path at the field that holds the image reference/);
    });

    it("a bad fieldSpecs value is an error on the key with the shape allowed, and nothing is resolved", async () => {
      for (const [config, pattern] of [
        [`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  fieldSpecs: "[{kind: Runner, paht: spec/runner/image}]"`, /^functionConfig: fieldSpecs: entry 0: unknown key "paht"; allowed: group, version, kind, path/],
        [typed("  spec/runner/image"), /^functionConfig: fieldSpecs: expected a list of \{group, version, kind, path\} mappings/],
      ] as const) {
        const run = await runFn(list([runner()], config));
        assert.equal(run.code, 1);
        const out = parse(run.stdout) as Output;
        assert.equal(out.results?.length, 1);
        assert.match(out.results?.[0]?.field?.path ?? "", /^functionConfig\.(data\.)?fieldSpecs$/);
        assert.match(out.results?.[0]?.message ?? "", pattern);
        assert.ok(!run.stdout.includes("@sha256:"));
      }
    });
  });

  describe("skip annotations on a pod template's own metadata", () => {
    it("skip on spec.template.metadata, skip-containers on CronJob's jobTemplate.spec.template.metadata: info results naming where", async () => {
      const input = list([
        `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    metadata:\n      annotations: {krm-digester.dev/skip: "true"}\n    spec:\n      containers: [{name: a, image: ${R}/shop/app:v1}]\n      volumes: [{name: m, image: {reference: ${R}/vol/model:1}}]`,
        `apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        metadata:\n          annotations:\n            krm-digester.dev/skip-containers: istio-proxy\n        spec:\n          containers:\n          - {name: a, image: ${R}/shop/app:v1}\n          - {name: istio-proxy, image: ${R}/shop/app:v1}`,
      ]);
      const run = await runFn(input);
      assert.equal(run.code, 0, run.stderr);
      const out = parse(run.stdout) as Output;
      assert.deepEqual(out.results?.map((r) => [r.severity, r.field?.path, r.message.replace(/ to sha256:[0-9a-f]{64}$/, "")]), [
        ["info", "spec.template.spec.containers[0].image", `left ${R}/shop/app:v1 alone: its pod template has annotation krm-digester.dev/skip: "true" (spec.template.metadata.annotations)`],
        ["info", "spec.template.spec.volumes[0].image.reference", `left ${R}/vol/model:1 alone: its pod template has annotation krm-digester.dev/skip: "true" (spec.template.metadata.annotations)`],
        ["info", "spec.jobTemplate.spec.template.spec.containers[0].image", `pinned ${R}/shop/app:v1`],
        [
          "info",
          "spec.jobTemplate.spec.template.spec.containers[1].image",
          `left ${R}/shop/app:v1 alone: container "istio-proxy" is listed in its pod template's annotation krm-digester.dev/skip-containers (spec.jobTemplate.spec.template.metadata.annotations)`,
        ],
      ]);
    });
  });
});

describe("every image field in the webhook (real HTTPS, real registry)", () => {
  let registry: Registry;
  let hook: TestWebhook;
  let app: string;
  let model: string;
  let step: string;

  before(async () => {
    registry = await startRegistry();
    const pushed = await seedImages(registry, [
      { repository: "shop/app", tag: "v1", kind: "oci-manifest" },
      { repository: "vol/model", tag: "1", kind: "oci-index" },
      { repository: "ci/step", tag: "1", kind: "docker-manifest" },
    ]);
    [app, model, step] = pushed.map((p) => p.digest) as [string, string, string];
    hook = await startTestWebhook();
  });
  after(async () => {
    await hook.stop();
    await registry.stop();
  });

  const withVolumes = (obj: Obj, path: readonly string[], volumes: unknown[]): Obj => {
    const spec = path.reduce<Obj>((node, key) => node[key] as Obj, obj);
    spec.volumes = volumes;
    return obj;
  };

  it("image volumes are pinned at admission, with JSON Patch paths to volumes[i].image.reference", async () => {
    const h = registry.host;
    const deployment = withVolumes(object({ kind: "Deployment", containers: [{ name: "app", image: `${h}/shop/app:v1` }] }), ["spec", "template", "spec"], [
      { name: "cfg", configMap: { name: "c", defaultMode: 420 } },
      { name: "model", image: { reference: `${h}/vol/model:1`, pullPolicy: "IfNotPresent" } },
    ]);
    const a = answer(await hook.post(review({ object: deployment })));
    assert.equal(a.response.allowed, true);
    assert.deepEqual(patchOf(a), [
      { op: "replace", path: "/spec/template/spec/containers/0/image", value: `${h}/shop/app:v1@${app}` },
      { op: "replace", path: "/spec/template/spec/volumes/1/image/reference", value: `${h}/vol/model:1@${model}` },
    ]);
    const pod = withVolumes(object({ kind: "Pod", containers: [{ name: "app", image: `${h}/shop/app:v1@${app}` }] }), ["spec"], [{ name: "m", image: { reference: `${h}/vol/model:1` } }]);
    assert.deepEqual(patchOf(answer(await hook.post(review({ object: pod })))), [{ op: "replace", path: "/spec/volumes/0/image/reference", value: `${h}/vol/model:1@${model}` }]);
  });

  it("a pod template's skip annotation leaves its fields unpatched; a missing image volume tag denies the object, naming the field", async () => {
    const h = registry.host;
    const skipped = object({ kind: "Deployment", containers: [{ name: "app", image: `${h}/shop/app:v1` }] });
    ((skipped.spec as Obj).template as Obj).metadata = { labels: { app: "web" }, annotations: { "krm-digester.dev/skip": "true" } };
    assert.deepEqual(patchOf(answer(await hook.post(review({ object: skipped })))), []);
    const missing = withVolumes(object({ kind: "Pod", containers: [{ name: "app", image: `${h}/shop/app:v1` }] }), ["spec"], [{ name: "m", image: { reference: `${h}/vol/model:nope` } }]);
    const a = answer(await hook.post(review({ object: missing })));
    assert.equal(a.response.allowed, false);
    assert.match(a.response.status?.message ?? "", /spec\.volumes\[0\]\.image\.reference: .*vol\/model:nope/);
  });

  it("Tekton and Argo objects (not in the shipped rules, but if a cluster sends them): built-in paths patched", async () => {
    const h = registry.host;
    const task: Obj = { apiVersion: "tekton.dev/v1", kind: "Task", metadata: { name: "t", namespace: "shop" }, spec: { steps: [{ name: "s", image: `${h}/ci/step:1`, script: "echo" }] } };
    const body = review({ object: task, kind: "Pod" });
    const request = body.request as Obj;
    const gvk = { group: "tekton.dev", version: "v1", kind: "Task" };
    Object.assign(request, { kind: gvk, requestKind: gvk, resource: { group: "tekton.dev", version: "v1", resource: "tasks" } });
    assert.deepEqual(patchOf(answer(await hook.post(body))), [{ op: "replace", path: "/spec/steps/0/image", value: `${h}/ci/step:1@${step}` }]);
  });
});

describe("fn-config/ fieldSpecs example", () => {
  it("fn-config/digester.yaml and configmap.yaml set the same fieldSpecs without a problem", async () => {
    const read = async (file: string) => {
      const document = parseDocument(await readFile(join(ROOT, "fn-config", file), "utf8"));
      const config = parseConfig(document.contents ?? undefined, document);
      assert.deepEqual(config.problems, [], file);
      return config.options.fieldSpecs.map((s) => [s.group, s.version, s.kind, s.path]);
    };
    const typed = await read("digester.yaml");
    assert.ok(typed.length > 0);
    assert.deepEqual(await read("configmap.yaml"), typed);
  });
});
