import { RunnelError } from '@runnel/protocol';
import { unreachable } from './assert.js';

// Metadata records, after Kafka's KRaft metadata records (RegisterBrokerRecord, PartitionChangeRecord,
// ...). The committed metadata log is a sequence of these; the image is their left fold.
//
// Wire format (version 1 of every record): UTF-8 JSON of the record object with keys sorted, so the
// same record always encodes to the same bytes (snapshots compare byte for byte across nodes).
// Every field is checked on decode against the schema below, and an unknown type or version is
// rejected rather than skipped: a node that cannot understand a committed record must not build an
// image that silently differs from its peers'.

export const NO_LEADER = -1;

export type LeaderRecoveryState = 'recovered' | 'recovering';
export type ConfigResourceType = 'topic' | 'broker' | 'cluster';

export interface BrokerEndpoint {
  name: string;
  host: string;
  port: number;
}

export interface RegisterBrokerRecord {
  type: 'RegisterBroker';
  version: 1;
  brokerId: number;
  incarnationId: string;
  brokerEpoch: number;
  endpoints: BrokerEndpoint[];
  rack: string | null;
}

export interface UnregisterBrokerRecord {
  type: 'UnregisterBroker';
  version: 1;
  brokerId: number;
  brokerEpoch: number;
}

export interface FenceBrokerRecord {
  type: 'FenceBroker';
  version: 1;
  brokerId: number;
  brokerEpoch: number;
}

export interface UnfenceBrokerRecord {
  type: 'UnfenceBroker';
  version: 1;
  brokerId: number;
  brokerEpoch: number;
}

export interface BrokerRegistrationChangeRecord {
  type: 'BrokerRegistrationChange';
  version: 1;
  brokerId: number;
  brokerEpoch: number;
  inControlledShutdown: boolean;
}

export interface TopicRecord {
  type: 'Topic';
  version: 1;
  name: string;
  topicId: string;
}

export interface PartitionRecord {
  type: 'Partition';
  version: 1;
  topicId: string;
  partition: number;
  replicas: number[];
  isr: number[];
  leader: number;
  leaderEpoch: number;
  partitionEpoch: number;
  leaderRecoveryState: LeaderRecoveryState;
}

/**
 * A change of one partition. Epochs are not carried: applying the record bumps partitionEpoch on
 * every change and leaderEpoch only when the leader changes, so no proposer can get them wrong.
 */
export interface PartitionChangeRecord {
  type: 'PartitionChange';
  version: 1;
  topicId: string;
  partition: number;
  leader?: number;
  isr?: number[];
  replicas?: number[];
  leaderRecoveryState?: LeaderRecoveryState;
}

export interface RemoveTopicRecord {
  type: 'RemoveTopic';
  version: 1;
  topicId: string;
}

export interface ConfigRecord {
  type: 'Config';
  version: 1;
  resourceType: ConfigResourceType;
  /** Topic name, broker id as a decimal string, or '' for the cluster. */
  resourceName: string;
  name: string;
  /** null deletes the key (back to the default). */
  value: string | null;
}

export interface ProducerIdsRecord {
  type: 'ProducerIds';
  version: 1;
  brokerId: number;
  brokerEpoch: number;
  /** The first id not yet handed out, after this block. */
  nextProducerId: number;
}

export interface NoOpRecord {
  type: 'NoOp';
  version: 1;
}

export type MetadataRecord =
  | RegisterBrokerRecord
  | UnregisterBrokerRecord
  | FenceBrokerRecord
  | UnfenceBrokerRecord
  | BrokerRegistrationChangeRecord
  | TopicRecord
  | PartitionRecord
  | PartitionChangeRecord
  | RemoveTopicRecord
  | ConfigRecord
  | ProducerIdsRecord
  | NoOpRecord;

export type MetadataRecordType = MetadataRecord['type'];

type FieldKind =
  | 'int32'
  | 'brokerId'
  | 'long'
  | 'string'
  | 'nonEmptyString'
  | 'nullableString'
  | 'bool'
  | 'brokerIdList'
  | 'endpoints'
  | 'recoveryState'
  | 'resourceType';

interface FieldSpec {
  kind: FieldKind;
  optional?: boolean;
}

type Schema = Readonly<Record<string, FieldSpec>>;

const req = (kind: FieldKind): FieldSpec => ({ kind });
const opt = (kind: FieldKind): FieldSpec => ({ kind, optional: true });

const brokerEpochFields: Schema = { brokerId: req('brokerId'), brokerEpoch: req('long') };

/** The current version of each record type and its fields (besides type and version). */
const SCHEMAS: Readonly<Record<MetadataRecordType, { version: number; fields: Schema }>> = {
  RegisterBroker: {
    version: 1,
    fields: {
      brokerId: req('brokerId'),
      incarnationId: req('nonEmptyString'),
      brokerEpoch: req('long'),
      endpoints: req('endpoints'),
      rack: req('nullableString'),
    },
  },
  UnregisterBroker: { version: 1, fields: brokerEpochFields },
  FenceBroker: { version: 1, fields: brokerEpochFields },
  UnfenceBroker: { version: 1, fields: brokerEpochFields },
  BrokerRegistrationChange: { version: 1, fields: { ...brokerEpochFields, inControlledShutdown: req('bool') } },
  Topic: { version: 1, fields: { name: req('nonEmptyString'), topicId: req('nonEmptyString') } },
  Partition: {
    version: 1,
    fields: {
      topicId: req('nonEmptyString'),
      partition: req('int32'),
      replicas: req('brokerIdList'),
      isr: req('brokerIdList'),
      leader: req('int32'),
      leaderEpoch: req('int32'),
      partitionEpoch: req('int32'),
      leaderRecoveryState: req('recoveryState'),
    },
  },
  PartitionChange: {
    version: 1,
    fields: {
      topicId: req('nonEmptyString'),
      partition: req('int32'),
      leader: opt('int32'),
      isr: opt('brokerIdList'),
      replicas: opt('brokerIdList'),
      leaderRecoveryState: opt('recoveryState'),
    },
  },
  RemoveTopic: { version: 1, fields: { topicId: req('nonEmptyString') } },
  Config: {
    version: 1,
    fields: {
      resourceType: req('resourceType'),
      resourceName: req('string'),
      name: req('nonEmptyString'),
      value: req('nullableString'),
    },
  },
  ProducerIds: { version: 1, fields: { ...brokerEpochFields, nextProducerId: req('long') } },
  NoOp: { version: 1, fields: {} },
};

