// SIGTERM as a webhook behind a Service must take it, on the built binary:
// /readyz fails at once, reviews that still arrive during --shutdown-delay are
// answered (the endpoints and kube-proxy learn of the change late), then the
// port closes, the review in flight gets its answer, and the process exits 0.
// The registry answer of the review in flight is held by the test (no timing):
// a second SIGTERM ends the delay, as the CLI documents.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { Server } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Agent, request } from "undici";
import { object, review } from "../support/admission.js";
import { createCa } from "../support/certs.js";
import type { TestCa } from "../support/certs.js";
import { forward } from "../support/fault-proxy.js";
import { freePort, startRegistry } from "../support/registry.js";
import type { Registry } from "../support/registry.js";
import { BUNDLE } from "../support/run-fn.js";
import { pushOciManifest } from "../support/seed.js";
import { answer, patchOf, writePair } from "../support/webhook.js";

/** A front for the registry that holds HEADs of held/app until released. */
async function holdingFront(registry: Registry): Promise<{ server: Server; host: string; arrived: Promise<void>; release(): void }> {
  let release = (): void => undefined;
  const gate = new Promise<void>((r) => (release = r));
  let arrivedNow = (): void => undefined;
  const arrived = new Promise<void>((r) => (arrivedNow = r));
  const server = createServer((req, res) => {
    if (req.method === "HEAD" && (req.url ?? "").includes("/held/app/manifests/")) {
      arrivedNow();
      void gate.then(() => forward(registry, req, res));
      return;
    }
    void forward(registry, req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  assert.ok(address && typeof address === "object");
  return { server, host: `127.0.0.1:${address.port}`, arrived, release };
}

const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(false)));
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`gave up waiting until ${what}`);
}

describe("krm-digester webhook: SIGTERM behind a Service (the built binary)", () => {
  let registry: Registry;
  let ca: TestCa;
  let work: string;
  before(async () => {
    registry = await startRegistry();
    await pushOciManifest(registry, "held/app", "v1");
    await pushOciManifest(registry, "quick/app", "v1");
    ca = await createCa("krm-digester shutdown test CA");
    work = await mkdtemp(join(tmpdir(), "krm-digester-shutdown-"));
    await writePair(work, await ca.issue(["127.0.0.1"]));
  });
  after(async () => {
    await registry?.stop();
    ca?.remove();
    await rm(work, { recursive: true, force: true });
  });

  async function start(args: string[]): Promise<{ child: ChildProcess; port: number; health: number; out(): string; exited: Promise<number | null> }> {
    const [port, health, metrics] = [await freePort(), await freePort(), await freePort()];
    const child = spawn(
      BUNDLE,
      ["webhook", "--offline", "--disable-cert-rotation", `--cert-dir=${work}`, `--port=${port}`, `--health-addr=127.0.0.1:${health}`, `--metrics-addr=127.0.0.1:${metrics}`, ...args],
      { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH, HOME: work } },
    );
    let out = "";
    child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    await until("the webhook serves", () => out.includes("webhook serving") || child.exitCode !== null);
    assert.ok(out.includes("webhook serving"), out);
    return { child, port, health, out: () => out, exited };
  }

  const readyz = async (health: number): Promise<number> => {
    const res = await request(`http://127.0.0.1:${health}/readyz`);
    await res.body.dump();
    return res.statusCode;
  };

  it("unready at once, serving through the delay, then closed; the review in flight is answered; exit 0", async () => {
    const front = await holdingFront(registry);
    const hook = await start(["--shutdown-delay=10m"]);
    const agent = new Agent({ connect: { ca: ca.caPem } });
    const post = (image: string, dispatcher: Agent) =>
      request(`https://127.0.0.1:${hook.port}/v1/mutate?timeout=30s`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(review({ object: object({ kind: "Pod", containers: [{ name: "a", image }] }) })),
        dispatcher,
      }).then(async (res) => ({ status: res.statusCode, headers: res.headers, text: await res.body.text() }));
    try {
      assert.equal(await readyz(hook.health), 200);
      // A review in flight: its registry answer is held.
      let settled = false;
      const inFlight = post(`${front.host}/held/app:v1`, agent).finally(() => (settled = true));
      await front.arrived;

      hook.child.kill("SIGTERM");
      await until("/readyz fails", async () => (await readyz(hook.health)) === 503);
      // During the delay: a new review, on a new connection, is served, and its connection is not kept.
      const fresh = new Agent({ connect: { ca: ca.caPem } });
      const during = await post(`${front.host}/quick/app:v1`, fresh);
      await fresh.close();
      const a = answer({ status: during.status, json: JSON.parse(during.text) as unknown, text: during.text });
      assert.equal(patchOf(a).length, 1, during.text);
      assert.equal(during.headers.connection, "close");
      assert.equal(await refused(hook.port), false, "still accepting during the delay");
      assert.match(hook.out(), /SIGTERM: unready, still serving for the shutdown delay/);

      // A second SIGTERM ends the delay: the port closes while the held review is still in flight.
      hook.child.kill("SIGTERM");
      await until("the port is closed", () => refused(hook.port));
      assert.equal(settled, false, "the held review is still in flight");
      assert.equal(hook.child.exitCode, null, "the process waits for it");

      front.release();
      const held = await inFlight;
      assert.equal(patchOf(answer({ status: held.status, json: JSON.parse(held.text) as unknown, text: held.text })).length, 1, held.text);
      assert.equal(await hook.exited, 0, hook.out());
      assert.match(hook.out(), /"msg":"stopped"/);
    } finally {
      front.release();
      hook.child.kill("SIGKILL");
      await agent.close();
      await new Promise<void>((r) => front.server.close(() => r()));
    }
  });

  it("the delay ends by itself: with nothing in flight the process exits 0 after it", async () => {
    const hook = await start(["--shutdown-delay=300ms"]);
    try {
      hook.child.kill("SIGTERM");
      await until("/readyz fails", async () => (await readyz(hook.health).catch(() => 503)) === 503);
      assert.equal(await hook.exited, 0, hook.out());
      assert.match(hook.out(), /"shutdownDelayMs":300/);
      assert.match(hook.out(), /"msg":"draining"/);
    } finally {
      hook.child.kill("SIGKILL");
    }
  });
});
