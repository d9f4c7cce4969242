/**
 * The state of one TCP connection (RFC 9293's transmission control block) and the small steps
 * both directions share: timers, RTT samples, window fields, recovery entry, state changes.
 * {@linkcode TcpSocket} is its public face; the receive side (`tcp_input.ts`) and the send side
 * (`tcp_output.ts`) are functions over it. Internal: nothing here checks its arguments (the
 * socket does), and the fields are the socket's private state.
 *
 * @module
 */
import { seqDiff, TCP_MAX_WINDOW_SCALE, TcpHeader } from "../wire/tcp.ts";
import { Assembler } from "./assembler.ts";
import { Congestion } from "./congestion.ts";
import { checkInteger, SocketError } from "./error.ts";
import { IsnGenerator } from "./isn.ts";
import { DUP_THRESH, SackBlocks, SackScoreboard } from "./sack.ts";
import { RackRecords } from "./tcp_rack.ts";
import { ByteRing, MAX_RING_CAPACITY } from "./ring.ts";
import {
  CLOSE_WAIT,
  CLOSED,
  CLOSING,
  ESTABLISHED,
  FIN_WAIT_1,
  FIN_WAIT_2,
  LAST_ACK,
  LISTEN,
  SYN_SENT,
  type TcpCloseReason,
  type TcpConfig,
  TcpSocketStats,
  TIME_WAIT,
} from "./tcp_config.ts";

let defaultIsn: IsnGenerator | null = null;

/** The smallest MSS taken from a peer (Linux's `TCP_MIN_SND_MSS`). */
const MIN_PEER_MSS = 48;

/** The rings a socket whose storage was taken shows (empty; nothing writes to a disposed socket). */
const NO_RING = new ByteRing(1);

/** One connection's state (see the module doc). @internal */
export class TcpControl {
  /** Counters (the socket shows them as its `stats`). */
  readonly stats: TcpSocketStats = new TcpSocketStats();
  rx: ByteRing; // (not readonly: a socket whose storage was taken gets empty rings, see the constructor)
  tx: ByteRing;
  readonly asm: Assembler;
  readonly out = new TcpHeader();
  readonly isn: IsnGenerator;
  nagle: boolean;
  readonly ackDelay: number;
  readonly initialRto: number;
  readonly minRto: number;
  readonly maxRto: number;
  readonly timeWait: number;
  readonly userTimeout: number;
  readonly keepAlive: number;
  readonly keepAliveInterval: number;
  readonly keepAliveProbes: number;
  readonly ourShift: number; // the window scale we offer
  readonly synRetries: number;
  synRetransmits = 0;
  readonly cc: Congestion;
  lastSend = -1; // when a data segment last went out (restart after idle)
  dispatchIdle = false; // the last dispatch stopped at a plan of nothing (see pollAtAfterDispatch)
  rtoStreak = 0; // timeouts since SND.UNA last moved
  readonly tsOffer: boolean;
  tsOk = false; // both SYNs carried timestamps
  tsOffset = 0; // our TSval = now (ms) + this, per connection
  tsRecent = 0; // the peer's TSval to echo (RFC 7323 §4.3)
  lastAckSent = 0; // the ACK field of our last segment (Last.ACK.sent)
  inTsEcr = -1; // the TSecr of the segment being processed, -1 without
  readonly sackOffer: boolean;
  sackOk = false; // both SYNs carried SACK-permitted
  readonly sb: SackScoreboard; // what the peer SACKed (sender side)
  readonly sackBlk = new SackBlocks(); // what we report (receiver side)
  highRxt = 0; // RFC 6675 HighRxt: end of the highest retransmission in this recovery
  planSack = 0; // SACK blocks of the planned segment (filled in out.sack)
  readonly challengeLimit: number;
  challengeStart = -Infinity; // start of the current one-second window
  challengeCount = 0;
  // RACK-TLP (RFC 8985), with SACK.
  readonly rackOffer: boolean;
  readonly rack: RackRecords;
  rackAt = -1; // the reordering timer
  ptoAt = -1; // the probe timeout
  tlpDue = false; // the PTO fired: send a probe
  tlpActive = false; // a probe is out (TLP.end_seq set)
  tlpEnd = 0;
  tlpRetrans = false; // the probe resent the last segment
  minRtt = Infinity;

  state = CLOSED;
  reason: TcpCloseReason = "None";
  disposed = false;
  passive = false; // entered SYN-RECEIVED from LISTEN
  localIp = 0;
  localPort = 0;
  remoteIp = 0;
  remotePort = 0;
  listenIp = 0;

