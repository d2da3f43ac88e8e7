// What a walk over an item finds: an image field (its scalar, to edit), or a
// field that should hold an image and does not (a problem, reported as an
// error result on that field).
import type { Scalar } from "yaml";
import type { Segment } from "./lookup.js";

export type ImageSlot =
  | {
      readonly kind: "image";
      /** "spec.template.spec.containers[0].image", as results print it. */
      readonly path: string;
      /** The same path as keys and indexes (JSON Patch, the read-back check). */
      readonly segments: readonly Segment[];
      readonly node: Scalar;
      readonly value: string;
    }
  | {
      readonly kind: "problem";
      readonly path: string;
      readonly segments: readonly Segment[];
      readonly message: string;
      readonly currentValue?: unknown;
      /** What to do, when not "set it to an image reference". */
      readonly hint?: string;
    };
