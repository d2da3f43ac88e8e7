// Placeholder entry point; the KRM function is being built (issue 2).
import { VERSION } from "./version.js";

if (process.argv.includes("--version")) process.stdout.write(`krm-digester ${VERSION}\n`);
