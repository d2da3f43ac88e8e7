// The parts of undici the registry client uses, loaded without the rest.
// undici's index also loads fetch, WebSocket, EventSource, the cache, cookie
// and MIME APIs and the mocks: ~140 ms to require here, against ~50 ms for
// these modules, paid by every run that looks anything up. undici has no
// "exports" map, so its lib/ paths resolve; the lockfile pins the version and
// test/registry/undici.test.ts checks that these are the index's own objects.
import type { Agent as AgentType, Client as ClientType, Pool as PoolType, ProxyAgent as ProxyAgentType, buildConnector as Connector, errors as Errors } from "undici";
import AgentClass from "undici/lib/dispatcher/agent.js";
import ClientClass from "undici/lib/dispatcher/client.js";
import PoolClass from "undici/lib/dispatcher/pool.js";
import DispatcherClass from "undici/lib/dispatcher/dispatcher.js";
import ProxyAgentClass from "undici/lib/dispatcher/proxy-agent.js";
import buildConnectorFn from "undici/lib/core/connect.js";
import api from "undici/lib/api/index.js";
import undiciErrors from "undici/lib/core/errors.js";

// What undici's index does: request(), connect() and the rest as Dispatcher methods (ProxyAgent's tunnel uses connect()).
Object.assign(DispatcherClass.prototype, api);

export const Agent: typeof AgentType = AgentClass;
export const Pool: typeof PoolType = PoolClass;
export const Client: typeof ClientType = ClientClass;
export const ProxyAgent: typeof ProxyAgentType = ProxyAgentClass;
export const buildConnector: typeof Connector = buildConnectorFn;
export const ConnectTimeoutError: typeof Errors.ConnectTimeoutError = undiciErrors.ConnectTimeoutError;
