import { describe, expect, it } from 'vitest';
import { formatConsumed, formatTopicDescription, parseInputLine } from './client-commands.js';
import { CliError } from './errors.js';

const plain = { parseKey: false, keySeparator: '\t', parseHeaders: false };

describe('console producer line parsing', () => {
  it('a plain line is a keyless value', () => {
    expect(parseInputLine('hello world', plain)).toEqual({ key: null, value: 'hello world' });
  });

  it('--parse-key splits at the first separator only', () => {
    expect(parseInputLine('user-1|a|b', { ...plain, parseKey: true, keySeparator: '|' })).toEqual({ key: 'user-1', value: 'a|b' });
  });

  it('--parse-key without the separator is a clear error, not a keyless record', () => {
    expect(() => parseInputLine('no separator', { ...plain, parseKey: true, keySeparator: '|' })).toThrow(CliError);
  });

  it('--parse-headers reads h:v pairs before a TAB, then the key and value', () => {
    expect(parseInputLine('trace:abc,src:web\tk|v', { parseKey: true, keySeparator: '|', parseHeaders: true }))
      .toEqual({ key: 'k', value: 'v', headers: { trace: 'abc', src: 'web' } });
    expect(() => parseInputLine('broken\tv', { ...plain, parseHeaders: true })).toThrow(/not key:value/);
  });
});

describe('output formats', () => {
  it('topics describe prints one kafka-topics.sh style line per partition', () => {
    const text = formatTopicDescription({
      name: 'orders', topicId: 'id1',
      partitions: [
        { partitionId: 1, leader: -1, leaderEpoch: 0, replicas: [2, 3, 1], isr: [2], offlineReplicas: [], partitionErrorCode: 0 },
        { partitionId: 0, leader: 1, leaderEpoch: 0, replicas: [1, 2, 3], isr: [1, 2, 3], offlineReplicas: [], partitionErrorCode: 0 },
      ],
    });
    expect(text.split('\n')).toEqual([
      'Topic: orders TopicId: id1 PartitionCount: 2',
      'Topic: orders Partition: 0 Leader: 1 Replicas: 1,2,3 Isr: 1,2,3',
      'Topic: orders Partition: 1 Leader: none Replicas: 2,3,1 Isr: 2',
    ]);
  });

  it('the console consumer prints the fields asked for, tab separated, nulls as null', () => {
    const message = { topic: 't', partition: 2, offset: 41, key: null, value: Buffer.from('v'), headers: { h: Buffer.from('x') }, timestamp: 1700000000000 };
    const all = { printKey: true, printPartition: true, printOffset: true, printHeaders: true, printTimestamp: true };
    expect(formatConsumed(message, all)).toBe('CreateTime:1700000000000\tPartition:2\tOffset:41\th:x\tnull\tv');
    const none = { printKey: false, printPartition: false, printOffset: false, printHeaders: false, printTimestamp: false };
    expect(formatConsumed(message, none)).toBe('v');
  });
});