  // Send sequence space.
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  sndMax = 0; // highest sequence number sent + 1
  sndWnd = 0; // bytes (scaled)
  sndWl1 = 0;
  sndWl2 = 0;
  maxSndWnd = 0;
  sndShift = 0; // applied to the peer's window field
  rcvShift = 0; // applied to ours
  peerMss = 536;
  peerOfferedScale = false;
  mss = 536; // effective send MSS, from the last dispatch's MTU
  rcvMss = 536; // what we advertise
  finQueued = false; // close() called: a FIN follows the data
  finSent = false; // our FIN went out at least once (it is the last sequence number)
  synAcked = false;

  // Receive sequence space.
  irs = 0;
  rcvNxt = 0;
  rcvAdvRight = 0; // rcvNxt + the window last advertised
  rxFin = false;
  finHeld = false; // a FIN arrived beyond a hole (RFC 9293 §3.10.7.4: held until the hole fills)
  finHeldAt = 0; // its sequence number

  // Timers (-1: not armed) and retransmission state.
  rtoAt = -1;
  ackAt = -1;
  timeWaitAt = -1;
  unackedSince = -1;
  lastRecv = 0;
  keepAliveSent = 0;
  keepAliveDue = false;
  probeDue = false;
  probeOut = false; // what is out is only a zero-window probe (its timeout is the persist timer's)
  persisting = false; // the persist timer ran: the window is closed, probes back off
  persistRto = 0; // the RTO before the probes backed it off
  rto: number;
  srtt = -1;
  rttvar = 0;
  rttActive = false;
  rttSeq = 0;
  rttTime = 0;
  dupAcks = 0;
  ltSent = 0; // segments Limited Transmit (RFC 3042) sent since SND.UNA last moved
  ltBytes = 0;
  fastRetransmit = false; // send one segment from SND.UNA (fast retransmit, RTO, partial ACK)
  inRecovery = false; // fast recovery (three duplicate ACKs) until `recover` is acknowledged
  recover = 0; // SND.MAX when loss was detected (RFC 6582): ACKs below it are partial; else ≤ SND.UNA
  acksOwed = 0; // immediate ACKs owed beyond one (one per out-of-order segment)

  // ACK state.
  ackNow = false;
  fullSegments = 0;
  rstPending = false;
  rstSeq = 0;
  rstAck = 0;
  rstFlags = 0;
  rstSrcIp = 0;
  rstDstIp = 0;
  rstDstPort = 0;

  // The plan for the next segment (plan → transmit → commit, tcp_output.ts).
  planSeq = 0;
  planPos = 0;
  planLen = 0;
  planFlags = 0;

  /** The storage (rings, assembler, loss records) went to another socket. */
  storageTaken = false;

