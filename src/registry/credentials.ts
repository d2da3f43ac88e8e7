// Credentials the client may present to a registry. Only the interface and
// the anonymous provider live here; sources (docker config.json, credential
// helpers, containers auth.json, Kubernetes pull secrets) plug in behind
// CredentialProvider later without touching the client.

export type Credential =
  /** Username and password (or a personal access token used as one). */
  | { readonly kind: "basic"; readonly username: string; readonly password: string }
  /** An OAuth2 refresh token (docker config `identitytoken`), exchanged at the token realm. */
  | { readonly kind: "identityToken"; readonly username?: string; readonly token: string }
  /** A ready bearer token (docker config `registrytoken`), sent to the registry as is. */
  | { readonly kind: "registryToken"; readonly token: string };

export interface CredentialProvider {
  /**
   * Credentials for pulling `repository` from `registry` (as written in the
   * image reference, "docker.io" for Docker Hub), or undefined for anonymous.
   * The repository is passed so that path-scoped keys ("quay.io/team") can match.
   * Called once per authentication, possibly concurrently: cache inside if lookups are slow.
   */
  lookup(registry: string, repository: string): Promise<Credential | undefined>;
}

/** Never has credentials: every registry is pulled from anonymously. */
export const anonymous: CredentialProvider = {
  lookup: () => Promise.resolve(undefined),
};
