/**
 * Input a user can get wrong as a whole (empty, not YAML, not a ResourceList).
 * main prints the message on one line and exits non-zero, with no stack trace.
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}
