// src/registry/undici.ts loads undici's modules by path instead of its index:
// they must be the very objects the index exports, and loading them alone
// must give dispatchers the request API (ProxyAgent's tunnel needs connect()).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as undici from "undici";
import { Agent, Client, ConnectTimeoutError, Pool, ProxyAgent, buildConnector } from "../../src/registry/undici.js";

describe("undici loaded by module path", () => {
  test("the classes are undici's own", () => {
    assert.equal(Agent, undici.Agent);
    assert.equal(ProxyAgent, undici.ProxyAgent);
    assert.equal(Pool, undici.Pool);
    assert.equal(Client, undici.Client);
    assert.equal(buildConnector, undici.buildConnector);
    assert.equal(ConnectTimeoutError, undici.errors.ConnectTimeoutError);
  });

  test("alone, without undici's index, dispatchers have request() and connect()", async () => {
    const module = fileURLToPath(new URL("../../src/registry/undici.js", import.meta.url));
    const script = `
      const { createRequire } = require("node:module");
      import(${JSON.stringify(module)}).then((m) => {
        const agent = new m.Agent();
        const loaded = Object.keys(require.cache).filter((k) => k.includes("undici"));
        console.log(JSON.stringify({
          request: typeof agent.request,
          connect: typeof agent.connect,
          index: loaded.some((k) => /undici[\\\\/]index\\.js$/.test(k)),
          fetch: loaded.some((k) => k.includes("fetch" + require("node:path").sep + "index.js")),
        }));
      });`;
    const { stdout } = await promisify(execFile)(process.execPath, ["-e", script]);
    assert.deepEqual(JSON.parse(stdout), { request: "function", connect: "function", index: false, fetch: false });
  });
});
