import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { fsyncDirSync } from './file-ops.js';
import type { FileOps } from './file-ops.js';
import { CLEANED_FILE_SUFFIX, SWAP_FILE_SUFFIX } from './log-cleaner.js';
import { INDEX_FILE_SUFFIX, LOG_FILE_SUFFIX, LogSegment, TIME_INDEX_FILE_SUFFIX, segmentFileName } from './log-segment.js';

const SEGMENT_FILE_PATTERN = /^(\d{20})(\.log|\.index|\.timeindex)$/;
const CLEANER_FILE_PATTERN = /^(\d{20})(\.log|\.index|\.timeindex)(\.cleaned|\.swap)$/;

export interface LoadedSegments {
  segments: LogSegment[];
  /** Bytes cut from torn or corrupt tails, plus whole segments dropped after a corrupt one. */
  truncatedBytes: number;
}

/**
 * Kafka's LogLoader: opens every segment of a partition directory. Segments wholly below the
 * recovery point were flushed before the last shutdown, so only their indexes are loaded; the
 * segment holding the recovery point and all later ones are scanned batch by batch (framing, offsets,
 * CRC32C) and cut after the last good batch. A corrupt segment invalidates every later one, whose
 * bytes were written after the corruption and cannot be trusted to continue its offsets.
 */
export function loadSegments(dir: string, recoveryPoint: number, indexIntervalBytes: number, ops: FileOps, log: Logger): LoadedSegments {
  finishInterruptedCleaning(dir, indexIntervalBytes, ops, log);
  const logBases = new Set<number>();
  const indexFiles: Array<{ base: number; name: string }> = [];
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith('.tmp')) {
      // A checkpoint write that crashed before its rename: the previous checkpoint is still valid.
      fs.rmSync(path.join(dir, name), { force: true });
      continue;
    }
    const match = SEGMENT_FILE_PATTERN.exec(name);
    if (match === null) continue;
    const base = Number(match[1]);
    if (match[2] === LOG_FILE_SUFFIX) logBases.add(base);
    else indexFiles.push({ base, name });
  }
  for (const { base, name } of indexFiles) {
    if (!logBases.has(base)) {
      log.warn({ file: name }, 'deleting an index file without its .log');
      fs.rmSync(path.join(dir, name), { force: true });
    }
  }
  const bases = [...logBases].sort((a, b) => a - b);
  const segments: LogSegment[] = [];
  let truncatedBytes = 0;
  let firstToRecover = 0;
  for (let i = 0; i < bases.length; i++) if ((bases[i] as number) <= recoveryPoint) firstToRecover = i;

  for (let i = 0; i < bases.length; i++) {
    const base = bases[i] as number;
    const segment = LogSegment.open(dir, base, indexIntervalBytes, ops);
    const previous = segments[segments.length - 1];
    if (previous !== undefined && base < previous.nextOffset) {
      truncatedBytes += dropSegments(bases.slice(i), dir, indexIntervalBytes, ops, log, `segment ${base} overlaps the previous one ending at ${previous.nextOffset}`, segment);
      break;
    }
    segments.push(segment);
    if (i < firstToRecover) {
      const problem = segment.loadWithoutRecovery();
      if (problem === undefined) continue;
      log.warn({ segment: base, problem }, 'recovering a segment below the recovery point: its indexes do not fit its log');
    }
    const recovery = segment.recover();
    if (recovery.truncatedBytes > 0) {
      truncatedBytes += recovery.truncatedBytes;
      log.warn(
        { segment: base, validBytes: recovery.validBytes, truncatedBytes: recovery.truncatedBytes, problem: recovery.problem },
        'truncated a torn or corrupt log tail during recovery',
      );
      if (i + 1 < bases.length) {
        truncatedBytes += dropSegments(bases.slice(i + 1), dir, indexIntervalBytes, ops, log, `follows corrupt segment ${base}`);
      }
      break;
    }
  }
  // Segments that are no longer active get the final time-index entry a roll would have written
  // (a rebuild or a crash before the roll completed may have left it out).
  for (const segment of segments.slice(0, -1)) segment.onBecomeInactive();
  return { segments, truncatedBytes };
}

function dropSegments(bases: number[], dir: string, indexIntervalBytes: number, ops: FileOps, log: Logger, reason: string, alreadyOpen?: LogSegment): number {
  let bytes = 0;
  for (const base of bases) {
    const segment = alreadyOpen?.baseOffset === base ? alreadyOpen : LogSegment.open(dir, base, indexIntervalBytes, ops);
    bytes += segment.sizeBytes;
    log.warn({ segment: base, sizeBytes: segment.sizeBytes, reason }, 'deleting a segment during recovery');
    segment.deleteFiles();
  }
  return bytes;
}

/**
 * Kafka's LogLoader handling of the cleaner's files (the swap protocol is in
 * PartitionLog.swapCleaned). A `.cleaned` file is a rewrite that never committed: deleted, the old
 * segments are intact. A `<base>.log.swap` committed: it holds every surviving batch of the old
 * segments with base offsets in [base, its next offset) — its last batch is always kept, so that
 * range is exactly theirs — so whichever of them a crash left are deleted and the swap takes their
 * place. Its indexes are rebuilt from it (a crash may have renamed the old ones' names onto them).
 */
function finishInterruptedCleaning(dir: string, indexIntervalBytes: number, ops: FileOps, log: Logger): void {
  const swapBases: number[] = [];
  const liveLogBases: number[] = [];
  const swapIndexFiles: Array<{ base: number; name: string }> = [];
  let changed = false;
  for (const name of fs.readdirSync(dir)) {
    const live = SEGMENT_FILE_PATTERN.exec(name);
    if (live !== null && live[2] === LOG_FILE_SUFFIX) liveLogBases.push(Number(live[1]));
    const match = CLEANER_FILE_PATTERN.exec(name);
    if (match === null) continue;
    const base = Number(match[1]);
    if (match[3] === CLEANED_FILE_SUFFIX) {
      log.warn({ file: name }, 'deleting a file of a compaction that did not complete');
      fs.rmSync(path.join(dir, name), { force: true });
      changed = true;
    } else if (match[2] === LOG_FILE_SUFFIX) {
      swapBases.push(base);
    } else {
      swapIndexFiles.push({ base, name });
    }
  }
  for (const { name } of swapIndexFiles) {
    fs.rmSync(path.join(dir, name), { force: true });
    changed = true;
  }
  for (const base of swapBases.sort((a, b) => a - b)) {
    const swap = LogSegment.open(dir, base, indexIntervalBytes, ops, SWAP_FILE_SUFFIX);
    try {
      const recovery = swap.recover();
      if (recovery.truncatedBytes > 0) log.warn({ segment: base, ...recovery }, 'truncated a corrupt tail of a compacted segment swap');
      const endOffset = Math.max(swap.nextOffset, base + 1);
      const replaced = liveLogBases.filter((liveBase) => liveBase >= base && liveBase < endOffset);
      for (const liveBase of replaced) {
        for (const suffix of [LOG_FILE_SUFFIX, INDEX_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX]) fs.rmSync(path.join(dir, segmentFileName(liveBase, suffix)), { force: true });
      }
      swap.flushSync();
      swap.renameIndexFiles('');
      swap.renameLogFile('');
      log.warn({ segment: base, endOffset, replacedSegments: replaced }, 'completed an interrupted compaction swap');
      changed = true;
    } finally {
      swap.close();
    }
  }
  if (changed) fsyncDirSync(ops, dir);
}
