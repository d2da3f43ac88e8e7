// @peculiar/x509 with the Reflect metadata polyfill its dependency injection
// (tsyringe) needs, as one module that certificates.ts imports lazily; the
// bundle carries it as a compressed string compiled on first use (scripts/lazy-chunks.mjs).
import "reflect-metadata";
export * from "@peculiar/x509";
