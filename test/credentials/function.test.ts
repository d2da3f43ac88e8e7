// Pull secrets through the whole function with a recording digest source:
// which lookups share a request, and where warnings about Secrets go.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CredentialScope } from "../../src/credentials/pull-secrets.js";
import type { ClosableSource } from "../../src/function.js";
import { runFunction } from "../../src/function.js";
import type { ImageReference } from "../../src/name/reference.js";

class Recorder implements ClosableSource {
  readonly calls: { image: string; secret: string | undefined; id: string | undefined }[] = [];
  resolveDigest(ref: ImageReference, scope?: CredentialScope): Promise<string> {
    this.calls.push({ image: ref.original, secret: scope?.entry.secret, id: scope?.id });
    return Promise.resolve(`sha256:${"a".repeat(64)}`);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const b64 = (s: string): string => Buffer.from(s).toString("base64");
const auths = b64(JSON.stringify({ auths: { "registry.example.com": { auth: b64("u:p") } } }));

function secret(name: string, namespace: string, type = "kubernetes.io/dockerconfigjson"): string {
  return `- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: ${name}\n    namespace: ${namespace}\n    annotations:\n      config.kubernetes.io/path: secrets.yaml\n  type: ${type}\n  data:\n    .dockerconfigjson: ${auths}\n`;
}

function pod(name: string, namespace: string, image: string, secrets: string[]): string {
  const pull = secrets.length ? `    imagePullSecrets:\n${secrets.map((s) => `    - name: ${s}\n`).join("")}` : "";
  return `- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: ${name}\n    namespace: ${namespace}\n  spec:\n${pull}    containers:\n    - name: c\n      image: ${image}\n`;
}

const list = (...items: string[]): string => `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items.join("")}`;

describe("pull secrets in the function", () => {
  it("shares one lookup between workloads using the same secret entry, and keeps other namespaces apart", async () => {
    const source = new Recorder();
    const image = "registry.example.com/app:1";
    const out = await runFunction(
      list(
        secret("regcred", "prod"),
        secret("regcred", "staging"),
        pod("a", "prod", image, ["regcred"]),
        pod("b", "prod", image, ["regcred"]),
        pod("c", "staging", image, ["regcred"]),
        pod("d", "dev", image, ["regcred"]),
        pod("e", "prod", "nginx:1", ["regcred"]),
      ),
      () => source,
    );
    assert.equal(out.exitCode, 0);
    const calls = [...source.calls].sort((x, y) => `${x.image}${x.secret ?? ""}`.localeCompare(`${y.image}${y.secret ?? ""}`));
    assert.deepEqual(
      calls.map((c) => [c.image, c.secret]),
      [
        ["nginx:1", undefined],
        [image, undefined],
        [image, "prod/regcred"],
        [image, "staging/regcred"],
      ],
    );
    assert.equal(out.stats.unique, 4);
    assert.equal(out.stats.pinned, 5);
  });

  it("warns on a named Secret that holds no registry credentials, and still pins", async () => {
    const source = new Recorder();
    const out = await runFunction(list(secret("opaque", "prod", "Opaque"), pod("a", "prod", "registry.example.com/app:1", ["opaque"])), () => source);
    assert.equal(out.exitCode, 0);
    const warnings = out.results.filter((r) => r.severity === "warning");
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]?.message ?? "", /^Secret prod\/opaque named in imagePullSecrets has type "Opaque"/);
    assert.deepEqual(warnings[0]?.resourceRef, { apiVersion: "v1", kind: "Secret", name: "opaque", namespace: "prod" });
    assert.deepEqual(warnings[0]?.file, { path: "secrets.yaml" });
    assert.equal(source.calls[0]?.secret, undefined);
  });
});
