// Early connections (src/registry/early.ts): a function run opens its
// probes' TCP connections before the registry stack loads, and the pool makes
// its first connections over them. Against a real registry (distribution)
// behind a relay that records when each connection came; failures compared
// with the same run without them.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import diagnostics from "node:diagnostics_channel";
import { createServer, Socket } from "node:net";
import type { AddressInfo, Server } from "node:net";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { earlyOrigins, startAhead } from "../../src/core/ahead.js";
import { RegistryStack } from "../../src/core/registry-stack.js";
import { lookupsAhead } from "../../src/function.js";
import type { LookupsAhead } from "../../src/function.js";
import { parseReference } from "../../src/name/reference.js";
import { EarlySockets, endpointKey } from "../../src/registry/early.js";
import type { EarlySocket } from "../../src/registry/early.js";
import { RegistryError } from "../../src/registry/errors.js";
import { Network } from "../../src/registry/network.js";
import { useServer } from "../support/client-helpers.js";
import { freePort, startRegistry } from "../support/registry.js";
import { pushOciManifest } from "../support/seed.js";
import { startTcpRelay } from "../support/tcp-relay.js";

const podList = (image: string, config = ""): string =>
  "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n" +
  `  spec:\n    containers:\n    - name: c\n      image: ${image}\n${config}`;

const ahead = (image: string, config = ""): LookupsAhead => lookupsAhead(podList(image, config)) ?? assert.fail("nothing read ahead");

