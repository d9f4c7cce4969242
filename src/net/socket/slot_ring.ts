/**
 * The storage of a UDP socket: a fixed ring of datagram slots in one buffer (smoltcp's
 * `PacketBuffer`, with a slot per datagram). Copying a payload in or out allocates nothing, so the
 * per-datagram cost stays independent of the garbage collector.
 *
 * @module
 */
import { viewOf } from "../wire/mod.ts";
import { foldChecksum, sumViewRaw } from "../wire/checksum.ts";
import { copySum } from "../copy.ts";

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
  /** The oldest slot. */
  head = 0;
  /** Slots in use. */
  count = 0;
  /** A ring of `capacity` slots of `slotSize` bytes, preallocated. */
  constructor(readonly capacity: number, readonly slotSize: number) {
    this.bytes = new Uint8Array(capacity * slotSize);
    this.view = viewOf(this.bytes);
    this.len = new Uint16Array(capacity);
    this.ip = new Uint32Array(capacity);
    this.port = new Uint16Array(capacity);
  }
  /** Copies `src[off .. off+len)` in (`len` ≤ `slotSize`); false when full. */
  push(src: DataView, off: number, len: number, ip: number, port: number): boolean {
    if (this.count === this.capacity) return false;
    const slot = this.#next();
    copySum(this.view, slot * this.slotSize, src, off, len); // the sum is not needed here
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
    this.#commit(slot, len, ip, port);
    return DELIVERED;
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
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    this.count--;
  }
}
