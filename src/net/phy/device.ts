/**
 * The device seam: what the interface needs from a link. A DPDK port implements it
 * ({@linkcode PortDevice}), and so does an in-memory pair for tests ({@linkcode LoopbackDevice}).
 *
 * @module
 */
import { holdPool, Mempool } from "../../mempool.ts";
import { batchLengths, freeBulkFrom, MbufBatch, MbufError } from "../../mbuf.ts";
import { type BatchColumns, batchRemap } from "../../mbuf_batch.ts";
import { Port, PortError, portFreeRx, portTxRefill } from "../../port.ts";
import { badArgument, isIntIn } from "../args.ts";

/** A link the interface polls. Frames are whole Ethernet frames without the FCS. */
export interface Device {
  /** Largest IP packet (the MTU). */
  readonly mtu: number;
  /**
   * Hands each received frame (up to one burst) to `onFrame` as `bytes[start .. start + length)`;
   * the bytes are valid only during the call. Returns how many frames there were.
   */
  receive(onFrame: (bytes: Uint8Array, start: number, length: number) => void): number;
  /**
   * Reserves a buffer for one outgoing frame of `length` bytes, sent at the next
   * {@linkcode Device.flush} (or earlier, when the device's burst is full). Returns the index of the
   * frame's first byte in {@linkcode Device.txBytes}, or -1 when no buffer is free (a length above
   * the MTU plus the Ethernet header is a caller's error). Returning a number and not an object
   * keeps the send path free of allocations.
   */
  txSlot(length: number): number;
  /** The memory that holds the frame the last successful {@linkcode Device.txSlot} reserved. */
  readonly txBytes: Uint8Array;
  /** Sends the frames written since the last flush; returns how many were dropped (not taken). */
  flush(): number;
}

/** Options of a {@linkcode PortDevice}. */
export interface PortDeviceOptions {
  /** The rx and tx queue it uses (default 0; below the port's queue counts). */
  queue?: number;
  /** Frames per burst each way (1–1024, default 32). */
  burst?: number;
  /** The MTU (68–65535, default 1500; the pool's mbufs must hold MTU + 18 bytes). */
  mtu?: number;
}

/** Most frames a PortDevice moves per burst. */
export const MAX_DEVICE_BURST = 1024;

/** Checks PortDevice's arguments before anything is taken from them. */
function checkPortDeviceArgs(port: unknown, pool: unknown, options: unknown): void {
  const id = port instanceof Port ? port.id : -1;
  const fail = (name: string, value: unknown, allowed: string) =>
    new PortError("InvalidArgument", id, badArgument("PortDevice", name, value, allowed));
  if (!(port instanceof Port)) throw fail("port", port, "a Port (from Port.open)");
  if (!(pool instanceof Mempool)) throw fail("pool", pool, "a Mempool");
  if (typeof options !== "object" || options === null) throw fail("options", options, "an object");
  const o = options as PortDeviceOptions;
  const queues = Math.min(port.rxQueues, port.txQueues);
  if (o.queue !== undefined && !isIntIn(o.queue, 0, queues - 1)) {
    throw fail("queue", o.queue, `a whole number 0–${queues - 1} (the port has ${queues} rx/tx queue pairs)`);
  }
  if (o.burst !== undefined && !isIntIn(o.burst, 1, MAX_DEVICE_BURST)) {
    throw fail("burst", o.burst, `a whole number 1–${MAX_DEVICE_BURST}`);
  }
  if (o.mtu !== undefined && !isIntIn(o.mtu, 68, 65535)) throw fail("mtu", o.mtu, "a whole number 68–65535");
}

/** Bytes each spare tx mbuf gets until its frame's real length is set (any nonzero value works). */
const SPARE_LENGTH = 14;

/**
 * Spares a flush tops up at once (fewer when the burst is smaller). Topping up at every flush of
 * one frame costs ≈ 20 ns per round trip (an alloc call's fixed cost); topping up a whole burst at
 * once puts ≈ 60 ns on every 32nd, which lands in the p99. Eight at a time keeps both small.
 */
const REFILL_CHUNK = 8;

