export { InvariantViolation, assert, unreachable } from '@runnel/protocol/invariants';

export function isOffset(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}
