// IEEE half (F16) and bfloat16 (BF16) bit patterns -> float32 values.

let f16Table: Float32Array | undefined;

function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // subnormal or zero
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Converts little-endian F16 values starting at bytes[offset] into out. */
export function f16ToF32(bytes: Uint8Array, offset: number, out: Float32Array): void {
  if (f16Table === undefined) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16Value(h);
  }
  const table = f16Table;
  for (let i = 0; i < out.length; i++) out[i] = table[bytes[offset + 2 * i] | (bytes[offset + 2 * i + 1] << 8)];
}

/** BF16 is the top half of a float32: shift the 16 bits up. */
export function bf16ToF32(bytes: Uint8Array, offset: number, out: Float32Array): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < out.length; i++) bits[i] = ((bytes[offset + 2 * i] | (bytes[offset + 2 * i + 1] << 8)) << 16) >>> 0;
}
