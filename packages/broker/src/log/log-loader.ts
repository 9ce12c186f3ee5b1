import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from 'pino';
import type { FileOps } from './file-ops.js';
import { LOG_FILE_SUFFIX, LogSegment } from './log-segment.js';

const SEGMENT_FILE_PATTERN = /^(\d{20})(\.log|\.index|\.timeindex)$/;

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
