import { RunnelError } from '../errors.js';

/**
 * Bytes that cannot be a valid batch. Kafka answers these with CORRUPT_MESSAGE (code 2), which the
 * client may retry: a flipped bit in transit is the common cause, and a resend usually fixes it.
 */
export function corruptMessage(message: string, details: Record<string, unknown> = {}): RunnelError {
  return new RunnelError('CORRUPT_MESSAGE', message, { details });
}
