/**
 * Selective acknowledgment (RFC 2018) for both ends of a connection: the receiver's choice of
 * SACK blocks (most recent first, a D-SACK block first when a duplicate arrived, RFC 2883), and
 * the sender's scoreboard with RFC 6675's `IsLost`, `pipe` and the holes `NextSeg` picks.
 * Offsets are relative to SND.UNA (sender) or RCV.NXT (receiver); numbers only.
 *
 * @module
 */
import { seqDiff, type TcpHeader } from "../wire/tcp.ts";
import { Assembler } from "./assembler.ts";

/** RFC 6675's DupThresh. */
export const DUP_THRESH = 3;

/**
 * The sender's record of what the peer SACKed beyond SND.UNA: disjoint ranges of offsets from
 * SND.UNA, bounded (a block that would need one range too many is forgotten: only less
 * information, never wrong).
 */
export class SackScoreboard {
  readonly #ranges: Assembler;
  #sacked = 0;

  /** A scoreboard of up to `maxRanges` disjoint ranges. */
  constructor(maxRanges = 32) {
    this.#ranges = new Assembler(maxRanges);
  }
  /** Disjoint SACKed ranges held. */
  get count(): number {
    return this.#ranges.count;
  }
  /** Start offset (from SND.UNA) of range `i`. */
  start(i: number): number {
    return this.#ranges.start(i);
  }
  /** End offset (exclusive) of range `i`. */
  end(i: number): number {
    return this.#ranges.end(i);
  }
  /** True when nothing is SACKed. */
  get isEmpty(): boolean {
    return this.#ranges.isEmpty;
  }
  /** Bytes SACKed beyond SND.UNA. */
  get sackedBytes(): number {
    return this.#sacked;
  }
  /** Forgets everything (after a timeout that repeats: the peer may have reneged, RFC 2018 §8). */
  clear(): void {
    this.#ranges.clear();
    this.#sacked = 0;
  }

  /**
   * Takes the blocks of an ACK `h` (cumulative ACK `sndUna` already applied, `sndMax` the
   * highest sent). Returns 1 when its first block is a D-SACK (RFC 2883 §4: below the ACK, or
   * inside the second block), else 0. Blocks outside (SND.UNA, SND.MAX] are ignored.
   */
  update(h: TcpHeader, sndUna: number, sndMax: number): number {
    const n = h.sackCount;
    let dsack = 0;
    const span = seqDiff(sndMax, sndUna);
    for (let i = 0; i < n; i++) {
      const l = h.sack[2 * i], r = h.sack[2 * i + 1];
      if (i === 0) {
        if (seqDiff(r, sndUna) <= 0) dsack = 1;
        else if (n > 1 && seqDiff(l, h.sack[2]) >= 0 && seqDiff(r, h.sack[3]) <= 0) dsack = 1;
        if (dsack) continue;
      }
      let off = seqDiff(l, sndUna);
      const end = seqDiff(r, sndUna);
      if (off < 0) off = 0;
      if (end <= off || end > span) continue;
      this.#ranges.add(off, end - off);
    }
    this.#recount();
    return dsack;
  }

  /** SND.UNA moved `n` bytes on. */
  advance(n: number): void {
    if (this.#ranges.isEmpty) return;
    this.#ranges.advance(n);
    this.#recount();
  }

  /**
   * The offset below which every unSACKed byte counts as lost (RFC 6675 `IsLost`): a hole is lost
   * once DupThresh ranges, or more than (DupThresh − 1)·SMSS bytes, are SACKed above it. 0: none.
   */
  lostEnd(mss: number): number {
    const r = this.#ranges;
    let above = 0;
    for (let i = r.count - 1; i >= 0; i--) {
      above += r.end(i) - r.start(i);
      if (r.count - i >= DUP_THRESH || above > (DUP_THRESH - 1) * mss) return r.start(i);
    }
    return 0;
  }

  /**
   * The first unSACKed offset in [`from`, `limit`), or -1 (NextSeg rule 1 with `limit` =
   * lostEnd); `holeEnd` then says where its hole ends.
   */
  nextHole(from: number, limit: number): number {
    const r = this.#ranges;
    let at = from;
    for (let i = 0; i < r.count && at < limit; i++) {
      if (r.end(i) <= at) continue;
      if (r.start(i) > at) {
        this.holeEnd = r.start(i) < limit ? r.start(i) : limit;
        return at;
      }
      at = r.end(i);
    }
    if (at < limit) {
      this.holeEnd = limit;
      return at;
    }
    return -1;
  }
  /** End of the hole {@linkcode SackScoreboard.nextHole} found. */
  holeEnd: number = 0;

  /** If `off` lies in a SACKed range, that range's end; else `off`. */
  skipSacked(off: number): number {
    const r = this.#ranges;
    for (let i = 0; i < r.count; i++) {
      if (r.start(i) > off) break;
      if (r.end(i) > off) return r.end(i);
    }
    return off;
  }
  /** SACKed bytes below offset `off`. */
  sackedBelow(off: number): number {
    const r = this.#ranges;
    let n = 0;
    for (let i = 0; i < r.count && r.start(i) < off; i++) n += (r.end(i) < off ? r.end(i) : off) - r.start(i);
    return n;
  }
  /** The start of the first SACKed range after `off`, or `Infinity`. */
  nextSacked(off: number): number {
    const r = this.#ranges;
    for (let i = 0; i < r.count; i++) if (r.start(i) > off) return r.start(i);
    return Infinity;
  }

  /**
   * RFC 6675 `pipe` in bytes: each unSACKed byte of the `outstanding` counts once unless it is
   * lost, and once more if it was retransmitted (below `highRxt`, an offset).
   */
  pipe(outstanding: number, highRxt: number, mss: number): number {
    const lost = this.lostEnd(mss);
    let lostUnsacked = 0, rxtUnsacked = 0;
    const r = this.#ranges;
    // UnSACKed bytes below `lost` and below `highRxt`.
    let prev = 0;
    for (let i = 0; i <= r.count; i++) {
      const hs = prev, he = i < r.count ? r.start(i) : outstanding;
      if (he > hs) {
        lostUnsacked += overlap(hs, he, 0, lost);
        rxtUnsacked += overlap(hs, he, 0, highRxt);
      }
      if (i < r.count) prev = r.end(i);
    }
    const p = outstanding - this.#sacked - lostUnsacked + rxtUnsacked;
    return p > 0 ? p : 0;
  }

  #recount(): void {
    const r = this.#ranges;
    let s = 0;
    for (let i = 0; i < r.count; i++) s += r.end(i) - r.start(i);
    this.#sacked = s;
  }
}

