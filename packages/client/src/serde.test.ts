import { describe, expect, it } from 'vitest';
import { RunnelError } from '@runnel/protocol';
import { BUFFER_SERDE, SerdeRegistry, STRING_SERDE, Serdes, encodeHeaders, jsonSerde } from './serde.js';
import type { Serde } from './serde.js';

describe('serdes', () => {
  it('buffer passes bytes through and encodes strings as UTF-8', () => {
    const bytes = Buffer.from([0, 255, 7]);
    expect(BUFFER_SERDE.serialize(bytes, 't')).toBe(bytes);
    expect(BUFFER_SERDE.deserialize(bytes, 't')).toBe(bytes);
    expect(BUFFER_SERDE.serialize('é' as unknown as Buffer, 't')).toEqual(Buffer.from([0xc3, 0xa9]));
  });

  it('string and JSON round-trip, including non-ASCII text', () => {
    expect(STRING_SERDE.deserialize(STRING_SERDE.serialize('größe ✓', 't'), 't')).toBe('größe ✓');
    const json = jsonSerde<{ id: number; tags: string[] }>();
    const value = { id: 7, tags: ['a', 'ü'] };
    expect(json.deserialize(json.serialize(value, 't'), 't')).toEqual(value);
  });

  it('malformed JSON is refused with a RunnelError naming the topic', () => {
    const json = Serdes.json();
    let caught: unknown;
    try {
      json.deserialize(Buffer.from('{oops'), 'orders');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RunnelError);
    expect((caught as RunnelError).message).toContain('orders');
  });

  it('per-topic serdes override the defaults; null stays null and never reaches a serde', () => {
    const calls: string[] = [];
    const upper: Serde<string> = {
      serialize: (v) => {
        calls.push('s');
        return Buffer.from(v.toUpperCase());
      },
      deserialize: (d) => {
        calls.push('d');
        return d.toString().toLowerCase();
      },
    };
    const registry = new SerdeRegistry({ value: STRING_SERDE as Serde<unknown>, topics: { shouty: { value: upper as Serde<unknown> } } });
    expect(registry.serializeValue('shouty', 'hi')).toEqual(Buffer.from('HI'));
    expect(registry.serializeValue('plain', 'hi')).toEqual(Buffer.from('hi'));
    expect(registry.deserializeValue('shouty', Buffer.from('HI'))).toBe('hi');
    expect(registry.serializeKey('shouty', null)).toBeNull();
    expect(registry.deserializeValue('shouty', null)).toBeNull();
    expect(calls).toEqual(['s', 'd']);
    // Keys default to bytes.
    expect(registry.deserializeKey('plain', Buffer.from('k'))).toEqual(Buffer.from('k'));
  });

  it('headers accept strings, Buffers, null and repeated names, in order', () => {
    expect(encodeHeaders({ a: 'x', b: [Buffer.from([1]), null, 'y'] })).toEqual([
      { key: 'a', value: Buffer.from('x') },
      { key: 'b', value: Buffer.from([1]) },
      { key: 'b', value: null },
      { key: 'b', value: Buffer.from('y') },
    ]);
    expect(encodeHeaders(undefined)).toEqual([]);
  });
});
