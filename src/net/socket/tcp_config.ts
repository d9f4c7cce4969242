/**
 * Types, options and counters of {@linkcode TcpSocket}, and the numbers of its states.
 *
 * @module
 */
import type { TcpHeader } from "../wire/tcp.ts";
import type { TcpCongestionControl, TcpCongestionState } from "./congestion.ts";
import type { IsnGenerator } from "./isn.ts";
import type { ByteRing } from "./ring.ts";
// deno-lint-ignore no-unused-vars
import type { TcpSocket } from "./tcp.ts";

/** Connection states (RFC 9293 §3.3.2). */
export type TcpState =
  | "Closed"
  | "Listen"
  | "SynSent"
  | "SynReceived"
  | "Established"
  | "FinWait1"
  | "FinWait2"
  | "CloseWait"
  | "Closing"
  | "LastAck"
  | "TimeWait";

export const CLOSED = 0;
export const LISTEN = 1;
export const SYN_SENT = 2;
export const SYN_RECEIVED = 3;
export const ESTABLISHED = 4;
export const FIN_WAIT_1 = 5;
export const FIN_WAIT_2 = 6;
export const CLOSE_WAIT = 7;
export const CLOSING = 8;
export const LAST_ACK = 9;
export const TIME_WAIT = 10;
export const STATE_NAMES: readonly TcpState[] = [
  "Closed",
  "Listen",
  "SynSent",
  "SynReceived",
  "Established",
  "FinWait1",
  "FinWait2",
  "CloseWait",
  "Closing",
  "LastAck",
  "TimeWait",
];

/**
 * Why a connection ended (or `"None"` while it has not): `"Closed"` (an orderly close on both
 * sides), `"Reset"` (the peer sent RST), `"Refused"` (RST answering our SYN), `"TimedOut"` (the
 * user timeout or the keep-alive probes ran out), `"Aborted"` (our {@linkcode TcpSocket.abort}).
 */
export type TcpCloseReason = "None" | "Closed" | "Reset" | "Refused" | "TimedOut" | "Aborted";

/** Where a socket sends its segments: the interface, a test pipe, … */
export interface TcpEgress {
  /**
   * The largest IPv4 packet the link carries (IP header, TCP header and payload): the socket
   * advertises an MSS of `mtu - 40` and never sends a segment whose packet would exceed it.
   */
  readonly mtu: number;
  /**
   * Sends one segment from `src` to `dst` (u32 IPv4 addresses): the header `h` (its options
   * included; the checksum is the egress's to compute) and `length` payload bytes at positions
   * `from …` of `payload` (see {@linkcode ByteRing.peek} / {@linkcode ByteRing.peekAndSum}, or
   * `indexOf`/`contiguous` for a copy of its own). Returns false when it cannot send now (no
   * buffer, neighbour unresolved): the socket then tries again on its next dispatch. `h` is
   * reused after the call returns.
   */
  transmit(src: number, dst: number, h: TcpHeader, payload: ByteRing, from: number, length: number): boolean;
}

/** Options of a {@linkcode TcpSocket}; every field has a default. Times in milliseconds. */
export interface TcpConfig {
  /** Receive ring size in bytes (default 65536; 1 … 2^30). */
  rxBufferSize?: number;
  /** Send ring size in bytes (default 65536; 1 … 2^30). */
  txBufferSize?: number;
  /** Nagle's algorithm (RFC 896): hold small segments while data is unacknowledged. Default false. */
  nagle?: boolean;
  /**
   * Longest delay of an ACK (default 40; 0 acknowledges every segment at once). An ACK still
   * goes out at least every second full-sized segment.
   */
  ackDelay?: number;
  /** Retransmission timeout before any RTT sample (default 1000, RFC 6298). */
  initialRto?: number;
  /** Lower bound of the RTO (default 200, as Linux; RFC 6298 suggests 1000). */
  minRto?: number;
  /** Upper bound of the RTO after backoff (default 60000). */
  maxRto?: number;
  /** Time in TIME-WAIT: 2 MSL (default 60000). */
  timeWait?: number;
  /** Abort when sent data stays unacknowledged this long (RFC 5482; default 300000; 0: never). */
  userTimeout?: number;
  /** Idle time before the first keep-alive probe (default 0: no keep-alive). */
  keepAlive?: number;
  /** Time between unanswered keep-alive probes (default 75000). */
  keepAliveInterval?: number;
  /** Unanswered keep-alive probes before aborting (default 9). */
  keepAliveProbes?: number;
  /**
   * Retransmissions of our SYN (or SYN-ACK) before the handshake is given up (default 6, as Linux:
   * ≈ 2 minutes with backoff; 0 … 100). A passive socket then returns to LISTEN, an active one closes
   * with `"TimedOut"`.
   */
  synRetries?: number;
  /**
   * Disjoint out-of-order ranges kept for reassembly (1 … 1024; default one per 2920 bytes of
   * `rxBufferSize`, at least 8: 23 for 64 KiB, 90 for 256 KiB). A segment that would need one
   * more is dropped (`stats.dropAssemblerFull`) and must be sent again.
   */
  maxOutOfOrder?: number;
  /** Source of initial sequence numbers (default: one per process with a random key). */
  isn?: IsnGenerator;
  /**
   * Congestion control (default `"newreno"`, RFC 5681/6582; `"cubic"`, RFC 9438; `"none"`: only
   * the peer's window limits the sender, for a point-to-point link the user owns).
   */
  congestionControl?: TcpCongestionControl;
  /**
   * Offer timestamps (RFC 7323: an RTT sample from every ACK, PAWS); used when both SYNs carry
   * the option. Default true. They take 12 bytes of every segment's payload.
   */
  timestamps?: boolean;
  /**
   * Offer selective acknowledgments (RFC 2018; RFC 6675 loss recovery, RFC 2883 D-SACK); used
   * when both SYNs carry SACK-permitted. Default true.
   */
  sack?: boolean;
  /**
   * RACK-TLP (RFC 8985) when SACK is in use: a tail-loss probe at about two round trips (not the
   * RTO) when ACKs stop, and time-based loss detection (a segment is lost once one sent after it
   * was delivered and a reordering window passed; lost retransmissions included). Default true.
   */
  rack?: boolean;
  /**
   * Most challenge ACKs (RFC 5961 §7) per second (default 1000, Linux's
   * `tcp_challenge_ack_limit`; 0 … 1000000; 0 sends none).
   */
  challengeAckLimit?: number;
}

