// The artifacts a skaffold.yaml in the package declares (`build.artifacts[].image`,
// also under `profiles[].build`). kpt hands skaffold's Config to the function
// as one more item (it has apiVersion and kind), and files mode reads it among
// the files: so an image field holding such a name is known to be skaffold's
// placeholder, which `skaffold render` replaces with the image it built, and
// not an image of Docker Hub's library to look up.
import { isMap } from "yaml";
import type { Document } from "yaml";
import { InvalidReferenceError, parseReference, repositoryKey } from "../name/reference.js";
import { fileRef } from "../resourcelist/identity.js";

export interface DeclaredArtifact {
  /** The artifact's `image` as skaffold.yaml writes it. */
  readonly image: string;
  /** Where: `skaffold.yaml`, or the config's name when kpt gave no path. */
  readonly where: string;
}

/** Canonical `registry/repository` of each declared artifact -> where it is declared. */
export type DeclaredArtifacts = ReadonlyMap<string, DeclaredArtifact>;

export const NO_DECLARED: DeclaredArtifacts = new Map();

/** One object that may be a skaffold Config: a yaml node of `document`; `file` names it where kpt's path annotation does not. */
export interface Candidate {
  readonly item: unknown;
  readonly document: Document.Parsed;
  readonly file?: string | undefined;
}

/** The artifacts every skaffold Config among the candidates declares. */
export function declaredArtifacts(candidates: Iterable<Candidate>): DeclaredArtifacts {
  const out = new Map<string, DeclaredArtifact>();
  for (const { item, document, file } of candidates) {
    if (!isMap(item)) continue;
    const apiVersion = item.get("apiVersion");
    if (typeof apiVersion !== "string" || !apiVersion.startsWith("skaffold/") || item.get("kind") !== "Config") continue;
    const where = file ?? fileRef(item)?.path ?? "skaffold.yaml";
    const config = item.toJS(document) as { build?: unknown; profiles?: unknown };
    const builds = [config.build, ...(Array.isArray(config.profiles) ? config.profiles.map((p: unknown) => (p as { build?: unknown } | null)?.build) : [])];
    for (const build of builds) {
      const artifacts = (build as { artifacts?: unknown } | null | undefined)?.artifacts;
      if (!Array.isArray(artifacts)) continue;
      for (const artifact of artifacts) {
        const image = (artifact as { image?: unknown } | null)?.image;
        if (typeof image !== "string" || image === "") continue;
        try {
          const key = repositoryKey(parseReference(image));
          if (!out.has(key)) out.set(key, { image, where });
        } catch (error) {
          if (!(error instanceof InvalidReferenceError)) throw error; // not a name skaffold could build; not ours to report
        }
      }
    }
  }
  return out;
}
