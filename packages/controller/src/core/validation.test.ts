import { describe, expect, it } from 'vitest';
import { MetadataImage } from './metadata-image.js';
import {
  findCollidingTopic,
  validateClusterConfigs,
  validateNewTopicName,
  validatePartitionCount,
  validatePartitionIncrease,
  validateReplicationFactor,
  validateTopicConfigs,
  validateTopicName,
} from './validation.js';

describe('topic names (Kafka Topic.validate)', () => {
  it.each(['a', 'orders', 'a.b_c-D9', 'x'.repeat(249), '...'])('accepts %s', (name) => {
    expect(validateTopicName(name)).toBeNull();
  });

  it.each(['', '.', '..', 'x'.repeat(250), 'a b', 'a/b', 'ü', 'a:b'])('rejects %j with INVALID_TOPIC_EXCEPTION', (name) => {
    expect(validateTopicName(name)?.codeName).toBe('INVALID_TOPIC_EXCEPTION');
  });

  it('reports a topic whose name differs from an existing one only by . and _', () => {
    expect(findCollidingTopic('a_b', ['a.b', 'c'])).toBe('a.b');
    expect(findCollidingTopic('a_b', ['a_b'])).toBeUndefined();
  });

  it('fails an existing name with TOPIC_ALREADY_EXISTS and a collision with INVALID_TOPIC_EXCEPTION', () => {
    const image = MetadataImage.EMPTY.apply({ type: 'Topic', version: 1, name: 'a.b', topicId: 'id1' });
    expect(validateNewTopicName(image, 'a.b')?.codeName).toBe('TOPIC_ALREADY_EXISTS');
    const collision = validateNewTopicName(image, 'a_b');
    expect(collision?.codeName).toBe('INVALID_TOPIC_EXCEPTION');
    expect(collision?.message).toContain("'a.b'");
  });
});

describe('partition counts and replication factor', () => {
  it('requires a positive partition count', () => {
    expect(validatePartitionCount(0)?.codeName).toBe('INVALID_PARTITIONS');
    expect(validatePartitionCount(1.5)?.codeName).toBe('INVALID_PARTITIONS');
    expect(validatePartitionCount(3)).toBeNull();
  });

  it('requires a replication factor between 1 and the live brokers', () => {
    expect(validateReplicationFactor(0, 3)?.codeName).toBe('INVALID_REPLICATION_FACTOR');
    expect(validateReplicationFactor(4, 3)?.codeName).toBe('INVALID_REPLICATION_FACTOR');
    expect(validateReplicationFactor(3, 3)).toBeNull();
  });

  it('allows CreatePartitions to increase only', () => {
    expect(validatePartitionIncrease('t', 3, 3)?.codeName).toBe('INVALID_PARTITIONS');
    expect(validatePartitionIncrease('t', 3, 2)?.codeName).toBe('INVALID_PARTITIONS');
    expect(validatePartitionIncrease('t', 3, 4)).toBeNull();
  });
});

describe('topic configs', () => {
  it('accepts valid values of every known key', () => {
    expect(
      validateTopicConfigs(
        {
          'cleanup.policy': 'compact,delete',
          'retention.ms': '-1',
          'retention.bytes': '1073741824',
          'segment.bytes': '1048576',
          'segment.ms': '3600000',
          'min.insync.replicas': '2',
          'max.message.bytes': '1048588',
          'unclean.leader.election.enable': 'TRUE',
          'message.timestamp.type': 'LogAppendTime',
        },
        3,
      ),
    ).toBeNull();
  });

  it.each([
    ['cleanup.policy', 'shred'],
    ['retention.ms', '-2'],
    ['retention.ms', '1e3'],
    ['segment.bytes', '13'],
    ['segment.ms', '0'],
    ['min.insync.replicas', '0'],
    ['max.message.bytes', 'big'],
    ['unclean.leader.election.enable', 'yes'],
    ['message.timestamp.type', 'createtime'],
  ])('rejects %s=%s with INVALID_CONFIG naming the key', (name, value) => {
    const error = validateTopicConfigs({ [name]: value }, 3);
    expect(error?.codeName).toBe('INVALID_CONFIG');
    expect(error?.message).toContain(`'${name}'`);
  });

  it('rejects min.insync.replicas above the replication factor', () => {
    expect(validateTopicConfigs({ 'min.insync.replicas': '3' }, 2)?.message).toMatch(/replication factor 2/);
  });

  it('rejects an unknown key', () => {
    expect(validateTopicConfigs({ 'retention.hours': '1' }, 1)?.message).toContain("'retention.hours'");
  });

  it('accepts controller settings only at cluster level', () => {
    expect(validateClusterConfigs({ 'auto.leader.rebalance.enable': 'false' })).toBeNull();
    expect(validateTopicConfigs({ 'auto.leader.rebalance.enable': 'false' }, 1)?.codeName).toBe('INVALID_CONFIG');
  });
});
