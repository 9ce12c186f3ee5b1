import { readFrame } from './batch-frame.js';
import type { LogConfig } from './config.js';
import { RELATIVE_OFFSET_MAX } from './log-segment.js';
import type { AppendedBatch } from './log-segment.js';
import { appendFailed } from './log-types.js';
import type { AppendResult } from './log-types.js';

/** Splits `buf` into batches by their headers; refuses anything that is not whole v2 batches. */
export function frameBatches(buf: Buffer, config: Pick<LogConfig, 'segmentBytes' | 'maxMessageBytes'>): AppendedBatch[] | AppendResult {
  if (buf.length === 0) return appendFailed('CORRUPT_MESSAGE', 'no record batches to append');
  if (buf.length > config.segmentBytes) {
    return appendFailed('RECORD_LIST_TOO_LARGE', `${buf.length} bytes of batches exceed segment.bytes ${config.segmentBytes}`);
  }
  const framed: AppendedBatch[] = [];
  let position = 0;
  // Bounded by buf.length: every frame is at least a batch header long.
  while (position < buf.length) {
    const frame = readFrame(buf, position, buf.length - position);
    if (typeof frame === 'string') return appendFailed('CORRUPT_MESSAGE', `malformed batch at byte ${position}: ${frame}`, { position });
    if (frame.sizeBytes > config.maxMessageBytes) {
      return appendFailed('MESSAGE_TOO_LARGE', `batch of ${frame.sizeBytes} bytes exceeds max.message.bytes ${config.maxMessageBytes}`, { sizeBytes: frame.sizeBytes });
    }
    if (frame.lastOffset - frame.baseOffset > RELATIVE_OFFSET_MAX) {
      return appendFailed('CORRUPT_MESSAGE', `batch at byte ${position} spans more offsets than a segment can index`, { position });
    }
    framed.push({ frame, bufPosition: position });
    position += frame.sizeBytes;
  }
  return framed;
}
