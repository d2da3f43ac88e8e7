import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Deadlines, GRAIN_MS } from "../../src/webhook/deadline.js";

const aborted = (signal: AbortSignal): Promise<number> => {
  const t0 = performance.now();
  if (signal.aborted) return Promise.resolve(0);
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(performance.now() - t0), { once: true }));
};

describe("webhook: review deadlines", () => {
  // The deadlines' timers never hold the process (a server's sockets do): this test's loop is held here.
  let hold: NodeJS.Timeout;
  before(() => void (hold = setInterval(() => undefined, 1000)));
  after(() => clearInterval(hold));

  it("reviews that arrive together with the same timeout share one signal, which fires at most a grain early, with the reason", async () => {
    // A clock that starts on a slot boundary and moves only when told: the slots are exact.
    let clock = Math.ceil(performance.now() / GRAIN_MS) * GRAIN_MS;
    const deadlines = new Deadlines(() => clock);
    const reason = (): Error => new Error("the API server's timeout (400 ms) was about to pass");
    const a = deadlines.signal(300, "400", reason);
    const fired = aborted(a);
    clock += GRAIN_MS / 2;
    const b = deadlines.signal(300, "400", reason);
    assert.equal(a, b, "deadlines in the same slot share a signal");
    const other = deadlines.signal(300, "500", () => new Error("other"));
    assert.notEqual(a, other, "another timeout (another reason): another signal");
    clock += GRAIN_MS;
    assert.notEqual(deadlines.signal(300, "400", reason), a, "the next slot: another signal");
    const ms = await fired;
    assert.ok(ms >= 300 - GRAIN_MS - 2 && ms < 300 + 200, `fired after ${ms} ms`);
    assert.equal(a.aborted, true);
    assert.match(String((a.reason as Error).message), /400 ms/);
    await aborted(other);
  });

  it("a budget too short to share gets an exact signal of its own; none is already aborted when handed out", async () => {
    const deadlines = new Deadlines();
    const a = deadlines.signal(40, "100", () => new Error("x"));
    const b = deadlines.signal(40, "100", () => new Error("x"));
    assert.notEqual(a, b);
    assert.equal(a.aborted, false);
    const ms = await aborted(a);
    assert.ok(ms >= 38, `fired after ${ms} ms, before its budget`);
    const zero = deadlines.signal(0, "1", () => new Error("now"));
    await aborted(zero);
    assert.equal(zero.aborted, true);
  });

  it("a later review gets a later signal: a shared one is never reused past its slot", async () => {
    const deadlines = new Deadlines();
    const first = deadlines.signal(250, "300", () => new Error("x"));
    await new Promise((r) => setTimeout(r, 3 * GRAIN_MS));
    const later = deadlines.signal(250, "300", () => new Error("x"));
    assert.notEqual(first, later);
    await aborted(first);
    assert.equal(later.aborted, false, "the later review's deadline has not passed yet");
    await aborted(later);
  });
});
