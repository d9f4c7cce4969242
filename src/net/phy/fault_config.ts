/**
 * The options, counters and argument checks of `FaultInjector` (in `fault.ts`): what
 * a direction's faults are, how they are validated, and what is counted.
 *
 * @module
 */
import { PortError } from "../../port.ts";
import { badArgument, isFiniteFrom, isIntIn } from "../args.ts";

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
  /** How much longer a reordered frame is held, ms (> 0 and ≤ 2³², default 1). */
  reorderMs?: number;
  /** One-way delay of every frame, ms (0–2³², default 0). */
  delayMs?: number;
  /**
   * Extra delay of each frame, uniform in [0, jitterMs) ms (0–2³², default 0). Frames then may
   * arrive out of order, as on a real path with jitter.
   */
  jitterMs?: number;
  /**
   * A bottleneck: a token bucket filled at this many bytes per second (whole frames, without
   * FCS), 0 (the default) for none, else at least 1. Frames wait for tokens in a FIFO queue of
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
  /**
   * Bytes of frame buffers held at once each way (each frame takes a buffer of at least the MTU
   * plus 18 bytes; from one such buffer to 2⁴⁰, default 32 MiB). Beyond, new frames are dropped
   * and counted in `heldOverflow`. Spare buffers kept for reuse are bounded by the same figure.
   */
  maxHeldBytes?: number;
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
  /** Gauge: bytes of the buffers of the frames held now (at most `maxHeldBytes`). */
  heldBytes: number = 0;
  /** Gauge: bytes of the spare buffers kept for reuse (at most `maxHeldBytes`). */
  spareBytes: number = 0;
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
/** @internal */
export const OPTION_KEYS: ReadonlySet<string> = new Set(
  ["seed", "tx", "rx", "clock", "maxHeld", "maxHeldBytes", "burst"] satisfies (keyof FaultInjectorOptions)[],
);

/** @internal */
export function invalid(message: string): PortError {
  return new PortError("InvalidArgument", -1, message);
}

/** A frame held by the injector (recycled: no allocation per frame once warm). */
/** @internal */
export interface Faults {
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

/**
 * Longest delay, jitter or reordering hold, ms (≈ 49.7 days): their sum, and so every frame's
 * leave time, stays finite (Infinity would make nextEventAt say nothing is held).
 */
const MAX_MS = 2 ** 32;

function checkMs(where: string, name: string, v: unknown, fallback: number, positive = false): number {
  if (v === undefined) return fallback;
  if (!isFiniteFrom(v, 0) || v > MAX_MS || (positive && v === 0)) {
    throw invalid(
      badArgument(where, name, v, positive ? "a number of ms > 0 and ≤ 2³²" : "a number of ms 0–2³²"),
    );
  }
  return v;
}

/** @internal */
export function checkFaults(where: string, c: unknown, maxFrame: number): Faults {
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
  // At least 1 B/s: a frame's wait stays finite, and rate / 1000 cannot underflow to 0 (= none).
  if (!(isFiniteFrom(rate, 0) && (rate === 0 || rate >= 1))) {
    throw invalid(
      badArgument(where, "rateBytesPerSec", rate, "a finite number of bytes/s ≥ 1, or 0 for no limit"),
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