const INT32_MAX = 2 ** 31 - 1;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fieldProblem(kind: FieldKind, value: unknown): string | null {
  switch (kind) {
    case 'int32':
      return Number.isInteger(value) && (value as number) >= -1 && (value as number) <= INT32_MAX ? null : 'an int32 >= -1';
    case 'brokerId':
      return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= INT32_MAX ? null : 'a broker id >= 0';
    case 'long':
      return Number.isSafeInteger(value) && (value as number) >= 0 ? null : 'a non-negative safe integer';
    case 'string':
      return typeof value === 'string' ? null : 'a string';
    case 'nonEmptyString':
      return typeof value === 'string' && value.length > 0 ? null : 'a non-empty string';
    case 'nullableString':
      return value === null || typeof value === 'string' ? null : 'a string or null';
    case 'bool':
      return typeof value === 'boolean' ? null : 'a boolean';
    case 'brokerIdList':
      return Array.isArray(value) && value.every((id) => fieldProblem('brokerId', id) === null) && new Set(value).size === value.length
        ? null
        : 'a list of distinct broker ids';
    case 'endpoints':
      return Array.isArray(value) &&
        value.every(
          (e) =>
            isPlainObject(e) &&
            Object.keys(e).length === 3 &&
            typeof e.name === 'string' &&
            typeof e.host === 'string' &&
            Number.isInteger(e.port) &&
            (e.port as number) >= 0 &&
            (e.port as number) <= 65535,
        )
        ? null
        : 'a list of { name, host, port } endpoints';
    case 'recoveryState':
      return value === 'recovered' || value === 'recovering' ? null : "'recovered' or 'recovering'";
    case 'resourceType':
      return value === 'topic' || value === 'broker' || value === 'cluster' ? null : "'topic', 'broker' or 'cluster'";
    default:
      return unreachable(kind);
  }
}

function invalidRecord(message: string): RunnelError {
  return new RunnelError('CORRUPT_MESSAGE', `invalid metadata record: ${message}`);
}

/** Checks a record object against its schema; throws RunnelError(CORRUPT_MESSAGE) naming the problem. */
export function validateRecord(value: unknown): MetadataRecord {
  if (!isPlainObject(value)) throw invalidRecord('not an object');
  const type = value.type;
  if (typeof type !== 'string' || !Object.hasOwn(SCHEMAS, type)) {
    throw invalidRecord(`unknown record type ${JSON.stringify(type)}`);
  }
  const schema = SCHEMAS[type as MetadataRecordType];
  if (value.version !== schema.version) {
    throw invalidRecord(`unsupported version ${JSON.stringify(value.version)} of ${type} (this node reads version ${schema.version})`);
  }
  for (const key of Object.keys(value)) {
    if (key !== 'type' && key !== 'version' && !Object.hasOwn(schema.fields, key)) {
      throw invalidRecord(`${type} has unknown field '${key}'`);
    }
  }
  for (const [key, spec] of Object.entries(schema.fields)) {
    const field = value[key];
    if (field === undefined) {
      if (spec.optional === true) continue;
      throw invalidRecord(`${type} is missing field '${key}'`);
    }
    const problem = fieldProblem(spec.kind, field);
    if (problem !== null) throw invalidRecord(`${type}.${key} must be ${problem}, got ${JSON.stringify(field)}`);
  }
  return value as unknown as MetadataRecord;
}

/** JSON with object keys sorted at every level and undefined fields dropped: one record, one byte string. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isPlainObject(value)) {
    const parts = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`);
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeRecord(record: MetadataRecord): Uint8Array {
  validateRecord(record);
  return encoder.encode(canonicalJson(record));
}

export function decodeRecord(bytes: Uint8Array): MetadataRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new RunnelError('CORRUPT_MESSAGE', 'invalid metadata record: not UTF-8 JSON', { cause });
  }
  return validateRecord(parsed);
}

/** A batch proposed atomically: one Raft entry holds every record of one controller decision. */
export function encodeRecordBatch(records: readonly MetadataRecord[]): Uint8Array {
  records.forEach(validateRecord);
  return encoder.encode(`[${records.map(canonicalJson).join(',')}]`);
}

export function decodeRecordBatch(bytes: Uint8Array): MetadataRecord[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new RunnelError('CORRUPT_MESSAGE', 'invalid metadata record batch: not UTF-8 JSON', { cause });
  }
  if (!Array.isArray(parsed)) throw new RunnelError('CORRUPT_MESSAGE', 'invalid metadata record batch: not a list');
  return parsed.map(validateRecord);
}
