// Defaults of the registry stack, apart from it: config.ts reads them at
// start-up, when the stack itself (undici) is not loaded yet.

/** How long to wait for a connection (TCP and TLS). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** HTTP/1.1: requests in flight per registry host, one per connection (about what npm keeps open per host). */
export const DEFAULT_REGISTRY_CONCURRENCY = 16;
/** HTTP/2: requests in flight per registry host on its one connection (undici's cap; Go servers allow 250). */
export const DEFAULT_REGISTRY_STREAMS = 100;
