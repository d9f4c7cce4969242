/**
 * The storage of a UDP socket: a fixed ring of datagram slots in one buffer (smoltcp's
 * `PacketBuffer`, with a slot per datagram). Copying a payload in or out allocates nothing, so the
 * per-datagram cost stays independent of the garbage collector.
 *
 * A received datagram may also stay where it arrived, in a frame the device still holds
 * ({@linkcode SlotRing.lend}): its slot then points into that memory, and the interface copies it
 * into the slot ({@linkcode SlotRing.settle}) before the device takes the frame back, if it was
 * not read by then.
 *
 * @module
 */
import { viewOf } from "../wire/mod.ts";
import { foldChecksum, sumViewRaw } from "../wire/checksum.ts";
import { copySum } from "../copy.ts";
import { remapped } from "../../pool_memory.ts";

const EMPTY = new Uint8Array(0);

/** How many lent datagrams the rings of one interface hold unread (see {@linkcode SlotRing.lend}). */
export class LendTally {
  /** Lent datagrams not read (nor settled) yet. */
  unread = 0;
}
const NO_LENDER = { disposed: false };

/** {@linkcode SlotRing.deliver}: the datagram was kept. */
export const DELIVERED = 0;
/** {@linkcode SlotRing.deliver}: the datagram was dropped, the ring being full or the payload too large. */
export const DELIVER_DROPPED = 1;
/** {@linkcode SlotRing.deliver}: the datagram's checksum was bad (nothing kept). */
export const DELIVER_BAD_CHECKSUM = 2;

