// The version is injected by the bundler (scripts/build.mjs); the compiled
// test build falls back to the development marker.
declare const __KRM_DIGESTER_VERSION__: string | undefined;

export const VERSION: string = typeof __KRM_DIGESTER_VERSION__ === "string" ? __KRM_DIGESTER_VERSION__ : "0.0.0-dev";
