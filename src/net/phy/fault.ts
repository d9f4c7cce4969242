/**
 * Fault injection in the device seam: {@linkcode FaultInjector} wraps any {@linkcode Device} (a
 * DPDK {@linkcode PortDevice}, a {@linkcode LoopbackDevice}, …) and drops, corrupts, duplicates,
 * reorders, delays and rate-limits its frames, separately on the way out (`tx`) and in (`rx`),
 * from a seeded random source: the same seed and the same frames give the same faults.
 *
 * @module
 */
import { PortError } from "../../port.ts";
import { badArgument, isFiniteFrom, isIntIn } from "../args.ts";
import type { Device } from "./device.ts";

/** The faults of one direction; every field is optional and off by default. */
export interface FaultConfig {
  /** Probability (0–1) that a frame is dropped. */
  drop?: number;
  /**
   * Probability (0–1) that one bit of a frame is flipped. In an IPv4 frame the bit is inside the IP
   * datagram (header or payload, never the Ethernet header or padding), so the IP or TCP/UDP/ICMP
   * checksum rejects it; in other frames, anywhere after the Ethernet header.
   */
  corrupt?: number;
  /** Probability (0–1) that a frame is sent twice (both copies go through the later faults). */
  duplicate?: number;
  /**
   * Probability (0–1) that a frame is held back {@linkcode FaultConfig.reorderMs} longer than the
   * others, so frames sent after it overtake it.
   */
  reorder?: number;
  /** How much longer a reordered frame is held, ms (> 0, default 1). */
  reorderMs?: number;
  /** One-way delay of every frame, ms (≥ 0, default 0). */
  delayMs?: number;
  /**
   * Extra delay of each frame, uniform in [0, jitterMs) ms (≥ 0, default 0). Frames then may
   * arrive out of order, as on a real path with jitter.
   */
  jitterMs?: number;
  /**
   * A bottleneck: a token bucket filled at this many bytes per second (whole frames, without
   * FCS), 0 (the default) for none. Frames wait for tokens in a FIFO queue of
   * {@linkcode FaultConfig.queueFrames}; a frame that finds it full is dropped (drop-tail).
   */
  rateBytesPerSec?: number;
  /** The bucket's size in bytes (default and minimum: the device's MTU + 18, one largest frame). */
  burstBytes?: number;
  /** Frames that may wait for the bucket (0–1 048 576, default 1000, Linux's txqueuelen). */
  queueFrames?: number;
}

/** Options of a {@linkcode FaultInjector}. */
export interface FaultInjectorOptions {
  /** Seed of the random source (a u32): the same seed, frames and times give the same faults. */
  seed: number;
  /** Faults of frames sent through the injector (towards the inner device). */
  tx?: FaultConfig;
  /** Faults of frames received from the inner device. */
  rx?: FaultConfig;
  /**
   * The clock delays and the bucket are measured on, ms (default `performance.now`). A simulation
   * passes its virtual clock; it must not go backwards.
   */
  clock?: () => number;
  /**
   * Frames held at once each way: waiting for the bucket, delayed or reordered (1–1 048 576,
   * default 65 536). Beyond, new ones are dropped and counted in `heldOverflow`.
   */
  maxHeld?: number;
  /** Most frames one `receive` hands over (1–1024, default 32). */
  burst?: number;
}

/** Counters of one direction of a {@linkcode FaultInjector}; they only grow (`held` aside). */
export class FaultStats {
  /** Frames that entered this direction. */
  frames: number = 0;
  /** Bytes of those frames. */
  bytes: number = 0;
  /**
   * Frames passed on, copies included: to the inner device (tx; those it then refused are in
   * `deviceDrops` too) or to the receive callback (rx).
   */
  passed: number = 0;
  /** Bytes of those frames. */
  passedBytes: number = 0;
  /** Frames dropped at random (`drop`). */
  dropped: number = 0;
  /** Frames with a bit flipped (`corrupt`). */
  corrupted: number = 0;
  /** Frames sent twice (`duplicate`): each adds one copy. */
  duplicated: number = 0;
  /** Frames (or copies) held back to be overtaken (`reorder`). */
  reordered: number = 0;
  /** Frames that had to wait in the bottleneck's queue for tokens. */
  queued: number = 0;
  /** Frames dropped because the bottleneck's queue was full (drop-tail). */
  queueDrops: number = 0;
  /** Frames dropped because `maxHeld` frames were held already. */
  heldOverflow: number = 0;
  /** Frames the inner device refused (no tx buffer, or its flush dropped them); tx only. */
  deviceDrops: number = 0;
  /** Gauge: frames held now (queued, delayed or reordered). */
  held: number = 0;
}

