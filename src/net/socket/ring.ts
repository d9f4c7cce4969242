/**
 * A fixed-size byte ring: the send and receive buffers of a TCP socket. Positions are counted
 * from the read end (`0` is the oldest byte); storage never grows and nothing is allocated after
 * construction.
 *
 * @module
 */
import { badArgument, isBytes } from "../args.ts";
import { SocketError } from "./error.ts";
import { copyNative, copySum, ViewCache } from "../copy.ts";

/**
 * Copies from this size up go to C (`copyNative`: a `memmove`, one FFI call, no object made): a
 * segment's worth of bytes costs ≈ 50 ns there, call included, against ≈ 300 in the unrolled JS
 * loop below, and bulk TCP moves every byte through a ring twice (`send`, `recv`); 32 KiB take ≈ 1
 * µs, as `Uint8Array.set` on a subarray does (which makes an object per call). Below it the JS loop
 * wins (no call, inlined).
 */
const C_COPY_FROM = 256;

/** The largest ring: 1 GiB (window scaling reaches 2^30). */
export const MAX_RING_CAPACITY = 1 << 30;

/** A fixed-capacity FIFO of bytes with random access to the unread bytes and the free space. */
export class ByteRing {
  /** The ring's memory. Read it at {@linkcode ByteRing.indexOf} positions, for zero-copy access. */
  readonly storage: Uint8Array;
  /** A view of {@linkcode ByteRing.storage} for word-wise copies. */
  readonly view: DataView;
  #head = 0; // storage index of position 0
  #length = 0;
  // DataViews of the last outside arrays written from and read into, one pair per ring and per
  // direction: a socket alternates sends from the caller's array with receives from the pool's
  // memory, and a cache shared by every ring (or by both directions) missed on each switch.
  readonly #inView = new ViewCache();
  readonly #outView = new ViewCache();
  // The last source `writeAt` and destination `peek` found outside the ring's memory: a typed
  // array's buffer never changes, so the same array needs no second look (reading `.buffer` is
  // a builtin call).
  #foreign: Uint8Array | null = null;
  #foreignOut: Uint8Array | null = null;

