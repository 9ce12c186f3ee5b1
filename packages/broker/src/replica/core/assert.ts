/** A broken invariant of the replica state: the broker must stop rather than serve on corrupt state. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

/** Always-on assertion for invariants (never for expected conditions, which are results). */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}

/** Exhaustiveness check for discriminated unions: adding a variant breaks the build here. */
export function unreachable(value: never): never {
  throw new InvariantViolation(`unhandled variant: ${JSON.stringify(value)}`);
}

export function isOffset(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}
