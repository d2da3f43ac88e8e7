import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Deadlines, GRAIN_MS, MAX_SHARED } from "../../src/webhook/deadline.js";

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
    const a = deadlines.deadline(300, "400", reason).signal;
    const fired = aborted(a);
    clock += GRAIN_MS / 2;
    const b = deadlines.deadline(300, "400", reason).signal;
    assert.equal(a, b, "deadlines in the same slot share a signal");
    const other = deadlines.deadline(300, "500", () => new Error("other")).signal;
    assert.notEqual(a, other, "another timeout (another reason): another signal");
    clock += GRAIN_MS;
    assert.notEqual(deadlines.deadline(300, "400", reason).signal, a, "the next slot: another signal");
    const ms = await fired;
    assert.ok(ms >= 300 - GRAIN_MS - 2 && ms < 300 + 200, `fired after ${ms} ms`);
    assert.equal(a.aborted, true);
    assert.match(String((a.reason as Error).message), /400 ms/);
    await aborted(other);
  });

  it("a budget too short to share gets an exact signal of its own; none is already aborted when handed out", async () => {
    const deadlines = new Deadlines();
    const a = deadlines.deadline(40, "100", () => new Error("x")).signal;
    const b = deadlines.deadline(40, "100", () => new Error("x")).signal;
    assert.notEqual(a, b);
    assert.equal(a.aborted, false);
    const ms = await aborted(a);
    assert.ok(ms >= 38, `fired after ${ms} ms, before its budget`);
    const zero = deadlines.deadline(0, "1", () => new Error("now")).signal;
    await aborted(zero);
    assert.equal(zero.aborted, true);
  });

  it("a later review gets a later signal: a shared one is never reused past its slot", async () => {
    const deadlines = new Deadlines();
    const first = deadlines.deadline(250, "300", () => new Error("x")).signal;
    await new Promise((r) => setTimeout(r, 3 * GRAIN_MS));
    const later = deadlines.deadline(250, "300", () => new Error("x")).signal;
    assert.notEqual(first, later);
    await aborted(first);
    assert.equal(later.aborted, false, "the later review's deadline has not passed yet");
    await aborted(later);
  });

  it("budgets past a minute, and reviews past the bound of shared signals, get their own, cleared when the review ends", async () => {
    const deadlines = new Deadlines();
    // ?timeout=1000h: no timer kept for days after the review.
    const long = deadlines.deadline(3_600_000_000, "x", () => new Error("x"));
    assert.equal(deadlines.pending, 0);
    long.done();
    let clock = 0;
    const many = new Deadlines(() => clock);
    for (let i = 0; i < MAX_SHARED; i++) {
      many.deadline(1000, "10000", () => new Error("x"));
      clock += GRAIN_MS;
    }
    assert.equal(many.pending, MAX_SHARED);
    const own = many.deadline(1000, "10000", () => new Error("x"));
    assert.equal(many.pending, MAX_SHARED, "bounded");
    const ms = await (async () => {
      const t0 = performance.now();
      own.done();
      await new Promise((r) => setTimeout(r, 1100));
      return performance.now() - t0;
    })();
    assert.equal(own.signal.aborted, false, `cleared when its review ended (${ms} ms later)`);
  });
});