/**
 * A DPDK port as a {@linkcode Device}: one rx and one tx batch, one FFI call per burst each way.
 * Transmit mbufs are kept as spares between polls (each flush sends and tops them up in the same
 * call), so a frame costs no FFI call of its own; a received burst is kept until the next
 * `receive`, whose call frees it and receives the next. Dispose (or `using`) returns the spares,
 * any unsent frames and the last received burst to their pools: dispose the device before the
 * pools (a pool refuses to be freed while mbufs are out).
 */
export class PortDevice implements Device, Disposable {
  /** The port. */
  readonly port: Port;
  /** The MTU. */
  readonly mtu: number;
  /** See {@linkcode Device.txBytes}. */
  txBytes: Uint8Array = new Uint8Array(0);
  #pool: Mempool;
  #queue: number;
  #rx: MbufBatch;
  /** Entries [0, #filled) hold frames to send; the rest are spare mbufs. */
  #tx: MbufBatch;
  #filled = 0;
  /** The tx batch's length and data-start columns (see txSlot) and the data room of a fresh mbuf. */
  #lengths: Uint16Array;
  #starts: Int32Array;
  #room: number;
  /** tx.length as of the last refill: entries [#filled, #spares) are spares, described. */
  #spares = 0;
  /** A flush tops the spares up when at most this many are left (capacity - REFILL_CHUNK). */
  #refillAt: number;
  /** Drops of flushes made inside txSlot, reported by the next flush(). */
  #carriedDrops = 0;
  #disposed = false;
  /** Keeps the tx pool from being freed while the device holds spares (the port's rule for its rx pool). */
  #releasePool: () => void = () => {};

