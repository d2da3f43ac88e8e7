// node:test, except that a suite skipped as a whole still counts its tests.
//
// node:test reports `describe(name, { skip }, fn)` as one skipped suite and
// never runs fn, so the summary says "skipped 0" on a machine without kpt
// while dozens of checks did not run. Imported instead of node:test, this
// module runs such a suite's body with every test in it (nested suites
// included) declared skipped with the suite's reason, and its hooks left out
// (nothing is started for tests that will not run). The summary then counts
// them: "ℹ skipped 23". describe, it/test and the four hooks are wrapped;
// anything else comes from node:test itself.
//
// The wrappers are used only on a machine where a suite can be skipped (a
// tool that skipWithout checks is missing): node:test records the location
// of its caller ("test at FILE:LINE" under a failure), which would then be
// this file. Where every tool is installed, these are node:test's own
// functions, so failures point to the test files as before.
import { AsyncLocalStorage } from "node:async_hooks";
import * as nodeTest from "node:test";
import type { SuiteContext, TestContext, TestOptions } from "node:test";
import { KPT, KUBECTL } from "./kpt.js";

const wrap = KPT === undefined || KUBECTL === undefined;

export { mock } from "node:test";

/** The skip reason of the skipped suite whose body is being declared, if any. */
const skipping = new AsyncLocalStorage<string>();

type SuiteFn = (s: SuiteContext) => void | Promise<void>;
type TestFn = (t: TestContext, done: (result?: unknown) => void) => void | Promise<void>;
type HookFn = Parameters<typeof nodeTest.before>[0];

function split<F>(a: TestOptions | F | undefined, b: F | undefined): [TestOptions, F | undefined] {
  return typeof a === "function" ? [{}, a] : [a ?? {}, b];
}

function reasonOf(skip: TestOptions["skip"]): string | undefined {
  if (skip === undefined || skip === false) return undefined;
  return skip === true ? "skipped" : skip;
}

function skippableDescribe(name: string, fn?: SuiteFn): void;
function skippableDescribe(name: string, options: TestOptions, fn?: SuiteFn): void;
function skippableDescribe(name: string, a?: TestOptions | SuiteFn, b?: SuiteFn): void {
  const [options, fn] = split(a, b);
  const reason = skipping.getStore() ?? reasonOf(options.skip);
  if (reason === undefined) {
    void nodeTest.describe(name, options, fn);
    return;
  }
  void nodeTest.describe(name, { ...options, skip: undefined }, (s) => skipping.run(reason, () => fn?.(s)));
}

function skippableIt(name: string, fn?: TestFn): void;
function skippableIt(name: string, options: TestOptions, fn?: TestFn): void;
function skippableIt(name: string, a?: TestOptions | TestFn, b?: TestFn): void {
  const [options, fn] = split(a, b);
  const reason = skipping.getStore();
  if (reason === undefined) void nodeTest.it(name, options, fn);
  else void nodeTest.it(name, { ...options, skip: reason }, () => {});
}

/** Hooks of a skipped suite are not registered: no set-up for tests that will not run. */
const hook =
  (register: (fn: HookFn, options?: nodeTest.HookOptions) => void) =>
  (fn: HookFn, options?: nodeTest.HookOptions): void => {
    if (skipping.getStore() === undefined) register(fn, options);
  };
type Hook = ReturnType<typeof hook>;

export const describe: typeof skippableDescribe = wrap ? skippableDescribe : nodeTest.describe;
export const it: typeof skippableIt = wrap ? skippableIt : nodeTest.it;
export const test = it;
export const before = (wrap ? hook(nodeTest.before) : nodeTest.before) as Hook;
export const after = (wrap ? hook(nodeTest.after) : nodeTest.after) as Hook;
export const beforeEach = (wrap ? hook(nodeTest.beforeEach) : nodeTest.beforeEach) as Hook;
export const afterEach = (wrap ? hook(nodeTest.afterEach) : nodeTest.afterEach) as Hook;
