/** A broken invariant of the controller core: the node must stop rather than commit corrupt metadata. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

/** Always-on assertion for invariants (never for expected conditions, which are results). */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}

/** Exhaustiveness check for discriminated unions: adding a record type breaks the build here. */
export function unreachable(value: never): never {
  throw new InvariantViolation(`unhandled variant: ${JSON.stringify(value)}`);
}