  /**
   * Wraps `port` (started, or started later), queue `queue`, with tx mbufs from `pool`.
   * @throws {PortError} `InvalidArgument` for a bad port, pool, queue, burst or MTU, or when
   * `pool`'s mbufs cannot hold a frame of `mtu` (+ 18).
   */
  constructor(port: Port, pool: Mempool, options: PortDeviceOptions = {}) {
    checkPortDeviceArgs(port, pool, options);
    this.port = port;
    this.#pool = pool;
    this.#queue = options.queue ?? 0;
    this.mtu = options.mtu ?? 1500;
    this.#rx = new MbufBatch(options.burst ?? 32);
    this.#tx = new MbufBatch(options.burst ?? 32);
    this.#lengths = batchLengths(this.#tx);
    this.#refillAt = this.#tx.capacity - Math.min(REFILL_CHUNK, this.#tx.capacity);
    this.#starts = this.#tx.columns().start;
    this.#room = pool.dataRoom;
    // The largest frame the interface sends: the MTU, an Ethernet header and a VLAN tag.
    if (!(Number.isInteger(this.mtu) && this.mtu >= 68 && this.mtu + 18 <= this.#room)) {
      throw new PortError(
        "InvalidArgument",
        port.id,
        `PortDevice: MTU ${this.mtu} needs frames of up to ${this.mtu + 18} bytes, but mbufs of pool ` +
          `${JSON.stringify(pool.name)} hold ${this.#room} (use Mempool.createForMtu for this MTU)`,
      );
    }
    this.#releasePool = holdPool(pool, `PortDevice on port ${port.id}`);
  }

  /** True once disposed (the last received burst is back in its pool). */
  get disposed(): boolean {
    return this.#disposed;
  }

  receive(onFrame: (bytes: Uint8Array, start: number, length: number) => void): number {
    if (this.#disposed) throw disposedError("receive", this.port);
    if (typeof onFrame !== "function") {
      throw new PortError(
        "InvalidArgument",
        this.port.id,
        badArgument("PortDevice.receive", "onFrame", onFrame, "a function"),
      );
    }
    const rx = this.#rx;
    let n: number;
    try {
      // The previous burst (its frames were valid only during their onFrame calls) is freed by the
      // same FFI call that receives the next one; dispose frees the last.
      n = portFreeRx(this.port, this.#queue, rx);
    } catch (e) {
      this.#releaseRx(); // a stopped or closed port: hold nothing
      throw e;
    }
    if (n === 0) return 0;
    const c = columnsOf(rx);
    for (let i = 0; i < n; i++) {
      const st = c.start[i];
      if (st >= 0) {
        onFrame(c.bytes, st, c.length[i]);
      } else {
        const p = rx.at(i); // outside the pool's first memory chunk
        onFrame(p.bytes, p.start, p.length);
      }
    }
    return n;
  }

  /** Frees the received burst the device still holds, unless its pool is gone (and its memory with it). */
  #releaseRx(): void {
    const rx = this.#rx;
    if (rx.length === 0) return;
    try {
      freeBulkFrom(rx, rx.length);
    } catch (e) {
      if (!(e instanceof MbufError && e.kind === "PoolDisposed")) throw e;
    }
  }

  txSlot(length: number): number {
    // Fast path: a spare mbuf is ready and the frame fits (and txBytes is mapped: a program may
    // have transferred the pool's buffer away, which the slow path's columnsOf maps again).
    const i = this.#filled;
    if (i < this.#spares && (length >>> 0) === length && length <= this.#room && this.txBytes.length !== 0) {
      this.#filled = i + 1;
      // The length goes into the batch's column; the send sets it in each mbuf (one C loop), which
      // costs less than updating the mbuf header from here.
      this.#lengths[i] = length;
      const st = this.#starts[i];
      if (st >= 0) return st;
      this.#filled = i; // outside the pool's first memory chunk: the slow path places it
    }
    return this.#txSlotSlow(length);
  }

  #txSlotSlow(length: number): number {
    if (this.#disposed) throw disposedError("txSlot", this.port);
    if (!((length >>> 0) === length && length <= this.#room)) {
      throw new PortError(
        "InvalidArgument",
        this.port.id,
        `PortDevice.txSlot: a frame of ${length} bytes; frames are whole numbers of bytes up to ${this.#room} ` +
          `(the data room of pool ${JSON.stringify(this.#pool.name)})`,
      );
    }
    const tx = this.#tx;
    if (this.#filled === tx.length) { // no spare left
      if (tx.free === 0) this.#carriedDrops += this.#send(); // the batch is full of frames: send them
      // A burst's worth of spares in one call; when the pool runs low, one at a time.
      if (!this.#pool.allocBulk(tx, tx.free, SPARE_LENGTH) && !this.#pool.allocBulk(tx, 1, SPARE_LENGTH)) {
        return -1;
      }
    }
    this.#spares = tx.length;
    this.txBytes = columnsOf(tx).bytes;
    const i = this.#filled;
    this.#filled = i + 1;
    this.#lengths[i] = length;
    const st = this.#starts[i];
    if (st >= 0) return st;
    const p = tx.at(i);
    this.txBytes = p.bytes;
    this.#spares = 0; // txBytes is not the columns' memory now: the next txSlot takes this path too
    return p.start;
  }

  flush(): number {
    if (this.#disposed) throw disposedError("flush", this.port);
    const dropped = this.#carriedDrops + this.#send();
    this.#carriedDrops = 0;
    return dropped;
  }

  /**
   * Sends the filled entries and, once REFILL_CHUNK or more spares are missing, tops them back up
   * to a full burst, in the same FFI call; frees (drops, as a NIC would) the ones the driver's
   * queue refused.
   */
  #send(): number {
    const n = this.#filled;
    if (n === 0) return 0;
    this.#filled = 0;
    this.#spares = 0; // the batch shifts: txSlot refreshes its view of it
    const tx = this.#tx;
    const fill = tx.length - n <= this.#refillAt ? tx.capacity : 0;
    const r = portTxRefill(this.port, this.#queue, tx, n, this.#pool, fill, SPARE_LENGTH);
    const dropped = n - (r & 0xffff);
    if (dropped > 0) this.#pool.freeBulk(tx, dropped); // the unsent came first
    // The spares are described (in the columns' memory, or -1); a refill failure leaves fewer.
    this.#spares = tx.length;
    this.txBytes = columnsOf(tx).bytes;
    return dropped;
  }

  /**
   * Returns the spare mbufs, any frames not flushed yet and the last received burst to their pools. Idempotent; call it before
   * disposing the port and the pool.
   */
  [Symbol.dispose](): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#filled = 0;
    this.#spares = 0; // every txSlot takes the slow path, which throws
    if (this.#tx.length > 0 && !this.#pool.disposed) this.#pool.freeBulk(this.#tx);
    this.#releaseRx();
    this.#releasePool();
  }
}

/**
 * `b.columns()`, with the pool's memory mapped again when a program transferred its buffer away
 * (the columns' bytes came back empty while the batch holds packets): the memory is DPDK's and did
 * not move. One compare per burst.
 */
function columnsOf(b: MbufBatch): BatchColumns {
  const c = b.columns();
  if (c.bytes.length !== 0 || b.length === 0) return c;
  batchRemap(b);
  return b.columns();
}

function loopbackError(message: string): PortError {
  return new PortError("InvalidArgument", -1, message);
}

function disposedError(what: string, port: Port): PortError {
  return new PortError("Closed", port.id, `PortDevice.${what}: the device was disposed`);
}

/** The memory the queues of a LoopbackDevice pair (or of one device looped to itself) share. */
interface LoopbackStore {
  store: Uint8Array;
  readonly devices: LoopbackDevice[];
}

/** Frames a device's queue starts with room for (it grows by doubling, up to its capacity). */
const LOOPBACK_INITIAL_SLOTS = 16;

/**
 * An in-memory link: frames written on one end are received on the other (or on itself, when made
 * alone). Bounded like a real queue: beyond `capacity` frames waiting or written and not yet
 * flushed, new ones are dropped (counted at the next flush).
 *
 * Nothing is allocated per frame: each receiving end keeps its frames in fixed-size slots
 * (rounded up to 64 bytes), a ring in arrival order that grows by doubling while it fills, up to
 * `capacity`; both ends' rings live in one array. A frame is written in place by the sender's
 * `txSlot` and handed to the receiver's `onFrame` in place. A frame is valid only during its `onFrame` call (as on a port):
 * its slot is reused afterwards.
 */
export class LoopbackDevice implements Device {
  /** The MTU. */
  readonly mtu: number;
  /** Frames dropped because the peer's queue was full. */
  dropped = 0;
  /** See {@linkcode Device.txBytes}. */
  txBytes: Uint8Array = new Uint8Array(0);
  #peer: LoopbackDevice;
  #capacity: number;
  // The receiving side: frames queued for this device, in its #slots slots from byte #base of the
  // store it shares with its peer (one array for both directions: the views the stack caches of
  // the frames' memory stay valid both ways). Ring positions [#head, #head + #visible) are
  // flushed (receivable), the next #pending were written by the peer and wait for its flush. One
  // slot always stays unused: the one whose frame onFrame is reading while the peer writes (a
  // device looped to itself transmits from inside receive).
  readonly #slotSize: number;
  #shared: LoopbackStore;
  #base = 0;
  #slots: number;
  #lengths: Int32Array;
  #head = 0;
  #visible = 0;
  #pending = 0;
  /** Frames the peer wrote while this queue was full, dropped at its flush. */
  #overflow = 0;
  /** Where a frame goes that the full queue cannot take: written, then dropped. */
  #scratch: Uint8Array | null = null;

  /**
   * A device whose frames come back to itself: `mtu` 68–65535, at most `capacity` (1–2²⁰) frames waiting.
   * @throws {PortError} `InvalidArgument` for a bad MTU or capacity.
   */
  constructor(mtu: number = 1500, capacity: number = 1024) {
    if (!isIntIn(mtu, 68, 65535)) {
      throw loopbackError(badArgument("LoopbackDevice", "mtu", mtu, "a whole number 68–65535"));
    }
    if (!isIntIn(capacity, 1, 1 << 20)) {
      throw loopbackError(badArgument("LoopbackDevice", "capacity", capacity, "a whole number 1–1048576"));
    }
    this.mtu = mtu;
    this.#capacity = capacity;
    // An Ethernet header and a VLAN tag around an MTU-sized packet, as PortDevice allows.
    this.#slotSize = (mtu + 18 + 63) & ~63;
    this.#peer = this;
    this.#slots = Math.min(capacity + 1, LOOPBACK_INITIAL_SLOTS);
    this.#lengths = new Int32Array(this.#slots);
    this.#shared = { store: new Uint8Array(0), devices: [this] };
    LoopbackDevice.#layout(this.#shared, this, this.#slots);
  }

  /** Two devices wired to each other (arguments as for the constructor). */
  static pair(mtu: number = 1500, capacity: number = 1024): [LoopbackDevice, LoopbackDevice] {
    const a = new LoopbackDevice(mtu, capacity);
    const b = new LoopbackDevice(mtu, capacity);
    a.#peer = b;
    b.#peer = a;
    a.#shared = b.#shared = { store: new Uint8Array(0), devices: [a, b] };
    LoopbackDevice.#layout(a.#shared, a, a.#slots);
    return [a, b];
  }

  /** Frames waiting to be received (flushed by the sender and not yet received). */
  get queued(): number {
    return this.#visible;
  }

  receive(onFrame: (bytes: Uint8Array, start: number, length: number) => void): number {
    if (typeof onFrame !== "function") {
      throw loopbackError(badArgument("LoopbackDevice.receive", "onFrame", onFrame, "a function"));
    }
    const n = this.#visible < 32 ? this.#visible : 32;
    for (let k = 0; k < n; k++) {
      // Taken off the queue before the call: onFrame may make the peer (or this device) send,
      // which may grow the store; this frame's bytes stay where they are until it returns.
      const i = this.#head;
      const store = this.#shared.store;
      const length = this.#lengths[i];
      this.#head = i + 1 === this.#slots ? 0 : i + 1;
      this.#visible--;
      onFrame(store, this.#base + i * this.#slotSize, length);
    }
    return n;
  }

  txSlot(length: number): number {
    if (!(typeof length === "number" && (length >>> 0) === length && length <= this.mtu + 18)) {
      throw loopbackError(
        badArgument("LoopbackDevice.txSlot", "length", length, `a whole number 0–${this.mtu + 18}`),
      );
    }
    return this.#peer.#reserve(this, length);
  }

  flush(): number {
    const p = this.#peer;
    p.#visible += p.#pending;
    p.#pending = 0;
    const dropped = p.#overflow;
    p.#overflow = 0;
    this.dropped += dropped;
    return dropped;
  }

  /** A slot of this (receiving) device's queue for a frame `sender` writes; sets its txBytes. */
  #reserve(sender: LoopbackDevice, length: number): number {
    const used = this.#visible + this.#pending;
    if (used >= this.#capacity) {
      this.#overflow++;
      sender.txBytes = this.#scratch ??= new Uint8Array(new SharedArrayBuffer(this.#slotSize));
      return 0;
    }
    if (used + 1 >= this.#slots) {
      LoopbackDevice.#layout(this.#shared, this, Math.min(this.#slots * 2, this.#capacity + 1));
    }
    let i = this.#head + used;
    if (i >= this.#slots) i -= this.#slots;
    this.#lengths[i] = length;
    this.#pending++;
    sender.txBytes = this.#shared.store;
    return this.#base + i * this.#slotSize;
  }

  /**
   * Lays the queues of the devices sharing `shared` out in a new store, `grown` with `slots`
   * slots and the others with theirs, each queue's frames first in order (its head at 0). A frame
   * being read in an onFrame call stays valid: the old store is not changed.
   */
  static #layout(shared: LoopbackStore, grown: LoopbackDevice, slots: number): void {
    let total = 0;
    for (const d of shared.devices) total += (d === grown ? slots : d.#slots) * d.#slotSize;
    // Shared memory, which cannot be detached: frames (onFrame's bytes, txBytes) are views of it.
    const store = new Uint8Array(new SharedArrayBuffer(total));
    let base = 0;
    for (const d of shared.devices) {
      const size = d.#slotSize;
      const n = d === grown ? slots : d.#slots;
      const lengths = new Int32Array(n);
      const used = d.#visible + d.#pending;
      for (let k = 0; k < used; k++) {
        let i = d.#head + k;
        if (i >= d.#slots) i -= d.#slots;
        const len = d.#lengths[i];
        const from = d.#base + i * size;
        store.set(shared.store.subarray(from, from + len), base + k * size);
        lengths[k] = len;
      }
      d.#lengths = lengths;
      d.#slots = n;
      d.#head = 0;
      d.#base = base;
      base += n * size;
    }
    shared.store = store;
  }
}
