// Helpers shared by the log tests: real temp directories, counted fsyncs, a manual clock, a logger
// whose lines the test can read, and record batches built with the protocol codec.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { decodeRecordBatch, encodeRecordBatch } from '@runnel/protocol';
import { nodeFileOps } from './file-ops.js';
import type { FileOps } from './file-ops.js';
import type { Clock, LogReadResult } from './log-types.js';

export async function makeTempDir(): Promise<string> {
  return fs.promises.mkdtemp(path.join(os.tmpdir(), 'runnel-log-'));
}

export async function removeDir(dir: string): Promise<void> {
  await fs.promises.rm(dir, { recursive: true, force: true });
}

export class ManualClock implements Clock {
  constructor(private now: number) {}
  nowMs(): number {
    return this.now;
  }
  advance(ms: number): void {
    this.now += ms;
  }
}

export interface CountingFileOps extends FileOps {
  asyncFsyncs: number;
  syncFsyncs: number;
  /** When set, every fsync fails with this error (a dying disk). */
  failWith: Error | undefined;
  /** Extra latency per async fsync, so requests can pile up behind one in flight. */
  delayMs: number;
}

export function countingFileOps(): CountingFileOps {
  const ops: CountingFileOps = {
    asyncFsyncs: 0,
    syncFsyncs: 0,
    failWith: undefined,
    delayMs: 0,
    fsync: async (fd) => {
      ops.asyncFsyncs += 1;
      if (ops.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, ops.delayMs));
      if (ops.failWith !== undefined) throw ops.failWith;
      await nodeFileOps.fsync(fd);
    },
    fsyncSync: (fd) => {
      ops.syncFsyncs += 1;
      if (ops.failWith !== undefined) throw ops.failWith;
      nodeFileOps.fsyncSync(fd);
    },
  };
  return ops;
}

export interface CapturedLog {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
}

export function capturingLogger(): CapturedLog {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.length > 0) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  // pino writes synchronously to a plain Writable, so a test can read lines right after the call.
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/**
 * A producer-style batch (base offset 0, no epoch) of `recordCount` records of `valueBytes` each;
 * from an idempotent producer when `producer` is given.
 */
export function makeBatch(
  options: { recordCount?: number; timestampMs?: number; valueBytes?: number; tag?: string; producer?: { id: number; epoch: number; sequence: number } } = {},
): Buffer {
  const recordCount = options.recordCount ?? 1;
  const timestampMs = options.timestampMs ?? 1_700_000_000_000;
  const valueBytes = options.valueBytes ?? 16;
  const tag = options.tag ?? 'v';
  return encodeRecordBatch({
    baseTimestamp: timestampMs,
    ...(options.producer === undefined ? {} : { producerId: options.producer.id, producerEpoch: options.producer.epoch, baseSequence: options.producer.sequence }),
    records: Array.from({ length: recordCount }, (_, i) => ({
      key: Buffer.from(`k${i}`),
      value: Buffer.from(`${tag}-${i}-`.padEnd(valueBytes, 'x')),
      timestamp: timestampMs + i,
    })),
  });
}

/** A batch of keyed records (a null value is a tombstone), from an idempotent producer when `producer` is given. */
export function makeKeyedBatch(
  records: ReadonlyArray<readonly [key: string | null, value: string | null]>,
  options: { timestampMs?: number; producer?: { id: number; epoch: number; sequence: number }; compression?: 'none' | 'gzip' } = {},
): Buffer {
  const timestampMs = options.timestampMs ?? 1_700_000_000_000;
  return encodeRecordBatch({
    baseTimestamp: timestampMs,
    compression: options.compression ?? 'none',
    ...(options.producer === undefined ? {} : { producerId: options.producer.id, producerEpoch: options.producer.epoch, baseSequence: options.producer.sequence }),
    records: records.map(([key, value]) => ({
      key: key === null ? null : Buffer.from(key),
      value: value === null ? null : Buffer.from(value),
      timestamp: timestampMs,
    })),
  });
}

export interface StoredRecord {
  offset: number;
  key: string | null;
  value: string | null;
}

/**
 * Every record of the log below `endOffset`, read the way a consumer does: fetch from an offset,
 * decode whole batches, skip records below the position, continue at the last batch's end.
 */
export function readAllRecords(log: { logStartOffset: number; logEndOffset: number; read: PartitionLogReader }, endOffset: number = log.logEndOffset): StoredRecord[] {
  const out: StoredRecord[] = [];
  let offset = log.logStartOffset;
  // Bounded: each read advances `offset` by at least one batch, or the loop stops.
  for (let reads = 0; offset < endOffset && reads < 100_000; reads++) {
    const result = log.read(offset, 64 * 1024, endOffset);
    if (!result.ok) throw result.error;
    if (result.records.length === 0) break;
    let position = 0;
    while (position < result.records.length) {
      const batch = decodeRecordBatch(result.records, position);
      for (const record of batch.records) {
        if (record.offset < offset) continue;
        out.push({ offset: record.offset, key: record.key?.toString() ?? null, value: record.value?.toString() ?? null });
      }
      position += batch.header.sizeBytes;
    }
    if (result.nextFetchOffset <= offset) throw new Error(`read at ${offset} did not advance`);
    offset = result.nextFetchOffset;
  }
  return out;
}

type PartitionLogReader = (startOffset: number, maxBytes: number, maxOffsetExclusive?: number) => LogReadResult;
