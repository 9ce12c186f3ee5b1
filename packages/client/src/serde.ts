// Serialization of keys and values, per topic. The wire carries bytes; a Serde turns an application
// value into bytes on send and back on receive. Buffer (the default: bytes as they are), UTF-8
// string and JSON are built in; any object with serialize/deserialize is a custom one. null always
// stays null (a record may have no key, and a null value is a tombstone), so serdes never see it.

import { RunnelError } from '@runnel/protocol';

export interface Serde<T> {
  /** Bytes for `value`; never called with null. */
  serialize(value: T, topic: string): Buffer;
  /** The value for `data`; never called with null. Throw to refuse malformed data. */
  deserialize(data: Buffer, topic: string): T;
}

/** Bytes as they are; strings are accepted on send and encoded as UTF-8. */
export const BUFFER_SERDE: Serde<Buffer> = Object.freeze({
  serialize: (value: Buffer | string) => (typeof value === 'string' ? Buffer.from(value, 'utf8') : value),
  deserialize: (data: Buffer) => data,
});

/** UTF-8 text. */
export const STRING_SERDE: Serde<string> = Object.freeze({
  serialize: (value: string) => Buffer.from(value, 'utf8'),
  deserialize: (data: Buffer) => data.toString('utf8'),
});

/** JSON text in UTF-8; malformed input fails with a RunnelError naming the topic. */
export function jsonSerde<T = unknown>(): Serde<T> {
  return {
    serialize: (value: T) => Buffer.from(JSON.stringify(value), 'utf8'),
    deserialize: (data: Buffer, topic: string): T => {
      try {
        return JSON.parse(data.toString('utf8')) as T;
      } catch (err) {
        throw new RunnelError('CORRUPT_MESSAGE', `a record of topic ${topic} is not valid JSON: ${(err as Error).message}`, { cause: err });
      }
    },
  };
}

export const Serdes = Object.freeze({ buffer: BUFFER_SERDE, string: STRING_SERDE, json: jsonSerde });

/** Key and value serdes: defaults for every topic, and overrides per topic name. */
export interface SerdeConfig<K = unknown, V = unknown> {
  key?: Serde<K>;
  value?: Serde<V>;
  topics?: Record<string, { key?: Serde<unknown>; value?: Serde<unknown> }>;
}

/** Resolves the serde of a topic's keys or values once per call site. */
export class SerdeRegistry {
  constructor(private readonly config: SerdeConfig = {}) {}

  keySerde(topic: string): Serde<unknown> {
    return (this.config.topics?.[topic]?.key ?? this.config.key ?? BUFFER_SERDE) as Serde<unknown>;
  }

  valueSerde(topic: string): Serde<unknown> {
    return (this.config.topics?.[topic]?.value ?? this.config.value ?? BUFFER_SERDE) as Serde<unknown>;
  }

  serializeKey(topic: string, key: unknown): Buffer | null {
    return key === null || key === undefined ? null : this.keySerde(topic).serialize(key, topic);
  }

  serializeValue(topic: string, value: unknown): Buffer | null {
    return value === null || value === undefined ? null : this.valueSerde(topic).serialize(value, topic);
  }

  deserializeKey(topic: string, data: Buffer | null): unknown {
    return data === null ? null : this.keySerde(topic).deserialize(data, topic);
  }

  deserializeValue(topic: string, data: Buffer | null): unknown {
    return data === null ? null : this.valueSerde(topic).deserialize(data, topic);
  }
}

/** Header values as strings or Buffers on send; arrays repeat a header name. */
export type HeaderValue = string | Buffer | null;
export type OutgoingHeaders = Record<string, HeaderValue | HeaderValue[]>;

/** Flattens headers into wire order, strings encoded as UTF-8. */
export function encodeHeaders(headers: OutgoingHeaders | undefined): Array<{ key: string; value: Buffer | null }> {
  if (headers === undefined) return [];
  const out: Array<{ key: string; value: Buffer | null }> = [];
  for (const [key, raw] of Object.entries(headers)) {
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      out.push({ key, value: value === null ? null : typeof value === 'string' ? Buffer.from(value, 'utf8') : value });
    }
  }
  return out;
}
