import { describe, expect, it } from 'vitest';
import { RunnelError } from '../errors.js';
import { ByteReader, decodeVarint, decodeVarlong, decodeVarlongBigInt } from './byte-reader.js';
import { ByteWriter } from './byte-writer.js';
import { INT32_MAX, INT32_MIN, encodeVarint, encodeVarlong, sizeOfVarint, sizeOfVarlong, sizeOfVarlongBigInt } from './varint.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/ /g, ''), 'hex'));

function expectCorrupt(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(RunnelError);
  expect((caught as RunnelError).codeName).toBe('CORRUPT_MESSAGE');
  expect((caught as RunnelError).code).toBe(2);
}

// Expected bytes were computed independently (Python, arbitrary-precision zigzag then base-128),
// and the classic protobuf example: 150 unsigned -> 96 01, so zigzag(300) = 600 -> d8 04.
const VARINT_VECTORS: Array<[number, string]> = [
  [0, '00'],
  [-1, '01'],
  [1, '02'],
  [63, '7e'],
  [-64, '7f'],
  [64, '8001'],
  [-65, '8101'],
  [300, 'd804'],
  [INT32_MAX, 'feffffff0f'],
  [INT32_MIN, 'ffffffff0f'],
];

const VARLONG_VECTORS: Array<[number, string]> = [
  [2 ** 31, '8080808010'],
  [-(2 ** 31) - 1, '8180808010'],
  [1_700_000_000_000, '80a0abfef962'],
  [-1_700_000_000_000, 'ff9fabfef962'],
  [Number.MAX_SAFE_INTEGER, 'feffffffffffff1f'],
  [Number.MIN_SAFE_INTEGER, 'fdffffffffffff1f'],
];

describe('zigzag varint (int32)', () => {
  it.each(VARINT_VECTORS)('encodes %d as %s', (value, expected) => {
    expect(hex(encodeVarint(value))).toBe(expected);
    expect(sizeOfVarint(value)).toBe(expected.length / 2);
  });

  it.each(VARINT_VECTORS)('decodes %d from %s', (value, encoded) => {
    expect(decodeVarint(bytes(encoded))).toEqual({ value, sizeBytes: encoded.length / 2 });
  });

  it('round-trips every 7-bit size boundary and a seeded sweep of int32 values', () => {
    const values: number[] = [];
    for (let bits = 0; bits <= 31; bits++) {
      const p = 2 ** bits;
      values.push(p - 1, -p, Math.min(p, INT32_MAX), -Math.min(p + 1, 2 ** 31));
    }
    let seed = 0x2545f491;
    for (let i = 0; i < 2000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) | 0;
      values.push(seed);
    }
    for (const value of values) {
      const encoded = encodeVarint(value);
      expect(encoded.length).toBe(sizeOfVarint(value));
      expect(decodeVarint(encoded).value).toBe(value);
    }
  });

  it('refuses to encode values outside int32', () => {
    expect(() => encodeVarint(2 ** 31)).toThrow(RangeError);
    expect(() => encodeVarint(-(2 ** 31) - 1)).toThrow(RangeError);
    expect(() => sizeOfVarint(1.5)).toThrow(RangeError);
  });

  it('rejects a varint cut off mid-way with CORRUPT_MESSAGE', () => {
    expectCorrupt(() => decodeVarint(bytes('80')));
    expectCorrupt(() => decodeVarint(bytes('')));
  });

  it('rejects a varint longer than 5 bytes with CORRUPT_MESSAGE', () => {
    expectCorrupt(() => decodeVarint(bytes('ffffffffff01')));
  });

  it('drops bits past 32 in the fifth byte, as Kafka ByteUtils.readVarint does', () => {
    expect(decodeVarint(bytes('ffffffff7f')).value).toBe(INT32_MIN);
  });
});