  /**
   * A closed connection's state from `config` (checked here: `SocketError` `InvalidArgument`).
   * `take` returns the state of a socket whose rings, assembler and loss records to reuse for
   * these sizes (checked by the socket), or null to allocate them.
   */
  constructor(
    config: TcpConfig,
    take: (rxSize: number, txSize: number, maxOoo: number) => TcpControl | null,
  ) {
    const rxSize = config.rxBufferSize ?? 65536;
    const txSize = config.txBufferSize ?? 65536;
    checkInteger("TcpSocket: rxBufferSize", rxSize, 1, MAX_RING_CAPACITY);
    checkInteger("TcpSocket: txBufferSize", txSize, 1, MAX_RING_CAPACITY);
    const ms = (name: keyof TcpConfig, def: number, min: number, max = 2 ** 31) => {
      const v = (config[name] as number | undefined) ?? def;
      checkInteger(`TcpSocket: ${name}`, v, min, max);
      return v;
    };
    this.ackDelay = ms("ackDelay", 40, 0, 500);
    this.minRto = ms("minRto", 200, 1);
    this.maxRto = ms("maxRto", 60000, this.minRto);
    this.initialRto = ms("initialRto", 1000, this.minRto, this.maxRto);
    this.timeWait = ms("timeWait", 60000, 0);
    this.userTimeout = ms("userTimeout", 300000, 0);
    this.keepAlive = ms("keepAlive", 0, 0);
    this.keepAliveInterval = ms("keepAliveInterval", 75000, 1);
    this.keepAliveProbes = ms("keepAliveProbes", 9, 1, 1000);
    // By default a range per two full segments of the receive ring (the most holes a window can
    // have), at least 8: a bottleneck's drops then cost one retransmission each.
    const maxOoo = ms("maxOutOfOrder", Math.min(Math.max(Math.ceil(rxSize / 2920), 8), 1024), 1, 1024);
    this.synRetries = ms("synRetries", 6, 0, 100);
    this.challengeLimit = ms("challengeAckLimit", 1000, 0, 1_000_000);
    if (config.nagle !== undefined && typeof config.nagle !== "boolean") {
      throw new SocketError("InvalidArgument", `TcpSocket: nagle ${config.nagle} is not a boolean`);
    }
    if (config.isn !== undefined && !(config.isn instanceof IsnGenerator)) {
      throw new SocketError("InvalidArgument", "TcpSocket: isn is not an IsnGenerator");
    }
    this.cc = new Congestion(config.congestionControl ?? "newreno");
    if (config.timestamps !== undefined && typeof config.timestamps !== "boolean") {
      throw new SocketError("InvalidArgument", `TcpSocket: timestamps ${config.timestamps} is not a boolean`);
    }
    this.tsOffer = config.timestamps ?? true;
    if (config.sack !== undefined && typeof config.sack !== "boolean") {
      throw new SocketError("InvalidArgument", `TcpSocket: sack ${config.sack} is not a boolean`);
    }
    this.sackOffer = config.sack ?? true;
    if (config.rack !== undefined && typeof config.rack !== "boolean") {
      throw new SocketError("InvalidArgument", `TcpSocket: rack ${config.rack} is not a boolean`);
    }
    this.rackOffer = config.rack ?? true;
    // SACKed ranges: as many as a send ring of full segments can have holes (at least 32).
    this.sb = new SackScoreboard(Math.min(Math.max(Math.ceil(txSize / 2920), 32), 1024));
    this.nagle = config.nagle ?? false;
    this.isn = config.isn ?? (defaultIsn ??= new IsnGenerator());
    const from = take(rxSize, txSize, maxOoo);
    if (from !== null) {
      this.rx = from.rx;
      this.tx = from.tx;
      this.asm = from.asm;
      this.rack = from.rack; // sized from the send ring, as below
      this.rx.clear();
      this.tx.clear();
      this.asm.clear();
      this.rack.clear(0);
      from.emptied();
    } else {
      // A record per segment in flight: the send ring over 512-byte segments (beyond: the last grows).
      this.rack = new RackRecords(Math.min(Math.max(Math.ceil(txSize / 512) + 2, 16), 4096));
      this.rx = new ByteRing(rxSize);
      this.tx = new ByteRing(txSize);
      this.asm = new Assembler(maxOoo);
    }
    this.rto = this.initialRto;
    let shift = 0;
    while (shift < TCP_MAX_WINDOW_SCALE && rxSize >>> shift > 0xffff) shift++;
    this.ourShift = shift;
  }

  timerAt(): number {
    let t = Infinity;
    if (this.rtoAt >= 0 && this.rtoAt < t) t = this.rtoAt;
    if (this.ackAt >= 0 && this.ackAt < t) t = this.ackAt;
    if (this.timeWaitAt >= 0 && this.timeWaitAt < t) t = this.timeWaitAt;
    if (this.ptoAt >= 0 && this.ptoAt < t) t = this.ptoAt;
    if (this.rackAt >= 0 && this.rackAt < t) t = this.rackAt;
    if (this.userTimeout > 0 && this.unackedSince >= 0) {
      const u = this.unackedSince + this.userTimeout;
      if (u < t) t = u;
    }
    const k = this.keepAliveTime();
    if (k >= 0 && k < t) t = k;
    return t;
  }

  takeSynOptions(h: TcpHeader): void {
    // No MSS (or 0): RFC 9293's default. A tiny one is raised to Linux's floor (TCP_MIN_SND_MSS):
    // a peer must not make us send a segment per byte.
    this.peerMss = h.mss > 0 ? (h.mss < MIN_PEER_MSS ? MIN_PEER_MSS : h.mss) : 536;
    this.peerOfferedScale = h.windowScale >= 0;
    // Timestamps: our SYN offered them (SYN-SENT) or will answer theirs (LISTEN).
    if (this.state === SYN_SENT || this.state === LISTEN) {
      this.tsOk = this.tsOffer && h.hasTimestamps;
      this.sackOk = this.sackOffer && h.sackPermitted;
      if (this.tsOk) this.tsRecent = h.tsVal;
    }
    if (this.peerOfferedScale && (this.state === SYN_SENT || this.state === LISTEN)) {
      // Scaling holds only if both SYNs carry the option; ours always does (SYN-ACK: when theirs did).
      this.sndShift = Math.min(h.windowScale, TCP_MAX_WINDOW_SCALE);
      this.rcvShift = this.ourShift;
    } else {
      this.sndShift = 0;
      this.rcvShift = 0;
    }
  }

