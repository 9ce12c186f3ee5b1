import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, decodeRecordBatch, iterateBatches } from '@runnel/protocol';
import type { FetchRequest, FetchResponse, ProduceResponse } from './messages.js';
import { ReplicaManager } from './replica-manager.js';
import { InProcessCluster, TOPIC, batch, buildImage, isPending, quietLogger, tempDir, waitFor } from './manager-test-kit.js';

function produceRequest(acks: number, records: Buffer, partition = 0, timeoutMs = 10_000) {
  return { acks, timeoutMs, topics: [{ name: TOPIC, partitions: [{ partition, records }] }] };
}

function part(response: ProduceResponse) {
  const found = response.topics[0]?.partitions[0];
  if (found === undefined) throw new Error('empty produce response');
  return found;
}

function consumerFetch(fetchOffset: number, options: { maxWaitMs?: number; minBytes?: number; currentLeaderEpoch?: number } = {}): FetchRequest {
  return {
    replicaId: -1,
    replicaEpoch: 0,
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 0,
    maxBytes: 0,
    isolationLevel: 0,
    topics: [
      {
        name: TOPIC,
        partitions: [
          { partition: 0, currentLeaderEpoch: options.currentLeaderEpoch ?? -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 0, flushedOffset: 0 },
        ],
      },
    ],
  };
}

function fetched(response: FetchResponse) {
  const found = response.topics[0]?.partitions[0];
  if (found === undefined) throw new Error('empty fetch response');
  return found;
}

/** Every record value in a fetch response, in order. */
function values(records: Buffer): string[] {
  const out: string[] = [];
  for (const entry of iterateBatches(records)) {
    if (!('header' in entry)) break;
    const decoded = decodeRecordBatch(records, entry.position);
    for (const record of decoded.records) out.push(Buffer.from(record.value ?? []).toString());
  }
  return out;
}

