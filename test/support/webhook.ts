// A webhook of ours for tests: started in-process on 127.0.0.1 with random
// ports, a throwaway CA's serving certificate in a temp --cert-dir, and an
// HTTPS client that trusts that CA and speaks to it as the API server does.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { startWebhook } from "../../src/webhook/webhook.js";
import type { RunningWebhook, WebhookConfig } from "../../src/webhook/webhook.js";
import { createCa } from "./certs.js";
import type { TestCa } from "./certs.js";

export interface TestWebhook {
  readonly running: RunningWebhook;
  readonly ca: TestCa;
  readonly certDir: string;
  readonly logs: Record<string, unknown>[];
  /** An HTTPS client trusting the current CA (keep-alive, like the API server). */
  readonly agent: Agent;
  post(body: unknown, options?: { readonly query?: string; readonly raw?: string | Buffer; readonly agent?: Agent; readonly headersTimeout?: number }): Promise<{ status: number; json: unknown; text: string }>;
  get(port: "health" | "metrics", path: string): Promise<{ status: number; text: string }>;
  stop(): Promise<void>;
}

export async function writePair(dir: string, pair: { key: string; cert: string }): Promise<void> {
  // The key first, then the certificate, as a rotation that writes file by file would.
  await writeFile(join(dir, "tls.key"), pair.key);
  await writeFile(join(dir, "tls.crt"), pair.cert);
}

export async function startTestWebhook(overrides: Partial<WebhookConfig> = {}): Promise<TestWebhook> {
  const ca = await createCa("krm-digester webhook test CA");
  const certDir = await mkdtemp(join(tmpdir(), "krm-digester-certs-"));
  const home = await mkdtemp(join(tmpdir(), "krm-digester-home-"));
  await writePair(certDir, await ca.issue(["127.0.0.1", "localhost"]));
  const logs: Record<string, unknown>[] = [];
  const running = await startWebhook({
    port: 0,
    host: "127.0.0.1",
    certDir,
    healthAddr: { host: "127.0.0.1", port: 0 },
    metricsAddr: { host: "127.0.0.1", port: 0 },
    dryRun: false,
    ignoreErrors: false,
    skipPrefixes: [],
    cacheTtlMs: 60_000,
    negativeCacheTtlMs: 1_000,
    cacheSize: 1_000,
    registryTimeoutMs: 10_000,
    ownNamespace: "krm-digester",
    log: (line) => void logs.push(line),
    certPollMs: 50,
    env: {},
    home,
    ...overrides,
  });
  const agent = new Agent({ connect: { ca: ca.caPem } });
  const base = `https://127.0.0.1:${running.ports.webhook}`;
  return {
    running,
    ca,
    certDir,
    logs,
    agent,
    post: async (body, options = {}) => {
      const payload = options.raw ?? JSON.stringify(body);
      const res = await request(`${base}/v1/mutate${options.query ?? "?timeout=10s"}`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, */*" },
        body: payload,
        dispatcher: options.agent ?? agent,
        ...(options.headersTimeout ? { headersTimeout: options.headersTimeout, bodyTimeout: options.headersTimeout } : {}),
      });
      const text = await res.body.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.statusCode, json, text };
    },
    get: async (which, path) => {
      const res = await request(`http://127.0.0.1:${running.ports[which]}${path}`);
      return { status: res.statusCode, text: await res.body.text() };
    },
    stop: async () => {
      await running.stop();
      await agent.close();
      ca.remove();
      await rm(certDir, { recursive: true, force: true });
      await rm(home, { recursive: true, force: true });
    },
  };
}

export interface Answer {
  readonly apiVersion: string;
  readonly kind: string;
  readonly response: {
    uid: string;
    allowed: boolean;
    patchType?: string;
    patch?: string;
    warnings?: string[];
    auditAnnotations?: Record<string, string>;
    status?: { code: number; message: string };
  };
}

export function answer(res: { status: number; json: unknown; text: string }): Answer {
  assert.equal(res.status, 200, res.text);
  return res.json as Answer;
}

export function patchOf(a: Answer): { op: string; path: string; value: string }[] {
  if (a.response.patch === undefined) return [];
  assert.equal(a.response.patchType, "JSONPatch");
  return JSON.parse(Buffer.from(a.response.patch, "base64").toString("utf8")) as { op: string; path: string; value: string }[];
}
