/**
 * The device seam: what the interface needs from a link. A DPDK port implements it
 * ({@linkcode PortDevice}), and so does an in-memory pair for tests ({@linkcode LoopbackDevice}).
 *
 * @module
 */
import type { Mempool } from "../../mempool.ts";
import { MbufBatch } from "../../mbuf.ts";
import type { Port } from "../../port.ts";

/** Where to write one outgoing frame: `bytes[start .. start + length)`. */
export interface TxSlot {
  /** Memory that holds the frame. */
  bytes: Uint8Array;
  /** Index of the frame's first byte. */
  start: number;
}

/** A link the interface polls. Frames are whole Ethernet frames without the FCS. */
export interface Device {
  /** Largest IP packet (the MTU). */
  readonly mtu: number;
  /**
   * Hands each received frame (up to one burst) to `onFrame` as `bytes[start .. start + length)`;
   * the bytes are valid only during the call. Returns how many frames there were.
   */
  receive(onFrame: (bytes: Uint8Array, start: number, length: number) => void): number;
  /** A buffer for one frame of `length` bytes, sent at the next {@linkcode Device.flush}; null when none is free. */
  txSlot(length: number): TxSlot | null;
  /** Sends the frames written since the last flush; returns how many were dropped (not taken). */
  flush(): number;
}

/** A DPDK port as a {@linkcode Device}: one rx and one tx batch, one FFI call per burst. */
export class PortDevice implements Device {
  /** The port. */
  readonly port: Port;
  /** The MTU. */
  readonly mtu: number;
  #pool: Mempool;
  #queue: number;
  #rx: MbufBatch;
  #tx: MbufBatch;
  /** Drops of flushes made inside txSlot, reported by the next flush(). */
  #carriedDrops = 0;

  /** Wraps `port` (started, or started later), queue `queue`, with tx mbufs from `pool`. */
  constructor(port: Port, pool: Mempool, options: { queue?: number; burst?: number; mtu?: number } = {}) {
    this.port = port;
    this.#pool = pool;
    this.#queue = options.queue ?? 0;
    this.mtu = options.mtu ?? 1500;
    this.#rx = new MbufBatch(options.burst ?? 32);
    this.#tx = new MbufBatch(options.burst ?? 32);
  }

  receive(onFrame: (bytes: Uint8Array, start: number, length: number) => void): number {
    const rx = this.#rx;
    const n = this.port.rxBurst(this.#queue, rx);
    if (n === 0) return 0;
    try {
      for (let i = 0; i < n; i++) {
        const p = rx.at(i);
        onFrame(p.bytes, p.start, p.length);
      }
    } finally {
      this.#pool.freeBulk(rx);
    }
    return n;
  }

  txSlot(length: number): TxSlot | null {
    const tx = this.#tx;
    if (tx.free === 0) this.#carriedDrops += this.#send(); // the batch is full: send what it holds
    if (!this.#pool.allocBulk(tx, 1, length)) return null;
    const p = tx.at(tx.length - 1);
    return { bytes: p.bytes, start: p.start };
  }

  flush(): number {
    const dropped = this.#carriedDrops + this.#send();
    this.#carriedDrops = 0;
    return dropped;
  }

  #send(): number {
    const tx = this.#tx;
    if (tx.length === 0) return 0;
    this.port.txBurst(this.#queue, tx);
    const dropped = tx.length;
    if (dropped > 0) this.#pool.freeBulk(tx); // the driver's queue is full: drop, as a NIC would
    return dropped;
  }
}

/**
 * An in-memory link: frames written on one end are received on the other (or on itself, when made
 * alone). Bounded like a real queue: beyond `capacity` waiting frames, new ones are dropped.
 */
export class LoopbackDevice implements Device {
  /** The MTU. */
  readonly mtu: number;
  /** Frames dropped because the peer's queue was full. */
  dropped = 0;
  #queue: Uint8Array[] = [];
  #pending: Uint8Array[] = [];
  #peer: LoopbackDevice;
  #capacity: number;

  /** A device whose frames come back to itself. */
  constructor(mtu = 1500, capacity = 1024) {
    this.mtu = mtu;
    this.#capacity = capacity;
    this.#peer = this;
  }

  /** Two devices wired to each other. */
  static pair(mtu = 1500, capacity = 1024): [LoopbackDevice, LoopbackDevice] {
    const a = new LoopbackDevice(mtu, capacity);
    const b = new LoopbackDevice(mtu, capacity);
    a.#peer = b;
    b.#peer = a;
    return [a, b];
  }

  receive(onFrame: (bytes: Uint8Array, start: number, length: number) => void): number {
    const frames = this.#queue.splice(0, 32);
    for (const f of frames) onFrame(f, 0, f.length);
    return frames.length;
  }

  txSlot(length: number): TxSlot | null {
    const f = new Uint8Array(length);
    this.#pending.push(f);
    return { bytes: f, start: 0 };
  }

  flush(): number {
    let dropped = 0;
    for (const f of this.#pending) {
      if (this.#peer.#queue.length < this.#peer.#capacity) this.#peer.#queue.push(f);
      else dropped++;
    }
    this.#pending = [];
    this.dropped += dropped;
    return dropped;
  }
}
