// The function reads its registries ahead of the parse and probes them while
// it parses (src/function.ts lookupsAhead): its output must stay byte for
// byte what the run without reading ahead writes, errors and exit code
// included. The binary (which reads ahead) against runFunction in-process
// with the same registry stack (which does not), on a real registry.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { RegistryStack } from "../../src/core/registry-stack.js";
import { runFunction } from "../../src/function.js";
import { startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { seedImages } from "../support/seed.js";
import { runFn } from "../support/run-fn.js";

function deployments(images: readonly string[]): string {
  const items = images
    .map(
      (image, i) =>
        `- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: d${i}\n  spec:\n    template:\n      spec:\n` +
        `        initContainers:\n        - name: init\n          image: ${image} # a comment\n        containers:\n        - name: main\n          image: "${image}"\n`,
    )
    .join("");
  return `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items}`;
}

/** The function in-process, without reading ahead (the run closes the stack it opened), and the requests it made. */
async function inProcess(input: string): Promise<{ output: string; exitCode: number; requests: string }> {
  let stack: RegistryStack | undefined;
  const out = await runFunction(input, (options) => (stack = new RegistryStack({ ...options, shortRun: true })));
  const s = stack?.stats;
  return { output: out.output, exitCode: out.exitCode, requests: s ? `(${s.head} HEAD, ${s.get} GET, ${s.token} token requests)` : "none" };
}

/** What the binary's summary line says it asked the registry. */
const requestsOf = (stderr: string): string => /\((\d+ HEAD, \d+ GET, \d+ token requests)\)/.exec(stderr)?.[0] ?? "none";

describe("reading ahead changes no byte of the output", () => {
  let registry: Registry;
  let images: string[] = [];
  before(async () => {
    registry = await startRegistry();
    const specs = Array.from({ length: 20 }, (_, i) => ({ repository: `ahead/app${i % 4}`, tag: `v${i}`, kind: "oci-manifest" as const }));
    await seedImages(registry, specs, { concurrency: 8 });
    images = specs.map((s) => `${registry.host}/${s.repository}:${s.tag}`);
  });
  after(() => registry.stop());

  const list = (bad?: number): string =>
    deployments(Array.from({ length: 600 }, (_, i) => (i === bad ? `${registry.host}/ahead/app1:no-such-tag` : images[i % images.length]!)));

  it("600 items, every image resolved: the same output, exit 0, and the same requests (each lookup started ahead, none twice)", async () => {
    const input = list();
    const [cli, own] = await Promise.all([runFn(input, { env: { ...process.env, DEBUG: "true" } }), inProcess(input)]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(own.exitCode, 0);
    assert.equal(cli.stdout, own.output);
    assert.equal(requestsOf(cli.stderr), "(20 HEAD, 0 GET, 0 token requests)", cli.stderr.slice(-600));
    assert.equal(own.requests, requestsOf(cli.stderr));
    assert.match(cli.stderr, /20 lookups started ahead of the parse, 0 of them not asked for by the run/);
  });

  it("a local-config item and a custom resource: nothing started ahead, the same requests", async () => {
    const extra =
      `- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: tpl\n    annotations:\n      config.kubernetes.io/local-config: "true"\n` +
      `  spec:\n    template:\n      spec:\n        containers:\n        - name: c\n          image: ${registry.host}/ahead/app0:not-pinned\n`;
    const input = list() + extra;
    const [cli, own] = await Promise.all([runFn(input, { env: { ...process.env, DEBUG: "true" } }), inProcess(input)]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout, own.output);
    assert.equal(requestsOf(cli.stderr), "(20 HEAD, 0 GET, 0 token requests)", cli.stderr.slice(-600));
    assert.equal(own.requests, requestsOf(cli.stderr));
    assert.doesNotMatch(cli.stderr, /started ahead/);
  });

  it("a bad image in item 500: the same results and output, exit 1", async () => {
    const input = list(500);
    const [cli, own] = await Promise.all([runFn(input), inProcess(input)]);
    assert.equal(cli.code, 1);
    assert.equal(own.exitCode, 1);
    assert.equal(cli.stdout, own.output);
    assert.equal(own.requests, requestsOf(cli.stderr));
    const results = (parse(cli.stdout) as { results: { severity: string; resourceRef?: { name?: string } }[] }).results;
    const errors = results.filter((r) => r.severity === "error");
    assert.deepEqual(errors.map((e) => e.resourceRef?.name), ["d500", "d500"]);
  });

  it("JSON input and CRLF line breaks: the same output as without reading ahead", async () => {
    for (const input of [JSON.stringify(parse(list(7))), list(7).replace(/\n/g, "\r\n")]) {
      const [cli, own] = await Promise.all([runFn(input), inProcess(input)]);
      assert.equal(cli.code, 1);
      assert.equal(cli.stdout, own.output);
    }
  });

  it("a functionConfig after the items (as kpt writes it) is honoured: skipPrefixes leaves those images alone", async () => {
    const config = `functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: digester\n  data:\n    skipPrefixes: "${registry.host}/ahead/app1"\n`;
    const input = list(500) + config;
    const [cli, own] = await Promise.all([runFn(input), inProcess(input)]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout, own.output);
    assert.match(cli.stdout, /left \S+ahead\/app1:v1 alone: it starts with skipPrefixes entry/);
  });
});