/** Counters of one socket; they only grow (reset with {@linkcode TcpSocketStats.reset}). */
export class TcpSocketStats {
  /** Segments fed to the socket. */
  segmentsIn: number = 0;
  /** Segments sent. */
  segmentsOut: number = 0;
  /** Payload bytes accepted into the receive ring (in order or not). */
  bytesIn: number = 0;
  /** Payload bytes sent, retransmissions included. */
  bytesOut: number = 0;
  /** Segments that carried already-sent sequence space again (RTO, fast retransmit). */
  retransmits: number = 0;
  /** Retransmission timer expirations. */
  timeouts: number = 0;
  /** Fast retransmits on three duplicate ACKs. */
  fastRetransmits: number = 0;
  /** Duplicate ACKs received. */
  duplicateAcks: number = 0;
  /** Segments kept out of order for reassembly. */
  outOfOrder: number = 0;
  /** Zero-window probes sent. */
  windowProbes: number = 0;
  /** Keep-alive probes sent. */
  keepAlives: number = 0;
  /**
   * Challenge ACKs sent (RFC 5961): for an in-window RST, a SYN in a synchronized state, an ACK
   * outside [SND.UNA − MAX.SND.WND, SND.MAX].
   */
  challengeAcks: number = 0;
  /** Challenge ACKs not sent: over `challengeAckLimit` in the current second. */
  challengeAcksLimited: number = 0;
  /** RSTs sent. */
  resetsOut: number = 0;
  /** Dropped: sequence number outside the receive window. */
  dropOutOfWindow: number = 0;
  /** Dropped: no ACK flag in a synchronized state, or an unacceptable ACK. */
  dropBadAck: number = 0;
  /** Dropped: out-of-order data when the assembler had no range left. */
  dropAssemblerFull: number = 0;
  /** Dropped bytes: payload beyond the receive ring's free space. */
  dropWindowFull: number = 0;
  /** Dropped: payload after the peer's FIN (or in a state that takes none). */
  dropAfterFin: number = 0;
  /** Dropped: segments a socket in its state ignores (e.g. no SYN in LISTEN). */
  dropIgnored: number = 0;
  /** Dropped: an old timestamp (PAWS, RFC 7323 §5). */
  dropPaws: number = 0;
  /** RTT samples taken (from timestamps, or one timed segment per round trip without). */
  rttSamples: number = 0;
  /** ACKs we sent with SACK blocks. */
  sackAcksOut: number = 0;
  /** D-SACK blocks we sent (a duplicate arrived, RFC 2883). */
  dsacksOut: number = 0;
  /** D-SACK blocks received: a retransmission of ours was unnecessary. */
  dsacksIn: number = 0;
  /** Holes resent in SACK recovery (RFC 6675 NextSeg rule 1). */
  sackRetransmits: number = 0;
  /** Fast recoveries entered (three duplicate ACKs, or RFC 6675's IsLost). */
  recoveries: number = 0;
  /** Partial ACKs in fast recovery (RFC 6582): each resent the next hole. */
  partialAcks: number = 0;
  /** Windows cut back to IW after an idle period (RFC 5681 §4.1). */
  idleRestarts: number = 0;
  /** Tail-loss probes sent (RFC 8985 §7): new data, or the last segment again. */
  tlpProbes: number = 0;
  /** Losses a resent tail-loss probe repaired (its ACK went beyond it without a D-SACK): cwnd reduced once. */
  tlpRepairs: number = 0;
  /** Segments RACK (RFC 8985 §6) deemed lost by time (beside RFC 6675's IsLost). */
  rackLosses: number = 0;
  /** Gauge (not reset): the congestion window in bytes, as of the last process/dispatch. */
  cwnd: number = 0;
  /** Gauge (not reset): the slow-start threshold in bytes. */
  ssthresh: number = 0;
  /** Gauge (not reset): the congestion state. */
  congestionState: TcpCongestionState = "Open";

  /** Sets every counter to 0 (the gauges `cwnd`, `ssthresh`, `congestionState` stay). */
  reset(): void {
    for (const k of Object.keys(this) as (keyof TcpSocketStats)[]) {
      if (k === "cwnd" || k === "ssthresh") continue;
      if (typeof this[k] === "number") (this as unknown as Record<string, number>)[k] = 0;
    }
  }
}
