// Credential sources tried in a fixed order, first match wins; the client
// sees one CredentialProvider. Every lookup leaves a trace (which sources
// were asked and what each said) for UNAUTHORIZED / DENIED messages.
import type { Credential, CredentialProvider } from "../registry/credentials.js";

/** What one source says about one repository. `detail` never holds a secret. */
export interface Match {
  /** The credential to present, if this source has one. */
  readonly credential?: Credential | undefined;
  /** Where the credential came from (`auths "quay.io"`), or why there is none (`no entry`). */
  readonly detail: string;
}

export interface CredentialSource {
  /** Who is asked, e.g. "docker config /root/.docker/config.json". */
  readonly name: string;
  /** Throws (with a secret-free message) when the source is broken, e.g. a helper failed. */
  find(registry: string, repository: string): Promise<Match>;
}

interface Trace {
  readonly credential: Credential | undefined;
  /** One line per source asked, in order. */
  readonly steps: readonly string[];
  readonly error?: Error;
}

export class CredentialChain implements CredentialProvider {
  private readonly traces = new Map<string, Promise<Trace>>();

  constructor(private readonly sources: readonly CredentialSource[]) {}

  async lookup(registry: string, repository: string): Promise<Credential | undefined> {
    const trace = await this.trace(registry, repository);
    if (trace.error !== undefined) throw trace.error;
    return trace.credential;
  }

  /** "tried: docker config /x/config.json (no entry), containers auth.json /y/auth.json ("quay.io/team")". */
  async tried(registry: string, repository: string): Promise<string> {
    const { credential, steps, error } = await this.trace(registry, repository);
    const anonymous = credential === undefined && error === undefined ? ["then anonymous"] : [];
    return `tried: ${[...(steps.length > 0 ? steps : ["no credential sources"]), ...anonymous].join(", ")}`;
  }

  /** Memoized per repository: the client asks several times per image, and helpers are slow. Never rejects. */
  private trace(registry: string, repository: string): Promise<Trace> {
    const key = `${registry}/${repository}`;
    let trace = this.traces.get(key);
    if (!trace) {
      trace = this.walk(registry, repository);
      this.traces.set(key, trace);
    }
    return trace;
  }

  private async walk(registry: string, repository: string): Promise<Trace> {
    const steps: string[] = [];
    for (const source of this.sources) {
      let match: Match;
      try {
        match = await source.find(registry, repository);
      } catch (error) {
        steps.push(`${source.name} (failed)`);
        return { credential: undefined, steps, error: error instanceof Error ? error : new Error(String(error)) };
      }
      steps.push(`${source.name} (${match.detail})`);
      if (match.credential !== undefined) return { credential: match.credential, steps };
    }
    return { credential: undefined, steps };
  }
}
