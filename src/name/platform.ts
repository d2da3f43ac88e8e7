// Platform specifiers (`linux/arm64`, `linux/arm/v7`, `windows/amd64` with an
// os.version) and matching them against an image index's entries, the way
// containerd does: names normalized first (aarch64 is arm64, arm64/v8 is
// arm64, arm without a variant is arm/v7, amd64/v1 is amd64), then os,
// architecture and variant must be equal. Pure: no I/O.

/** What an index entry or the user names. */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string | undefined;
  /** Windows: the build the image is for ("10.0.17763.1234"). */
  readonly osVersion?: string | undefined;
}

// Go's GOOS and GOARCH lists (go/build/syslist.go), as the OCI image index spec asks and containerd checks.
export const KNOWN_OS: readonly string[] = [
  "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos",
];
export const KNOWN_ARCHITECTURES: readonly string[] = [
  "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le",
  "ppc", "ppc64", "ppc64le", "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm",
];

const COMPONENT = /^[A-Za-z0-9_.-]+$/;
/** containerd's `os(osversion)` first component. */
const OS_AND_VERSION = /^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.-]+)\))?$/;

export class InvalidPlatformError extends Error {
  override readonly name = "InvalidPlatformError";
}

/**
 * Parses `os/arch[/variant]`, with an optional os.version in containerd's
 * spelling `os(version)/arch` or crane's `os/arch[/variant]:version`.
 * Both os and architecture are required (containerd would fill in the host's;
 * a pin must not depend on the machine it is made on).
 */
export function parsePlatform(text: string): Platform {
  const spec = text.trim();
  let osVersion: string | undefined;
  let rest = spec;
  const colon = spec.indexOf(":");
  if (colon >= 0) {
    osVersion = spec.slice(colon + 1);
    rest = spec.slice(0, colon);
    if (!COMPONENT.test(osVersion)) throw new InvalidPlatformError(`the os.version after ":" in ${JSON.stringify(text)} must be letters, digits, ".", "_" or "-"`);
  }
  const parts = rest.split("/");
  if (parts.length < 2) throw new InvalidPlatformError(`${JSON.stringify(text)} names no architecture`);
  if (parts.length > 3) throw new InvalidPlatformError(`${JSON.stringify(text)} has more parts than os/architecture/variant`);
  const [first = "", arch = "", variant] = parts;
  const osPart = OS_AND_VERSION.exec(first);
  if (!osPart) throw new InvalidPlatformError(`${JSON.stringify(first)} in ${JSON.stringify(text)} is not an os, or os(os.version)`);
  if (osPart[2] !== undefined) {
    if (osVersion !== undefined) throw new InvalidPlatformError(`${JSON.stringify(text)} gives the os.version twice`);
    osVersion = osPart[2];
  }
  for (const part of [arch, ...(variant === undefined ? [] : [variant])]) {
    if (!COMPONENT.test(part)) throw new InvalidPlatformError(`${JSON.stringify(part)} in ${JSON.stringify(text)} must be letters, digits, ".", "_" or "-"`);
  }
  const platform = normalizePlatform({ os: osPart[1] ?? "", architecture: arch, variant, osVersion });
  if (!KNOWN_OS.includes(platform.os)) throw new InvalidPlatformError(`unknown os ${JSON.stringify(osPart[1])} in ${JSON.stringify(text)}; os is one of ${KNOWN_OS.join(", ")}`);
  if (!KNOWN_ARCHITECTURES.includes(platform.architecture)) {
    throw new InvalidPlatformError(`unknown architecture ${JSON.stringify(arch)} in ${JSON.stringify(text)}; architecture is one of ${KNOWN_ARCHITECTURES.join(", ")}`);
  }
  return platform;
}

/** containerd's normalization: lower case, aliases, and each architecture's default variant written one way. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase() === "macos" ? "darwin" : p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = (p.variant ?? "").toLowerCase();
  switch (architecture) {
    case "i386":
      architecture = "386";
      variant = "";
      break;
    case "x86_64":
    case "x86-64":
    case "amd64":
      architecture = "amd64";
      if (variant === "v1") variant = "";
      break;
    case "aarch64":
    case "arm64":
      architecture = "arm64";
      if (variant === "8" || variant === "v8") variant = "";
      break;
    case "armhf":
      architecture = "arm";
      variant = "v7";
      break;
    case "armel":
      architecture = "arm";
      variant = "v6";
      break;
    case "arm":
      if (variant === "" || variant === "7") variant = "v7";
      else if (variant === "5" || variant === "6" || variant === "8") variant = `v${variant}`;
      break;
  }
  const osVersion = p.osVersion === undefined || p.osVersion === "" ? undefined : p.osVersion;
  return { os, architecture, ...(variant ? { variant } : {}), ...(osVersion ? { osVersion } : {}) };
}

/**
 * Whether an index entry is for the platform asked: os, architecture and
 * variant equal once normalized; an os.version asked must be the entry's, or
 * a prefix of it up to a dot (`10.0.17763` matches `10.0.17763.1234`).
 */
export function platformMatches(wanted: Platform, entry: Platform): boolean {
  const w = normalizePlatform(wanted);
  const e = normalizePlatform(entry);
  if (w.os !== e.os || w.architecture !== e.architecture || (w.variant ?? "") !== (e.variant ?? "")) return false;
  if (w.osVersion === undefined) return true;
  return e.osVersion !== undefined && (e.osVersion === w.osVersion || e.osVersion.startsWith(`${w.osVersion}.`));
}

/** As written in results and errors: `linux/arm/v7`, `windows(10.0.17763.1234)/amd64` (containerd's FormatAll). */
export function formatPlatform(p: Platform): string {
  const os = p.osVersion ? `${p.os}(${p.osVersion})` : p.os;
  return [os, p.architecture, ...(p.variant ? [p.variant] : [])].join("/");
}
