// The one binary's router: `krm-digester` is the KRM function,
// `krm-digester webhook` the admission webhook. It routes; the front ends
// (src/cli/) wire themselves. Bad input ends in one line and exit 2, a bug in
// a report request and exit 3, never a bare stack trace.
import { debugEnabled, functionMain } from "./cli/function.js";
import { InputError } from "./resourcelist/errors.js";
import { VERSION } from "./version.js";

async function main(args: readonly string[]): Promise<number> {
  if (args[0] === "webhook") {
    // Loaded only for the server: the function's start-up stays as it was.
    const { webhookMain } = await import("./cli/webhook.js");
    return webhookMain(args.slice(1), process.env);
  }
  return functionMain(args, process.env);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof InputError) {
      process.stderr.write(`krm-digester: ${error.message}\n`);
      process.exit(2);
    }
    const debug = process.env.KRM_DIGESTER_DEBUG || debugEnabled(process.env);
    const detail = debug && error instanceof Error ? `\n${error.stack}` : "";
    process.stderr.write(
      `krm-digester: internal error: ${error instanceof Error ? error.message : String(error)}${detail}\n` +
        `This is a bug in krm-digester ${VERSION}. Please report it with the input that caused it ` +
        `(set KRM_DIGESTER_DEBUG=1 for a stack trace).\n`,
    );
    process.exit(3);
  },
);
