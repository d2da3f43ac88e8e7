// The credentials of whoever runs the function, in order: docker config.json
// (auths, credHelpers, credsStore), then each containers auth.json podman reads.
import { existsSync } from "node:fs";
import { AuthFileSource, authFilePaths } from "./auth-json.js";
import type { CredentialSource } from "./chain.js";
import { DockerConfigSource, dockerConfigPath } from "./docker-config.js";
import type { CredentialHelpers } from "./helper.js";

export function hostSources(env: NodeJS.ProcessEnv, home: string, helpers: CredentialHelpers): CredentialSource[] {
  const sources: CredentialSource[] = [new DockerConfigSource(dockerConfigPath(env, home), helpers)];
  // auth.json files in default places only count when present; one named by $REGISTRY_AUTH_FILE always does.
  for (const { path, configured } of authFilePaths(env, home)) {
    if (configured || existsSync(path)) sources.push(new AuthFileSource(path));
  }
  return sources;
}
