// One `auths` entry, the shape shared by docker config.json, containers
// auth.json and Kubernetes pull secrets, read into a Credential. Messages
// about bad entries name the field, never its value.
import type { Credential } from "../registry/credentials.js";

export class EntryError extends Error {
  override readonly name = "EntryError";
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/**
 * Longer than any real password or token (JWTs and cloud access tokens are a
 * few KiB), and well below the ~1 MiB of request head that registries accept:
 * a bigger value is a pasted file, not a credential.
 */
export const MAX_FIELD_LENGTH = 64 * 1024;

/**
 * The credential an entry holds, or undefined for an entry without any (the
 * `{}` that `docker login` leaves when a credsStore keeps the secret).
 * Precedence as docker applies it: `registrytoken`, `identitytoken`, then
 * `auth` (base64 "user:password") over `username`/`password`.
 */
export function credentialOf(entry: unknown): Credential | undefined {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw new EntryError("the entry is not a JSON object");
  const fields = entry as Record<string, unknown>;
  const text = (name: string): string => {
    const value = fields[name];
    if (value === undefined || value === null) return "";
    if (typeof value !== "string") throw new EntryError(`"${name}" is not a string`);
    if (value.length > MAX_FIELD_LENGTH) {
      throw new EntryError(`"${name}" is ${value.length} characters long, more than any credential (the most accepted is ${MAX_FIELD_LENGTH})`);
    }
    return value;
  };
  const registryToken = text("registrytoken");
  if (registryToken !== "") return { kind: "registryToken", token: registryToken };

  let username = text("username");
  let password = text("password");
  const auth = text("auth").replace(/\s+/g, "");
  if (auth !== "") {
    if (!BASE64.test(auth)) throw new EntryError(`"auth" is not base64`);
    const decoded = Buffer.from(auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw new EntryError(`"auth" does not decode to "username:password"`);
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  const identityToken = text("identitytoken");
  if (identityToken !== "") return username === "" ? { kind: "identityToken", token: identityToken } : { kind: "identityToken", username, token: identityToken };
  if (username === "" && password === "") return undefined;
  return { kind: "basic", username, password };
}