describe('ReplicaManager, one broker', () => {
  let manager: ReplicaManager | undefined;
  let logDir = '';
  afterEach(async () => {
    await manager?.close();
    manager = undefined;
    if (logDir !== '') await fs.promises.rm(logDir, { recursive: true, force: true });
  });

  async function single(configs: Record<string, string> = {}): Promise<ReplicaManager> {
    logDir = await tempDir();
    manager = new ReplicaManager({
      brokerId: 1,
      logDir,
      logger: quietLogger(),
      alterPartition: { alterPartition: () => Promise.resolve({ ok: false, codeName: 'OPERATION_NOT_ATTEMPTED' }) },
    });
    await manager.applyMetadata(buildImage({ brokers: [1], partitions: [{ replicas: [1], isr: [1], leader: 1, leaderEpoch: 3 }], topicConfigs: configs }));
    return manager;
  }

  it('produces and fetches a round trip with acks=1 and acks=all', async () => {
    const m = await single();
    const first = part(await m.produce(produceRequest(1, batch(['a', 'b']))));
    expect(first.errorCode).toBe(ErrorCode.NONE);
    expect(first.baseOffset).toBe(0);
    const second = part(await m.produce(produceRequest(-1, batch(['c']))));
    expect(second).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 2, currentLeaderEpoch: 3 });
    const read = fetched(await m.fetch(consumerFetch(0)));
    expect(read.errorCode).toBe(ErrorCode.NONE);
    expect(read.highWatermark).toBe(3);
    expect(values(read.records)).toEqual(['a', 'b', 'c']);
    const stamped = decodeRecordBatch(read.records, 0);
    expect(stamped.header.partitionLeaderEpoch).toBe(3);
  });

  it('the periodic checkpoint pass persists the high watermark of every partition, one at a time', async () => {
    logDir = await tempDir();
    const m = new ReplicaManager({
      brokerId: 1,
      logDir,
      logger: quietLogger(),
      alterPartition: { alterPartition: () => Promise.resolve({ ok: false, codeName: 'OPERATION_NOT_ATTEMPTED' }) },
      highWatermarkCheckpointIntervalMs: 20,
    });
    manager = m;
    const spec = { replicas: [1], isr: [1], leader: 1, leaderEpoch: 1 };
    await m.applyMetadata(buildImage({ brokers: [1], partitions: [spec, spec, spec] }));
    for (const partition of [0, 1, 2]) {
      const values = Array.from({ length: partition + 1 }, (_, i) => `p${partition}-${i}`);
      expect(part(await m.produce(produceRequest(-1, batch(values), partition))).errorCode).toBe(ErrorCode.NONE);
    }
    const checkpointed = (partition: number): number | undefined => m.partitionLog(TOPIC, partition)?.readHighWatermark();
    await waitFor(() => [0, 1, 2].every((p) => checkpointed(p) === p + 1), 'every high watermark checkpointed');
    // On disk, not only in memory: a fresh manager over the same directory starts from them.
    await m.close();
    manager = undefined;
    const reopened = new ReplicaManager({ brokerId: 1, logDir, logger: quietLogger(), alterPartition: { alterPartition: () => Promise.resolve({ ok: false, codeName: 'OPERATION_NOT_ATTEMPTED' }) } });
    manager = reopened;
    await reopened.applyMetadata(buildImage({ brokers: [1], partitions: [spec, spec, spec] }));
    expect([0, 1, 2].map((p) => reopened.partitionLog(TOPIC, p)?.readHighWatermark())).toEqual([1, 2, 3]);
  });

  it('refuses a batch with a bad CRC and appends nothing of the request', async () => {
    const m = await single();
    const good = batch(['ok']);
    const bad = batch(['bad']);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
    const answer = part(await m.produce(produceRequest(1, Buffer.concat([good, bad]))));
    expect(answer.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(m.describe()[0]?.logEndOffset).toBe(0);
  });

  it('answers OFFSET_OUT_OF_RANGE past the log end, UNKNOWN_TOPIC_OR_PARTITION for an unknown topic, INVALID_REQUIRED_ACKS for acks=2', async () => {
    const m = await single();
    await m.produce(produceRequest(1, batch(['a'])));
    expect(fetched(await m.fetch(consumerFetch(5))).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    const unknown = await m.produce({ acks: 1, timeoutMs: 1000, topics: [{ name: 'nope', partitions: [{ partition: 0, records: batch(['x']) }] }] });
    expect(part(unknown).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(part(await m.produce(produceRequest(2, batch(['x'])))).errorCode).toBe(ErrorCode.INVALID_REQUIRED_ACKS);
  });

  it('wakes a parked long-poll fetch when a produce appends', async () => {
    const m = await single();
    const poll = m.fetch(consumerFetch(0, { maxWaitMs: 20_000, minBytes: 1 }));
    expect(await isPending(poll)).toBe(true);
    await m.produce(produceRequest(1, batch(['late'])));
    const read = fetched(await poll);
    expect(values(read.records)).toEqual(['late']);
  });

  it('lists earliest, latest and by-timestamp offsets and answers OffsetsForLeaderEpoch', async () => {
    const m = await single();
    await m.produce(produceRequest(1, batch(['a', 'b'], 1_000)));
    await m.produce(produceRequest(-1, batch(['c'], 5_000)));
    const list = m.listOffsets({
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        {
          name: TOPIC,
          partitions: [
            { partition: 0, currentLeaderEpoch: -1, timestamp: -2 },
            { partition: 0, currentLeaderEpoch: -1, timestamp: -1 },
            { partition: 0, currentLeaderEpoch: 3, timestamp: 4_000 },
          ],
        },
      ],
    });
    expect(list.topics[0]?.partitions.map((p) => p.offset)).toEqual([0, 3, 2]);
    const epochs = m.offsetsForLeaderEpoch({ replicaId: 2, topics: [{ name: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: 3, leaderEpoch: 3 }] }] });
    expect(epochs.topics[0]?.partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: 3, endOffset: 3 });
    const stale = m.offsetsForLeaderEpoch({ replicaId: 2, topics: [{ name: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: 2, leaderEpoch: 2 }] }] });
    expect(stale.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
  });

  it("keeps a follower's long poll parked when only the high watermark moves, and answers it with the next data", async () => {
    logDir = await tempDir();
    const m = new ReplicaManager({
      brokerId: 1,
      logDir,
      logger: quietLogger(),
      alterPartition: { alterPartition: () => Promise.resolve({ ok: false, codeName: 'OPERATION_NOT_ATTEMPTED' }) },
    });
    manager = m;
    // Brokers 2 and 3 are followers played by hand: their fetches go straight to the leader.
    await m.applyMetadata(buildImage({ brokers: [1, 2, 3], partitions: [{ replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 3 }] }));
    const followerFetch = (replicaId: number, offset: number, maxWaitMs: number): FetchRequest => ({
      ...consumerFetch(offset, { maxWaitMs, minBytes: 1 }),
      replicaId,
      topics: [{ name: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: 3, fetchOffset: offset, lastFetchedEpoch: 3, logStartOffset: 0, partitionMaxBytes: 0, flushedOffset: offset }] }],
    });
    const produced = m.produce(produceRequest(-1, batch(['a'])));
    await waitFor(() => m.describe()[0]?.flushedOffset === 1, 'the leader to flush offset 0');
    // Broker 2 reports offset 0 on disk: the watermark cannot move without broker 3, so it parks.
    const parked = m.fetch(followerFetch(2, 1, 5_000));
    expect(await isPending(parked)).toBe(true);
    // Broker 3's report moves the watermark and completes the acks=all produce...
    expect(fetched(await m.fetch(followerFetch(3, 1, 0))).highWatermark).toBe(1);
    expect(part(await produced).errorCode).toBe(ErrorCode.NONE);
    // ...but a watermark move alone does not answer broker 2's long poll (an extra round trip per batch).
    expect(await isPending(parked)).toBe(true);
    // The next append does, and carries the watermark along with the data.
    await m.produce(produceRequest(1, batch(['b'])));
    const answer = fetched(await parked);
    expect(values(answer.records)).toEqual(['b']);
    expect(answer.highWatermark).toBe(1);
  });

  it('deletes the data of a removed topic', async () => {
    const m = await single();
    await m.produce(produceRequest(1, batch(['a'])));
    const dir = path.join(logDir, `${TOPIC}-0`);
    expect(fs.existsSync(dir)).toBe(true);
    await m.applyMetadata(buildImage({ brokers: [1], partitions: [], topic: 'other', topicId: 'BBBBBBBBBBBBBBBBBBBBBB' }));
    expect(m.describe()).toEqual([]);
    expect(fs.existsSync(dir)).toBe(false);
    expect(part(await m.produce(produceRequest(1, batch(['b'])))).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });
});

