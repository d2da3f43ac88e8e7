// The one binary's router: `krm-digester` is the KRM function,
// `krm-digester webhook` the admission webhook, `krm-digester pin|images` files mode. It routes; the front ends
// (src/cli/) wire themselves. Bad input ends in one line and exit 2, a bug in
// a report request and exit 3, never a bare stack trace.
import { debugEnabled, functionMain } from "./cli/function.js";
import { InputError } from "./resourcelist/errors.js";
import { VERSION } from "./version.js";

async function main(args: readonly string[]): Promise<number> {
  if (args[0] === "pin" || args[0] === "images") {
    // Files mode, for users without kpt (loaded only for it).
    const { filesMain } = await import("./cli/files.js");
    return filesMain(args[0], args.slice(1), process.env);
  }
  if (args[0] === "webhook") {
    // Loaded only for the server: the function's start-up stays as it was.
    const { webhookMain } = await import("./cli/webhook.js");
    return webhookMain(args.slice(1), process.env);
  }
  return functionMain(args, process.env);
}

/**
 * Exits once stdout and stderr have taken everything written to them: a pipe
 * (kpt reads the function's stderr through one) takes writes asynchronously,
 * and process.exit drops what it has not taken yet.
 */
function exit(code: number): void {
  let open = 2;
  const done = (): void => {
    if (--open === 0) process.exit(code);
  };
  process.stdout.write("", done);
  process.stderr.write("", done);
}

// A reader that goes away before the list is written (`| head`) is not a bug: one line, exit 1.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.stderr.write("krm-digester: stdout was closed before the output was written whole\n", () => process.exit(1));
});

main(process.argv.slice(2)).then(
  (code) => exit(code),
  (error: unknown) => {
    if (error instanceof InputError) {
      process.stderr.write(`krm-digester: ${error.message}\n`);
      exit(2);
      return;
    }
    const debug = process.env.KRM_DIGESTER_DEBUG || debugEnabled(process.env);
    const detail = debug && error instanceof Error ? `\n${error.stack}` : "";
    process.stderr.write(
      `krm-digester: internal error: ${error instanceof Error ? error.message : String(error)}${detail}\n` +
        `This is a bug in krm-digester ${VERSION}. Please report it with the input that caused it ` +
        `(set KRM_DIGESTER_DEBUG=1 for a stack trace).\n`,
    );
    exit(3);
  },
);
