// WWW-Authenticate parsing (RFC 7235): one header may carry several
// challenges, and a response may carry several headers. Parameter values may
// be quoted strings containing commas, spaces and backslash escapes, e.g.
//   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",
//          scope="repository:a:pull repository:b:pull,push", Basic realm="x"

export interface Challenge {
  /** Lower-cased scheme: "bearer", "basic", … */
  readonly scheme: string;
  /** Parameters by lower-cased name; a repeated name keeps every value, in order. */
  readonly params: ReadonlyMap<string, readonly string[]>;
}

export interface BearerChallenge {
  readonly realm: string;
  readonly service: string | undefined;
  /** Scopes named by the registry (space-separated in one `scope`, or repeated). */
  readonly scopes: readonly string[];
  /** "invalid_token", "insufficient_scope", … on a 401 for a token we sent. */
  readonly error: string | undefined;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
const TOKEN68 = /[A-Za-z0-9\-._~+/]+=*[ \t]*(?=,|$)/y;
const SPACE = /[ \t]*/y;
// Unquoted values should be tokens, but servers send bare URLs too: take up to a comma or space.
const BARE_VALUE = /[^\s,"]+/y;

/** Parses every challenge in one or more WWW-Authenticate header values; a malformed tail is dropped. */
export function parseChallenges(header: string | readonly string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = typeof header === "string" ? [header] : header;
  return values.flatMap((v) => new Parser(v).challenges());
}

class Parser {
  private pos = 0;
  constructor(private readonly input: string) {}

  challenges(): Challenge[] {
    const out: Challenge[] = [];
    this.skipCommas();
    while (this.pos < this.input.length) {
      const scheme = this.match(TOKEN);
      if (scheme === undefined) break;
      const params = new Map<string, string[]>();
      out.push({ scheme: scheme.toLowerCase(), params });
      this.match(SPACE);
      // A token68 credential ("Negotiate abc==") carries nothing registries use: skip it.
      if (this.match(TOKEN68) !== undefined) {
        this.skipCommas();
        continue;
      }
      if (!this.params(params)) break;
    }
    return out;
  }

  /** Reads `name=value` pairs up to the next scheme; false when the input is malformed. */
  private params(into: Map<string, string[]>): boolean {
    for (;;) {
      const save = this.pos;
      this.skipCommas();
      const name = this.match(TOKEN);
      if (name === undefined) return this.pos >= this.input.length;
      this.match(SPACE);
      if (this.input[this.pos] !== "=") {
        this.pos = save; // a token without "=": the next challenge's scheme
        this.skipCommas();
        return true;
      }
      this.pos++;
      this.match(SPACE);
      const value = this.input[this.pos] === '"' ? this.quoted() : this.match(BARE_VALUE);
      if (value === undefined) return false;
      const key = name.toLowerCase();
      into.set(key, [...(into.get(key) ?? []), value]);
      this.match(SPACE);
      if (this.pos < this.input.length && this.input[this.pos] !== ",") return false;
    }
  }

  private quoted(): string | undefined {
    let value = "";
    for (this.pos++; this.pos < this.input.length; this.pos++) {
      const ch = this.input[this.pos] ?? "";
      if (ch === "\\" && this.pos + 1 < this.input.length) value += this.input[++this.pos] ?? "";
      else if (ch === '"') {
        this.pos++;
        return value;
      } else value += ch;
    }
    return undefined; // unterminated
  }

  private match(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    const m = re.exec(this.input);
    if (!m) return undefined;
    this.pos = re.lastIndex;
    return m[0];
  }

  private skipCommas(): void {
    while (this.match(/[ \t]*,/y) !== undefined);
    this.match(SPACE);
  }
}

/** The first Bearer challenge with a usable realm. */
export function bearerChallenge(challenges: readonly Challenge[]): BearerChallenge | undefined {
  for (const c of challenges) {
    if (c.scheme !== "bearer") continue;
    const realm = c.params.get("realm")?.[0];
    if (!realm) continue;
    const scopes = (c.params.get("scope") ?? []).flatMap((s) => s.split(" ")).filter((s) => s !== "");
    return { realm, service: c.params.get("service")?.[0], scopes, error: c.params.get("error")?.[0] };
  }
  return undefined;
}

export function hasBasicChallenge(challenges: readonly Challenge[]): boolean {
  return challenges.some((c) => c.scheme === "basic");
}
