import type { ErrorCodeName } from '@runnel/protocol';
import type { IsrChangeRequest } from '../core/types.js';
import type { EpochEndOffset } from '../core/leader-epoch.js';
import type { LogRecord } from './sim-log.js';

/** Endpoint id of the stand-in controller; brokers are 1..n, the producer is PRODUCER_ID. */
export const CONTROLLER_ID = 0;
export const PRODUCER_ID = 100;

export interface PartitionMetadata {
  leaderId: number;
  leaderEpoch: number;
  partitionEpoch: number;
  replicas: readonly number[];
  isr: readonly number[];
}

export type SimMessage =
  | { type: 'fetch'; fetchId: number; replicaId: number; fetchOffset: number; flushedOffset: number; leaderEpoch: number }
  | { type: 'fetch-response'; fetchId: number; leaderEpoch: number; fetchOffset: number; error: ErrorCodeName | undefined; records: LogRecord[]; highWatermark: number }
  | { type: 'epoch-request'; requestId: number; requestedEpoch: number; leaderEpoch: number }
  | { type: 'epoch-response'; requestId: number; leaderEpoch: number; error: ErrorCodeName | undefined; answer: EpochEndOffset }
  | { type: 'alter-isr'; request: IsrChangeRequest }
  | { type: 'alter-isr-response'; requestId: number; error: ErrorCodeName | undefined; isr: readonly number[]; partitionEpoch: number }
  | { type: 'metadata'; metadata: PartitionMetadata }
  | { type: 'produce'; produceId: number; payload: string; leaderEpoch: number }
  | { type: 'produce-response'; produceId: number; error: ErrorCodeName | undefined; offset: number; payload: string };

export interface Envelope {
  from: number;
  /** The sender's incarnation: the controller refuses AlterPartition from a dead one (KIP-903). */
  fromIncarnation: number;
  to: number;
  /** The receiver's incarnation when sent: a restarted process has new connections and never sees it. */
  toIncarnation: number;
  deliverAtMs: number;
  message: SimMessage;
}
