// Reads every partition of some topics from the beginning up to the high watermark each had when the
// read started: the read-back the acknowledged-records checker judges. Producers must have stopped
// (or the records written after the start are simply not read).
import { RunnelError } from '@runnel/client';
import type { Runnel } from '@runnel/client';
import type { ReadRecord } from './ack-checker.js';

export interface ReadBackOptions {
  /** Bound on the whole read. Default 60 000 ms. */
  readonly timeoutMs?: number;
}

const READ_BACK_TIMEOUT_MS_DEFAULT = 60_000;

/** Every record of `topics`, per partition in the order read. */
export async function readBack(runnel: Runnel, topics: readonly string[], options: ReadBackOptions = {}): Promise<ReadRecord[]> {
  const timeoutMs = options.timeoutMs ?? READ_BACK_TIMEOUT_MS_DEFAULT;
  const admin = runnel.admin();
  /** Per "topic\0partition": the offset the read must reach (exclusive). */
  const targets = new Map<string, number>();
  const assignments: Array<{ topic: string; partition: number }> = [];
  for (const topic of topics) {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      assignments.push({ topic, partition: p.partition });
      if (p.high > p.low) targets.set(`${topic}\u0000${p.partition}`, p.high);
    }
  }
  const records: ReadRecord[] = [];
  if (targets.size === 0) return records;
  const consumer = runnel.consumer({ autoOffsetReset: 'earliest' });
  await consumer.connect();
  consumer.assign(assignments, { fromBeginning: true });
  const remaining = new Set(targets.keys());
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new RunnelError('REQUEST_TIMED_OUT', `read back ${records.length} records in ${timeoutMs} ms; ${remaining.size} partition(s) short of their high watermark: ${[...remaining].map((k) => k.replace('\u0000', '-')).join(', ')}`));
      }, timeoutMs);
      consumer.once('crash', (error: Error) => {
        clearTimeout(timer);
        reject(error);
      });
      void consumer.run({
        eachBatch: async ({ batch }) => {
          const key = `${batch.topic}\u0000${batch.partition}`;
          for (const m of batch.messages) {
            records.push({ topic: batch.topic, partition: batch.partition, offset: m.offset, key: m.key?.toString('utf8') ?? null, value: m.value?.toString('utf8') ?? null });
            if (m.offset + 1 >= (targets.get(key) ?? 0)) remaining.delete(key);
          }
          if (remaining.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  // Records past a target were written after the read started; the ledger does not cover them all.
  return records.filter((r) => r.offset < (targets.get(`${r.topic}\u0000${r.partition}`) ?? 0));
}
