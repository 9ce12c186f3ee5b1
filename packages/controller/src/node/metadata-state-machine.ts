// The metadata log's state machine: every 'normal' Raft entry is one controller decision, a record
// batch (encodeRecordBatch) applied atomically to the immutable MetadataImage. Controllers and
// broker observers run the same class, so both sides mean the same thing by "metadata offset".
import type { Logger } from 'pino';
import { RunnelError } from '@runnel/protocol';
import type { Entry, StateMachine } from '@runnel/raft';
import { MetadataImage } from '../core/metadata-image.js';
import { decodeRecordBatch } from '../core/records.js';

export type ImageListener = (image: MetadataImage, offset: number) => void;

/** "RMS1": a snapshot carries the applied offset, which MetadataImage's own bytes do not. */
const SNAPSHOT_MAGIC = 0x524d5331;
const SNAPSHOT_HEADER_BYTES = 12;
/** Listeners are publishers (a broker's replica manager, the controller); more means a leak. */
const LISTENERS_MAX = 64;

export class MetadataStateMachine implements StateMachine {
  private currentImage: MetadataImage = MetadataImage.EMPTY;
  private currentOffset = 0;
  private skipped = 0;
  private fencings = 0;
  private leaderElections = 0;
  private readonly listeners = new Set<ImageListener>();

  constructor(private readonly logger: Logger) {}

  get image(): MetadataImage {
    return this.currentImage;
  }

  /** Raft index of the last record batch applied (0 before any); noop entries do not move it. */
  get appliedOffset(): number {
    return this.currentOffset;
  }

  /**
   * Controller decisions this node has applied from the metadata log since it started (metrics):
   * brokers fenced, and partitions given a new leader (PartitionChange records naming a leader >= 0).
   * Entries replayed from the local log at start-up count too; a restored snapshot does not.
   */
  get eventCounts(): { brokerFencings: number; partitionLeaderElections: number } {
    return { brokerFencings: this.fencings, partitionLeaderElections: this.leaderElections };
  }

  /** Entries that were not metadata record batches (e.g. raw `quorum propose` payloads). */
  get skippedEntries(): number {
    return this.skipped;
  }

  /** Called after every applied batch and every restore; returns the unsubscribe function. */
  onImage(listener: ImageListener): () => void {
    if (this.listeners.size >= LISTENERS_MAX) throw new RangeError(`more than ${LISTENERS_MAX} metadata image listeners`);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  apply(entry: Entry): void {
    let records;
    try {
      records = decodeRecordBatch(entry.data);
    } catch (error) {
      // Every replica skips the same bytes, so states stay identical; throwing would instead stop
      // every controller on a payload some tool wrote through the generic Quorum Propose RPC.
      if (!(error instanceof RunnelError) || error.codeName !== 'CORRUPT_MESSAGE') throw error;
      this.skipped++;
      // Opaque entries are what the Quorum Propose RPC (and `runnel bench quorum`) writes on purpose:
      // say so once, then only at debug level, so a benchmark does not flood the log.
      const fields = { index: entry.index, term: entry.term, bytes: entry.data.byteLength, skippedEntries: this.skipped, reason: error.message };
      if (this.skipped === 1) this.logger.info(fields, 'metadata log holds opaque entries (Quorum Propose); the metadata image skips them');
      else this.logger.debug(fields, 'skipped an opaque metadata log entry');
      return;
    }
    // applyAll builds a new image, so a batch whose records break an invariant changes nothing:
    // the throw stops the node (a bug, not an input error) and no half-applied decision is visible.
    this.currentImage = this.currentImage.applyAll(records);
    this.currentOffset = entry.index;
    for (const record of records) {
      if (record.type === 'FenceBroker') this.fencings += 1;
      else if (record.type === 'PartitionChange' && record.leader !== undefined && record.leader >= 0) this.leaderElections += 1;
    }
    this.publish();
  }

  snapshot(): Uint8Array {
    const body = this.currentImage.toSnapshot();
    const bytes = new Uint8Array(SNAPSHOT_HEADER_BYTES + body.byteLength);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, SNAPSHOT_MAGIC);
    view.setBigUint64(4, BigInt(this.currentOffset));
    bytes.set(body, SNAPSHOT_HEADER_BYTES);
    return bytes;
  }

  restore(data: Uint8Array): void {
    if (data.byteLength < SNAPSHOT_HEADER_BYTES) throw new RunnelError('CORRUPT_MESSAGE', `metadata snapshot of ${data.byteLength} bytes is shorter than its header`);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const magic = view.getUint32(0);
    if (magic !== SNAPSHOT_MAGIC) throw new RunnelError('CORRUPT_MESSAGE', `metadata snapshot has magic 0x${magic.toString(16)}, expected 0x${SNAPSHOT_MAGIC.toString(16)}`);
    const offset = Number(view.getBigUint64(4));
    const image = MetadataImage.fromSnapshot(data.subarray(SNAPSHOT_HEADER_BYTES));
    this.currentImage = image;
    this.currentOffset = offset;
    this.publish();
  }

  private publish(): void {
    for (const listener of this.listeners) {
      try {
        listener(this.currentImage, this.currentOffset);
      } catch (error) {
        // A publisher's bug must not stop the metadata log (a throw from apply() would).
        this.logger.error({ err: error, offset: this.currentOffset }, 'metadata image listener threw');
      }
    }
  }
}
