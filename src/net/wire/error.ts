/**
 * The one error type of the wire formats.
 *
 * @module
 */

/**
 * Why bytes were refused:
 * - `"Truncated"`: the view ends before the header (or the length a header claims) does.
 * - `"BadLength"`: a length field contradicts the header or the buffer.
 * - `"BadChecksum"`: a checksum does not verify.
 * - `"BadVersion"`: not IPv4.
 * - `"Unsupported"`: a well-formed packet of a kind this stack does not handle.
 * - `"BadField"`: a field value the format does not allow (or an emit argument out of range).
 */
export type WireErrorKind =
  | "Truncated"
  | "BadLength"
  | "BadChecksum"
  | "BadVersion"
  | "Unsupported"
  | "BadField";

/** A packet that cannot be parsed or emitted; `kind` says why. Parsers throw nothing else. */
export class WireError extends Error {
  /** Why. */
  readonly kind: WireErrorKind;
  /** Creates an error. */
  constructor(kind: WireErrorKind, message: string) {
    super(message);
    this.name = "WireError";
    this.kind = kind;
  }
}

/** Throws `Truncated` unless `[off, off + need)` lies within `[0, end)` of `b`. */
export function need(b: Uint8Array, off: number, end: number, need: number, what: string): void {
  if (!(off >= 0 && end <= b.length && off + need <= end)) {
    throw new WireError(
      "Truncated",
      `${what}: needs ${need} bytes at ${off}, the view ends at ${Math.min(end, b.length)}`,
    );
  }
}

/** Reads a big-endian u16. */
export function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

/** Reads a big-endian u32 (as an unsigned number). */
export function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Writes a big-endian u16. */
export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

/** Writes a big-endian u32. */
export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

let viewBytes: Uint8Array = new Uint8Array(0);
let viewCached: DataView = new DataView(viewBytes.buffer);

/**
 * A `DataView` of exactly the bytes of `b`, for reading and writing fields four bytes at a time.
 * The last one is kept: packets come from a few large arrays (a pool's memory), so a view is
 * made once per array, not per packet.
 */
export function dataView(b: Uint8Array): DataView {
  if (b !== viewBytes) {
    viewCached = new DataView(b.buffer, b.byteOffset, b.byteLength);
    viewBytes = b;
  }
  return viewCached;
}