/** Both directions' counters. */
export interface FaultInjectorStats {
  /** Frames sent through the injector. */
  readonly tx: FaultStats;
  /** Frames received through the injector. */
  readonly rx: FaultStats;
}

/** Every key of {@linkcode FaultConfig}. */
const CONFIG_KEYS: ReadonlySet<string> = new Set(
  [
    "drop",
    "corrupt",
    "duplicate",
    "reorder",
    "reorderMs",
    "delayMs",
    "jitterMs",
    "rateBytesPerSec",
    "burstBytes",
    "queueFrames",
  ] satisfies (keyof FaultConfig)[],
);
const OPTION_KEYS: ReadonlySet<string> = new Set(
  ["seed", "tx", "rx", "clock", "maxHeld", "burst"] satisfies (keyof FaultInjectorOptions)[],
);

function invalid(message: string): PortError {
  return new PortError("InvalidArgument", -1, message);
}

/** A frame held by the injector (recycled: no allocation per frame once warm). */
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
interface Faults {
  drop: number;
  corrupt: number;
  duplicate: number;
  reorder: number;
  reorderMs: number;
  delayMs: number;
  jitterMs: number;
  rate: number; // bytes per ms; 0: none
  burst: number;
  queueFrames: number;
}

function checkProbability(where: string, name: string, v: unknown): number {
  if (v === undefined) return 0;
  if (!(typeof v === "number" && v >= 0 && v <= 1)) {
    throw invalid(badArgument(where, name, v, "a number 0–1"));
  }
  return v;
}

function checkMs(where: string, name: string, v: unknown, fallback: number, positive = false): number {
  if (v === undefined) return fallback;
  if (!isFiniteFrom(v, 0) || (positive && v === 0)) {
    throw invalid(
      badArgument(where, name, v, positive ? "a finite number of ms > 0" : "a finite number of ms ≥ 0"),
    );
  }
  return v;
}

function checkFaults(where: string, c: unknown, maxFrame: number): Faults {
  if (c === undefined) c = {};
  if (typeof c !== "object" || c === null || Array.isArray(c)) {
    throw invalid(badArgument(where, "config", c, "an object of FaultConfig"));
  }
  for (const k of Object.keys(c)) {
    if (!CONFIG_KEYS.has(k)) {
      throw invalid(`${where}: unknown option ${JSON.stringify(k)} (known: ${[...CONFIG_KEYS].join(", ")})`);
    }
  }
  const o = c as FaultConfig;
  const rate = o.rateBytesPerSec ?? 0;
  if (!isFiniteFrom(rate, 0)) {
    throw invalid(
      badArgument(where, "rateBytesPerSec", rate, "a finite number of bytes/s ≥ 0 (0: no limit)"),
    );
  }
  const burst = o.burstBytes ?? maxFrame;
  if (!(isFiniteFrom(burst, maxFrame) && burst <= 2 ** 40)) {
    throw invalid(
      badArgument(
        where,
        "burstBytes",
        burst,
        `a number of bytes ${maxFrame}–2⁴⁰ (at least one largest frame)`,
      ),
    );
  }
  const queueFrames = o.queueFrames ?? 1000;
  if (!isIntIn(queueFrames, 0, 1 << 20)) {
    throw invalid(badArgument(where, "queueFrames", queueFrames, "a whole number 0–1048576"));
  }
  return {
    drop: checkProbability(where, "drop", o.drop),
    corrupt: checkProbability(where, "corrupt", o.corrupt),
    duplicate: checkProbability(where, "duplicate", o.duplicate),
    reorder: checkProbability(where, "reorder", o.reorder),
    reorderMs: checkMs(where, "reorderMs", o.reorderMs, 1, true),
    delayMs: checkMs(where, "delayMs", o.delayMs, 0),
    jitterMs: checkMs(where, "jitterMs", o.jitterMs, 0),
    rate: rate / 1000,
    burst,
    queueFrames,
  };
}

