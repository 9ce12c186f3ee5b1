// Shared by the record codec tests (not exported from the package).
import { expect } from 'vitest';
import { RunnelError } from '../../errors.js';
import { CRC_OFFSET, computeBatchCrc } from '../batch-header.js';

/**
 * A one-record batch written out by hand from Kafka's "Message Format" spec: record key "key",
 * value "value", one header h=v, timestamp 1700000000000, producer fields -1, baseOffset 0,
 * partitionLeaderEpoch -1. The CRC (0x83794a1d) was computed over bytes 21..79 with an
 * independent bitwise CRC-32C in Python and confirmed with java.util.zip.CRC32C, the class
 * Kafka's Crc32C delegates to.
 */
export const GOLDEN_BATCH_HEX = [
  '0000000000000000', //  0 baseOffset 0
  '00000044', //          8 batchLength 68 (80 - 12)
  'ffffffff', //         12 partitionLeaderEpoch -1
  '02', //               16 magic 2
  '83794a1d', //         17 crc
  '0000', //             21 attributes: none, create time
  '00000000', //         23 lastOffsetDelta 0
  '0000018bcfe56800', // 27 baseTimestamp 1700000000000
  '0000018bcfe56800', // 35 maxTimestamp
  'ffffffffffffffff', // 43 producerId -1
  'ffff', //             51 producerEpoch -1
  'ffffffff', //         53 baseSequence -1
  '00000001', //         57 recordCount 1
  '24', //               61 record length 18 (zigzag 36)
  '00', //                  attributes
  '00', //                  timestampDelta 0
  '00', //                  offsetDelta 0
  '06', '6b6579', //        keyLength 3, "key"
  '0a', '76616c7565', //    valueLength 5, "value"
  '02', //                  headerCount 1
  '02', '68', //            header key length 1, "h"
  '02', '76', //            header value length 1, "v"
].join('');

export const GOLDEN_TIMESTAMP_MS = 1_700_000_000_000;

export function goldenBatch(): Buffer {
  return Buffer.from(GOLDEN_BATCH_HEX, 'hex');
}

/** Rewrites the CRC after a test tampers with CRC'd bytes, so the check under test is the one that fails. */
export function refreshCrc(buf: Buffer, position = 0): Buffer {
  buf.writeUInt32BE(computeBatchCrc(buf, position), position + CRC_OFFSET);
  return buf;
}

export function expectRunnelError(fn: () => unknown, codeName: string): RunnelError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(RunnelError);
  expect((caught as RunnelError).codeName).toBe(codeName);
  return caught as RunnelError;
}
