/**
 * Fault injection in the device seam: {@linkcode FaultInjector} wraps any {@linkcode Device} (a
 * DPDK {@linkcode PortDevice}, a {@linkcode LoopbackDevice}, …) and drops, corrupts, duplicates,
 * reorders, delays and rate-limits its frames, separately on the way out (`tx`) and in (`rx`),
 * from a seeded random source: the same seed and the same frames give the same faults.
 *
 * @module
 */
import { PortError } from "../../port.ts";
import { badArgument, isIntIn, shown } from "../args.ts";
import type { Device } from "./device.ts";
import {
  checkFaults,
  type FaultInjectorOptions,
  type FaultInjectorStats,
  type Faults,
  FaultStats,
  invalid,
  OPTION_KEYS,
} from "./fault_config.ts";

export {
  type FaultConfig,
  type FaultInjectorOptions,
  type FaultInjectorStats,
  FaultStats,
} from "./fault_config.ts";
class Held {
  buf: Uint8Array;
  len = 0;
  /** When it may leave, ms on the injector's clock. */
  at = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }
}

/** SplitMix32-style generator (Mulberry32): small, fast, and the same on every platform. */
class Prng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** A number in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** The resolved faults of one direction. */
class Direction {
  readonly stats = new FaultStats();
  readonly #f: Faults;
  readonly #rng: Prng;
  readonly #maxHeld: number;
  readonly #maxBytes: number;
  readonly #size: number;
  readonly #free: Held[] = [];
  /** Held frames from #head on, ordered by `at` (ties in arrival order). */
  #line: Held[] = [];
  #head = 0;
  /** Departure times of the frames the bucket has not let out yet (a FIFO from #qHead on). */
  #queue: number[] = [];
  #qHead = 0;
  /** The bucket's tokens (bytes) as of #bucketAt (ms). */
  #tokens: number;
  #bucketAt = -Infinity;

  constructor(f: Faults, seed: number, maxHeld: number, maxBytes: number, frameSize: number) {
    this.#f = f;
    this.#rng = new Prng(seed);
    this.#maxHeld = maxHeld;
    this.#maxBytes = maxBytes;
    this.#size = frameSize;
    this.#tokens = f.burst;
  }

