// The benchmark's baseline: a webhook that does what k8s-digester does with
// a review: every image of the object resolved one after another, no cache,
// nothing shared between requests but connections. Same TLS, same registry
// client (ours), so the difference measured is the design, not the HTTP stack.
//
//   node build/bench/baseline-webhook.js PORT CERT_DIR [echo]    (prints "listening" when ready)
//
// With `echo` it answers every review "allowed" without looking at it: the
// floor of HTTPS + JSON on this machine, for reading the other figures.
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import { join } from "node:path";
import { parseReference } from "../src/name/reference.js";
import { RegistryClient } from "../src/registry/client.js";

const [port, certDir, mode] = process.argv.slice(2);
const client = new RegistryClient({ timeoutMs: 10_000, env: {} });
const PATHS = [["spec"], ["template", "spec"], ["spec", "template", "spec"], ["spec", "jobTemplate", "spec", "template", "spec"]];

type Json = Record<string, unknown>;

async function mutate(object: Json): Promise<{ op: string; path: string; value: string }[]> {
  const ops: { op: string; path: string; value: string }[] = [];
  for (const path of PATHS) {
    const spec = path.reduce<unknown>((n, k) => (n as Json | undefined)?.[k], object) as Json | undefined;
    if (!spec || typeof spec !== "object") continue;
    for (const list of ["initContainers", "containers"]) {
      const containers = spec[list];
      if (!Array.isArray(containers)) continue;
      for (const [i, c] of containers.entries()) {
        const image = (c as Json).image;
        if (typeof image !== "string" || image.includes("@")) continue;
        // One after another, every time.
        const digest = await client.resolveDigest(parseReference(image));
        ops.push({ op: "replace", path: `/${[...path, list, i, "image"].join("/")}`, value: `${image}@${digest}` });
      }
    }
  }
  return ops;
}

const server = createServer({ key: readFileSync(join(certDir ?? "", "tls.key")), cert: readFileSync(join(certDir ?? "", "tls.crt")) }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    void (async () => {
      const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { apiVersion: string; request: { uid: string; object: Json } };
      const response: Json = { uid: review.request.uid, allowed: true };
      try {
        const ops = mode === "echo" ? [] : await mutate(review.request.object);
        if (ops.length > 0) {
          response.patchType = "JSONPatch";
          response.patch = Buffer.from(JSON.stringify(ops)).toString("base64");
        }
      } catch (error) {
        response.allowed = false;
        response.status = { code: 403, message: String(error) };
      }
      const text = JSON.stringify({ apiVersion: review.apiVersion, kind: "AdmissionReview", response });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(text);
    })();
  });
});
server.listen(Number(port), "127.0.0.1", () => process.stdout.write("listening\n"));
process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  void client.close().then(() => process.exit(0));
});