  /** Full-sized segments are acknowledged every second one; others within the ACK delay. */
  scheduleAck(now: number, sizeWithOptions: number): void {
    if (this.ackDelay === 0) {
      this.ackNow = true;
      return;
    }
    if (sizeWithOptions >= Math.min(this.rcvMss, this.peerMss) && ++this.fullSegments >= 2) {
      this.ackNow = true;
      return;
    }
    if (this.ackAt < 0) this.ackAt = now + this.ackDelay;
  }

  /**
   * RFC 6298 §2: SRTT, RTTVAR and RTO from one sample (Karn: only segments sent once). With a
   * sample per ACK (timestamps) the gains are divided by the samples expected per flight
   * (RFC 7323 Appendix G), so a window's worth of samples weighs as one RFC 6298 sample.
   */
  rttSample(r: number, acked: number): void {
    if (r < 0) r = 0;
    this.stats.rttSamples++;
    if (r < this.minRtt) this.minRtt = r;
    if (this.srtt < 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      let beta = 0.25, alpha = 0.125; // n = 1: no divisions (a flight of up to two segments)
      if (acked > 0) {
        const flight = seqDiff(this.sndMax, this.sndUna) + acked;
        if (flight > 2 * this.mss) {
          const n = Math.ceil(flight / (2 * this.mss));
          beta = 0.25 / n;
          alpha = 0.125 / n;
        }
      }
      this.rttvar = (1 - beta) * this.rttvar + beta * Math.abs(this.srtt - r);
      this.srtt = (1 - alpha) * this.srtt + alpha * r;
    }
    const rto = this.srtt + Math.max(1, 4 * this.rttvar);
    this.rto = Math.min(Math.max(Math.ceil(rto), this.minRto), this.maxRto);
  }

  /** When the next keep-alive probe is due, or -1. */
  keepAliveTime(): number {
    if (this.keepAlive === 0) return -1;
    const s = this.state;
    if (s !== ESTABLISHED && s !== CLOSE_WAIT) return -1;
    if (this.sndMax !== this.sndUna || this.tx.length > 0) return -1;
    return this.lastRecv + this.keepAlive + this.keepAliveSent * this.keepAliveInterval;
  }

  armRto(now: number, seq: number, segLen: number): void {
    if (this.rtoAt < 0) this.rtoAt = now + this.rto;
    if (this.unackedSince < 0) this.unackedSince = now;
    // Time one segment at a time, only new data (Karn).
    if (!this.rttActive && seqDiff((seq + segLen) >>> 0, this.sndMax) > 0) {
      this.rttActive = true;
      this.rttSeq = (seq + segLen) >>> 0;
      this.rttTime = now;
    }
  }

  /** Our window field: free receive space, scaled, never moving the right edge left, RFC 9293 SWS rule. */
  windowField(): number {
    const free = this.rx.free;
    const advertised = seqDiff(this.rcvAdvRight, this.rcvNxt);
    let w = free;
    const threshold = Math.min(this.rx.capacity >>> 1, this.rcvMss);
    if (advertised >= 0 && w > advertised && w - advertised < threshold) w = advertised;
    if (advertised > w) w = advertised; // never shrink (rounding aside)
    w = w >>> this.rcvShift;
    return w > 0xffff ? 0xffff : w;
  }

  /** True when reading freed enough space to tell the peer (receiver SWS avoidance). */
  windowUpdateDue(): boolean {
    const s = this.state;
    if (s !== ESTABLISHED && s !== FIN_WAIT_1 && s !== FIN_WAIT_2) return false;
    const advertised = seqDiff(this.rcvAdvRight, this.rcvNxt);
    const most = 0xffff << this.rcvShift; // the largest window the field can say (shift ≤ 14)
    const could = this.rx.free < most ? this.rx.free : most;
    const gain = could - (advertised > 0 ? advertised : 0);
    return gain >= Math.min(this.rx.capacity >>> 1, this.rcvMss) && gain >= 1 << this.rcvShift;
  }

