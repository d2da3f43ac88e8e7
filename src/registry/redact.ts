// Secrets a client has used (passwords, tokens, in every form they travel
// in), so that text a registry or token service sends back — an error body
// that quotes the Authorization header, a challenge that echoes it — is
// cleaned before it reaches a message. Values shorter than MIN_SECRET_LENGTH
// are not searched for: masking every "abc" in a message helps nobody.
import type { Credential } from "./credentials.js";

export const MIN_SECRET_LENGTH = 6;
/** Bearer tokens are remembered this many at a time (a long-running webhook fetches new ones all day). */
const MAX_TOKENS = 1000;
const MASK = "[redacted]";

export class Secrets {
  private readonly fixed = new Set<string>();
  private readonly tokens = new Set<string>();

  /** A credential about to be presented: its secret, and the base64 `user:password` of Basic auth. */
  addCredential(credential: Credential): void {
    if (credential.kind === "basic") {
      this.add(this.fixed, credential.password);
      this.add(this.fixed, Buffer.from(`${credential.username}:${credential.password}`, "utf8").toString("base64"));
    } else {
      this.add(this.fixed, credential.token);
    }
  }

  /** A bearer token a token service handed out. */
  addToken(token: string): void {
    this.add(this.tokens, token);
    if (this.tokens.size > MAX_TOKENS) {
      const oldest = this.tokens.values().next();
      if (!oldest.done) this.tokens.delete(oldest.value);
    }
  }

  redact(text: string): string {
    let out = text;
    for (const set of [this.fixed, this.tokens]) for (const value of set) if (out.includes(value)) out = out.split(value).join(MASK);
    return out;
  }

  private add(into: Set<string>, value: string): void {
    // The forms a secret takes on the way: as is, percent-encoded (query, form body), JSON-escaped.
    for (const form of [value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)]) {
      if (form.length >= MIN_SECRET_LENGTH) into.add(form);
    }
  }
}