/**
 * One direction: frames enter with {@linkcode Direction.submit}, get their faults and a release
 * time, and wait (ordered by that time) until {@linkcode Direction.take} hands them on.
 */
class Direction {
  readonly stats = new FaultStats();
  readonly #f: Faults;
  readonly #rng: Prng;
  readonly #maxHeld: number;
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

  constructor(f: Faults, seed: number, maxHeld: number, frameSize: number) {
    this.#f = f;
    this.#rng = new Prng(seed);
    this.#maxHeld = maxHeld;
    this.#size = frameSize;
    this.#tokens = f.burst;
  }

  /** A buffer for a frame of `len` bytes. */
  alloc(len: number): Held {
    const h = this.#free.pop() ?? new Held(this.#size);
    if (h.buf.length < len) h.buf = new Uint8Array(len);
    h.len = len;
    return h;
  }

  /** Returns a frame's buffer for reuse. */
  release(h: Held): void {
    this.#free.push(h);
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
    if (this.held >= this.#maxHeld) {
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

  /** Drops every held frame (not counted as faults). */
  clear(): void {
    for (let i = this.#head; i < this.#line.length; i++) this.release(this.#line[i]);
    this.#line.length = 0;
    this.#head = 0;
    this.#queue.length = 0;
    this.#qHead = 0;
    this.stats.held = 0;
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
 * Frames are copied into the injector's own buffers (recycled), so it works over any device.
 * Faults are silent, as on a wire: `flush` reports only the frames the inner device refused.
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
   * (the message names it and the allowed range), or an unknown option.
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
    const burst = o.burst ?? 32;
    if (!isIntIn(burst, 1, 1024)) {
      throw invalid(badArgument("FaultInjector", "burst", burst, "a whole number 1–1024"));
    }
    this.inner = device;
    this.mtu = device.mtu;
    this.#maxFrame = device.mtu + 18; // an MTU-sized packet, an Ethernet header and a VLAN tag
    const tx = checkFaults("FaultInjector tx", o.tx, this.#maxFrame);
    const rx = checkFaults("FaultInjector rx", o.rx, this.#maxFrame);
    this.#tx = new Direction(tx, o.seed, maxHeld, this.#maxFrame);
    // A second stream for rx, independent of tx's (the seed's golden-ratio step).
    this.#rx = new Direction(rx, (o.seed ^ 0x9e3779b9) >>> 0, maxHeld, this.#maxFrame);
    this.#clock = o.clock ?? (() => performance.now());
    this.#burst = burst;
    this.stats = { tx: this.#tx.stats, rx: this.#rx.stats };
  }

  /**
   * When the next held frame (either way) may leave, ms on the injector's clock, or null when none
   * is held. A simulation advances its clock to the earliest of this and its interfaces' `pollAt`.
   */
  nextEventAt(): number | null {
    const t = Math.min(this.#tx.nextAt, this.#rx.nextAt);
    return t === Infinity ? null : t;
  }

  /** Drops every frame held either way (for a test that ends a run early); counts nothing. */
  clear(): void {
    this.#tx.clear();
    this.#rx.clear();
  }

  receive(onFrame: (bytes: Uint8Array, start: number, length: number) => void): number {
    if (typeof onFrame !== "function") {
      throw invalid(badArgument("FaultInjector.receive", "onFrame", onFrame, "a function"));
    }
    this.#now = this.#clock();
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
    this.#now = this.#clock();
    if (this.#open !== null) this.#submitOpen();
    return this.#pumpTx();
  }

  #submitOpen(): void {
    const h = this.#open!;
    this.#open = null;
    this.#now = this.#clock();
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
