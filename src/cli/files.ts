// Files mode's command line (`krm-digester pin`, `krm-digester images`): the
// process around src/files/cli.ts, with the registry every front end uses.
import { homedir } from "node:os";
import { RegistryStack } from "../core/registry-stack.js";
import { runFilesCommand } from "../files/cli.js";
import { write } from "./function.js";

export function filesMain(command: "pin" | "images", args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return runFilesCommand(command, args, {
    openRegistry: (options) => new RegistryStack({ ...options, shortRun: true, env }),
    cwd: process.cwd(),
    env,
    home: homedir(),
    stdout: (text) => write(process.stdout, text),
    stderr: (text) => void process.stderr.write(text),
  });
}
