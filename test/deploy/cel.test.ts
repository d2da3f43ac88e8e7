// The CEL that deploy/ ships, evaluated: the MutatingWebhookConfiguration's
// matchConditions and the ValidatingAdmissionPolicy's matchConditions,
// variables, validation, message and audit annotation, against
// AdmissionReview-shaped inputs (match and no-match). No API server runs here:
// @marcbachmann/cel-js (a CEL implementation with type checking, the strings
// extension's join and, switched on, optional types, as Kubernetes enables
// them) stands in for cel-go. Expressions are read from the files as shipped.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Environment } from "@marcbachmann/cel-js";
import { parseAllDocuments } from "yaml";
import { object } from "../support/admission.js";
import type { Obj } from "../support/admission.js";
import { ROOT } from "../support/run-fn.js";

interface Named {
  readonly name: string;
  readonly expression: string;
}

async function manifest(file: string, kind: string): Promise<Obj> {
  const docs = parseAllDocuments(await readFile(join(ROOT, "deploy/base", file), "utf8")).map((d) => d.toJS() as Obj);
  const found = docs.find((d) => d.kind === kind);
  assert.ok(found, `${kind} in ${file}`);
  return found;
}

// As the API server compiles admission CEL: every binding dynamic, optional types on.
const env = new Environment({ unlistedVariablesAreDyn: true, enableOptionalTypes: true });

function evaluate(expression: string, bindings: Obj): unknown {
  // Type-checked first, as the API server does when the object is written.
  const checked = env.check(expression);
  assert.ok(checked.valid, `${expression}: ${checked.error?.message ?? "does not type-check"}`);
  return env.evaluate(expression, bindings);
}

/** The request part of an AdmissionReview for a Pod in `namespace`. */
const request = (namespace: string, operation = "CREATE") => ({
  uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
  kind: { group: "", version: "v1", kind: "Pod" },
  resource: { group: "", version: "v1", resource: "pods" },
  namespace,
  operation,
  userInfo: { username: "admin", groups: ["system:authenticated"] },
  dryRun: false,
});

describe("deploy/ CEL: the webhook's matchConditions", async () => {
  const mwc = await manifest("mutating-webhook-configuration.yaml", "MutatingWebhookConfiguration");
  const conditions = (mwc.webhooks as { matchConditions: Named[] }[])[0]?.matchConditions ?? [];
  const matches = (namespace: string): Record<string, unknown> =>
    Object.fromEntries(conditions.map((c) => [c.name, evaluate(c.expression, { request: request(namespace), object: object({ kind: "Pod", namespace, containers: [{ name: "a", image: "nginx:1.27" }] }), oldObject: null })]));

  it("an opted-in namespace: every condition true (the webhook is called)", () => {
    assert.deepEqual(matches("shop"), { "not-kube-system": true, "not-own-namespace": true });
  });

  it("kube-system and the webhook's own namespace: not called", () => {
    assert.equal(matches("kube-system")["not-kube-system"], false);
    assert.equal(matches("krm-digester")["not-own-namespace"], false);
    assert.equal(matches("krm-digester")["not-kube-system"], true);
  });
});

describe("deploy/ CEL: the unpinned-images policy", async () => {
  const policy = await manifest("validating-admission-policy.yaml", "ValidatingAdmissionPolicy");
  const spec = policy.spec as { matchConditions: Named[]; variables: Named[]; validations: { expression: string; messageExpression: string }[]; auditAnnotations: { key: string; valueExpression: string }[] };
  const pinned = `registry.example/app:v1@sha256:${"a".repeat(64)}`;

  /** What the API server would do with this Pod: matched?, allowed?, message, audit annotation. */
  function admit(pod: Obj): { matched: boolean; valid?: boolean; message?: string; audit?: unknown } {
    const bindings: Obj = { request: request("shop"), object: pod, oldObject: null };
    const matched = spec.matchConditions.every((c) => evaluate(c.expression, bindings) === true);
    if (!matched) return { matched };
    // Variables are evaluated in order, each seeing the ones before it.
    const variables: Obj = {};
    for (const v of spec.variables) variables[v.name] = evaluate(v.expression, { ...bindings, variables });
    const withVariables = { ...bindings, variables };
    const [validation] = spec.validations;
    assert.ok(validation);
    const valid = evaluate(validation.expression, withVariables) === true;
    const [audit] = spec.auditAnnotations;
    assert.ok(audit);
    return {
      matched,
      valid,
      ...(valid ? {} : { message: evaluate(validation.messageExpression, withVariables) as string }),
      audit: evaluate(audit.valueExpression, withVariables),
    };
  }

  it("a Pod whose images are all pinned: valid, no audit annotation (an empty value omits it)", () => {
    const pod = object({ kind: "Pod", containers: [{ name: "a", image: pinned }], initContainers: [{ name: "i", image: pinned }] });
    assert.deepEqual(admit(pod), { matched: true, valid: true, audit: "" });
  });

  it("unpinned images in containers, initContainers and ephemeralContainers: invalid, each named in the message and the annotation", () => {
    const pod = object({
      kind: "Pod",
      containers: [{ name: "a", image: "nginx:1.27" }, { name: "b", image: pinned }],
      initContainers: [{ name: "i", image: "busybox:1.36" }],
      ephemeralContainers: [{ name: "debug", image: "alpine:3.20" }],
    });
    const got = admit(pod);
    assert.equal(got.valid, false);
    assert.equal(got.message, "image not pinned to a digest (krm-digester could not resolve it; see its logs): nginx:1.27, busybox:1.36, alpine:3.20");
    assert.equal(got.audit, "nginx:1.27, busybox:1.36, alpine:3.20");
  });

  it("a Pod with no initContainers or ephemeralContainers fields at all is read without error", () => {
    const pod = object({ kind: "Pod", containers: [{ name: "a", image: "nginx:1.27" }] });
    assert.equal(admit(pod).valid, false);
  });

  it("not matched: mirror pods and objects annotated krm-digester.dev/skip: \"true\"; matched when the annotation says otherwise", () => {
    const unpinned = [{ name: "a", image: "nginx:1.27" }];
    assert.equal(admit(object({ kind: "Pod", containers: unpinned, annotations: { "kubernetes.io/config.mirror": "abc" } })).matched, false);
    assert.equal(admit(object({ kind: "Pod", containers: unpinned, annotations: { "krm-digester.dev/skip": "true" } })).matched, false);
    assert.deepEqual(admit(object({ kind: "Pod", containers: unpinned, annotations: { "krm-digester.dev/skip": "false", team: "shop" } })).matched, true);
  });

  it("the checker is strict: a ternary of null and a string does not type-check (why the audit annotation's empty branch is '')", () => {
    assert.equal(env.check("size([1]) == 0 ? null : 'x'").valid, false);
  });
});
