// The walk (src/workloads.ts, src/fields/): which fields hold images, with
// which paths and segments, for pod specs (image volumes too), the built-in
// Tekton and Argo Workflows kinds and user fieldSpecs; and the fieldSpecs
// config value. No registry: these are the walk's answers on parsed YAML.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isMap, parseDocument } from "yaml";
import { parseConfig } from "../../src/config.js";
import { pathKeys, parseFieldSpecs } from "../../src/fields/field-spec.js";
import type { FieldSpec } from "../../src/fields/field-spec.js";
import { walkable } from "../../src/core/objects.js";
import { imageSlots } from "../../src/workloads.js";

function slots(yaml: string, specs: readonly FieldSpec[] = []): [string, string][] {
  const document = parseDocument(yaml, { merge: true });
  const item = document.contents;
  assert.ok(isMap(item));
  return imageSlots(item, document, specs).map((s) => [s.path, s.kind === "image" ? s.value : `! ${s.message}`]);
}

function specs(value: unknown): FieldSpec[] {
  const parsed = parseFieldSpecs(value, "typed");
  assert.ok("value" in parsed, JSON.stringify(parsed));
  return parsed.value;
}

describe("the walk: built-in image fields", () => {
  it("pod specs: image volumes after the containers, in every pod spec; other volumes are not images", () => {
    const yaml = `apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers: [{name: web, image: web:1}]
      volumes:
      - {name: cfg, configMap: {name: c}}
      - {name: model, image: {reference: models/llm:v2, pullPolicy: IfNotPresent}}
      - {name: bad, image: {reference: 42}}
      - {name: none, image: {pullPolicy: Always}}
`;
    assert.deepEqual(slots(yaml), [
      ["spec.template.spec.containers[0].image", "web:1"],
      ["spec.template.spec.volumes[1].image.reference", "models/llm:v2"],
      ["spec.template.spec.volumes[2].image.reference", '! image volume "bad" reference must be a string, got the number 42'],
      ["spec.template.spec.volumes[3].image.reference", '! image volume "none" has no reference'],
    ]);
    const cron = `apiVersion: batch/v1
kind: CronJob
spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: a, image: a:1}], volumes: [{name: v, image: {reference: data:1}}]}}}}}
`;
    assert.deepEqual(slots(cron).map((s) => s[0]), ["spec.jobTemplate.spec.template.spec.containers[0].image", "spec.jobTemplate.spec.template.spec.volumes[0].image.reference"]);
  });

  it("Tekton Task and ClusterTask: steps, sidecars, stepTemplate, volumes; a step without image (a StepAction ref) is not a problem", () => {
    for (const [apiVersion, kind] of [["tekton.dev/v1", "Task"], ["tekton.dev/v1beta1", "Task"], ["tekton.dev/v1beta1", "ClusterTask"]]) {
      const yaml = `apiVersion: ${apiVersion}
kind: ${kind}
spec:
  stepTemplate: {image: base:1}
  steps:
  - {name: build, image: golang:1.23}
  - {name: uses-action, ref: {name: git-clone}}
  sidecars: [{name: docker, image: docker:dind}]
  volumes: [{name: tools, image: {reference: tools:3}}]
`;
      assert.deepEqual(slots(yaml), [
        ["spec.steps[0].image", "golang:1.23"],
        ["spec.sidecars[0].image", "docker:dind"],
        ["spec.stepTemplate.image", "base:1"],
        ["spec.volumes[0].image.reference", "tools:3"],
      ], kind);
    }
  });

  it("Tekton task specs embedded in Pipelines, PipelineRuns and TaskRuns; StepAction", () => {
    const pipeline = `apiVersion: tekton.dev/v1
kind: Pipeline
spec:
  tasks:
  - {name: a, taskRef: {name: shared}}
  - name: b
    taskSpec: {steps: [{name: s, image: b:1}]}
  finally:
  - name: c
    taskSpec: {steps: [{name: s, image: c:1}], sidecars: [{name: x, image: x:1}]}
`;
    assert.deepEqual(slots(pipeline), [
      ["spec.tasks[1].taskSpec.steps[0].image", "b:1"],
      ["spec.finally[0].taskSpec.steps[0].image", "c:1"],
      ["spec.finally[0].taskSpec.sidecars[0].image", "x:1"],
    ]);
    const run = `apiVersion: tekton.dev/v1beta1
kind: PipelineRun
spec:
  pipelineSpec:
    tasks: [{name: b, taskSpec: {steps: [{image: b:1}]}}]
    finally: [{name: f, taskSpec: {stepTemplate: {image: t:1}}}]
`;
    assert.deepEqual(slots(run), [
      ["spec.pipelineSpec.tasks[0].taskSpec.steps[0].image", "b:1"],
      ["spec.pipelineSpec.finally[0].taskSpec.stepTemplate.image", "t:1"],
    ]);
    assert.deepEqual(slots("apiVersion: tekton.dev/v1\nkind: TaskRun\nspec: {taskSpec: {steps: [{image: s:1}]}}\n"), [["spec.taskSpec.steps[0].image", "s:1"]]);
    assert.deepEqual(slots("apiVersion: tekton.dev/v1beta1\nkind: StepAction\nspec: {image: alpine:3}\n"), [["spec.image", "alpine:3"]]);
  });

  it("Argo Workflows: container, script, initContainers, sidecars, containerSet, volumes, in every Workflow kind; CronWorkflow under workflowSpec", () => {
    const templates = `
    templates:
    - name: main
      container: {image: main:1}
      initContainers: [{name: init, image: init:1}]
      sidecars: [{name: side, image: side:1}]
    - name: run
      script: {image: python:3.12, source: print(1)}
    - name: set
      containerSet: {containers: [{name: a, image: a:1}]}
    - name: steps
      steps: [[{name: x, template: main}]]
    volumes: [{name: v, image: {reference: vol:1}}]`;
    const expected = (prefix: string): [string, string][] => [
      [`${prefix}.templates[0].container.image`, "main:1"],
      [`${prefix}.templates[0].initContainers[0].image`, "init:1"],
      [`${prefix}.templates[0].sidecars[0].image`, "side:1"],
      [`${prefix}.templates[1].script.image`, "python:3.12"],
      [`${prefix}.templates[2].containerSet.containers[0].image`, "a:1"],
      [`${prefix}.volumes[0].image.reference`, "vol:1"],
    ];
    for (const kind of ["Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate"]) {
      assert.deepEqual(slots(`apiVersion: argoproj.io/v1alpha1\nkind: ${kind}\nspec:\n  entrypoint: main${templates.replaceAll("\n    ", "\n  ")}\n`), expected("spec"), kind);
    }
    assert.deepEqual(slots(`apiVersion: argoproj.io/v1alpha1\nkind: CronWorkflow\nspec:\n  schedule: "* * * * *"\n  workflowSpec:${templates}\n`), expected("spec.workflowSpec"));
  });

  it("only tekton.dev and argoproj.io: the same shapes in another group, or another kind of the group, hold no images", () => {
    assert.deepEqual(slots("apiVersion: example.com/v1\nkind: Task\nspec: {steps: [{image: a:1}]}\n"), []);
    assert.deepEqual(slots("apiVersion: example.com/v1\nkind: Workflow\nspec: {templates: [{container: {image: a:1}}]}\n"), []);
    assert.deepEqual(slots("apiVersion: triggers.tekton.dev/v1beta1\nkind: Task\nspec: {steps: [{image: a:1}]}\n"), []);
    assert.deepEqual(slots("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec: {templates: [{container: {image: a:1}}]}\n"), []);
    // An Argo Rollout is a pod template like any workload.
    assert.deepEqual(slots("apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nspec: {template: {spec: {containers: [{name: r, image: r:1}]}}}\n"), [["spec.template.spec.containers[0].image", "r:1"]]);
  });

  it("malformed built-in fields are problems naming the field; merge keys are read as Kubernetes reads them", () => {
    const yaml = `apiVersion: tekton.dev/v1
kind: Task
spec:
  steps:
  - {name: n, image: 7}
  - {name: e, image: ""}
  - just-a-string
  sidecars: {image: x}
`;
    assert.deepEqual(slots(yaml), [
      ["spec.steps[0].image", '! step "n" image must be a string, got the number 7'],
      ["spec.steps[1].image", '! step "e" image is empty'],
      ["spec.steps[2]", '! step must be a mapping, got the string "just-a-string"'],
      ["spec.sidecars", "! sidecars must be a list, got a mapping"],
    ]);
    const merged = `apiVersion: argoproj.io/v1alpha1
kind: Workflow
base: &base {image: shared:1}
spec:
  templates:
  - name: a
    container: {<<: *base}
`;
    assert.deepEqual(slots(merged), [["spec.templates[0].container.image", "shared:1"]]);
  });
});

