// Defaults of the registry stack, apart from it: config.ts reads them at
// start-up, when the stack itself (undici) is not loaded yet.

/** How long to wait for a connection (TCP and TLS). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/**
 * HTTP/1.1: requests in flight per registry host: up to 16 connections (about
 * what npm keeps open per host), HEADs and GETs pipelined up to 8 deep on each.
 * A server works through one connection's requests in turn, so it never sees
 * more than 16 at once; the network is crossed once per 128 instead of once per 16.
 */
export const DEFAULT_REGISTRY_CONCURRENCY = 128;
/** HTTP/1.1: connections per registry host at most; registryConcurrency beyond it is pipelined on them. */
export const MAX_CONNECTIONS_PER_HOST = 16;
/**
 * HTTP/2: requests in flight per registry host on its one connection, as far
 * as the server's SETTINGS_MAX_CONCURRENT_STREAMS allows (Go's servers, so
 * distribution, announce 250; Google's front ends 100).
 */
export const DEFAULT_REGISTRY_STREAMS = 250;
/**
 * HTTP/2: streams opened on a new connection before the server's SETTINGS are
 * in. Beyond the server's limit a stream is refused; RFC 9113 asks servers to
 * allow at least 100. Once the SETTINGS are in, Node holds streams over the
 * limit back itself.
 */
export const FIRST_FLIGHT_STREAMS = 100;