describe('zigzag varlong (int64)', () => {
  it('encodes int32-range values exactly like varint', () => {
    for (const [value, expected] of VARINT_VECTORS) {
      expect(hex(encodeVarlong(value))).toBe(expected);
      expect(hex(encodeVarlong(BigInt(value)))).toBe(expected);
    }
  });

  it.each(VARLONG_VECTORS)('encodes %d as %s (number and bigint paths agree)', (value, expected) => {
    expect(hex(encodeVarlong(value))).toBe(expected);
    expect(hex(encodeVarlong(BigInt(value)))).toBe(expected);
    expect(sizeOfVarlong(value)).toBe(expected.length / 2);
    expect(decodeVarlong(bytes(expected))).toEqual({ value, sizeBytes: expected.length / 2 });
  });

  it('covers the full int64 range through the bigint path', () => {
    const max = 2n ** 63n - 1n;
    const min = -(2n ** 63n);
    expect(hex(encodeVarlong(max))).toBe('feffffffffffffffff01');
    expect(hex(encodeVarlong(min))).toBe('ffffffffffffffffff01');
    expect(decodeVarlongBigInt(bytes('feffffffffffffffff01')).value).toBe(max);
    expect(decodeVarlongBigInt(bytes('ffffffffffffffffff01')).value).toBe(min);
    expect(sizeOfVarlongBigInt(max)).toBe(10);
    expect(() => encodeVarlong(max + 1n)).toThrow(RangeError);
  });

  it('round-trips timestamps and deltas across every size boundary up to 2^53', () => {
    const values: number[] = [0, -1, 1_700_000_000_000, -1_700_000_000_000, 4_102_444_800_000];
    for (let bits = 0; bits <= 52; bits++) values.push(2 ** bits - 1, 2 ** bits, -(2 ** bits), -(2 ** bits) - 1);
    for (const value of values) {
      const encoded = encodeVarlong(value);
      expect(encoded.length).toBe(sizeOfVarlong(value));
      expect(hex(encoded)).toBe(hex(encodeVarlong(BigInt(value))));
      expect(decodeVarlong(encoded).value).toBe(value);
    }
  });

  it('refuses to encode a number that is not a safe integer (it may already be rounded)', () => {
    expect(() => encodeVarlong(2 ** 53)).toThrow(RangeError);
    expect(() => sizeOfVarlong(0.5)).toThrow(RangeError);
  });

  it('reports CORRUPT_MESSAGE when a varlong does not fit a safe number, while bigint reads it', () => {
    const beyondSafe = encodeVarlong(2n ** 53n);
    expectCorrupt(() => decodeVarlong(beyondSafe));
    expect(decodeVarlongBigInt(beyondSafe).value).toBe(2n ** 53n);
  });

  it('rejects a varlong longer than 10 bytes and one cut off', () => {
    expectCorrupt(() => decodeVarlong(bytes('ffffffffffffffffffff01')));
    expectCorrupt(() => decodeVarlong(bytes('8080')));
  });
});

describe('ByteWriter and ByteReader', () => {
  it('grow past their initial capacity and read back what was written', () => {
    const writer = new ByteWriter(1);
    writer.writeInt8(-2).writeInt16(-300).writeInt32(INT32_MIN).writeUInt32(0xfedcba98).writeInt64(-1_700_000_000_000);
    writer.writeVarint(300).writeVarlong(1_700_000_000_000).writeVarlongBigInt(-(2n ** 63n)).writeBytes(Buffer.from('abc'));
    writer.writeUtf8('é', 2);
    const out = writer.finish();
    expect(out.readInt8(0)).toBe(-2);
    expect(out.readInt16BE(1)).toBe(-300);
    expect(out.readInt32BE(3)).toBe(INT32_MIN);
    expect(out.readUInt32BE(7)).toBe(0xfedcba98);
    expect(out.readBigInt64BE(11)).toBe(-1_700_000_000_000n);
    const reader = new ByteReader(out, 19);
    expect(reader.readVarint()).toBe(300);
    expect(reader.readVarlong()).toBe(1_700_000_000_000);
    expect(reader.readVarlongBigInt()).toBe(-(2n ** 63n));
    expect(reader.readBytes(3).toString()).toBe('abc');
    expect(reader.readUtf8(2)).toBe('é');
    expect(reader.remaining).toBe(0);
  });

  it('stops at its capacity limit instead of growing without bound', () => {
    const writer = new ByteWriter(4, 8);
    writer.writeInt32(1).writeInt32(2);
    expect(() => writer.writeInt8(3)).toThrow(RangeError);
  });

  it('never reads past its window, even when the buffer continues', () => {
    const reader = new ByteReader(Buffer.from('0102030405', 'hex'), 1, 3);
    expect(reader.readBytes(2).toString('hex')).toBe('0203');
    expectCorrupt(() => reader.readInt8());
    expectCorrupt(() => new ByteReader(Buffer.from('0102', 'hex'), 0, 1).readBytes(2));
  });
});