/** A fixed ring of `capacity` slots of `slotSize` bytes, each with its length, address and port. */
export class SlotRing {
  /** The slots' memory: slot `i` starts at `i * slotSize`. */
  readonly bytes: Uint8Array;
  /** A view of {@linkcode SlotRing.bytes}. */
  readonly view: DataView;
  /** Each slot's payload length. */
  readonly len: Uint16Array;
  /** Each slot's address (the sender's or the destination's). */
  readonly ip: Uint32Array;
  /** Each slot's port. */
  readonly port: Uint16Array;
  /**
   * Where each slot's payload is: -1 in the slot itself, else its index in
   * {@linkcode SlotRing.lent} (a frame the device still holds).
   */
  readonly lentAt: Int32Array;
  /** The memory lent slots point into (one array at a time), and its view. */
  lent: Uint8Array = EMPTY;
  lentView: DataView = viewOf(EMPTY);
  /** Lent datagrams not read yet, counted with the other rings of the same interface. */
  tally: LendTally = new LendTally();
  /**
   * What holds the frames lent slots point into: once it is disposed, their memory went back to
   * its pool, and a lent datagram is lost (see {@linkcode SlotRing.dropLost}).
   */
  lender: { readonly disposed: boolean } = NO_LENDER;
  /** The oldest slot. */
  head = 0;
  /** Slots in use. */
  count = 0;
  /** A ring of `capacity` slots of `slotSize` bytes, preallocated. */
  constructor(readonly capacity: number, readonly slotSize: number) {
    // Shared memory, which cannot be detached: `UdpSocket.rxBytes` hands it out, and a transferred
    // ArrayBuffer would have left the ring with no bytes.
    this.bytes = new Uint8Array(new SharedArrayBuffer(capacity * slotSize));
    this.view = viewOf(this.bytes);
    this.len = new Uint16Array(capacity);
    this.ip = new Uint32Array(capacity);
    this.port = new Uint16Array(capacity);
    this.lentAt = new Int32Array(capacity).fill(-1);
  }
  /** Copies `src[off .. off+len)` in (`len` ≤ `slotSize`); false when full. */
  push(src: DataView, off: number, len: number, ip: number, port: number): boolean {
    if (this.count === this.capacity) return false;
    const slot = this.#next();
    copySum(this.view, slot * this.slotSize, src, off, len); // the sum is not needed here
    this.lentAt[slot] = -1;
    this.#commit(slot, len, ip, port);
    return true;
  }
  /**
   * Copies a received UDP payload in while summing it, and keeps it only when the checksum (`sum`:
   * pseudo-header and UDP header words; -1 for "no checksum") verifies: {@linkcode DELIVERED},
   * {@linkcode DELIVER_DROPPED} (larger than a slot, or full; a corrupt datagram that finds the
   * ring full is {@linkcode DELIVER_BAD_CHECKSUM}), or {@linkcode DELIVER_BAD_CHECKSUM}.
   */
  deliver(src: DataView, off: number, len: number, ip: number, port: number, sum: number): number {
    if (len > this.slotSize) return DELIVER_DROPPED;
    if (this.count === this.capacity) {
      // Full: the datagram is dropped either way, but a corrupt one counts as malformed.
      return sum >= 0 && foldChecksum(sumViewRaw(src, off, off + len, sum)) !== 0
        ? DELIVER_BAD_CHECKSUM
        : DELIVER_DROPPED;
    }
    const slot = this.#next();
    const payload = copySum(this.view, slot * this.slotSize, src, off, len);
    if (sum >= 0 && foldChecksum(sum + payload) !== 0) return DELIVER_BAD_CHECKSUM;
    this.lentAt[slot] = -1;
    this.#commit(slot, len, ip, port);
    return DELIVERED;
  }
  /**
   * {@linkcode SlotRing.deliver} without the copy: the payload stays at `src[off .. off+len)`
   * (`src` a view of `bytes`), summed in place, and its slot points there until it is read or
   * {@linkcode SlotRing.settle}d. The caller guarantees the memory stays as it is until it calls
   * `settle` (the interface: until its next poll, before the device reuses the frame).
   */
  lend(
    src: DataView,
    bytes: Uint8Array,
    off: number,
    len: number,
    ip: number,
    port: number,
    sum: number,
  ): number {
    if (len > this.slotSize) return DELIVER_DROPPED;
    const full = this.count === this.capacity;
    if (full || sum >= 0) {
      // Full: the datagram is dropped either way, but a corrupt one counts as malformed.
      if (sum >= 0 && foldChecksum(sumViewRaw(src, off, off + len, sum)) !== 0) return DELIVER_BAD_CHECKSUM;
      if (full) return DELIVER_DROPPED;
    }
    if (bytes !== this.lent) {
      this.settle(); // slots point into one array at a time
      this.lent = bytes;
      this.lentView = src;
    }
    const slot = this.#next();
    this.lentAt[slot] = off;
    this.tally.unread++;
    this.#commit(slot, len, ip, port);
    return DELIVERED;
  }
  /** Copies every queued datagram that still points into {@linkcode SlotRing.lent} into its slot. */
  settle(): void {
    if (this.lender.disposed) return; // the frames are gone: readers drop those datagrams
    if (this.lent.length === 0) this.#remapLent();
    let s = this.head;
    for (let k = 0; k < this.count; k++) {
      const at = this.lentAt[s];
      if (at >= 0) {
        copySum(this.view, s * this.slotSize, this.lentView, at, this.len[s]); // the sum is not needed
        this.lentAt[s] = -1;
        this.tally.unread--;
      }
      s = s + 1 === this.capacity ? 0 : s + 1;
    }
  }
  /**
   * True when the oldest datagram's memory is gone (lent from a device disposed since): call
   * {@linkcode SlotRing.dropLost}.
   */
  firstLost(): boolean {
    return this.lentAt[this.head] >= 0 && this.lender.disposed;
  }
  /** Drops the datagrams at the front whose memory is gone; returns how many. */
  dropLost(): number {
    let n = 0;
    while (this.count > 0 && this.firstLost()) {
      this.shift();
      n++;
    }
    return n;
  }
  /** Memory of the oldest slot's payload: {@linkcode SlotRing.bytes} or {@linkcode SlotRing.lent}. */
  firstBytes(): Uint8Array {
    if (this.lentAt[this.head] < 0) return this.bytes;
    if (this.lent.length === 0) this.#remapLent();
    return this.lent;
  }
  /** View of {@linkcode SlotRing.firstBytes}. */
  firstView(): DataView {
    if (this.lentAt[this.head] < 0) return this.view;
    if (this.lent.length === 0) this.#remapLent();
    return this.lentView;
  }
  /**
   * The lent frames' memory was detached (a program transferred a pool buffer away): the frames
   * are still there, in the pool's memory mapped again.
   */
  #remapLent(): void {
    const m = remapped(this.lent);
    if (m !== this.lent) {
      this.lent = m;
      this.lentView = viewOf(m);
    }
  }
  /** Index of the oldest slot's payload in {@linkcode SlotRing.firstBytes}. */
  firstStart(): number {
    const at = this.lentAt[this.head];
    return at < 0 ? this.head * this.slotSize : at;
  }
  #next(): number {
    const s = this.head + this.count;
    return s >= this.capacity ? s - this.capacity : s;
  }
  #commit(slot: number, len: number, ip: number, port: number): void {
    this.len[slot] = len;
    this.ip[slot] = ip;
    this.port[slot] = port;
    this.count++;
  }
  /** Index of the oldest slot (check `count` first). */
  get first(): number {
    return this.head;
  }
  /** Frees the oldest slot. */
  shift(): void {
    if (this.lentAt[this.head] >= 0) {
      this.lentAt[this.head] = -1;
      this.tally.unread--;
    }
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    this.count--;
  }
}
