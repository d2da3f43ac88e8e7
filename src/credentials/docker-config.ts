// Docker's config.json: `$DOCKER_CONFIG/config.json`, else
// `~/.docker/config.json`. For a registry, as docker itself decides:
// `credHelpers[host]`, else `credsStore`, else the `auths` entry of the host:
// keys match by host (and port) alone, any scheme or path in them ignored.
import { join } from "node:path";
import type { Credential } from "../registry/credentials.js";
import type { CredentialSource, Match } from "./chain.js";
import { EntryError, credentialOf } from "./entry.js";
import { readCredentialFile } from "./file.js";
import type { CredentialHelpers } from "./helper.js";
import { DOCKER_HUB_SERVER_URL, normalizeHost, parseKey } from "./keys.js";
import { quoteShort } from "../registry/text.js";

export interface DockerConfig {
  readonly auths: readonly { readonly key: string; readonly host: string; readonly entry: unknown }[];
  /** Host -> helper name and the key as written. */
  readonly credHelpers: ReadonlyMap<string, { readonly key: string; readonly helper: string }>;
  readonly credsStore: string | undefined;
}

/** Where docker reads its config for this environment. */
export function dockerConfigPath(env: NodeJS.ProcessEnv, home: string): string {
  return env.DOCKER_CONFIG ? join(env.DOCKER_CONFIG, "config.json") : join(home, ".docker", "config.json");
}

/** The parts of config.json that hold credentials; throws Error with a secret-free message. */
export function parseDockerConfig(json: unknown): DockerConfig {
  if (!isObject(json)) throw new Error("it is not a JSON object");
  const auths: { key: string; host: string; entry: unknown }[] = [];
  if (json.auths !== undefined) {
    if (!isObject(json.auths)) throw new Error(`"auths" is not an object`);
    for (const [key, entry] of Object.entries(json.auths)) {
      const parsed = parseKey(key, true);
      if (parsed) auths.push({ key, host: parsed.host, entry });
    }
  }
  const credHelpers = new Map<string, { key: string; helper: string }>();
  if (json.credHelpers !== undefined) {
    if (!isObject(json.credHelpers)) throw new Error(`"credHelpers" is not an object`);
    for (const [key, helper] of Object.entries(json.credHelpers)) {
      if (typeof helper !== "string" || helper === "") throw new Error(`credHelpers ${quoteShort(key)} is not a helper name`);
      const parsed = parseKey(key, true);
      if (parsed && !credHelpers.has(parsed.host)) credHelpers.set(parsed.host, { key, helper });
    }
  }
  const store = json.credsStore;
  if (store !== undefined && typeof store !== "string") throw new Error(`"credsStore" is not a string`);
  return { auths, credHelpers, credsStore: store === "" ? undefined : store };
}

export class DockerConfigSource implements CredentialSource {
  readonly name: string;
  private config: Promise<DockerConfig | undefined> | undefined;

  constructor(
    private readonly path: string,
    private readonly helpers: CredentialHelpers,
  ) {
    this.name = `docker config ${path}`;
  }

  async find(registry: string): Promise<Match> {
    this.config ??= readCredentialFile(this.path, "docker config", parseDockerConfig);
    const config = await this.config;
    if (config === undefined) return { detail: "file not found" };
    const host = normalizeHost(registry);
    const configured = config.credHelpers.get(host);
    const helper = configured?.helper ?? config.credsStore;
    if (helper !== undefined) {
      const via = configured ? `credHelpers ${quoteShort(configured.key)}` : "credsStore";
      const credential = await this.ask(helper, host, via);
      return { credential, detail: `${via}: docker-credential-${helper}${credential ? "" : " has none"}` };
    }
    // An exact key first ("127.0.0.1:5000" before "https://127.0.0.1:5000/v2/"), then file order.
    const entries = config.auths.filter((a) => a.host === host);
    entries.sort((a, b) => Number(b.key === registry) - Number(a.key === registry));
    for (const { key, entry } of entries) {
      let credential: Credential | undefined;
      try {
        credential = credentialOf(entry);
      } catch (err) {
        if (err instanceof EntryError) throw new Error(`docker config ${this.path}: auths ${quoteShort(key)}: ${err.message}`);
        throw err;
      }
      if (credential) return { credential, detail: `auths ${quoteShort(key)}` };
    }
    return { detail: entries.length > 0 ? `auths ${quoteShort(entries[0]?.key ?? "")} holds no credentials` : `no entry for ${host}` };
  }

  private async ask(helper: string, host: string, via: string): Promise<Credential | undefined> {
    try {
      // Docker files Docker Hub under its v1 URL, every other registry under its host.
      return await this.helpers.get(helper, host === "docker.io" ? DOCKER_HUB_SERVER_URL : host);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`docker config ${this.path}: ${via}: ${why}`, { cause: err });
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
