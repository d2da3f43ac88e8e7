// Types for the undici modules src/registry/undici.ts loads directly: the
// public ones of what undici's index exports under the same names.
declare module "undici/lib/dispatcher/agent.js" {
  import type { Agent } from "undici";
  const value: typeof Agent;
  export default value;
}
declare module "undici/lib/dispatcher/dispatcher.js" {
  import type { Dispatcher } from "undici";
  const value: typeof Dispatcher;
  export default value;
}
declare module "undici/lib/dispatcher/proxy-agent.js" {
  import type { ProxyAgent } from "undici";
  const value: typeof ProxyAgent;
  export default value;
}
declare module "undici/lib/core/connect.js" {
  import type { buildConnector } from "undici";
  const value: typeof buildConnector;
  export default value;
}
declare module "undici/lib/api/index.js" {
  const value: Record<string, unknown>;
  export default value;
}
declare module "undici/lib/dispatcher/pool.js" {
  import type { Pool } from "undici";
  const value: typeof Pool;
  export default value;
}
declare module "undici/lib/dispatcher/client.js" {
  import type { Client } from "undici";
  const value: typeof Client;
  export default value;
}
declare module "undici/lib/core/errors.js" {
  import type { errors } from "undici";
  const value: typeof errors;
  export default value;
}