/** Appends the block [left, right) to `out` unless blocks `first` … `n − 1` hold it; the new count. */
function emitOnce(out: Uint32Array, first: number, n: number, left: number, right: number): number {
  for (let b = first; b < n; b++) if (out[2 * b] === left) return n;
  out[2 * n] = left;
  out[2 * n + 1] = right;
  return n + 1;
}

function overlap(a: number, b: number, c: number, d: number): number {
  const lo = a > c ? a : c, hi = b < d ? b : d;
  return hi > lo ? hi - lo : 0;
}

/**
 * The receiver's choice of SACK blocks: remembers where the latest out-of-order segments landed
 * (so the block holding the most recent one goes first, RFC 2018 §4) and a pending D-SACK.
 */
export class SackBlocks {
  readonly #recent = new Uint32Array(4); // absolute sequence numbers of the latest arrivals
  #recentCount = 0;
  #dsackLeft = 0;
  #dsackRight = 0;
  #dsack = false;

  /** Forgets everything. */
  clear(): void {
    this.#recentCount = 0;
    this.#dsack = false;
  }

  /** An out-of-order segment starting at `seq` was kept. */
  arrived(seq: number): void {
    const r = this.#recent;
    const n = this.#recentCount < r.length ? this.#recentCount + 1 : r.length;
    for (let i = n - 1; i > 0; i--) r[i] = r[i - 1];
    r[0] = seq >>> 0;
    this.#recentCount = n;
  }

  /** A duplicate `[left, right)` arrived: the next ACK reports it first (RFC 2883). */
  duplicate(left: number, right: number): void {
    this.#dsack = true;
    this.#dsackLeft = left >>> 0;
    this.#dsackRight = right >>> 0;
  }

  /** True when a D-SACK waits to be sent. */
  get dsackPending(): boolean {
    return this.#dsack;
  }

  /**
   * Writes up to `max` blocks into `h` (`sackCount`, `sack`): the D-SACK block, then the ranges
   * of `asm` (offsets from `rcvNxt`) holding the latest arrivals (whatever their index), then the
   * others from the lowest, each range once. Returns the number of blocks.
   */
  fill(h: TcpHeader, asm: Assembler, rcvNxt: number, max: number): number {
    let n = 0;
    const out = h.sack;
    if (this.#dsack && max > 0) {
      out[0] = this.#dsackLeft;
      out[1] = this.#dsackRight;
      n = 1;
    }
    const count = asm.count;
    const first = n; // blocks from here on are ranges of `asm`
    for (let k = 0; k < this.#recentCount && n < max; k++) {
      const off = seqDiff(this.#recent[k], rcvNxt);
      if (off < 0) continue;
      for (let i = 0; i < count; i++) {
        if (asm.start(i) <= off && off < asm.end(i)) {
          n = emitOnce(out, first, n, (rcvNxt + asm.start(i)) >>> 0, (rcvNxt + asm.end(i)) >>> 0);
          break;
        }
      }
    }
    for (let i = 0; i < count && n < max; i++) {
      n = emitOnce(out, first, n, (rcvNxt + asm.start(i)) >>> 0, (rcvNxt + asm.end(i)) >>> 0);
    }
    h.sackCount = n;
    return n;
  }

  /** The D-SACK went out. */
  sent(): void {
    this.#dsack = false;
  }
}
