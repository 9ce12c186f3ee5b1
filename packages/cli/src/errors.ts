import { RunnelError } from '@runnel/protocol';

/** An expected failure: printed as one line, no stack trace. */
export class CliError extends Error {}

export function isExpectedError(error: unknown): error is Error {
  return error instanceof CliError || error instanceof RunnelError;
}
