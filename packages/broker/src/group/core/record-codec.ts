import { RunnelError } from '@runnel/protocol';
import { assert } from './assert.js';

// Big-endian primitives for the `__consumer_offsets` record codec. Strings are UTF-8 with an
// unsigned 16-bit byte length (Kafka's limit for group ids and topic names as well), int64 values
// are JavaScript safe integers. A read past the end or an unsafe int64 is a corrupt record.

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
export const STRING_BYTES_MAX = 0xffff;

export class ByteWriter {
  private bytes = new Uint8Array(64);
  private view = new DataView(this.bytes.buffer);
  private length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }

  int8(v: number): this {
    this.reserve(1);
    this.view.setInt8(this.length, v);
    this.length += 1;
    return this;
  }

  int16(v: number): this {
    this.reserve(2);
    this.view.setInt16(this.length, v);
    this.length += 2;
    return this;
  }

  int32(v: number): this {
    assert(Number.isInteger(v) && v >= -0x8000_0000 && v <= 0x7fff_ffff, `int32 out of range: ${v}`);
    this.reserve(4);
    this.view.setInt32(this.length, v);
    this.length += 4;
    return this;
  }

  int64(v: number): this {
    assert(Number.isSafeInteger(v), `int64 is not a safe integer: ${v}`);
    this.reserve(8);
    this.view.setBigInt64(this.length, BigInt(v));
    this.length += 8;
    return this;
  }

  string(v: string): this {
    const utf8 = encoder.encode(v);
    assert(utf8.length <= STRING_BYTES_MAX, `string of ${utf8.length} bytes exceeds ${STRING_BYTES_MAX}`);
    this.reserve(2 + utf8.length);
    this.view.setUint16(this.length, utf8.length);
    this.bytes.set(utf8, this.length + 2);
    this.length += 2 + utf8.length;
    return this;
  }

  finish(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

export class ByteReader {
  private readonly view: DataView;
  private position = 0;

  constructor(private readonly bytes: Uint8Array, private readonly what: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number): number {
    if (this.position + n > this.bytes.length) {
      throw new RunnelError('CORRUPT_MESSAGE', `${this.what}: truncated at byte ${this.position} (needs ${n} more of ${this.bytes.length})`);
    }
    const at = this.position;
    this.position += n;
    return at;
  }

  int8(): number {
    return this.view.getInt8(this.need(1));
  }

  int16(): number {
    return this.view.getInt16(this.need(2));
  }

  int32(): number {
    return this.view.getInt32(this.need(4));
  }

  int64(): number {
    const v = this.view.getBigInt64(this.need(8));
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new RunnelError('CORRUPT_MESSAGE', `${this.what}: int64 ${v} is outside the safe integer range`);
    }
    return Number(v);
  }

  string(): string {
    const n = this.view.getUint16(this.need(2));
    const at = this.need(n);
    try {
      return decoder.decode(this.bytes.subarray(at, at + n));
    } catch (cause) {
      throw new RunnelError('CORRUPT_MESSAGE', `${this.what}: invalid UTF-8 string`, { cause });
    }
  }

  /** A non-negative element count, bounded by the bytes left so a corrupt count cannot allocate without bound. */
  count(minBytesEach: number): number {
    const n = this.int32();
    if (n < 0 || n * minBytesEach > this.bytes.length - this.position) {
      throw new RunnelError('CORRUPT_MESSAGE', `${this.what}: element count ${n} does not fit the record`);
    }
    return n;
  }

  end(): void {
    if (this.position !== this.bytes.length) {
      throw new RunnelError('CORRUPT_MESSAGE', `${this.what}: ${this.bytes.length - this.position} trailing bytes`);
    }
  }
}