  /**
   * Creates a ring of `capacity` bytes.
   * @throws {SocketError} `InvalidArgument` unless `capacity` is a whole number in 1 … 2^30.
   */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_RING_CAPACITY) {
      throw new SocketError(
        "InvalidArgument",
        `ByteRing: capacity ${capacity} is not a whole number in 1 … ${MAX_RING_CAPACITY}`,
      );
    }
    // Shared memory, which cannot be detached: `TcpSocket.rxBytes`/`txBytes` hand the storage out,
    // and a transferred ArrayBuffer would have left the ring with no bytes and every poll throwing.
    this.storage = new Uint8Array(new SharedArrayBuffer(capacity));
    this.view = new DataView(this.storage.buffer);
  }

  /** Size in bytes. */
  get capacity(): number {
    return this.storage.length;
  }
  /** Bytes held. */
  get length(): number {
    return this.#length;
  }
  /** Bytes that can still be written. */
  get free(): number {
    return this.storage.length - this.#length;
  }

  /** Empties the ring. */
  clear(): void {
    this.#head = 0;
    this.#length = 0;
  }

  /** The storage index of position `pos` (0 = oldest byte; `length` = the first free byte). */
  indexOf(pos: number): number {
    const i = this.#head + pos;
    const cap = this.storage.length;
    return i >= cap ? i - cap : i;
  }

  /** How many bytes from position `pos` on are contiguous in storage (up to `max`). */
  contiguous(pos: number, max: number): number {
    const room = this.storage.length - this.indexOf(pos);
    return max < room ? max : room;
  }

  /**
   * Appends up to `length` bytes of `src[from ..]`; returns how many fit.
   */
  write(src: Uint8Array, from: number, length: number): number {
    checkSource("ByteRing.write", src, from, length);
    const n = length < this.free ? length : this.free;
    this.writeAt(this.#length, src, from, n);
    this.#length += n;
    return n;
  }

  /**
   * Copies `length` bytes of `src[from ..]` into the free space at position `pos` (≥ `length`),
   * without making them readable: {@linkcode ByteRing.commit} does that. Out-of-order data lands
   * here. `pos + length` must stay within the capacity.
   */
  writeAt(pos: number, src: Uint8Array, from: number, length: number): void {
    checkSource("ByteRing.writeAt", src, from, length);
    if (
      !(typeof pos === "number" && (pos >>> 0) === pos && pos >= this.#length &&
        pos + length <= this.storage.length)
    ) {
      throw bad(
        "ByteRing.writeAt",
        "pos",
        pos,
        `a whole number ${this.#length}–${
          this.storage.length - length
        } (the free space: the bytes held to the capacity less length)`,
      );
    }
    const first = this.contiguous(pos, length);
    const at = this.indexOf(pos);
    // Already in place: the interface copied a segment here while verifying its checksum.
    if (src === this.storage && from === at && first === length) return;
    if (src !== this.#foreign && length > 0) {
      if (src.buffer !== this.storage.buffer) this.#foreign = src;
      else {
        // The ring's own memory (its `storage`, or a view of it, passed back): the source may lie
        // in the space being written, and a copy in two parts would overwrite bytes the second
        // part still reads. A copy of the source first (this case only).
        src = src.slice(from, from + length);
        from = 0;
      }
    }
    if (length < WORDS_FROM) {
      // A few bytes (a ping-pong's payload): no view needed.
      copyBytesRaw(this.storage, at, src, from, first);
      if (first < length) copyBytesRaw(this.storage, 0, src, from + first, length - first);
      return;
    }
    const sv = this.#inView.of(src);
    copyRaw(this.storage, this.view, at, src, sv, from, first);
    if (first < length) copyRaw(this.storage, this.view, 0, src, sv, from + first, length - first);
  }

  /** Makes `n` bytes written past the end (by `writeAt`, or into storage directly) readable. */
  commit(n: number): void {
    if (!(typeof n === "number" && (n >>> 0) === n && n <= this.free)) {
      throw bad("ByteRing.commit", "n", n, `a whole number 0–${this.free} (the free bytes)`);
    }
    this.#length += n;
  }

  /** Copies `length` bytes from position `pos` into `dst[to ..]`, leaving them in the ring. */
  peek(pos: number, dst: Uint8Array, to: number, length: number): void {
    checkSource("ByteRing.peek", dst, to, length);
    this.#checkHeld("ByteRing.peek", pos, length);
    if (dst !== this.#foreignOut && length > 0) {
      if (dst.buffer !== this.storage.buffer) this.#foreignOut = dst;
      else {
        // Into the ring's own memory (its `storage` or a view of it): the destination may overlap
        // the bytes being read, so through a copy (this case only).
        const tmp = new Uint8Array(length);
        this.peek(pos, tmp, 0, length);
        copyBytesRaw(dst, to, tmp, 0, length);
        return;
      }
    }
    const first = this.contiguous(pos, length);
    const at = this.indexOf(pos);
    if (length < WORDS_FROM) {
      copyBytesRaw(dst, to, this.storage, at, first);
      if (first < length) copyBytesRaw(dst, to + first, this.storage, 0, length - first);
      return;
    }
    const dv = this.#outView.of(dst);
    copyRaw(dst, dv, to, this.storage, this.view, at, first);
    if (first < length) copyRaw(dst, dv, to + first, this.storage, this.view, 0, length - first);
  }

  /**
   * Copies `length` bytes from position `pos` into `dst[to ..]` and returns their running
   * Internet-checksum sum (as `sumWords` over the copy), for a transmit path that sums as it copies.
   */
  peekAndSum(pos: number, dst: DataView, to: number, length: number): number {
    if (
      !(dst instanceof DataView && typeof to === "number" && (to >>> 0) === to &&
        typeof length === "number" &&
        (length >>> 0) === length && to + length <= dst.byteLength)
    ) {
      throw bad("ByteRing.peekAndSum", "to", to, "a range within dst (a DataView)");
    }
    this.#checkHeld("ByteRing.peekAndSum", pos, length);
    const first = this.contiguous(pos, length);
    let sum = copySum(dst, to, this.view, this.indexOf(pos), first);
    if (first < length) {
      let s2 = copySum(dst, to + first, this.view, 0, length - first);
      s2 = (s2 & 0xffff) + (s2 >>> 16);
      // The second part starts at an odd offset of the segment: its bytes sit in the other half of each word.
      if (first & 1) s2 = ((s2 & 0xff) << 8) | (s2 >>> 8);
      sum += s2;
    }
    return sum;
  }

  /** Drops `n` bytes (≤ `length`) from the read end. */
  consume(n: number): void {
    if (!(typeof n === "number" && (n >>> 0) === n && n <= this.#length)) {
      throw bad("ByteRing.consume", "n", n, `a whole number 0–${this.#length} (the bytes held)`);
    }
    this.#head = this.indexOf(n);
    this.#length -= n;
    // The head stays where it is even when empty: bytes written past the end (out of order) keep their place.
  }

  /** Moves up to `length` bytes into `dst[to ..]`; returns how many. */
  read(dst: Uint8Array, to: number, length: number): number {
    checkSource("ByteRing.read", dst, to, length);
    const n = length < this.#length ? length : this.#length;
    this.peek(0, dst, to, n);
    this.consume(n);
    return n;
  }

  /**
   * Throws unless `[pos, pos + length)` lies within the bytes held (or written past them, up to the
   * capacity). `length` is a whole number already: the callers checked it.
   */
  #checkHeld(what: string, pos: number, length: number): void {
    if (!(typeof pos === "number" && (pos >>> 0) === pos && pos + length <= this.storage.length)) {
      throw bad(what, "pos", pos, `a whole-number range within the ${this.storage.length}-byte ring`);
    }
  }
}

