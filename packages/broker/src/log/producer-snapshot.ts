// The producer state written at a clean close, so the next open need not rescan every batch header
// and keeps producers whose batches retention has deleted (Kafka's <offset>.snapshot files, taken
// here only at shutdown). A snapshot is consumed by the open that reads it: after that the log
// changes, and only a rescan can say what a crash left.
import * as fs from 'node:fs';
import { CheckpointFile } from './checkpoint-file.js';
import type { CheckpointEntry } from './checkpoint-file.js';
import { fsyncDirSync } from './file-ops.js';
import type { FileOps } from './file-ops.js';
import { PRODUCER_BATCHES_RETAINED } from './producer-state.js';
import type { BatchMetadata, ProducerEntry } from './producer-state.js';

export const PRODUCER_SNAPSHOT = 'producer-state-snapshot';
/** One line per cached batch: producerId, epoch, lastTimestampMs, firstSeq, lastSeq, baseOffset, lastOffset, maxTimestampMs, plus the snapshot offset. */
const FIELDS = 9;
/** The first line: the log end offset the snapshot describes, under a producer id no batch can carry. */
const OFFSET_MARKER_PRODUCER_ID = -1;

export interface ProducerSnapshot {
  /** The log end offset when the snapshot was taken: it describes the log only if that still is the end. */
  logEndOffset: number;
  entries: ProducerEntry[];
}

function file(dir: string, ops: FileOps): CheckpointFile {
  return new CheckpointFile(dir, PRODUCER_SNAPSHOT, FIELDS, ops);
}

export function writeProducerSnapshot(dir: string, ops: FileOps, logEndOffset: number, entries: Iterable<ProducerEntry>): void {
  const lines: CheckpointEntry[] = [[logEndOffset, OFFSET_MARKER_PRODUCER_ID, 0, 0, 0, 0, 0, 0, 0]];
  for (const entry of entries) {
    for (const b of entry.batches) {
      lines.push([logEndOffset, entry.producerId, entry.producerEpoch, entry.lastTimestampMs, b.firstSeq, b.lastSeq, b.baseOffset, b.lastOffset, b.maxTimestampMs]);
    }
  }
  file(dir, ops).write(lines);
}

/** The snapshot, or undefined when there is none. Throws on a malformed one. */
export function readProducerSnapshot(dir: string, ops: FileOps): ProducerSnapshot | undefined {
  const lines = file(dir, ops).read();
  if (lines === undefined) return undefined;
  const [marker, ...rest] = lines;
  if (marker === undefined || marker[1] !== OFFSET_MARKER_PRODUCER_ID) throw new Error(`${PRODUCER_SNAPSHOT}: first line is not the offset marker`);
  const logEndOffset = marker[0] as number;
  const byProducer = new Map<number, { producerEpoch: number; lastTimestampMs: number; batches: BatchMetadata[] }>();
  for (const line of rest) {
    const [offset, producerId, producerEpoch, lastTimestampMs, firstSeq, lastSeq, baseOffset, lastOffset, maxTimestampMs] = line as [number, number, number, number, number, number, number, number, number];
    if (offset !== logEndOffset || producerId < 0) throw new Error(`${PRODUCER_SNAPSHOT}: inconsistent line ${line.join(' ')}`);
    let entry = byProducer.get(producerId);
    if (entry === undefined) {
      entry = { producerEpoch, lastTimestampMs, batches: [] };
      byProducer.set(producerId, entry);
    }
    entry.batches.push({ firstSeq, lastSeq, baseOffset, lastOffset, maxTimestampMs });
    if (entry.batches.length > PRODUCER_BATCHES_RETAINED) throw new Error(`${PRODUCER_SNAPSHOT}: more than ${PRODUCER_BATCHES_RETAINED} batches of producer ${producerId}`);
  }
  return { logEndOffset, entries: [...byProducer].map(([producerId, entry]) => ({ producerId, ...entry })) };
}

export function deleteProducerSnapshot(dir: string, ops: FileOps): void {
  const snapshotPath = file(dir, ops).path;
  if (!fs.existsSync(snapshotPath)) return;
  fs.rmSync(snapshotPath, { force: true });
  // Durably gone before the log changes: a crash must not bring back a snapshot of another log state.
  fsyncDirSync(ops, dir);
}
