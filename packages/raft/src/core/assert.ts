/** A broken invariant: the node must stop rather than continue on corrupt state. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

/** Always-on assertion for invariants of the core (never for expected conditions, which are results). */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new InvariantViolation(message);
  }
}

/** Exhaustiveness check for discriminated unions: adding a message type breaks the build here. */
export function unreachable(value: never): never {
  throw new InvariantViolation(`unhandled variant: ${JSON.stringify(value)}`);
}