  /** The connection is synchronized: the window starts at IW for the MSS known now (RFC 6928). */
  ccStart(): void {
    const mss = Math.max(Math.min(this.peerMss, this.rcvMss), 1);
    this.cc.init(mss, this.synRetransmits > 0);
    this.recover = this.sndUna;
    this.rack.clear(this.sndUna);
    // RFC 6298 §5.7: a SYN timed out and no RTT sample yet: data starts with an RTO of 3 s.
    if (this.synRetransmits > 0 && this.srtt < 0 && this.rto < 3000) {
      this.rto = Math.min(3000, this.maxRto);
    }
  }

  /** Our TSval at `now` (ms ticks, RFC 7323 §5.4: 1 ms … 1 s); 0 for pollAt's planning. */
  tsClock(now: number): number {
    return now >= 0 && now < Infinity ? (Math.floor(now) + this.tsOffset) >>> 0 : 0;
  }

  /** A challenge ACK (RFC 5961), at most `challengeAckLimit` a second (§7). */
  challenge(now: number): void {
    if (now - this.challengeStart >= 1000) {
      this.challengeStart = now;
      this.challengeCount = 0;
    }
    if (this.challengeCount >= this.challengeLimit) {
      this.stats.challengeAcksLimited++;
      return;
    }
    this.challengeCount++;
    this.stats.challengeAcks++;
    this.ackNow = true;
  }

  /** RACK's detection (RFC 8985 §6.2 step 5) now; the reordering timer for what is not yet due. */
  rackTimer(now: number): void {
    const rk = this.rack;
    // RACK.reo_wnd (§6.2 step 4): none in recovery before reordering is seen, else min_RTT/4 ≤ SRTT.
    let reo = 0;
    if (rk.reorderingSeen || (!this.inRecovery && this.sb.sackedBytes < DUP_THRESH * this.mss)) {
      const q = this.minRtt < Infinity ? (rk.reoWndMult * this.minRtt) / 4 : 0;
      reo = this.srtt >= 0 && this.srtt < q ? this.srtt : q;
    }
    const n = rk.detectLoss(now, reo);
    this.stats.rackLosses += n;
    this.rackAt = rk.timeout >= 0 ? Math.ceil(rk.timeout) : -1;
    if (
      n > 0 && !this.inRecovery && this.sndMax !== this.sndUna && seqDiff(this.sndUna, this.recover) >= 0
    ) this.enterRecovery(now);
  }

  /**
   * Arms the probe timeout (RFC 8985 §7.2) while data is out, no probe is and no recovery runs:
   * 2·SRTT (+ 200 ms, the worst delayed ACK, with one segment out; else + 2 ms of clock
   * allowance), never after the RTO. `beyond`: how far the segment leaving now ends past SND.MAX
   * (which has not moved yet), so that it counts in the flight (a distance, not the sequence
   * number: a number beyond 2^31 − 1 passed to a call is a heap number allocated per call).
   */
  armPto(now: number, beyond: number = 0): void {
    const flight = seqDiff(this.sndMax, this.sndUna) + (beyond > 0 ? beyond : 0);
    if (
      !this.rackOffer || !this.sackOk || this.inRecovery || this.tlpActive ||
      flight === 0 || this.sndWnd === 0 || seqDiff(this.sndUna, this.recover) < 0 ||
      !this.canSendData()
    ) {
      this.ptoAt = -1;
      return;
    }
    const pto = this.srtt >= 0 ? Math.ceil(2 * this.srtt) + (flight <= this.mss ? 200 : 2) : 1000;
    let at = now + pto;
    if (this.rtoAt >= 0 && at > this.rtoAt) at = this.rtoAt;
    this.ptoAt = at;
  }

  /** The window opened after probes: the RTO they backed off is restored (Linux: icsk_backoff = 0). */
  endPersist(now: number): void {
    this.persisting = false;
    this.rto = this.persistRto;
    if (this.rtoAt >= 0) this.rtoAt = now + this.rto;
  }

  /** Loss detected (RFC 5681 §3.2, RFC 6675 §5): the first unacknowledged segment at once. */
  enterRecovery(now: number): void {
    this.ptoAt = -1;
    this.tlpActive = this.tlpDue = false;
    this.fastRetransmit = true;
    this.inRecovery = true;
    this.recover = this.sndMax;
    this.highRxt = this.sndUna;
    this.stats.fastRetransmits++;
    this.stats.recoveries++;
    // RFC 5681 §3.2 step 2: what Limited Transmit sent is not in the flight size.
    const flight = seqDiff(this.sndMax, this.sndUna) - (this.sackOk ? 0 : this.ltBytes);
    this.cc.onFastRetransmit(now, flight, this.mss, this.sackOk);
  }

