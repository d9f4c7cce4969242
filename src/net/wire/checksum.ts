/**
 * The Internet checksum (RFC 1071), computed in software for ports without checksum offload.
 *
 * @module
 */

/**
 * Adds `bytes[start .. end)` as big-endian 16-bit words to a running 32-bit sum (an odd last byte
 * is padded with zero). Fold and complement the result with {@linkcode finishChecksum}.
 */
export function sumWords(bytes: Uint8Array, start: number, end: number, sum = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (i < end) sum += bytes[i] << 8;
  // Fold now and then so the sum stays a small integer.
  return (sum & 0xffff) + (sum >>> 16);
}

/** Folds a running sum to 16 bits and complements it: the value to store in a checksum field. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The Internet checksum of `bytes[start .. end)`. A buffer that contains its own correct checksum gives 0. */
export function internetChecksum(bytes: Uint8Array, start: number = 0, end: number = bytes.length): number {
  return finishChecksum(sumWords(bytes, start, end));
}
