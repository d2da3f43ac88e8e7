// containers auth.json (podman, skopeo, buildah): `auths` keyed by registry
// or namespace ("quay.io", "quay.io/team", "quay.io/team/app"); the most
// specific key that covers the repository wins. Legacy keys with a scheme
// ("https://quay.io/v1/") mean the host, as containers/image reads them.
import { join } from "node:path";
import type { CredentialSource, Match } from "./chain.js";
import { EntryError, credentialOf } from "./entry.js";
import { readCredentialFile } from "./file.js";
import { coversPath, hasScheme, normalizeHost, parseKey } from "./keys.js";
import type { RegistryKey } from "./keys.js";
import { quoteShort } from "../registry/text.js";

export interface AuthFileEntry extends RegistryKey {
  /** The key as written. */
  readonly key: string;
  readonly entry: unknown;
}

export interface AuthFilePath {
  readonly path: string;
  /** Named by $REGISTRY_AUTH_FILE: worth mentioning even when missing. */
  readonly configured: boolean;
}

/** Where podman looks, in its order: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers, $XDG_CONFIG_HOME (~/.config)/containers. */
export function authFilePaths(env: NodeJS.ProcessEnv, home: string): AuthFilePath[] {
  const paths: AuthFilePath[] = [];
  if (env.REGISTRY_AUTH_FILE) paths.push({ path: env.REGISTRY_AUTH_FILE, configured: true });
  if (env.XDG_RUNTIME_DIR) paths.push({ path: join(env.XDG_RUNTIME_DIR, "containers", "auth.json"), configured: false });
  paths.push({ path: join(env.XDG_CONFIG_HOME || join(home, ".config"), "containers", "auth.json"), configured: false });
  return paths.filter((p, i) => paths.findIndex((q) => q.path === p.path) === i);
}

export function parseAuthFile(json: unknown): AuthFileEntry[] {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Error("it is not a JSON object");
  const auths = (json as Record<string, unknown>).auths;
  if (auths === undefined) return [];
  if (typeof auths !== "object" || auths === null || Array.isArray(auths)) throw new Error(`"auths" is not an object`);
  return Object.entries(auths as Record<string, unknown>).flatMap(([key, entry]) => {
    const parsed = parseKey(key, hasScheme(key));
    return parsed ? [{ ...parsed, key, entry }] : [];
  });
}

/** The entry for a repository: the deepest namespace key that covers it, first in file order among equals. */
export function matchAuthFile(entries: readonly AuthFileEntry[], registry: string, repository: string): AuthFileEntry | undefined {
  const host = normalizeHost(registry);
  let best: AuthFileEntry | undefined;
  for (const e of entries) {
    if (e.host !== host || !coversPath(e.path, repository)) continue;
    if (best === undefined || e.path.length > best.path.length) best = e;
  }
  return best;
}

export class AuthFileSource implements CredentialSource {
  readonly name: string;
  private entries: Promise<AuthFileEntry[] | undefined> | undefined;

  constructor(private readonly path: string) {
    this.name = `containers auth.json ${path}`;
  }

  async find(registry: string, repository: string): Promise<Match> {
    this.entries ??= readCredentialFile(this.path, "containers auth.json", parseAuthFile);
    const entries = await this.entries;
    if (entries === undefined) return { detail: "file not found" };
    const match = matchAuthFile(entries, registry, repository);
    if (!match) return { detail: `no entry for ${normalizeHost(registry)}/${repository}` };
    try {
      const credential = credentialOf(match.entry);
      return { credential, detail: `${quoteShort(match.key)}${credential ? "" : " holds no credentials"}` };
    } catch (err) {
      if (err instanceof EntryError) throw new Error(`containers auth.json ${this.path}: ${quoteShort(match.key)}: ${err.message}`);
      throw err;
    }
  }
}
