// The version is injected by the bundler (scripts/build.mjs); the compiled
// test build falls back to the development marker.
declare const __KRM_DIGESTER_VERSION__: string | undefined;

export const VERSION: string = typeof __KRM_DIGESTER_VERSION__ === "string" ? __KRM_DIGESTER_VERSION__ : "0.0.0-dev";

/**
 * What `--version` prints: the version and the Node.js it runs on (the
 * standalone executable's own Node, or whichever node runs the bundle), so a
 * user can tell an unpatched runtime: `krm-digester 0.2.0 (Node.js v24.22.3)`.
 */
export const VERSION_LINE = `krm-digester ${VERSION} (Node.js ${process.version})`;
