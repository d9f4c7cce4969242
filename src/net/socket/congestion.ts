/**
 * TCP congestion control, one object per socket: NewReno (RFC 5681 with RFC 6582's fast
 * recovery), CUBIC (RFC 9438) and `"none"` (no congestion window: only the peer's receive window
 * limits the sender, for point-to-point links the user owns). Windows are in bytes; the socket
 * calls the hooks below at the points RFC 5681 names and sends at most
 * `min(receive window, cwnd)` beyond SND.UNA. Numbers only: nothing is allocated per ACK.
 *
 * @module
 */
import { SocketError } from "./error.ts";

/** The congestion control algorithm of a socket. */
export type TcpCongestionControl = "newreno" | "cubic" | "none";

/** The sender's congestion state, as Linux names it: open, fast recovery, or after a timeout. */
export type TcpCongestionState = "Open" | "Recovery" | "Loss";

/** `cwnd` and `ssthresh` of the `"none"` mode: larger than any receive window (2^30 scaled). */
export const CWND_UNLIMITED = 0x7fffffff;

/** RFC 9438 §5: C = 0.4 (segments / s³), β_cubic = 0.7. */
export const CUBIC_C = 0.4;
/** RFC 9438 §4.6: the multiplicative decrease factor. */
export const CUBIC_BETA = 0.7;
const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA); // RFC 9438 §4.3

const NEWRENO = 0;
const CUBIC = 1;
const NONE = 2;

const OPEN = 0;
const RECOVERY = 1;
const LOSS = 2;
const STATE_NAMES: readonly TcpCongestionState[] = ["Open", "Recovery", "Loss"];

/** The initial window for a sender MSS (RFC 6928): min(10·MSS, max(2·MSS, 14600)). */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

/**
 * The congestion window of one sender. `cwnd` and `ssthresh` in bytes; `now` in ms; `mss` is the
 * sender's current MSS (SMSS).
 */
export class Congestion {
  /** The congestion window (bytes). */
  cwnd: number = CWND_UNLIMITED;
  /** The slow-start threshold (bytes). */
  ssthresh: number = CWND_UNLIMITED;
  readonly #kind: number;
  #state = OPEN;
  #bytesAcked = 0; // congestion avoidance byte counting (RFC 3465)
  // CUBIC (segments and seconds, as RFC 9438 states its formulas).
  #wMax = 0;
  #k = 0;
  #epochStart = -1; // ms; -1: no congestion avoidance epoch yet
  #cwndEpoch = 0;
  #wEst = 0;
  #cwndPrior = 0; // segments, cwnd when the last reduction happened
  #frac = 0; // the fraction of a byte CUBIC's per-ACK growth left over
  #afterTimeout = false; // the next CA stage is the first after a timeout (RFC 9438 §4.8)

  /**
   * A controller of the given kind.
   * @throws {SocketError} `InvalidArgument` for an unknown kind.
   */
  constructor(kind: TcpCongestionControl = "newreno") {
    if (kind === "newreno") this.#kind = NEWRENO;
    else if (kind === "cubic") this.#kind = CUBIC;
    else if (kind === "none") this.#kind = NONE;
    else {
      throw new SocketError(
        "InvalidArgument",
        `congestionControl ${String(kind)} is not one of "newreno", "cubic", "none"`,
      );
    }
  }

