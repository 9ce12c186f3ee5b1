// The compaction topic configs: Kafka names in the metadata image -> LogConfig fields, with defaults
// and validation.
import { describe, expect, it } from 'vitest';
import type { MetadataImage } from '@runnel/controller';
import { topicLogConfig } from '../manager/replica-manager.js';
import { DEFAULT_LOG_CONFIG, compactionEnabled, deletionEnabled, parseCleanupPolicy, resolveLogConfig } from './config.js';

/** Just the lookup topicLogConfig makes of an image. */
function imageWith(configs: Record<string, string>): MetadataImage {
  return { effectiveTopicConfig: (_topic: string, name: string) => configs[name] } as unknown as MetadataImage;
}

describe('cleanup configs', () => {
  it('default to Kafka\'s: delete policy, one day of tombstones, ratio 0.5, no compaction lag', () => {
    expect(DEFAULT_LOG_CONFIG).toMatchObject({ cleanupPolicy: 'delete', deleteRetentionMs: 86_400_000, minCleanableDirtyRatio: 0.5, minCompactionLagMs: 0 });
  });

  it.each([
    ['delete', 'delete'],
    ['compact', 'compact'],
    ['compact,delete', 'compact,delete'],
    ['delete, compact', 'compact,delete'],
    ['shred', undefined],
    ['', undefined],
  ] as const)('cleanup.policy %j is %s', (value, policy) => {
    expect(parseCleanupPolicy(value)).toBe(policy);
  });

  it('says which policies compact and which expire segments', () => {
    expect([compactionEnabled({ cleanupPolicy: 'delete' }), deletionEnabled({ cleanupPolicy: 'delete' })]).toEqual([false, true]);
    expect([compactionEnabled({ cleanupPolicy: 'compact' }), deletionEnabled({ cleanupPolicy: 'compact' })]).toEqual([true, false]);
    expect([compactionEnabled({ cleanupPolicy: 'compact,delete' }), deletionEnabled({ cleanupPolicy: 'compact,delete' })]).toEqual([true, true]);
  });

  it('maps the topic configs of the image onto the log config', () => {
    const config = topicLogConfig(
      imageWith({ 'cleanup.policy': 'delete,compact', 'delete.retention.ms': '60000', 'min.cleanable.dirty.ratio': '0.25', 'min.compaction.lag.ms': '5000' }),
      'kv',
    );
    expect(config).toMatchObject({ cleanupPolicy: 'compact,delete', deleteRetentionMs: 60_000, minCleanableDirtyRatio: 0.25, minCompactionLagMs: 5000 });
    expect(topicLogConfig(imageWith({}), 'kv').cleanupPolicy).toBeUndefined();
  });

  it.each([
    [{ cleanupPolicy: 'shred' as never }, /cleanupPolicy/],
    [{ deleteRetentionMs: -1 }, /deleteRetentionMs/],
    [{ minCleanableDirtyRatio: 1.5 }, /minCleanableDirtyRatio/],
    [{ minCompactionLagMs: 0.5 }, /minCompactionLagMs/],
  ])('refuses %j', (overrides, problem) => {
    expect(() => resolveLogConfig(overrides)).toThrow(problem);
  });
});
