export { InvariantViolation, assert, unreachable } from '@runnel/protocol/invariants';