describe("the walk: fieldSpecs", () => {
  const runner = `apiVersion: ci.example.com/v1
kind: Runner
metadata: {name: r}
spec:
  runner: {image: runner:1}
  jobs:
  - name: a
    images: [tool:1, tool:2]
  - name: b
    images: [tool:3]
  data:
    app.image: dotted:1
`;

  it("paths with / between keys, lists walked implicitly (also at the end), keys with dots written in brackets", () => {
    assert.deepEqual(slots(runner, specs([{ path: "spec/runner/image" }, { path: "spec/jobs/images" }, { path: "spec/data/app.image" }])), [
      ["spec.runner.image", "runner:1"],
      ["spec.jobs[0].images[0]", "tool:1"],
      ["spec.jobs[0].images[1]", "tool:2"],
      ["spec.jobs[1].images[0]", "tool:3"],
      ['spec.data["app.image"]', "dotted:1"],
    ]);
    // `[]` marks a list, as kustomize allows; a leading slash too.
    assert.deepEqual(slots(runner, specs([{ path: "/spec/jobs[]/images" }])).length, 3);
  });

  it("group, version and kind filter; empty means any", () => {
    const path = "spec/runner/image";
    assert.equal(slots(runner, specs([{ kind: "Runner", path }])).length, 1);
    assert.equal(slots(runner, specs([{ group: "ci.example.com", version: "v1", kind: "Runner", path }])).length, 1);
    assert.equal(slots(runner, specs([{ group: "ci.example.com", path }])).length, 1);
    assert.equal(slots(runner, specs([{ kind: "Other", path }])).length, 0);
    assert.equal(slots(runner, specs([{ group: "other.example.com", path }])).length, 0);
    assert.equal(slots(runner, specs([{ version: "v2", path }])).length, 0);
    assert.equal(slots("apiVersion: v1\nkind: ConfigMap\ndata: {image: cm:1}\n", specs([{ group: "", version: "v1", kind: "ConfigMap", path: "data/image" }])).length, 1);
  });

  it("a path that does not exist finds nothing; a non-string value is a problem that says where to point the path", () => {
    assert.deepEqual(slots(runner, specs([{ path: "spec/missing/image" }, { path: "spec/runner/image/deeper" }])), []);
    const found = slots(runner, specs([{ path: "spec/runner" }]));
    assert.deepEqual(found, [["spec.runner", "! spec.runner must be an image string (fieldSpecs path spec/runner), got a mapping"]]);
    const document = parseDocument(runner);
    const [slot] = imageSlots(document.contents as never, document, specs([{ path: "spec/runner" }]));
    assert.ok(slot?.kind === "problem" && slot.hint?.startsWith("point the fieldSpecs path at the field that holds the image reference"));
  });

  it("a field the built-in walk finds is not found twice (kustomize's spec/template/spec/containers/image pasted as is)", () => {
    const yaml = "apiVersion: apps/v1\nkind: Deployment\nspec: {template: {spec: {containers: [{name: a, image: a:1}]}}}\n";
    assert.deepEqual(slots(yaml, specs([{ kind: "Deployment", path: "spec/template/spec/containers/image" }])), [["spec.template.spec.containers[0].image", "a:1"]]);
  });
});