function bad(where: string, name: string, value: unknown, allowed: string): SocketError {
  return new SocketError("InvalidArgument", badArgument(where, name, value, allowed));
}

/** Throws unless `b` is a Uint8Array holding `[from, from + length)` (whole numbers). */
function checkSource(where: string, b: Uint8Array, from: number, length: number): void {
  // Whole numbers 0 … 2³² − 1 by bit tests (no BigInt, fraction, NaN), then the range. A detached
  // array has length 0: any copy from or into it fails the range test (or copies nothing), so
  // its buffer is looked at only to word the error.
  if (
    !(b instanceof Uint8Array && typeof from === "number" && typeof length === "number" &&
      (from >>> 0) === from && (length >>> 0) === length && from + length <= b.length)
  ) {
    if (!isBytes(b)) throw bad(where, "bytes", b, "a Uint8Array (not detached)");
    throw bad(where, "range", `[${from}, ${from} + ${length})`, `within the ${b.length} bytes`);
  }
}

/**
 * Copies `length` bytes from `src[from ..]` to `dst[to ..]` without allocating (no subarray):
 * whole words through `DataView`s when both are long enough, bytes otherwise. Overlapping
 * ranges (`dst` and `src` views of one buffer) copy as `memmove` does: `dst` ends up with what
 * `src` held before the call.
 */
export function copyBytes(dst: Uint8Array, to: number, src: Uint8Array, from: number, length: number): void {
  checkSource("copyBytes", src, from, length);
  checkSource("copyBytes", dst, to, length);
  if (length === 0) return; // (a detached array passes the range test with nothing to copy)
  if (dst.buffer === src.buffer && length < C_COPY_FROM) {
    // The forward loop reads each word before it writes, so only a destination above the source
    // within reach of it would overwrite bytes not read yet (C's memmove handles the long ones).
    const d = dst.byteOffset + to;
    const s = src.byteOffset + from;
    if (d > s && d < s + length) {
      for (let i = length - 1; i >= 0; i--) dst[to + i] = src[from + i];
      return;
    }
  }
  copyRaw(dst, copyDst.of(dst), to, src, copySrc.of(src), from, length);
}

/** Below this many bytes a copy goes byte by byte (no DataView needed). */
const WORDS_FROM = 16;

function copyBytesRaw(dst: Uint8Array, to: number, src: Uint8Array, from: number, length: number): void {
  for (let i = 0; i < length; i++) dst[to + i] = src[from + i];
}

/**
 * {@linkcode copyBytes} without the checks (the ring checked its ranges), with each side's
 * `DataView`: the ring passes its own, so many rings never thrash the cache of outside views.
 */
function copyRaw(
  dst: Uint8Array,
  dv: DataView,
  to: number,
  src: Uint8Array,
  sv: DataView,
  from: number,
  length: number,
): void {
  if (length >= C_COPY_FROM) {
    copyNative(dv, to, sv, from, length);
    return;
  }
  let i = 0;
  if (length >= 16) {
    // Unrolled by four: twice as fast as one word per iteration in V8 (≈310 vs ≈650 ns per 1460 bytes).
    for (; i + 15 < length; i += 16) {
      dv.setUint32(to + i, sv.getUint32(from + i, true), true);
      dv.setUint32(to + i + 4, sv.getUint32(from + i + 4, true), true);
      dv.setUint32(to + i + 8, sv.getUint32(from + i + 8, true), true);
      dv.setUint32(to + i + 12, sv.getUint32(from + i + 12, true), true);
    }
    for (; i + 3 < length; i += 4) dv.setUint32(to + i, sv.getUint32(from + i, true), true);
  }
  for (; i < length; i++) dst[to + i] = src[from + i];
}

// copyBytes' cached DataViews of the last outside arrays (destination and source).
const copyDst = new ViewCache();
const copySrc = new ViewCache();
