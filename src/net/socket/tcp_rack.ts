/**
 * RACK (RFC 8985 §6): time-based loss detection for a {@linkcode TcpSocket} sender. A bounded
 * ring of send records (one per segment sent: where it ends, when it last left, whether it was
 * SACKed, is deemed lost, or has a retransmission in flight) beside the SACK scoreboard; a
 * segment is lost once one sent after it was delivered and a reordering window has passed.
 * The records also give RFC 6675's `pipe` and the next segment to resend. Numbers only,
 * preallocated.
 *
 * @module
 */
import { seqDiff } from "../wire/tcp.ts";
import type { SackScoreboard } from "./sack.ts";
// deno-lint-ignore no-unused-vars
import type { TcpSocket } from "./tcp.ts";

/** The record's bytes were SACKed. */
const SACKED = 1;
/** Deemed lost (by RACK or RFC 6675's IsLost), not yet resent. */
const LOST = 2;
/** A retransmission of it is in flight. */
const RETRANS = 4;
/** Sent more than once (its delivery time is ambiguous without timestamps). */
const EVER_RETRANS = 8;

/** Send records and RACK's state (RFC 8985 §6.1). */
export class RackRecords {
  readonly #end: Uint32Array; // absolute sequence number where record i ends (exclusive)
  readonly #time: Float64Array; // when it was last sent (ms)
  readonly #flags: Uint8Array;
  readonly #cap: number;
  #head = 0;
  #count = 0;
  #lost = 0; // records marked LOST (never SACKED as well: SACKing clears LOST), for anyLost
  #start = 0; // where the first record starts (SND.UNA)
  // RACK.xmit_ts / RACK.end_seq: the most recently sent segment delivered; RACK.rtt its RTT.
  #rackTime = -1;
  #rackEnd = 0;
  #rackRtt = 0;
  #fack = 0; // the highest end delivered (RACK.fack)
  /** Reordering seen (a segment delivered below one delivered before, not a retransmission). */
  reorderingSeen = false;
  /** When the reordering timer should run detectLoss again, or -1 (set by detectLoss). */
  timeout = -1;
  /** RACK.reo_wnd_mult: grows by one per round trip that brought a D-SACK (§6.2 step 4). */
  reoWndMult = 1;
  #reoWndPersist = 0;
  #dsackRound = -1; // RACK.dsack_round (SND.NXT when the last D-SACK came), -1: none

  /** Up to `capacity` records (segments beyond merge into the last one: later detection, never wrong). */
  constructor(capacity = 256) {
    this.#cap = capacity;
    this.#end = new Uint32Array(capacity);
    this.#time = new Float64Array(capacity);
    this.#flags = new Uint8Array(capacity);
  }

  /** Records held. */
  get count(): number {
    return this.#count;
  }

  /** Forgets everything; the next record starts at `sndUna`. */
  clear(sndUna: number): void {
    this.#count = 0;
    this.#lost = 0;
    this.#head = 0;
    this.#start = sndUna >>> 0;
    this.#rackTime = -1;
    this.#rackEnd = this.#fack = sndUna >>> 0;
    this.#rackRtt = 0;
    this.reorderingSeen = false;
    this.timeout = -1;
    this.reoWndMult = 1;
    this.#reoWndPersist = 0;
    this.#dsackRound = -1;
  }

