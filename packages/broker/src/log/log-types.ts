// The public shapes of the partition log API, and the small helpers that build them.
import type { Logger } from 'pino';
import { RunnelError } from '@runnel/protocol';
import type { LogConfig } from './config.js';
import type { FileOps } from './file-ops.js';

const TOPIC_NAME_PATTERN = /^[a-zA-Z0-9._-]{1,249}$/;
export const INT32_MAX = 0x7fffffff;

export interface Clock {
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

export interface PartitionLogOptions {
  /** The broker's data directory; the partition lives in `<logDir>/<topic>-<partition>/`. */
  logDir: string;
  topic: string;
  partition: number;
  config?: Partial<LogConfig>;
  clock?: Clock;
  logger?: Logger;
  fileOps?: FileOps;
  /**
   * Kafka's producer.id.expiration.ms (default one day): an idempotent producer whose latest batch
   * timestamp is this old is forgotten by the retention pass, and its batches are not rescanned when
   * the log is opened.
   */
  producerIdExpirationMs?: number;
}

export const PRODUCER_ID_EXPIRATION_MS_DEFAULT = 24 * 60 * 60 * 1000;

export interface AppendInfo {
  ok: true;
  baseOffset: number;
  lastOffset: number;
  /** Set when the topic uses LogAppendTime: the timestamp the broker wrote into every batch. */
  logAppendTimeMs?: number;
  /** Bytes written; 0 when every batch was a duplicate. */
  sizeBytes: number;
  /**
   * Every batch of the request was a retry of one already in the log (same producer, epoch and
   * sequences): nothing was written, and the offsets (and log append time) are the original's.
   */
  duplicate?: true;
}

export type AppendResult = AppendInfo | { ok: false; error: RunnelError };

export type LogReadResult =
  | {
      ok: true;
      /** Whole batches, concatenated exactly as stored (possibly empty). */
      records: Buffer;
      /** Base offset of the first batch returned (it may be below the requested offset). */
      firstBatchOffset: number | undefined;
      /** Where the next read should start. */
      nextFetchOffset: number;
      logStartOffset: number;
      logEndOffset: number;
    }
  | { ok: false; error: RunnelError; logStartOffset: number; logEndOffset: number };

export interface ReadOptions {
  /** Return the first batch even when it is larger than maxBytes (Kafka does for the first partition of a fetch). */
  minOneBatch?: boolean;
}

export interface RetentionResult {
  deletedSegments: number;
  deletedBytes: number;
  logStartOffset: number;
}

export interface SegmentInfo {
  baseOffset: number;
  nextOffset: number;
  sizeBytes: number;
  largestTimestampMs: number;
  offsetIndexEntries: number;
  timeIndexEntries: number;
}

export function partitionDirName(topic: string, partition: number): string {
  if (!TOPIC_NAME_PATTERN.test(topic) || topic === '.' || topic === '..') {
    throw new RunnelError('INVALID_TOPIC_EXCEPTION', `invalid topic name "${topic}": use 1-249 of [a-zA-Z0-9._-], not "." or ".."`);
  }
  if (!Number.isSafeInteger(partition) || partition < 0 || partition > INT32_MAX) {
    throw new RunnelError('INVALID_PARTITIONS', `invalid partition ${partition}`);
  }
  return `${topic}-${partition}`;
}

export function appendOk(fields: Omit<AppendInfo, 'ok'>): AppendInfo {
  return { ok: true, ...fields };
}

export type AppendErrorCodeName =
  | 'CORRUPT_MESSAGE'
  | 'MESSAGE_TOO_LARGE'
  | 'RECORD_LIST_TOO_LARGE'
  | 'FENCED_LEADER_EPOCH'
  | 'OFFSET_OUT_OF_RANGE'
  | 'INVALID_RECORD'
  | 'UNSUPPORTED_COMPRESSION_TYPE'
  | 'INVALID_PRODUCER_EPOCH'
  | 'OUT_OF_ORDER_SEQUENCE_NUMBER';

export function appendFailed(codeName: AppendErrorCodeName, message: string, details: Record<string, unknown> = {}): AppendResult {
  return { ok: false, error: new RunnelError(codeName, message, { details }) };
}

