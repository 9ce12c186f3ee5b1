// meta.properties marks a data directory as formatted for one cluster and one node, as in Kafka
// KRaft. A node refuses to start without it, or with ids that do not match, because joining the
// wrong cluster with an existing metadata log could corrupt both clusters.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { RunnelError } from '@runnel/protocol';
import { parseProperties } from './properties-file.js';

export const META_PROPERTIES_FILE = 'meta.properties';
export const META_PROPERTIES_VERSION = 1;
const CLUSTER_ID_BYTES = 16;

export interface MetaProperties {
  readonly version: number;
  readonly clusterId: string;
  readonly nodeId: number;
}

/** A Kafka-style cluster id: 16 random bytes, base64url without padding (22 characters). */
export function randomClusterId(): string {
  return randomBytes(CLUSTER_ID_BYTES).toString('base64url');
}

export function validateClusterId(clusterId: string): void {
  const valid = /^[A-Za-z0-9_-]{22}$/.test(clusterId) && Buffer.from(clusterId, 'base64url').length === CLUSTER_ID_BYTES;
  if (!valid) {
    throw new RunnelError('INVALID_CONFIG', `invalid cluster id "${clusterId}": expected 22 base64url characters (16 bytes), e.g. from \`runnel storage random-uuid\``);
  }
}

export function metaPropertiesPath(dataDir: string): string {
  return join(dataDir, META_PROPERTIES_FILE);
}

export function serializeMetaProperties(meta: MetaProperties): string {
  return [
    '# Written by `runnel storage format`. Do not edit: the node checks these ids on every start.',
    `version=${meta.version}`,
    `cluster.id=${meta.clusterId}`,
    `node.id=${meta.nodeId}`,
    '',
  ].join('\n');
}

export function parseMetaProperties(text: string, path: string): MetaProperties {
  const entries = parseProperties(text);
  const field = (key: string): string => {
    const value = entries.get(key)?.value;
    if (value === undefined || value === '') {
      throw new RunnelError('KAFKA_STORAGE_ERROR', `${path} is missing ${key}; the directory is damaged, re-format it or restore it`);
    }
    return value;
  };
  const version = Number(field('version'));
  if (version !== META_PROPERTIES_VERSION) {
    throw new RunnelError('KAFKA_STORAGE_ERROR', `${path} has version=${field('version')}, this runnel understands version=${META_PROPERTIES_VERSION} only`);
  }
  const nodeIdText = field('node.id');
  const nodeId = Number(nodeIdText);
  if (!Number.isInteger(nodeId) || nodeId < 1) {
    throw new RunnelError('KAFKA_STORAGE_ERROR', `${path} has an invalid node.id "${nodeIdText}"`);
  }
  return { version, clusterId: field('cluster.id'), nodeId };
}

/** Reads meta.properties, or undefined when the directory is not formatted. */
export async function readMetaProperties(dataDir: string): Promise<MetaProperties | undefined> {
  const path = metaPropertiesPath(dataDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RunnelError('KAFKA_STORAGE_ERROR', `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  return parseMetaProperties(text, path);
}

export interface FormatOptions {
  readonly dataDir: string;
  readonly nodeId: number;
  readonly clusterId: string;
  /** Kafka's --ignore-formatted: an already formatted dir with the same ids is left as is. */
  readonly ignoreFormatted?: boolean;
}

export type FormatResult = 'formatted' | 'already-formatted';

export async function formatStorage(options: FormatOptions): Promise<FormatResult> {
  validateClusterId(options.clusterId);
  if (!Number.isInteger(options.nodeId) || options.nodeId < 1) {
    throw new RunnelError('INVALID_CONFIG', `invalid node id ${options.nodeId}: must be a positive integer`);
  }
  const path = metaPropertiesPath(options.dataDir);
  const existing = await readMetaProperties(options.dataDir);
  if (existing !== undefined) {
    const same = existing.clusterId === options.clusterId && existing.nodeId === options.nodeId;
    if (options.ignoreFormatted === true && same) return 'already-formatted';
    const hint = options.ignoreFormatted === true
      ? 'refusing to overwrite it with different ids'
      : 'use --ignore-formatted to accept a directory already formatted with the same ids';
    throw new RunnelError('INVALID_CONFIG',
      `${options.dataDir} is already formatted (cluster.id=${existing.clusterId}, node.id=${existing.nodeId}); ${hint}`);
  }
  await mkdir(options.dataDir, { recursive: true });
  const meta: MetaProperties = { version: META_PROPERTIES_VERSION, clusterId: options.clusterId, nodeId: options.nodeId };
  await writeFileDurably(path, serializeMetaProperties(meta));
  return 'formatted';
}

/** Write to a temp file, fsync, rename over, fsync the directory: a crash leaves old or new, never half. */
async function writeFileDurably(path: string, contents: string): Promise<void> {
  const temporary = `${path}.tmp`;
  const file = await open(temporary, 'w', 0o644);
  try {
    await file.writeFile(contents, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
  const directory = await open(join(path, '..'), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

export interface StartupIdentity {
  readonly dataDir: string;
  readonly nodeId: number;
  /** The cluster id the operator expects (config), when given. */
  readonly clusterId: string | undefined;
}

/** Start-up check: the directory is formatted and its ids match this node's configuration. */
export async function checkMetaProperties(identity: StartupIdentity): Promise<MetaProperties> {
  const meta = await readMetaProperties(identity.dataDir);
  if (meta === undefined) {
    throw new RunnelError('KAFKA_STORAGE_ERROR',
      `${identity.dataDir} is not formatted (no ${META_PROPERTIES_FILE}); run \`runnel storage format --data-dir ${identity.dataDir} --node-id ${identity.nodeId} --cluster-id <id>\` first`);
  }
  if (meta.nodeId !== identity.nodeId) {
    throw new RunnelError('INVALID_CONFIG',
      `${metaPropertiesPath(identity.dataDir)} belongs to node.id=${meta.nodeId}, but this node is configured as node.id=${identity.nodeId}`);
  }
  if (identity.clusterId !== undefined && identity.clusterId !== meta.clusterId) {
    throw new RunnelError('INCONSISTENT_CLUSTER_ID',
      `${identity.dataDir} belongs to cluster ${meta.clusterId}, but this node is configured for cluster ${identity.clusterId}`);
  }
  return meta;
}
