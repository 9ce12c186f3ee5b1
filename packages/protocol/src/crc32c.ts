// CRC-32C (Castagnoli), the checksum Kafka puts in every record batch. Reflected polynomial
// 0x82F63B78, init and final xor 0xFFFFFFFF. Slicing-by-8: eight 256-entry tables let the loop
// consume 8 bytes per step, several times faster than the bytewise loop on batch-sized inputs.

const POLYNOMIAL = 0x82f63b78;
const TABLES = buildTables();

function buildTables(): Uint32Array[] {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const t0 = tables[0] as Uint32Array;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    t0[n] = c >>> 0;
  }
  // Table k holds the CRC of byte n followed by k zero bytes, so 8 lookups advance 8 bytes.
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1] as Uint32Array;
    const cur = tables[k] as Uint32Array;
    for (let n = 0; n < 256; n++) {
      const c = prev[n] as number;
      cur[n] = ((c >>> 8) ^ (t0[c & 0xff] as number)) >>> 0;
    }
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [
  Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array,
];

/**
 * CRC-32C of `data` as an unsigned 32-bit number. Pass a previous result as `initial` to continue
 * over the next chunk: crc32c(b, crc32c(a)) === crc32c(a ++ b).
 */
export function crc32c(data: Uint8Array, initial = 0): number {
  let crc = ~initial >>> 0;
  let i = 0;
  const end8 = data.length - (data.length % 8);
  // `as number` casts only satisfy noUncheckedIndexedAccess: every index is < 256 or < length.
  for (; i < end8; i += 8) {
    const lo = (crc ^ ((data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24))) >>> 0;
    crc =
      (T7[lo & 0xff] as number) ^
      (T6[(lo >>> 8) & 0xff] as number) ^
      (T5[(lo >>> 16) & 0xff] as number) ^
      (T4[lo >>> 24] as number) ^
      (T3[data[i + 4] as number] as number) ^
      (T2[data[i + 5] as number] as number) ^
      (T1[data[i + 6] as number] as number) ^
      (T0[data[i + 7] as number] as number);
  }
  for (; i < data.length; i++) {
    crc = (crc >>> 8) ^ (T0[(crc ^ (data[i] as number)) & 0xff] as number);
  }
  return ~crc >>> 0;
}
