import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

// Reference bitwise implementation straight from the definition, to cross-check the sliced tables.
function crc32cBitwise(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

describe('crc32c', () => {
  it('matches the RFC 3720 / iSCSI check value for "123456789"', () => {
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
  });

  it('matches the RFC 3720 B.4 vectors for 32 zero bytes and 32 0xFF bytes', () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
  });

  it('is 0 for empty input', () => {
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('agrees with the bitwise definition for every length 0..64 (all tail sizes and offsets)', () => {
    const data = Uint8Array.from({ length: 64 }, (_, i) => (i * 131 + 7) & 0xff);
    for (let n = 0; n <= data.length; n++) {
      expect(crc32c(data.subarray(0, n))).toBe(crc32cBitwise(data.subarray(0, n)));
      expect(crc32c(data.subarray(64 - n))).toBe(crc32cBitwise(data.subarray(64 - n)));
    }
  });

  it('continued over chunks equals the one-shot checksum, at every split point', () => {
    const data = Uint8Array.from({ length: 100 }, (_, i) => (i * 37) & 0xff);
    const whole = crc32c(data);
    for (let split = 0; split <= data.length; split++) {
      expect(crc32c(data.subarray(split), crc32c(data.subarray(0, split)))).toBe(whole);
    }
  });

  it('returns an unsigned 32-bit value', () => {
    const value = crc32c(ascii('123456789'));
    expect(value).toBeGreaterThan(0x7fffffff);
    expect(Number.isInteger(value)).toBe(true);
  });
});