  /** The algorithm. */
  get kind(): TcpCongestionControl {
    return this.#kind === NEWRENO ? "newreno" : this.#kind === CUBIC ? "cubic" : "none";
  }
  /** Open, in fast recovery, or recovering from a timeout. */
  get state(): TcpCongestionState {
    return STATE_NAMES[this.#state];
  }
  /** True in fast recovery (after three duplicate ACKs, until `recover` is acknowledged). */
  get inRecovery(): boolean {
    return this.#state === RECOVERY;
  }
  /** CUBIC's W_max in segments (0 before the first congestion event or for other kinds). */
  get wMax(): number {
    return this.#wMax;
  }
  /** CUBIC's K in seconds (RFC 9438 eq. 2). */
  get k(): number {
    return this.#k;
  }

  /**
   * A new connection's window: IW (RFC 6928), or one segment when the SYN or SYN-ACK had to be
   * retransmitted (RFC 6928 §2 / RFC 5681 §3.1).
   */
  init(mss: number, synRetransmitted: boolean): void {
    this.#state = OPEN;
    this.#bytesAcked = 0;
    this.#wMax = 0;
    this.#k = 0;
    this.#epochStart = -1;
    this.#cwndPrior = 0;
    this.#afterTimeout = false;
    if (this.#kind === NONE) {
      this.cwnd = this.ssthresh = CWND_UNLIMITED;
      return;
    }
    this.cwnd = synRetransmitted ? mss : initialWindow(mss);
    this.ssthresh = CWND_UNLIMITED;
  }

  /**
   * Restart after idle (RFC 5681 §4.1): the sender sent nothing for longer than an RTO, so its
   * ACK clock is gone; the window falls back to min(IW, cwnd) and slow start runs again.
   * Returns true when the window shrank.
   */
  restartAfterIdle(mss: number): boolean {
    if (this.#kind === NONE) return false;
    const rw = initialWindow(mss);
    this.#epochStart = -1;
    if (this.cwnd <= rw) return false;
    this.cwnd = rw;
    this.#bytesAcked = 0;
    return true;
  }

  /** New data acknowledged (`acked` bytes) while open or after a timeout: slow start or congestion avoidance. */
  onAck(now: number, acked: number, mss: number, srtt: number): void {
    if (this.#kind === NONE || acked <= 0) return;
    if (this.#state === LOSS && this.cwnd >= this.ssthresh) this.#state = OPEN;
    if (this.cwnd < this.ssthresh) {
      // Slow start, byte counting with L = 2·SMSS (RFC 3465 §2.2).
      this.cwnd += acked < 2 * mss ? acked : 2 * mss;
      if (this.cwnd > this.ssthresh && this.ssthresh !== CWND_UNLIMITED) this.cwnd = this.ssthresh;
      return;
    }
    if (this.#kind === CUBIC) return this.#cubicAck(now, acked, mss, srtt);
    // Congestion avoidance: one SMSS per window acknowledged (RFC 5681 §3.1, RFC 3465 §2.1).
    this.#bytesAcked += acked;
    if (this.#bytesAcked >= this.cwnd) {
      this.#bytesAcked -= this.cwnd;
      this.cwnd += mss;
    }
    if (this.cwnd > CWND_UNLIMITED) this.cwnd = CWND_UNLIMITED;
  }

  /**
   * Three duplicate ACKs (RFC 5681 §3.2 step 2–3): ssthresh from the flight size (halved for
   * NewReno, × β for CUBIC), cwnd = ssthresh + 3·SMSS (ssthresh with `sack`), and fast recovery begins.
   */
  onFastRetransmit(now: number, flight: number, mss: number, sack = false): void {
    this.#state = RECOVERY;
    if (this.#kind === NONE) return;
    this.#reduce(now, flight, mss);
    // With SACK, RFC 6675 §5 step 4.2: cwnd = ssthresh, and `pipe` (not inflation) paces recovery.
    this.cwnd = sack ? this.ssthresh : this.ssthresh + 3 * mss;
  }

  /** A further duplicate ACK in fast recovery: a segment left the network (RFC 5681 §3.2 step 4). */
  onDupAck(mss: number): void {
    if (this.#kind === NONE || this.#state !== RECOVERY) return;
    this.cwnd += mss;
  }

  /** A partial ACK of `acked` bytes (RFC 6582 §3.2 step 5): deflate by it, add back one SMSS. */
  onPartialAck(acked: number, mss: number): void {
    if (this.#kind === NONE) return;
    this.cwnd -= acked;
    if (acked >= mss) this.cwnd += mss;
    if (this.cwnd < mss) this.cwnd = mss;
  }

  /**
   * The ACK that covers `recover` (RFC 6582 §3.2 step 6): cwnd = min(ssthresh, max(flight, SMSS) + SMSS)
   * where `flight` is what is still outstanding; fast recovery ends.
   */
  onRecoveryEnd(now: number, flight: number, mss: number): void {
    this.#state = OPEN;
    if (this.#kind === NONE) return;
    const w = (flight > mss ? flight : mss) + mss;
    this.cwnd = w < this.ssthresh ? w : this.ssthresh;
    this.#bytesAcked = 0;
    this.#startEpoch(now, mss);
  }

  /**
   * A retransmission timeout (RFC 5681 §3.1 eq. 4, RFC 9438 §4.8): ssthresh from the flight
   * size the first time (`first`, not again while the same data times out), cwnd = 1 SMSS. For
   * CUBIC the first congestion avoidance stage after it has K = 0 and W_max = W_est = the cwnd
   * at its start.
   */
  onTimeout(now: number, flight: number, mss: number, first: boolean): void {
    this.#state = LOSS;
    if (this.#kind === NONE) return;
    if (first) this.#reduce(now, flight, mss);
    this.cwnd = mss;
    this.#bytesAcked = 0;
    this.#epochStart = -1;
    this.#afterTimeout = true;
  }

  /** CUBIC's window at `t` seconds into the current epoch, in segments (RFC 9438 eq. 1). */
  cubicWindow(t: number): number {
    const d = t - this.#k;
    return CUBIC_C * d * d * d + this.#wMax;
  }

  #reduce(now: number, flight: number, mss: number): void {
    if (this.#kind === CUBIC) {
      // RFC 9438 §4.6–4.7: W_max with fast convergence, ssthresh = flight × β.
      const w = this.cwnd / mss;
      this.#cwndPrior = w;
      this.#wMax = w < this.#wMax ? (w * (1 + CUBIC_BETA)) / 2 : w;
      const s = Math.floor(flight * CUBIC_BETA);
      this.ssthresh = s > 2 * mss ? s : 2 * mss;
      this.#epochStart = -1;
      this.#afterTimeout = false;
    } else {
      const half = Math.floor(flight / 2);
      this.ssthresh = half > 2 * mss ? half : 2 * mss; // RFC 5681 eq. 4
    }
    void now;
  }

  #startEpoch(now: number, mss: number): void {
    if (this.#kind !== CUBIC) return;
    this.#epochStart = now;
    this.#cwndEpoch = this.cwnd / mss;
    if (this.#afterTimeout) {
      this.#afterTimeout = false;
      this.#wMax = this.#cwndEpoch; // RFC 9438 §4.8: K = 0 below
    }
    if (this.#wMax < this.#cwndEpoch) this.#wMax = this.#cwndEpoch; // no loss seen yet: grow from here
    if (this.#cwndPrior < this.#cwndEpoch) this.#cwndPrior = this.#cwndEpoch;
    this.#k = Math.cbrt((this.#wMax - this.#cwndEpoch) / CUBIC_C); // RFC 9438 eq. 2
    this.#wEst = this.#cwndEpoch;
    this.#frac = 0;
  }

  #cubicAck(now: number, acked: number, mss: number, srtt: number): void {
    if (this.#epochStart < 0) this.#startEpoch(now, mss);
    const cwnd = this.cwnd / mss;
    const segs = acked / mss;
    const t = (now - this.#epochStart) / 1000;
    const rtt = (srtt > 0 ? srtt : 100) / 1000;
    // Reno-friendly estimate (RFC 9438 §4.3): α until W_est reaches W_max, then 1.
    this.#wEst += (this.#wEst >= this.#cwndPrior ? 1 : CUBIC_ALPHA) * (segs / cwnd);
    let next: number;
    if (this.cubicWindow(t) < this.#wEst) {
      next = this.#wEst; // Reno-friendly region
    } else {
      // Concave or convex region (§4.4–4.5): toward W_cubic(t + RTT), within [cwnd, 1.5·cwnd].
      let target = this.cubicWindow(t + rtt);
      if (target < cwnd) target = cwnd;
      else if (target > 1.5 * cwnd) target = 1.5 * cwnd;
      next = cwnd + ((target - cwnd) / cwnd) * segs;
    }
    let grow = (next - cwnd) * mss + this.#frac;
    if (grow < 0) grow = 0;
    const whole = Math.floor(grow);
    this.#frac = grow - whole;
    const bytes = this.cwnd + whole;
    this.cwnd = bytes > CWND_UNLIMITED ? CWND_UNLIMITED : bytes;
  }
}