  /**
   * RFC 8985 §6.2 step 4's adaptation, on each ACK: a D-SACK (`dsack`) in a round without one
   * widens the reordering window by min_RTT/4 for 16 recoveries; `recoveryEnded` counts them.
   */
  adaptReoWnd(sndUna: number, sndNxt: number, dsack: boolean, recoveryEnded: boolean): void {
    if (this.#dsackRound >= 0 && seqDiff(sndUna, this.#dsackRound) >= 0) this.#dsackRound = -1;
    if (this.#dsackRound < 0 && dsack) {
      this.#dsackRound = sndNxt >>> 0;
      this.reoWndMult++;
      this.#reoWndPersist = 16;
    } else if (recoveryEnded && --this.#reoWndPersist <= 0) {
      this.reoWndMult = 1;
    }
  }

  #at(i: number): number {
    const j = this.#head + i;
    return j < this.#cap ? j : j - this.#cap;
  }
  #startOf(i: number): number {
    return i === 0 ? this.#start : this.#end[this.#at(i - 1)];
  }

  /** `[seq, seq + len)` left at `now`: new data appended, what was sent before marked resent. */
  sent(seq: number, len: number, now: number): void {
    if (len <= 0) return;
    const end = (seq + len) >>> 0;
    const tail = this.#count > 0 ? this.#end[this.#at(this.#count - 1)] : this.#start;
    if (seqDiff(seq, tail) < 0) {
      this.#resent(seq, seqDiff(end, tail) < 0 ? end : tail, now);
      if (seqDiff(end, tail) <= 0) return;
      seq = tail;
    }
    if (this.#count === this.#cap) {
      const j = this.#at(this.#count - 1); // full: the last record grows
      this.#end[j] = end;
      this.#time[j] = now;
      return;
    }
    const j = this.#at(this.#count++);
    this.#end[j] = end;
    this.#time[j] = now;
    this.#flags[j] = 0;
  }

  /** Records overlapping `[seq, end)` were sent again at `now` (split at `end` while there is room). */
  #resent(seq: number, end: number, now: number): void {
    for (let i = 0; i < this.#count; i++) {
      const s = this.#startOf(i);
      if (seqDiff(s, end) >= 0) break;
      const j = this.#at(i);
      if (seqDiff(this.#end[j], seq) <= 0) continue;
      if (seqDiff(this.#end[j], end) > 0 && this.#count < this.#cap && seqDiff(seq, s) <= 0) {
        // Split: [s, end) resent, [end, old end) as it was.
        for (let k = this.#count; k > i; k--) {
          const to = this.#at(k), from = this.#at(k - 1);
          this.#end[to] = this.#end[from];
          this.#time[to] = this.#time[from];
          this.#flags[to] = this.#flags[from];
        }
        this.#count++;
        if (this.#flags[j] & LOST) this.#lost++; // [end, old end) kept its flags
        this.#end[j] = end;
      }
      this.#time[j] = now;
      if (this.#flags[j] & LOST) this.#lost--;
      this.#flags[j] = (this.#flags[j] & ~LOST) | RETRANS | EVER_RETRANS;
    }
  }

  /**
   * An ACK: SND.UNA is now `sndUna` (u32 or its int32 form), `sb` holds the SACKed ranges
   * (offsets from SND.UNA).
   * Newly delivered records update RACK.xmit_ts (RFC 8985 §6.2 step 2: a resent one only when
   * its delivery cannot be the original's: the ACK's TSecr echoes a TSval sent no earlier than
   * its retransmission, or its RTT is at least `minRtt`). `echoed` is the time (whole ms, mod
   * 2^32 as an int32) that TSecr stands for: `seqDiff(TSecr, offset)` where TSval = ⌊time⌋ +
   * offset; NaN without timestamps. (One int32, not TSecr and the offset: a number beyond
   * 2^31 − 1 passed to a call is a heap number allocated per call.)
   */
  onAck(now: number, sndUna: number, sb: SackScoreboard, echoed: number, minRtt: number): void {
    // Cumulatively acknowledged records leave.
    while (this.#count > 0) {
      const j = this.#head;
      if (seqDiff(this.#end[j], sndUna) > 0) break;
      if ((this.#flags[j] & SACKED) === 0) this.#delivered(j, now, echoed, minRtt);
      if (this.#flags[j] & LOST) this.#lost--;
      this.#start = this.#end[j];
      this.#head = this.#head + 1 === this.#cap ? 0 : this.#head + 1;
      this.#count--;
    }
    if (seqDiff(sndUna, this.#start) > 0) this.#start = sndUna >>> 0; // a record partly acknowledged
    if (sb.isEmpty || this.#count === 0) return;
    // SACKed records: each wholly inside a range.
    let r = 0;
    for (let i = 0; i < this.#count && r < sb.count; i++) {
      const j = this.#at(i);
      if (this.#flags[j] & SACKED) continue;
      const s = seqDiff(this.#startOf(i), sndUna), e = seqDiff(this.#end[j], sndUna);
      while (r < sb.count && sb.end(r) <= s) r++;
      if (r < sb.count && sb.start(r) <= s && e <= sb.end(r)) {
        if (this.#flags[j] & LOST) this.#lost--;
        this.#flags[j] = (this.#flags[j] | SACKED) & ~(LOST | RETRANS);
        this.#delivered(j, now, echoed, minRtt);
      }
    }
  }

  #delivered(j: number, now: number, echoed: number, minRtt: number): void {
    const t = this.#time[j], end = this.#end[j], f = this.#flags[j];
    if (f & EVER_RETRANS) {
      if (echoed === echoed ? seqDiff(echoed, Math.floor(t)) < 0 : now - t < minRtt) return; // maybe the original's
    } else if (seqDiff(end, this.#fack) < 0) this.reorderingSeen = true;
    if (seqDiff(end, this.#fack) > 0) this.#fack = end;
    this.#rackRtt = now - t;
    if (t > this.#rackTime || (t === this.#rackTime && seqDiff(end, this.#rackEnd) > 0)) {
      this.#rackTime = t;
      this.#rackEnd = end;
    }
  }

  /**
   * RFC 8985 §6.2 step 5: marks lost every record not SACKed, not already lost, sent before
   * RACK.xmit_ts by more than RACK.rtt + `reoWnd`; sets `timeout` for the nearest one still
   * inside the window (-1: none). Returns the records newly marked.
   */
  detectLoss(now: number, reoWnd: number): number {
    this.timeout = -1;
    if (this.#rackTime < 0) return 0;
    let lost = 0;
    for (let i = 0; i < this.#count; i++) {
      const j = this.#at(i);
      if (this.#flags[j] & (SACKED | LOST)) continue;
      const t = this.#time[j];
      if (t > this.#rackTime || (t === this.#rackTime && seqDiff(this.#end[j], this.#rackEnd) >= 0)) continue;
      const left = t + this.#rackRtt + reoWnd - now;
      if (left <= 0) {
        this.#flags[j] = (this.#flags[j] | LOST) & ~RETRANS;
        this.#lost++;
        lost++;
      } else if (this.timeout < 0 || now + left < this.timeout) this.timeout = now + left;
    }
    return lost;
  }

  /** RFC 6675 IsLost: records ending at or below offset `lostEnd` (from SND.UNA) not resent are lost. */
  markLostBelow(sndUna: number, lostEnd: number): void {
    for (let i = 0; i < this.#count; i++) {
      const j = this.#at(i);
      if (seqDiff(this.#end[j], sndUna) > lostEnd) break;
      if (this.#flags[j] & (SACKED | LOST | RETRANS)) continue;
      this.#flags[j] |= LOST;
      this.#lost++;
    }
  }

  /** A timeout: every record not SACKED is lost, no retransmission in flight (RFC 8985 §6.3). */
  onTimeout(): void {
    for (let i = 0; i < this.#count; i++) {
      const j = this.#at(i);
      if ((this.#flags[j] & (SACKED | LOST)) === 0) this.#lost++;
      if ((this.#flags[j] & SACKED) === 0) this.#flags[j] = (this.#flags[j] | LOST) & ~RETRANS;
    }
  }

  /** `pipe` (RFC 6675 §4, as Linux counts it): bytes of records neither SACKed nor lost. */
  pipe(): number {
    let p = 0;
    for (let i = 0; i < this.#count; i++) {
      const j = this.#at(i);
      if ((this.#flags[j] & (SACKED | LOST)) === 0) p += seqDiff(this.#end[j], this.#startOf(i));
    }
    return p;
  }

  /** The start offset (from `sndUna`) of the first lost record, or -1; `lostEnd` its end. */
  nextLost(sndUna: number): number {
    for (let i = 0; i < this.#count; i++) {
      const j = this.#at(i);
      if ((this.#flags[j] & (LOST | SACKED)) === LOST) {
        this.lostEnd = seqDiff(this.#end[j], sndUna);
        const s = seqDiff(this.#startOf(i), sndUna);
        return s > 0 ? s : 0;
      }
    }
    return -1;
  }
  /** End offset of the record {@linkcode RackRecords.nextLost} found. */
  lostEnd: number = 0;

  /** True when some record is marked lost (and not SACKed): a count kept by every change, no scan. */
  get anyLost(): boolean {
    return this.#lost > 0;
  }
}
