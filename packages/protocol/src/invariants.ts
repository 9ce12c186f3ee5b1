// Always-on invariant checks shared by Runnel's pure cores. No imports: a core can use this without
// pulling I/O into its module graph.

/** A broken invariant: the node must stop rather than continue on corrupt state. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

/** Always-on assertion for invariants (never for expected conditions, which are results). */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new InvariantViolation(message);
  }
}

/** Exhaustiveness check for discriminated unions: adding a variant breaks the build here. */
export function unreachable(value: never): never {
  throw new InvariantViolation(`unhandled variant: ${JSON.stringify(value)}`);
}