  /** A buffer for a frame of `len` bytes (a larger one than usual is not kept once released). */
  alloc(len: number): Held {
    const s = this.stats;
    let h = this.#free.pop();
    if (h === undefined) h = new Held(this.#size);
    else s.spareBytes -= h.buf.length;
    if (h.buf.length < len) h.buf = new Uint8Array(len);
    h.len = len;
    return h;
  }

  /**
   * Returns a frame's buffer for reuse: kept when it has the usual size and the spares stay within
   * maxHeldBytes, else left to the garbage collector.
   */
  release(h: Held): void {
    const s = this.stats;
    const size = h.buf.length;
    if (size !== this.#size || s.spareBytes + size > this.#maxBytes) return;
    s.spareBytes += size;
    this.#free.push(h);
  }

  /** Forgets the spare buffers (dispose). */
  dropSpares(): void {
    this.#free.length = 0;
    this.stats.spareBytes = 0;
  }

  /** Frames held. */
  get held(): number {
    return this.#line.length - this.#head;
  }

  /** When the first held frame may leave (ms), or Infinity. */
  get nextAt(): number {
    return this.#head < this.#line.length ? this.#line[this.#head].at : Infinity;
  }

  /** Applies the faults to the frame in `h` at time `now` (ms); takes ownership of `h`. */
  submit(h: Held, now: number): void {
    const f = this.#f;
    const s = this.stats;
    const rng = this.#rng;
    s.frames++;
    s.bytes += h.len;
    if (f.drop > 0 && rng.next() < f.drop) {
      s.dropped++;
      this.release(h);
      return;
    }
    if (f.corrupt > 0 && rng.next() < f.corrupt) {
      flipBit(h.buf, h.len, rng);
      s.corrupted++;
    }
    if (f.duplicate > 0 && rng.next() < f.duplicate) {
      s.duplicated++;
      const copy = this.alloc(h.len);
      copy.buf.set(h.buf.subarray(0, h.len));
      this.#schedule(h, now);
      this.#schedule(copy, now);
    } else {
      this.#schedule(h, now);
    }
    s.held = this.held;
  }

  /** The bottleneck, the delays and the reordering of one frame (or copy). */
  #schedule(h: Held, now: number): void {
    const f = this.#f;
    const s = this.stats;
    if (this.held >= this.#maxHeld || s.heldBytes + h.buf.length > this.#maxBytes) {
      s.heldOverflow++;
      this.release(h);
      return;
    }
    let at = now;
    if (f.rate > 0) {
      const q = this.#queue;
      while (this.#qHead < q.length && q[this.#qHead] <= now) this.#qHead++;
      if (this.#qHead > 1024 && this.#qHead * 2 > q.length) {
        q.splice(0, this.#qHead);
        this.#qHead = 0;
      }
      // FIFO: the frame starts once those ahead of it have left, and leaves when the bucket holds
      // its bytes (the first frame finds it full: bucketAt is -Infinity).
      const start = this.#bucketAt > now ? this.#bucketAt : now;
      let tokens = this.#tokens + (start - this.#bucketAt) * f.rate;
      if (!(tokens < f.burst)) tokens = f.burst;
      if (tokens < h.len) {
        at = start + (h.len - tokens) / f.rate;
        tokens = h.len;
      } else {
        at = start;
      }
      if (at > now) {
        if (q.length - this.#qHead >= f.queueFrames) {
          s.queueDrops++;
          this.release(h);
          return;
        }
        q.push(at);
        s.queued++;
      }
      this.#tokens = tokens - h.len;
      this.#bucketAt = at;
    }
    at += f.delayMs;
    if (f.jitterMs > 0) at += this.#rng.next() * f.jitterMs;
    if (f.reorder > 0 && this.#rng.next() < f.reorder) {
      at += f.reorderMs;
      s.reordered++;
    }
    h.at = at;
    s.heldBytes += h.buf.length;
    const line = this.#line;
    let i = line.length;
    while (i > this.#head && line[i - 1].at > at) i--;
    if (i === line.length) line.push(h);
    else line.splice(i, 0, h);
  }

  /** The first held frame if it may leave at `now`, else null; the caller passes it on and releases it. */
  take(now: number): Held | null {
    const line = this.#line;
    if (this.#head >= line.length || line[this.#head].at > now) return null;
    const h = line[this.#head++];
    this.stats.heldBytes -= h.buf.length;
    if (this.#head === line.length) {
      line.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > line.length) {
      line.splice(0, this.#head);
      this.#head = 0;
    }
    this.stats.held = this.held;
    return h;
  }

  /** Drops every held frame (not counted as faults); the bucket is full again, as after idling. */
  clear(): void {
    const s = this.stats;
    for (let i = this.#head; i < this.#line.length; i++) {
      const h = this.#line[i];
      s.heldBytes -= h.buf.length;
      this.release(h);
    }
    this.#line.length = 0;
    this.#head = 0;
    this.#queue.length = 0;
    this.#qHead = 0;
    this.#tokens = this.#f.burst;
    this.#bucketAt = -Infinity;
    s.held = 0;
  }
}

/**
 * Flips one random bit of `buf[0 .. len)`: inside the IP datagram of an IPv4 frame (after the
 * Ethernet header and an 802.1Q tag, before any padding), else anywhere after the Ethernet header.
 */
function flipBit(buf: Uint8Array, len: number, rng: Prng): void {
  let from = 14;
  let type = len >= 14 ? (buf[12] << 8) | buf[13] : 0;
  if (type === 0x8100 && len >= 18) {
    from = 18;
    type = (buf[16] << 8) | buf[17];
  }
  let to = len;
  if (type === 0x0800 && len >= from + 4) {
    const total = (buf[from + 2] << 8) | buf[from + 3];
    if (total > 0 && from + total < to) to = from + total;
  }
  if (to <= from) {
    from = 0;
    to = len;
  }
  if (to === 0) return;
  const bit = Math.floor(rng.next() * (to - from) * 8);
  buf[from + (bit >>> 3)] ^= 1 << (bit & 7);
}

/**
 * A {@linkcode Device} that injects faults into the frames of another (as smoltcp's
 * `FaultInjector`), for tests of loss recovery over a DPDK port or a {@linkcode LoopbackDevice}.
 *
 * Each direction takes a {@linkcode FaultConfig}. A frame first may be dropped, then corrupted
 * (one bit flipped), then duplicated; each copy then passes the bottleneck (a token bucket of
 * `rateBytesPerSec` with a drop-tail queue of `queueFrames`), the delay (`delayMs` plus jitter)
 * and the reordering (held `reorderMs` more), and leaves at its time on the injector's clock:
 * frames sent are passed to the inner device by the next `flush` (or `receive`) at or after that
 * time, frames received are handed to `receive`'s callback then. {@linkcode FaultInjector.nextEventAt}
 * says when that is, for a program (or a simulation with a virtual clock) that sleeps between
 * polls. Every random choice comes from one generator per direction seeded from
 * {@linkcode FaultInjectorOptions.seed}, drawn only for the faults that are on, so the same seed
 * and the same frames at the same times give the same faults.
 *
 * Frames are copied into the injector's own buffers (recycled), so it works over any device;
 * `maxHeld` and `maxHeldBytes` bound what it holds each way. Faults are silent, as on a wire:
 * `flush` reports only the frames the inner device refused. Disposing it drops the frames it
 * holds and its buffers; the inner device stays the caller's to dispose.
 *
 * ```ts
 * import { FaultInjector, LoopbackDevice } from "@melin/dpdk";
 *
 * const [a, b] = LoopbackDevice.pair();
 * const lossy = new FaultInjector(a, { seed: 1, tx: { drop: 0.5 } });
 * for (let i = 0; i < 100; i++) {
 *   const at = lossy.txSlot(60);
 *   lossy.txBytes.fill(i, at, at + 60);
 * }
 * lossy.flush();
 * console.log(b.receive(() => {}), lossy.stats.tx.dropped); // frames arrived, frames dropped
 * ```
 */
export class FaultInjector implements Device {
  /** The wrapped device. */
  readonly inner: Device;
  /** The MTU (the inner device's). */
  readonly mtu: number;
  /** Counters of each direction. */
  readonly stats: FaultInjectorStats;
  /** See {@linkcode Device.txBytes}. */
  txBytes: Uint8Array = new Uint8Array(0);
  readonly #tx: Direction;
  readonly #rx: Direction;
  readonly #clock: () => number;
  readonly #burst: number;
  readonly #maxFrame: number;
  #disposed = false;
  /** The frame the last txSlot reserved (written by the caller until the next txSlot or flush). */
  #open: Held | null = null;
  readonly #onInner = (bytes: Uint8Array, start: number, length: number): void => {
    const h = this.#rx.alloc(length);
    h.buf.set(bytes.subarray(start, start + length));
    this.#rx.submit(h, this.#now);
  };
  #now = 0;

  /**
   * Wraps `device` with the faults of `options` (see {@linkcode FaultConfig}).
   * @throws {PortError} `InvalidArgument` for a bad device, seed, clock, bound or fault parameter
   * (the message names it and the allowed range), or an unknown option. Later, `receive` and
   * `flush` throw `InvalidArgument` when the clock returns anything but a finite number, and
   * every call but `nextEventAt`, `clear` and dispose throws `Closed` once disposed.
   */
  constructor(device: Device, options: FaultInjectorOptions) {
    const d = device as Partial<Device> | null;
    if (
      typeof d !== "object" || d === null || typeof d.receive !== "function" ||
      typeof d.txSlot !== "function" || typeof d.flush !== "function" || !isIntIn(d.mtu, 68, 65535)
    ) {
      throw invalid(badArgument("FaultInjector", "device", device, "a Device"));
    }
    if (typeof options !== "object" || options === null || Array.isArray(options)) {
      throw invalid(badArgument("FaultInjector", "options", options, "an object with at least a seed"));
    }
    for (const k of Object.keys(options)) {
      if (!OPTION_KEYS.has(k)) {
        throw invalid(
          `FaultInjector: unknown option ${JSON.stringify(k)} (known: ${[...OPTION_KEYS].join(", ")})`,
        );
      }
    }
    const o = options;
    if (!isIntIn(o.seed, 0, 0xffffffff)) {
      throw invalid(badArgument("FaultInjector", "seed", o.seed, "a u32 (a whole number 0–4294967295)"));
    }
    if (o.clock !== undefined && typeof o.clock !== "function") {
      throw invalid(badArgument("FaultInjector", "clock", o.clock, "a function returning ms"));
    }
    const maxHeld = o.maxHeld ?? 65536;
    if (!isIntIn(maxHeld, 1, 1 << 20)) {
      throw invalid(badArgument("FaultInjector", "maxHeld", maxHeld, "a whole number 1–1048576"));
    }
    const maxFrame = device.mtu + 18; // an MTU-sized packet, an Ethernet header and a VLAN tag
    const maxBytes = o.maxHeldBytes ?? 2 ** 25;
    if (!(isIntIn(maxBytes, maxFrame, 2 ** 40))) {
      throw invalid(
        badArgument(
          "FaultInjector",
          "maxHeldBytes",
          maxBytes,
          `a whole number of bytes ${maxFrame}–2⁴⁰ (at least one largest frame)`,
        ),
      );
    }
    const burst = o.burst ?? 32;
    if (!isIntIn(burst, 1, 1024)) {
      throw invalid(badArgument("FaultInjector", "burst", burst, "a whole number 1–1024"));
    }
    this.inner = device;
    this.mtu = device.mtu;
    this.#maxFrame = maxFrame;
    const tx = checkFaults("FaultInjector tx", o.tx, this.#maxFrame);
    const rx = checkFaults("FaultInjector rx", o.rx, this.#maxFrame);
    this.#tx = new Direction(tx, o.seed, maxHeld, maxBytes, maxFrame);
    // A second stream for rx, independent of tx's (the seed's golden-ratio step).
    this.#rx = new Direction(rx, (o.seed ^ 0x9e3779b9) >>> 0, maxHeld, maxBytes, maxFrame);
    this.#clock = o.clock ?? (() => performance.now());
    this.#burst = burst;
    this.stats = { tx: this.#tx.stats, rx: this.#rx.stats };
  }

  /**
   * When the next held frame (either way) may leave, ms on the injector's clock, or null when none
   * is held. A simulation advances its clock to the earliest of this and its interfaces' `pollAt`.
   */
  nextEventAt(): number | null {
    // Leave times are finite (bounded delays, a rate of at least 1 B/s, a finite clock).
    return this.#tx.held + this.#rx.held === 0 ? null : Math.min(this.#tx.nextAt, this.#rx.nextAt);
  }

  /**
   * Drops every frame held either way (for a test that ends a run early) and fills both buckets
   * again, as after a long idle time; counts nothing.
   */
  clear(): void {
    this.#tx.clear();
    this.#rx.clear();
  }

  /**
   * Drops the frames held (and the one a `txSlot` reserved) and frees the buffers; later calls
   * throw `PortError` `Closed`. Idempotent. The inner device is not disposed.
   */
  [Symbol.dispose](): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#open = null;
    this.txBytes = new Uint8Array(0);
    this.clear();
    this.#tx.dropSpares();
    this.#rx.dropSpares();
  }

  /** The clock's time, checked: a NaN, a BigInt or a string there would corrupt every schedule. */
  #read(where: string): number {
    if (this.#disposed) {
      throw new PortError("Closed", -1, `FaultInjector.${where}: the injector was disposed`);
    }
    const t = this.#clock();
    if (typeof t !== "number" || !Number.isFinite(t)) {
      throw invalid(
        `FaultInjector.${where}: the clock returned ${shown(t)}; it must return a finite number of ms`,
      );
    }
    return t;
  }

  receive(onFrame: (bytes: Uint8Array, start: number, length: number) => void): number {
    if (typeof onFrame !== "function") {
      throw invalid(badArgument("FaultInjector.receive", "onFrame", onFrame, "a function"));
    }
    this.#now = this.#read("receive");
    this.#pumpTx(); // frames sent earlier whose time has come
    this.inner.receive(this.#onInner);
    const rx = this.#rx;
    const s = rx.stats;
    let n = 0;
    while (n < this.#burst) {
      const h = rx.take(this.#now);
      if (h === null) break;
      n++;
      s.passed++;
      s.passedBytes += h.len;
      try {
        onFrame(h.buf, 0, h.len);
      } finally {
        rx.release(h);
      }
    }
    return n;
  }

  txSlot(length: number): number {
    if (this.#disposed) {
      throw new PortError("Closed", -1, "FaultInjector.txSlot: the injector was disposed");
    }
    if (!isIntIn(length, 0, this.#maxFrame)) {
      throw invalid(
        badArgument("FaultInjector.txSlot", "length", length, `a whole number 0–${this.#maxFrame}`),
      );
    }
    if (this.#open !== null) this.#submitOpen();
    const h = this.#tx.alloc(length);
    this.#open = h;
    this.txBytes = h.buf;
    return 0;
  }

  flush(): number {
    this.#now = this.#read("flush");
    if (this.#open !== null) this.#submitOpen();
    return this.#pumpTx();
  }

  #submitOpen(): void {
    this.#now = this.#read("txSlot");
    const h = this.#open!;
    this.#open = null;
    this.#tx.submit(h, this.#now);
  }

  /** Passes the sent frames whose time has come to the inner device; returns how many it refused. */
  #pumpTx(): number {
    const tx = this.#tx;
    if (tx.nextAt > this.#now) return 0;
    const s = tx.stats;
    const inner = this.inner;
    let refused = 0;
    for (;;) {
      const h = tx.take(this.#now);
      if (h === null) break;
      const at = inner.txSlot(h.len);
      if (at < 0) {
        refused++;
      } else {
        inner.txBytes.set(h.buf.subarray(0, h.len), at);
        s.passed++;
        s.passedBytes += h.len;
      }
      tx.release(h);
    }
    refused += inner.flush();
    s.deviceDrops += refused;
    return refused;
  }
}