describe('ReplicaManager, three brokers', () => {
  let cluster: InProcessCluster | undefined;
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  async function threeBrokers(isr: number[] = [1, 2, 3], configs: Record<string, string> = { 'min.insync.replicas': '2' }, paused: number[] = []): Promise<InProcessCluster> {
    cluster = new InProcessCluster();
    await cluster.start([1, 2, 3]);
    for (const id of paused) cluster.pause(id);
    await cluster.applyAll(buildImage({ brokers: [1, 2, 3], partitions: [{ replicas: [1, 2, 3], isr, leader: 1, leaderEpoch: 1 }], topicConfigs: configs }));
    return cluster;
  }

  it('acknowledges acks=all only after every ISR follower has fetched AND flushed the batch', async () => {
    const c = await threeBrokers();
    c.pause(3);
    c.fileOps.get(2)?.close();
    const produce = c.manager(1).produce(produceRequest(-1, batch(['x', 'y'])));
    // Broker 2 has the records but cannot fsync them; broker 3 has not fetched them.
    await waitFor(() => c.view(2).logEndOffset === 2, 'broker 2 to append');
    await waitFor(() => (c.fileOps.get(2)?.waiting ?? 0) > 0, 'broker 2 to wait on its fsync');
    expect(await isPending(produce)).toBe(true);
    expect(c.view(1).highWatermark).toBe(0);
    // Broker 3 catches up and flushes; broker 2 still has not flushed: the watermark holds.
    c.resume(3);
    await waitFor(() => c.view(3).flushedOffset === 2, 'broker 3 to flush');
    expect(await isPending(produce)).toBe(true);
    expect(c.view(1).highWatermark).toBe(0);
    // The consumer sees nothing above the high watermark meanwhile.
    const early = fetched(await c.manager(1).fetch(consumerFetch(0)));
    expect(early.records.length).toBe(0);
    c.fileOps.get(2)?.open();
    const answer = part(await produce);
    expect(answer).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 });
    expect(c.view(1).highWatermark).toBe(2);
    expect(c.view(2).flushedOffset).toBe(2);
    expect(c.view(3).flushedOffset).toBe(2);
    expect(values(fetched(await c.manager(1).fetch(consumerFetch(0))).records)).toEqual(['x', 'y']);
    // Followers learn the watermark from their next fetch.
    await waitFor(() => c.view(2).highWatermark === 2 && c.view(3).highWatermark === 2, 'followers to learn the high watermark');
  });

  it('refuses acks=all with NOT_ENOUGH_REPLICAS when the ISR is below min.insync.replicas, writing nothing', async () => {
    const c = await threeBrokers([1], { 'min.insync.replicas': '2' }, [2, 3]);
    const answer = part(await c.manager(1).produce(produceRequest(-1, batch(['x']))));
    expect(answer.errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(c.view(1).logEndOffset).toBe(0);
    // acks=1 is not bound by min.insync.replicas (Kafka).
    expect(part(await c.manager(1).produce(produceRequest(1, batch(['y'])))).errorCode).toBe(ErrorCode.NONE);
  });

  it('expands the ISR through the AlterPartition sender once a follower catches up', async () => {
    const c = await threeBrokers([1, 2], { 'min.insync.replicas': '2' });
    await c.manager(1).produce(produceRequest(-1, batch(['a'])));
    await waitFor(() => c.view(1).isr.includes(3), 'broker 3 to join the ISR');
    expect(c.controller.requests.some((request) => request.newIsr.includes(3))).toBe(true);
  });

  it('fences a replica fetch that carries a stale leader epoch', async () => {
    const c = await threeBrokers();
    const request: FetchRequest = {
      ...consumerFetch(0),
      replicaId: 2,
      topics: [{ name: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: 0, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: 0, partitionMaxBytes: 0, flushedOffset: 0 }] }],
    };
    const answer = fetched(await c.manager(1).fetch(request));
    expect(answer.errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect(answer.currentLeaderEpoch).toBe(1);
    const newer = fetched(await c.manager(1).fetch({ ...request, topics: [{ name: TOPIC, partitions: [{ ...request.topics[0]!.partitions[0]!, currentLeaderEpoch: 7 }] }] }));
    expect(newer.errorCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
    // A consumer fetching from a follower is told to go to the leader.
    expect(fetched(await c.manager(2).fetch(consumerFetch(0))).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  });

  it('makes a follower truncate a divergent suffix after a leader change', async () => {
    const c = await threeBrokers();
    // Epoch 1, leader 1: two records replicated everywhere.
    expect(part(await c.manager(1).produce(produceRequest(-1, batch(['a', 'b'])))).errorCode).toBe(ErrorCode.NONE);
    await waitFor(() => c.view(2).logEndOffset === 2 && c.view(3).logEndOffset === 2, 'followers to replicate');
    // Leader 1 writes two more records nobody fetches (acks=1), then is replaced.
    c.pause(2);
    c.pause(3);
    expect(part(await c.manager(1).produce(produceRequest(1, batch(['lost-1', 'lost-2'])))).errorCode).toBe(ErrorCode.NONE);
    expect(c.view(1).logEndOffset).toBe(4);
    // Epoch 2: broker 2 leads (1 is still a replica) and writes a different record at offset 2.
    const epoch2 = buildImage({ brokers: [1, 2, 3], partitions: [{ replicas: [1, 2, 3], isr: [2, 3], leader: 2, leaderEpoch: 2, partitionEpoch: 1 }], topicConfigs: { 'min.insync.replicas': '1' } });
    c.pause(1);
    await c.applyAll(epoch2);
    c.resume(3);
    expect(part(await c.manager(2).produce(produceRequest(-1, batch(['new'])))).errorCode).toBe(ErrorCode.NONE);
    // Broker 1 now follows 2: its offsets 2..3 (epoch 1) diverge from 2's offset 2 (epoch 2).
    c.resume(1);
    await waitFor(() => c.view(1).logEndOffset === 3 && c.view(1).highWatermark === 3, 'broker 1 to truncate and catch up');
    const log = c.manager(1).partitionLog(TOPIC, 0);
    const read = log?.read(0, 1 << 20);
    expect(read?.ok).toBe(true);
    if (read?.ok === true) expect(values(read.records)).toEqual(['a', 'b', 'new']);
    expect(log?.leaderEpochEntries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 2 },
    ]);
  });
});
