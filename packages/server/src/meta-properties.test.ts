import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkMetaProperties, formatStorage, metaPropertiesPath, randomClusterId, readMetaProperties } from './meta-properties.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'runnel-meta-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('cluster ids', () => {
  it('are 22 base64url characters encoding 16 random bytes', () => {
    const ids = new Set(Array.from({ length: 100 }, () => randomClusterId()));
    expect(ids.size).toBe(100);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(Buffer.from(id, 'base64url')).toHaveLength(16);
    }
  });
});

describe('storage format', () => {
  it('writes meta.properties with version, cluster id and node id', async () => {
    const clusterId = randomClusterId();
    const dataDir = join(root, 'node-1');
    expect(await formatStorage({ dataDir, nodeId: 1, clusterId })).toBe('formatted');
    const text = await readFile(metaPropertiesPath(dataDir), 'utf8');
    expect(text).toContain(`cluster.id=${clusterId}\n`);
    expect(await readMetaProperties(dataDir)).toEqual({ version: 1, clusterId, nodeId: 1 });
  });

  it('refuses to format an already formatted directory', async () => {
    const clusterId = randomClusterId();
    await formatStorage({ dataDir: root, nodeId: 1, clusterId });
    await expect(formatStorage({ dataDir: root, nodeId: 1, clusterId })).rejects.toThrow(/is already formatted \(cluster\.id=.*node\.id=1\); use --ignore-formatted/);
  });

  it('with ignoreFormatted accepts the same ids but never overwrites different ones', async () => {
    const clusterId = randomClusterId();
    await formatStorage({ dataDir: root, nodeId: 1, clusterId });
    expect(await formatStorage({ dataDir: root, nodeId: 1, clusterId, ignoreFormatted: true })).toBe('already-formatted');
    await expect(formatStorage({ dataDir: root, nodeId: 2, clusterId, ignoreFormatted: true })).rejects.toThrow(/refusing to overwrite/);
    expect((await readMetaProperties(root))?.nodeId).toBe(1);
  });

  it('rejects a malformed cluster id', async () => {
    await expect(formatStorage({ dataDir: root, nodeId: 1, clusterId: 'not-a-uuid' })).rejects.toThrow(/invalid cluster id "not-a-uuid"/);
  });
});

describe('start-up check', () => {
  it('fails on an unformatted directory and says how to format it', async () => {
    await expect(checkMetaProperties({ dataDir: root, nodeId: 1, clusterId: undefined })).rejects.toThrow(/is not formatted \(no meta\.properties\); run `runnel storage format/);
  });

  it('fails when the directory belongs to another node', async () => {
    await formatStorage({ dataDir: root, nodeId: 2, clusterId: randomClusterId() });
    await expect(checkMetaProperties({ dataDir: root, nodeId: 1, clusterId: undefined })).rejects.toThrow(/belongs to node\.id=2, but this node is configured as node\.id=1/);
  });

  it('fails when the directory belongs to another cluster', async () => {
    const ours = randomClusterId();
    const theirs = randomClusterId();
    await formatStorage({ dataDir: root, nodeId: 1, clusterId: theirs });
    await expect(checkMetaProperties({ dataDir: root, nodeId: 1, clusterId: ours })).rejects.toMatchObject({ codeName: 'INCONSISTENT_CLUSTER_ID' });
  });

  it('passes and returns the stored ids when they match', async () => {
    const clusterId = randomClusterId();
    await formatStorage({ dataDir: root, nodeId: 3, clusterId });
    expect(await checkMetaProperties({ dataDir: root, nodeId: 3, clusterId })).toEqual({ version: 1, clusterId, nodeId: 3 });
  });

  it('reports a damaged meta.properties instead of guessing', async () => {
    await writeFile(metaPropertiesPath(root), 'version=1\nnode.id=1\n');
    await expect(checkMetaProperties({ dataDir: root, nodeId: 1, clusterId: undefined })).rejects.toThrow(/missing cluster\.id/);
  });
});