describe("the fieldSpecs config value", () => {
  it("typed: a list of mappings; ConfigMap: that list as one YAML or JSON string", () => {
    const typed = parseConfig(parseDocument("apiVersion: fn.krm-digester.dev/v1alpha1\nkind: DigesterConfig\nfieldSpecs:\n- {kind: Runner, path: spec/runner/image}\n").contents as never, parseDocument(""));
    assert.deepEqual(typed.problems, []);
    assert.deepEqual(typed.options.fieldSpecs.map((s) => [s.kind, s.path, s.keys]), [["Runner", "spec/runner/image", ["spec", "runner", "image"]]]);
    for (const text of ["[{kind: Runner, path: spec/runner/image}]", '[{"kind":"Runner","path":"spec/runner/image"}]', "- kind: Runner\n  path: spec/runner/image\n"]) {
      const parsed = parseFieldSpecs(text, "configmap");
      assert.ok("value" in parsed && parsed.value[0]?.path === "spec/runner/image", text);
    }
  });

  it("bad values are errors naming the entry, the key and the shape allowed", () => {
    const problem = (value: unknown, source: "typed" | "configmap" = "typed"): string => {
      const parsed = parseFieldSpecs(value, source);
      assert.ok("problem" in parsed, JSON.stringify(value));
      return parsed.problem;
    };
    assert.match(problem({ path: "a/b" }), /^expected a list of \{group, version, kind, path\} mappings \(path required/);
    assert.match(problem("spec/runner/image"), /got a string/);
    assert.match(problem(["spec/runner/image"]), /^entry 0: expected a mapping \{group, version, kind, path\}, got a string/);
    assert.match(problem([{ paht: "a" }]), /^entry 0: unknown key "paht"; allowed: group, version, kind, path/);
    assert.match(problem([{ kind: "A" }]), /^entry 0 path: expected a path such as spec\/runner\/image .*got nothing/);
    assert.match(problem([{ path: "spec//image" }]), /^entry 0 path: key 2 of "spec\/\/image" is empty/);
    assert.match(problem([{ path: "spec/containers[0]/image" }]), /has brackets: only a trailing \[\] \(a list\) is understood/);
    assert.match(problem([{ kind: 3, path: "a" }]), /^entry 0 kind: expected a string, got number 3/);
    assert.match(problem([{ path: "a", create: true }]), /never creates an image field/);
    assert.match(problem("[{kind: Runner", "configmap"), /^the value is not YAML or JSON .*as one YAML or JSON string/);
    const config = parseConfig(parseDocument("apiVersion: v1\nkind: ConfigMap\ndata:\n  fieldSpecs: 'spec/runner/image'\n").contents as never, parseDocument(""));
    assert.equal(config.problems[0]?.field, "data.fieldSpecs");
    assert.match(config.problems[0]?.message ?? "", /^fieldSpecs: expected a list of \{group, version, kind, path\} mappings/);
  });

  it("kustomize's path syntax: \\/ is a slash inside a key", () => {
    assert.deepEqual(pathKeys("metadata/annotations/example.com\\/image"), ["metadata", "annotations", "example.com/image"]);
  });
});

describe("walkable: what the webhook keeps of an API object", () => {
  it("image volumes, pod template annotations and the spec of built-in kinds", () => {
    const deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d", managedFields: [{}] },
      spec: { template: { metadata: { annotations: { a: "b" }, labels: { x: "y" } }, spec: { containers: [{ name: "a", image: "a:1", env: [] }], volumes: [{ name: "c", configMap: {} }, { name: "m", image: { reference: "m:1" } }] } } },
    };
    assert.deepEqual(walkable(deployment), {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d" },
      spec: { template: { metadata: { annotations: { a: "b" } }, spec: { containers: [{ name: "a", image: "a:1" }], volumes: [{ name: "c" }, { name: "m", image: { reference: "m:1" } }] } } },
    });
    const task = { apiVersion: "tekton.dev/v1", kind: "Task", metadata: { name: "t" }, spec: { steps: [{ name: "s", image: "s:1" }] } };
    const kept = walkable(task);
    assert.deepEqual(kept.spec, task.spec);
    assert.notEqual(kept.spec, task.spec);
  });
});
