// Command-line flags as Go's flag package reads them (k8s-digester's are the
// contract): `--name=value` or `--name value` for values, `--name` or
// `--name=true|false` for switches; one or two leading dashes.
import { InputError } from "../resourcelist/errors.js";

export interface FlagSpec {
  readonly name: string;
  readonly kind: "bool" | "string";
}

export type ParsedFlags = Map<string, string | boolean>;

/** `command` ("webhook") starts messages. Throws InputError naming the flag for an unknown flag, a missing value, or a bad boolean. */
export function parseFlags(args: readonly string[], specs: readonly FlagSpec[], command: string): ParsedFlags {
  const prefix = command === "" ? "" : `${command}: `;
  const byName = new Map(specs.map((s) => [s.name, s]));
  const out: ParsedFlags = new Map();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    const m = /^--?([A-Za-z][\w-]*)(?:=([\s\S]*))?$/.exec(arg);
    if (!m) throw new InputError(`${prefix}unexpected argument ${JSON.stringify(arg)} (see --help)`);
    const name = m[1] ?? "";
    const spec = byName.get(name);
    if (!spec) {
      const known = specs.filter((s) => s.name.length > 1).map((s) => `--${s.name}`);
      throw new InputError(`${prefix}unknown argument ${JSON.stringify(arg)}; known flags: ${known.join(", ")} (function settings go in the function config, see --help)`);
    }
    const inline = m[2];
    if (spec.kind === "bool") {
      if (inline === undefined) out.set(name, true);
      else out.set(name, parseBool(inline, `--${name}`));
      continue;
    }
    const value = inline ?? args[++i];
    if (value === undefined) throw new InputError(`${prefix}flag --${name} needs a value`);
    out.set(name, value);
  }
  return out;
}

/** Go's strconv.ParseBool. */
export function parseBool(value: string, what: string): boolean {
  if (["1", "t", "T", "true", "TRUE", "True"].includes(value)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(value)) return false;
  throw new InputError(`${what} must be true or false, got ${JSON.stringify(value)}`);
}

/**
 * k8s-digester's `--skip-prefixes` / `SKIP_PREFIXES`: colon-separated. A colon
 * also separates a registry host from its port, so a piece that starts with a
 * port (digits, then `/` or the end) belongs to the piece before it:
 * `registry.local:5000/team:gcr.io/distroless` is `registry.local:5000/team`
 * and `gcr.io/distroless`.
 */
export function splitSkipPrefixes(value: string): string[] {
  const out: string[] = [];
  for (const piece of value.split(":")) {
    const last = out.length - 1;
    if (last >= 0 && /^\d+(\/|$)/.test(piece)) out[last] = `${out[last]}:${piece}`;
    else out.push(piece);
  }
  return out.map((p) => p.trim()).filter((p) => p !== "");
}

/** `HOST:PORT` or `:PORT` (all interfaces), as Go's net.Listen takes them. */
export function parseAddress(value: string, flag: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port > 65535) {
    throw new InputError(`${flag} must be HOST:PORT or :PORT (e.g. :9090 or 127.0.0.1:9090), got ${JSON.stringify(value)}`);
  }
  const host = m[1] ?? m[2];
  return { host: host === "" || host === undefined ? undefined : host, port };
}
