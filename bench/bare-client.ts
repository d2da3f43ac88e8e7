// A reference point for the benchmark: the network part of a run alone, as a
// minimal script would do it with the same library parts and limits (the
// undici modules src/registry/undici.ts loads, one `/v2/` probe, then one
// HEAD per unique reference: over HTTP/1.1 all at once (up to 128, the
// function's registryConcurrency) on 16 connections pipelined up to 8 deep,
// as the function sends them; over HTTP/2 100 at once on one connection).
// No YAML, no credentials, no retries, no results: what is left of a run's
// time once everything that is ours is taken away.
// It compiles llhttp with Liftoff only, as krm-digester does (see
// docs/field-notes.md).
//
//   node build/bench/bare-client.js INPUT.yaml http|https|https1 [CA.pem]
//
// bench/run.ts runs it bundled, on the standalone executable's Node with its
// flags, as the function starts: from build/'s module files on Node 20, its
// start and module load alone were ~120 ms of its ~300 (row a).
//
// https1: HTTPS without offering HTTP/2 (16 connections, as over plain HTTP).
// Until this pass it did not pipeline over HTTP/1.1 (100 at once in waves of
// 16), so it was no bound for the function, which does.
//
// Prints the number of HEADs answered 200 with a digest; exits 1 otherwise.
import { readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { Agent } from "../src/registry/undici.js";

const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

async function main(): Promise<number> {
  setFlagsFromString("--liftoff-only");
  const [input, scheme, caFile] = process.argv.slice(2);
  if (!input || (scheme !== "http" && scheme !== "https" && scheme !== "https1")) throw new Error("usage: bare-client INPUT.yaml http|https|https1 [CA.pem]");
  const refs = [...new Set([...readFileSync(input, "utf8").matchAll(/^\s+image: (\S+)/gm)].map((m) => m[1]!))];
  const http2 = scheme === "https";
  const agent = new Agent({
    connections: http2 ? 1 : 16,
    // A pool puts up to `pipelining` requests on a connection before it opens another: 120 HEADs
    // go on the probe's connection and 14 new ones, 8 each, all at once (the function: 16, 7-8 each).
    pipelining: http2 ? 100 : 8,
    allowH2: http2,
    ...(caFile ? { connect: { ca: readFileSync(caFile, "utf8") } } : {}),
  });
  const host = refs[0]?.split("/")[0] ?? "";
  const origin = `${scheme === "http" ? "http" : "https"}://${host}`;
  const probe = await agent.request({ origin, path: "/v2/", method: "GET" });
  await probe.body.dump();
  let next = 0;
  let ok = 0;
  const worker = async (): Promise<void> => {
    while (next < refs.length) {
      const ref = refs[next++]!;
      const slash = ref.indexOf("/");
      const colon = ref.lastIndexOf(":");
      const path = `/v2/${ref.slice(slash + 1, colon)}/manifests/${ref.slice(colon + 1)}`;
      const res = await agent.request({ origin, path, method: "HEAD", headers: { accept: ACCEPT }, reset: false });
      await res.body.dump();
      if (res.statusCode === 200 && typeof res.headers["docker-content-digest"] === "string") ok++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(http2 ? 100 : 128, refs.length) }, worker));
  await agent.close();
  process.stdout.write(`${ok}\n`);
  return ok === refs.length ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bare-client: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