  gauges(): void {
    const st = this.stats;
    st.cwnd = this.cc.cwnd;
    st.ssthresh = this.cc.ssthresh;
    st.congestionState = this.cc.state;
  }

  /** True in the states that send data and FIN. */
  canSendData(): boolean {
    const s = this.state;
    return s === ESTABLISHED || s === CLOSE_WAIT || s === FIN_WAIT_1 || s === CLOSING || s === LAST_ACK;
  }

  /** The window a SYN or SYN-ACK advertises (never scaled). */
  synWindow(): number {
    return this.rx.free > 0xffff ? 0xffff : this.rx.free;
  }

  queueFin(): void {
    this.finQueued = true;
  }

  queueRst(seq: number, ack: number, flags: number, src: number, dst: number, dstPort: number): void {
    this.rstPending = true;
    this.rstSeq = seq >>> 0;
    this.rstAck = ack >>> 0;
    this.rstFlags = flags;
    this.rstSrcIp = src;
    this.rstDstIp = dst;
    this.rstDstPort = dstPort;
  }

  toTimeWait(now: number): void {
    this.state = TIME_WAIT;
    this.timeWaitAt = now + this.timeWait;
    this.rtoAt = this.ptoAt = this.rackAt = -1;
    this.tlpDue = false;
    this.unackedSince = -1;
  }

  toClosed(reason: TcpCloseReason): void {
    this.state = CLOSED;
    this.reason = reason;
    this.rtoAt = -1;
    this.ackAt = -1;
    this.timeWaitAt = -1;
    this.unackedSince = -1;
    this.ackNow = false;
    this.acksOwed = 0;
    this.fastRetransmit = false;
    this.inRecovery = false;
    this.keepAliveDue = false;
    this.probeDue = false;
    this.ptoAt = this.rackAt = -1;
    this.tlpDue = this.tlpActive = false;
    this.tx.clear();
    this.asm.clear();
  }

  backToListen(): void {
    const port = this.localPort;
    const ip = this.listenIp;
    this.reset();
    this.localIp = ip;
    this.listenIp = ip;
    this.localPort = port;
    this.state = LISTEN;
  }

  reset(): void {
    this.rx.clear();
    this.tx.clear();
    this.asm.clear();
    this.reason = "None";
    this.passive = false;
    this.remoteIp = 0;
    this.remotePort = 0;
    this.listenIp = 0;
    this.sndWnd = this.maxSndWnd = 0;
    this.sndShift = this.rcvShift = 0;
    this.peerMss = 536;
    this.peerOfferedScale = false;
    this.finQueued = false;
    this.finSent = false;
    this.synAcked = false;
    this.synRetransmits = 0;
    this.rxFin = false;
    this.finHeld = false;
    this.rtoAt =
      this.ackAt =
      this.timeWaitAt =
      this.unackedSince =
        -1;
    this.keepAliveSent = 0;
    this.keepAliveDue =
      this.probeDue =
      this.probeOut =
      this.persisting =
        false;
    this.rto = this.initialRto;
    this.srtt = -1;
    this.rttvar = 0;
    this.rttActive = false;
    this.dupAcks = this.ltSent = this.ltBytes = 0;
    this.fastRetransmit = false;
    this.inRecovery = false;
    this.recover = 0;
    this.rtoStreak = 0;
    this.lastSend = -1;
    this.tsOk = false;
    this.sackOk = false;
    this.sb.clear();
    this.sackBlk.clear();
    this.rack.clear(0);
    this.ptoAt = this.rackAt = -1;
    this.tlpDue = this.tlpActive = this.tlpRetrans = false;
    this.minRtt = Infinity;
    this.highRxt = 0;
    this.planSack = 0;
    this.tsRecent = 0;
    this.lastAckSent = 0;
    this.inTsEcr = -1;
    this.cc.init(536, false);
    this.acksOwed = 0;
    this.ackNow = false;
    this.fullSegments = 0;
    this.rstPending = false;
  }

  /** After a new socket took this one's storage: disposed, with empty rings of its own. */
  emptied(): void {
    this.storageTaken = true;
    this.disposed = true;
    this.rx = this.tx = NO_RING;
  }
}
