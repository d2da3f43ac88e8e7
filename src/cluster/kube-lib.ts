// The two parts of @kubernetes/client-node that client.ts uses, as one module
// that it imports lazily. The bundle carries this module (and what it pulls in,
// ~1.8 MB) as a compressed string compiled on first use (scripts/lazy-chunks.mjs), so
// that the function's start-up does not even parse it.
export { KubeConfig } from "@kubernetes/client-node/dist/config.js";
export { Watch } from "@kubernetes/client-node/dist/watch.js";