/** A server that accepts connections and says nothing; what it saw. */
async function silentServer(): Promise<{ server: Server; port: number; accepted: number; closed: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { accepted: 0, closed: 0 };
  const server = createServer((s) => {
    state.accepted++;
    sockets.add(s);
    s.on("error", () => undefined).once("close", () => state.closed++);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    get accepted() {
      return state.accepted;
    },
    get closed() {
      return state.closed;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

async function until(what: string, done: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("EarlySockets", () => {
  test("a connection is taken once; what nobody took is closed by dropAll", async () => {
    const server = await silentServer();
    try {
      const early = new EarlySockets();
      early.open(new URL(`http://127.0.0.1:${server.port}`));
      early.open(new URL(`https://127.0.0.1:${server.port}`));
      await until("both connections accepted", () => server.accepted === 2);
      const key = endpointKey("http:", "127.0.0.1", server.port);
      const taken = early.take(key) ?? assert.fail("no early socket");
      const error = await new Promise<Error | undefined>((r) => taken.ready(r));
      assert.equal(error, undefined);
      assert.ok(!taken.socket.destroyed);
      early.dropAll();
      await until("the untaken one closed", () => server.closed === 1);
      assert.equal(early.take(key), undefined, "none is left");
      taken.socket.destroy();
    } finally {
      await server.stop();
    }
  });

  test("a refused one is not handed out once it failed, and its error before anyone took it is handled", async () => {
    const port = await freePort();
    const early = new EarlySockets();
    early.open(new URL(`http://127.0.0.1:${port}`));
    const taken = early.take(endpointKey("http:", "127.0.0.1", port));
    if (taken) {
      // Taken while still connecting: it reports the refusal.
      const error = await new Promise<NodeJS.ErrnoException | undefined>((r) => taken.ready(r));
      assert.equal(error?.code, "ECONNREFUSED");
    }
    early.open(new URL(`http://127.0.0.1:${port}`));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(early.take(endpointKey("http:", "127.0.0.1", port)), undefined, "a failed connection is not taken");
  });

  test("untaken connections do not keep the process alive", async () => {
    const server = await silentServer();
    try {
      const module = fileURLToPath(new URL("../../src/registry/early.js", import.meta.url));
      const script = `import(${JSON.stringify(module)}).then(({ EarlySockets }) => new EarlySockets().open(new URL("http://127.0.0.1:${server.port}")));`;
      const started = Date.now();
      await promisify(execFile)(process.execPath, ["-e", script], { timeout: 10_000 });
      assert.equal(server.accepted, 1, "it did connect");
      assert.ok(Date.now() - started < 5_000);
    } finally {
      await server.stop();
    }
  });
});

describe("earlyOrigins: what a run connects to before its stack loads", () => {
  test("HTTPS for a remote registry, both schemes for loopback and insecure ones, nothing a proxy carries", () => {
    const hrefs = (a: LookupsAhead, env: NodeJS.ProcessEnv = {}): string[] => earlyOrigins(a, env).map((u) => u.href);
    assert.deepEqual(hrefs(ahead("ghcr.io/o/app:1")), ["https://ghcr.io/"]);
    assert.deepEqual(hrefs(ahead("nginx:1.27")), ["https://registry-1.docker.io/"], "Docker Hub's API host");
    assert.deepEqual(hrefs(ahead("127.0.0.1:5000/app:1")), ["https://127.0.0.1:5000/", "http://127.0.0.1:5000/"]);
    const insecure = ahead("reg.internal:5000/app:1", "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n  data:\n    insecureRegistries: reg.internal\n");
    assert.deepEqual(hrefs(insecure), ["https://reg.internal:5000/", "http://reg.internal:5000/"]);
    assert.deepEqual(hrefs(ahead("ghcr.io/o/app:1"), { HTTPS_PROXY: "http://proxy.internal:3128" }), [], "the pool connects to the proxy");
    assert.deepEqual(hrefs(ahead("ghcr.io/o/app:1"), { HTTPS_PROXY: "http://proxy.internal:3128", NO_PROXY: "ghcr.io" }), ["https://ghcr.io/"]);
    assert.deepEqual(hrefs(ahead("ghcr.io/o/app:1"), { HTTPS_PROXY: "ftp://nope" }), [], "an unusable proxy fails the lookups, nothing connects");
    assert.deepEqual(hrefs(ahead("127.0.0.1:5000/app:1"), { HTTPS_PROXY: "http://proxy.internal:3128" }), ["https://127.0.0.1:5000/", "http://127.0.0.1:5000/"], "loopback is never proxied");
  });
});

describe("startAhead over early connections: a real registry", () => {
  const reg = useServer(() => startRegistry());

  test("the probe's two attempts connect over the early connections, which then carry the run: no connection more than without them", async () => {
    const pushed = await pushOciManifest(reg(), "early/app", "a");
    const relay = await startTcpRelay(reg().port);
    // Which sockets startAhead's EarlySockets handed out, and which sockets undici's clients run on.
    const taken: Socket[] = [];
    const take = Object.getOwnPropertyDescriptor(EarlySockets.prototype, "take")!.value as EarlySockets["take"];
    EarlySockets.prototype.take = function (this: EarlySockets, endpoint: string) {
      const got = take.call(this, endpoint);
      if (got) taken.push(got.socket);
      return got;
    };
    const connected: { protocol: string; socket: Socket }[] = [];
    const seen = (message: unknown): void => {
      const m = message as { connectParams: { protocol: string }; socket: Socket };
      connected.push({ protocol: m.connectParams.protocol, socket: m.socket });
    };
    diagnostics.subscribe("undici:client:connected", seen);
    try {
      const started = await startAhead(ahead(`127.0.0.1:${relay.port}/early/app:a`), {});
      // The lookup the run started ahead, as the function takes it.
      const source = started.prefetched ?? assert.fail("no lookup started ahead");
      const found = await source.resolveDigest(parseReference(`127.0.0.1:${relay.port}/early/app:a`));
      assert.equal(typeof found === "string" ? found : found.digest, pushed.digest);
      assert.equal(taken.length, 2, "the HTTPS attempt and the plain probe each took one");
      const plain = connected.filter((c) => c.protocol === "http:");
      assert.equal(plain.length, 1);
      assert.ok(taken.includes(plain[0]!.socket), "the plain probe's connection is an early one");
      assert.equal(relay.accepted.length, 2, "the two early connections, no more: the HEAD reused the probe's");
      assert.deepEqual(
        relay.requests.map((r) => r.line.split(" ").slice(0, 2).join(" ")),
        ["GET /v2/", "HEAD /v2/early/app/manifests/a"],
      );
      await started.stack.close();
    } finally {
      EarlySockets.prototype.take = take;
      diagnostics.unsubscribe("undici:client:connected", seen);
      await relay.stop();
    }
  });

  test("a refused registry fails as it does without early connections, same error", async () => {
    const port = await freePort();
    const image = `127.0.0.1:${port}/early/app:a`;
    const failure = async (stack: RegistryStack): Promise<RegistryError> => {
      try {
        await stack.resolveDigest(parseReference(image));
      } catch (error) {
        assert.ok(error instanceof RegistryError, String(error));
        return error;
      } finally {
        await stack.close();
      }
      return assert.fail("it resolved");
    };
    const a = ahead(image);
    const early = await failure((await startAhead(a, {})).stack);
    const plain = await failure(new RegistryStack({ ...a.options, shortRun: true, env: {} }));
    assert.equal(early.code, "UNREACHABLE");
    assert.equal(early.message, plain.message);
  });

  test("a stack that never loaded closes its early connections", async () => {
    const server = await silentServer();
    try {
      const early = new EarlySockets();
      early.open(new URL(`https://127.0.0.1:${server.port}`));
      await until("accepted", () => server.accepted === 1);
      const a = ahead(`127.0.0.1:${server.port}/x:1`);
      await new RegistryStack({ ...a.options, shortRun: true, env: {}, early }).close();
      await until("closed", () => server.closed === 1);
    } finally {
      await server.stop();
    }
  });
});

describe("Network over an early connection that never connects", () => {
  test("plain HTTP: undici's connect timeout error after connectTimeoutMs", async () => {
    // One edge a real registry cannot show: a SYN nobody answers. A socket that is never connected
    // stands for it; its destroy(error) reaches ready() as EarlySockets' listener passes it on.
    const socket = new Socket();
    const stuck: EarlySocket = { socket, ready: (callback) => void socket.once("error", (e) => callback(e)) };
    let handed = false;
    const early = {
      take: () => (handed ? undefined : ((handed = true), stuck)),
      dropAll: () => undefined,
    } as unknown as EarlySockets;
    const network = new Network({ timeoutMs: 5_000, connectTimeoutMs: 150, env: {}, early, retry: { retries: 0 } });
    const started = Date.now();
    try {
      await assert.rejects(
        network.dispatcher(undefined).request({ origin: "http://127.0.0.1:9", path: "/v2/", method: "GET" }),
        (e: NodeJS.ErrnoException) => e.code === "UND_ERR_CONNECT_TIMEOUT" && /timeout: 150ms/.test(e.message),
      );
      assert.ok(Date.now() - started < 2_000);
    } finally {
      await network.close();
    }
  });
});
