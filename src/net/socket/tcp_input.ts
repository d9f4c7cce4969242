/**
 * The receive side of a TCP connection: what each inbound segment does to a
 * {@linkcode TcpControl} in each state (RFC 9293 §3.10.7), header prediction for in-order data
 * and pure ACKs, and the acknowledgement of sent data (RTT, congestion window, SACK, RACK).
 * Internal: {@linkcode TcpSocket.process} checks the arguments and calls these.
 *
 * @module
 */
import {
  seqDiff,
  TCP_ACK,
  TCP_FIN,
  TCP_HEADER_LENGTH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  type TcpHeader,
} from "../wire/tcp.ts";
import { DUP_THRESH } from "./sack.ts";
import {
  CLOSE_WAIT,
  CLOSING,
  ESTABLISHED,
  FIN_WAIT_1,
  FIN_WAIT_2,
  LAST_ACK,
  SYN_RECEIVED,
  TIME_WAIT,
} from "./tcp_config.ts";
import type { TcpControl } from "./tcp_control.ts";

let headerPrediction = true;
/**
 * Turns header prediction (the receive fast path) on or off for every socket: off, each segment
 * takes the general path, for tests that compare the two.
 * @internal
 */
export function setTcpHeaderPrediction(on: boolean): void {
  headerPrediction = on;
}
let predictedSegments = 0;
/**
 * Segments the fast path took, in every socket since the process started: for the tests that
 * compare it with the general path (one increment per predicted segment).
 * @internal
 */
export function tcpHeaderPredictions(): number {
  return predictedSegments;
}

/** A segment to a listening socket: a SYN opens a handshake (SYN-RECEIVED), anything else is answered or dropped. */
export function onListen(t: TcpControl, now: number, src: number, dst: number, h: TcpHeader): void {
  const flags = h.flags;
  if (flags & TCP_RST) return;
  if (flags & TCP_ACK) {
    t.queueRst(h.ack, 0, TCP_RST, dst, src, h.srcPort);
    return;
  }
  if ((flags & TCP_SYN) === 0) {
    t.stats.dropIgnored++;
    return;
  }
  if (t.listenIp !== 0 && dst !== t.listenIp) {
    t.stats.dropIgnored++;
    return;
  }
  t.localIp = dst;
  t.remoteIp = src;
  t.remotePort = h.srcPort;
  t.takeSynOptions(h);
  t.irs = h.seq;
  t.rcvNxt = (h.seq + 1) >>> 0;
  t.rcvAdvRight = (t.rcvNxt + t.synWindow()) >>> 0;
  t.iss = t.isn.next(dst, t.localPort, src, h.srcPort, now);
  t.sndUna = t.sndNxt = t.sndMax = t.iss;
  t.tsOffset = t.iss;
  t.sndWnd = h.window; // never scaled in a SYN
  t.sndWl1 = h.seq;
  t.sndWl2 = t.iss;
  t.maxSndWnd = h.window;
  t.lastRecv = now;
  t.passive = true;
  t.state = SYN_RECEIVED;
}

/** A segment in SYN-SENT: the SYN-ACK establishes the connection, a SYN alone is a simultaneous open, an acceptable RST ends it. */
export function onSynSent(t: TcpControl, now: number, h: TcpHeader): void {
  const flags = h.flags;
  const hasAck = (flags & TCP_ACK) !== 0;
  if (hasAck && (seqDiff(h.ack, t.iss) <= 0 || seqDiff(h.ack, t.sndMax) > 0)) {
    if ((flags & TCP_RST) === 0) {
      t.queueRst(h.ack, 0, TCP_RST, t.localIp, t.remoteIp, h.srcPort);
    }
    t.stats.dropBadAck++;
    return;
  }
  if (flags & TCP_RST) {
    if (hasAck) t.toClosed("Refused");
    else t.stats.dropIgnored++;
    return;
  }
  if ((flags & TCP_SYN) === 0) {
    t.stats.dropIgnored++;
    return;
  }
  t.takeSynOptions(h);
  t.irs = h.seq;
  t.rcvNxt = (h.seq + 1) >>> 0;
  t.rcvAdvRight = (t.rcvNxt + t.synWindow()) >>> 0;
  t.lastRecv = now;
  if (hasAck) {
    t.inTsEcr = t.tsOk ? h.tsEcr : -1;
    ackAdvance(t, now, h);
    t.sndWnd = h.window; // SYN-ACK: unscaled
    t.maxSndWnd = h.window;
    t.sndWl1 = h.seq;
    t.sndWl2 = h.ack;
    t.state = ESTABLISHED;
    t.ackNow = true;
    t.ccStart();
  } else {
    // Simultaneous open: answer with SYN-ACK (our SYN again, now with ACK).
    t.state = SYN_RECEIVED;
    t.sndNxt = t.iss;
    t.sndWnd = h.window;
    t.maxSndWnd = h.window;
    t.sndWl1 = h.seq;
    t.sndWl2 = t.iss;
  }
}

/**
 * A segment in a synchronized state (SYN-RECEIVED and after): RFC 9293 §3.10.7.4's checks in order
 * (sequence, RST, SYN, ACK, data, FIN), with header prediction first for the common case.
 */
export function onSynchronized(
  t: TcpControl,
  now: number,
  h: TcpHeader,
  payload: Uint8Array,
  offset: number,
  length: number,
): void {
  if (headerPrediction && t.state === ESTABLISHED && predicted(t, now, h, payload, offset, length)) {
    predictedSegments++;
    return;
  }
  const flags = h.flags;
  const seq = h.seq;
  const finAt = (seq + length) >>> 0; // where a FIN of this segment sits
  const segLen = length + ((flags & TCP_SYN) ? 1 : 0) + ((flags & TCP_FIN) ? 1 : 0);
  const wnd = seqDiff(t.rcvAdvRight, t.rcvNxt) > 0 ? seqDiff(t.rcvAdvRight, t.rcvNxt) : 0;
  const start = seqDiff(seq, t.rcvNxt);
  // 0. PAWS (RFC 7323 §5.3 R1): a TSval older than TS.Recent is an old duplicate.
  const hasTs = t.tsOk && h.hasTimestamps;
  if (hasTs && (flags & TCP_RST) === 0 && seqDiff(h.tsVal, t.tsRecent) < 0) {
    t.stats.dropPaws++;
    t.ackNow = true;
    return;
  }
  t.inTsEcr = hasTs ? h.tsEcr : -1;
  // 1. Sequence number acceptable? (RFC 9293 §3.10.7.4)
  let acceptable: boolean;
  if (segLen === 0) acceptable = wnd === 0 ? start === 0 : start >= 0 && start < wnd;
  else if (wnd === 0) acceptable = false;
  else {
    const last = start + segLen - 1;
    acceptable = (start >= 0 && start < wnd) || (last >= 0 && last < wnd);
  }
  // A zero window still takes the ACK (and RST) of a segment at RCV.NXT; its data is dropped.
  if (!acceptable && wnd === 0 && start === 0) {
    t.stats.dropWindowFull += length;
    if (length > 0) t.ackNow = true; // a zero-window probe is answered (RFC 9293 §3.8.6.1)
    length = 0;
    acceptable = true;
  }
  if (!acceptable) {
    t.stats.dropOutOfWindow++;
    if (flags & TCP_RST) return;
    if (t.sackOk && length > 0 && start + length <= 0) t.sackBlk.duplicate(seq, finAt); // RFC 2883
    if (t.state === SYN_RECEIVED && (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && seq === t.irs) {
      t.sndNxt = t.iss; // a retransmitted SYN: our SYN-ACK was lost
      return;
    }
    if (t.state === TIME_WAIT && (flags & TCP_FIN)) t.timeWaitAt = now + t.timeWait;
    t.ackNow = true;
    return;
  }
  t.lastRecv = now;
  t.keepAliveSent = 0;
  // 2. RST: exact match resets, in window draws a challenge ACK (RFC 5961 §3).
  if (flags & TCP_RST) {
    if (start !== 0) {
      t.challenge(now);
      return;
    }
    if (t.state === SYN_RECEIVED && t.passive) {
      t.backToListen();
      return;
    }
    t.toClosed(t.state === SYN_RECEIVED ? "Refused" : "Reset");
    return;
  }
  // 3. SYN in a synchronized state: challenge ACK (RFC 5961 §4). A passive SYN-RECEIVED returns
  // to LISTEN (RFC 9293 §3.10.7.4, fourth).
  if (flags & TCP_SYN) {
    if (t.state === SYN_RECEIVED && t.passive) {
      t.backToListen();
      return;
    }
    t.challenge(now);
    return;
  }
  // 4. ACK.
  if ((flags & TCP_ACK) === 0) {
    t.stats.dropBadAck++;
    return;
  }
  if (t.state === SYN_RECEIVED) {
    if (seqDiff(h.ack, t.sndUna) <= 0 || seqDiff(h.ack, t.sndMax) > 0) {
      t.queueRst(h.ack, 0, TCP_RST, t.localIp, t.remoteIp, t.remotePort);
      t.stats.dropBadAck++;
      return;
    }
    t.state = t.finQueued ? FIN_WAIT_1 : ESTABLISHED;
    t.ccStart();
    t.sndWnd = h.window << t.sndShift;
    t.maxSndWnd = t.sndWnd;
    t.sndWl1 = seq;
    t.sndWl2 = h.ack;
  }
  const d = seqDiff(h.ack, t.sndUna);
  // RFC 5961 §5.2: acceptable only in [SND.UNA − MAX.SND.WND, SND.MAX]; else dropped with a
  // (rate-limited) challenge ACK. (SND.MAX: after a timeout SND.NXT went back.)
  if (seqDiff(h.ack, t.sndMax) > 0 || d < -t.maxSndWnd) {
    t.stats.dropBadAck++;
    t.challenge(now);
    return;
  }
  // RFC 7323 §4.3: TS.Recent from a segment that starts at or before the last ACK we sent, once
  // it passed the RST, SYN and ACK checks (as Linux: a segment RFC 5961 drops sets nothing).
  if (hasTs && seqDiff(seq, t.lastAckSent) <= 0 && seqDiff(h.tsVal, t.tsRecent) >= 0) {
    t.tsRecent = h.tsVal;
  }
  const window = h.window << t.sndShift;
  if (d >= 0) {
    // Window update (RFC 9293 §3.10.7.4, SND.WL1/WL2).
    const w1 = seqDiff(seq, t.sndWl1);
    const windowChanged = window !== t.sndWnd;
    if (w1 > 0 || (w1 === 0 && seqDiff(h.ack, t.sndWl2) >= 0)) {
      t.sndWnd = window;
      t.sndWl1 = seq;
      t.sndWl2 = h.ack;
      if (window > t.maxSndWnd) t.maxSndWnd = window;
      if (window > 0 && t.persisting) t.endPersist(now);
    }
    if (d > 0) {
      ackAdvance(t, now, h);
    } else if (length === 0 && (flags & TCP_FIN) === 0 && t.sndMax !== t.sndUna) {
      // A duplicate ACK (RFC 5681 §2); ACKs of zero-window probes are not.
      if (!windowChanged && window !== 0) {
        t.stats.duplicateAcks++;
        // RFC 6582 §3.2 step 1: only an ACK beyond `recover` starts a new recovery (not the
        // duplicates that data sent again after a timeout draws).
        if (++t.dupAcks > 3 && t.inRecovery && !t.sackOk) t.cc.onDupAck(t.mss);
      }
      // A zero window answered: the peer is alive, the user timeout starts over.
      if (window === 0 && t.unackedSince >= 0) t.unackedSince = now;
    }
  }
  let dsack = 0;
  if (d >= 0 && t.sackOk && h.sackCount > 0) {
    dsack = t.sb.update(h, t.sndUna, t.sndMax);
    t.stats.dsacksIn += dsack;
  }
  const rack = d >= 0 && t.rackOffer && t.sackOk;
  if (rack) rackOnAck(t, now, h, dsack);
  // Loss: three duplicate ACKs, or (with SACK) RFC 6675's IsLost(SND.UNA), or RACK.
  if (
    d >= 0 && !t.inRecovery && t.sndMax !== t.sndUna && seqDiff(h.ack, t.recover) >= 0 &&
    (t.dupAcks >= 3 || (t.sackOk && t.sb.lostEnd(t.mss) > 0) ||
      (rack && t.rack.anyLost))
  ) t.enterRecovery(now);
  // Our FIN acknowledged?
  const finAcked = t.finSent && t.sndUna === t.sndMax;
  switch (t.state) {
    case FIN_WAIT_1:
      if (finAcked) t.state = FIN_WAIT_2;
      break;
    case CLOSING:
      if (finAcked) t.toTimeWait(now);
      break;
    case LAST_ACK:
      if (finAcked) {
        t.toClosed("Closed");
        return;
      }
      break;
  }
  // 5. Payload.
  if (length > 0) {
    const s = t.state;
    if (s !== ESTABLISHED && s !== FIN_WAIT_1 && s !== FIN_WAIT_2) {
      t.stats.dropAfterFin++;
      length = 0;
    }
  }
  if (length > 0) {
    const skip = start < 0 ? -start : 0; // bytes already received
    if (skip > 0 && t.sackOk) t.sackBlk.duplicate(seq, t.rcvNxt);
    const off = start < 0 ? 0 : start;
    let n = length - skip;
    if (n < 0) n = 0;
    const room = t.rx.free - off;
    if (n > room) {
      t.stats.dropWindowFull += n - (room > 0 ? room : 0);
      n = room > 0 ? room : 0;
    }
    if (n > 0) {
      if (off === 0) {
        t.rx.writeAt(t.rx.length, payload, offset + skip, n);
        const hadHoles = !t.asm.isEmpty;
        t.asm.advance(n);
        const more = t.asm.removeFront();
        t.rx.commit(n + more);
        t.rcvNxt = (t.rcvNxt + n + more) >>> 0;
        t.stats.bytesIn += n;
        if (hadHoles) t.ackNow = true; // a hole filled: tell the sender at once
        else if (!t.ackNow) t.scheduleAck(now, length + h.headerLength - TCP_HEADER_LENGTH);
      } else if (t.asm.add(off, n)) {
        t.rx.writeAt(t.rx.length + off, payload, offset + skip, n);
        if (t.sackOk) t.sackBlk.arrived((t.rcvNxt + off) >>> 0);
        t.stats.outOfOrder++;
        t.stats.bytesIn += n;
        // A duplicate ACK per such segment: what drives the sender's fast retransmit.
        if (t.ackNow && t.acksOwed < 16) t.acksOwed++;
        t.ackNow = true;
      } else {
        t.stats.dropAssemblerFull++;
        t.ackNow = true;
      }
    }
  }
  // 6. FIN: taken once every byte before it is in. One beyond a hole (in the window) is held and
  // taken when the hole fills (RFC 9293 §3.10.7.4).
  if ((flags & TCP_FIN) !== 0 && !t.rxFin) {
    const ahead = seqDiff(finAt, t.rcvNxt);
    const s = t.state;
    if (
      ahead > 0 && start + seqDiff(finAt, seq) < wnd &&
      (s === ESTABLISHED || s === FIN_WAIT_1 || s === FIN_WAIT_2)
    ) {
      t.finHeld = true;
      t.finHeldAt = finAt;
      t.ackNow = true; // out of order: a duplicate ACK at once
    }
  }
  const finInOrder = ((flags & TCP_FIN) !== 0 && t.rcvNxt === finAt) ||
    (t.finHeld && t.rcvNxt === t.finHeldAt);
  if (finInOrder && !t.rxFin) {
    const s = t.state;
    if (s === ESTABLISHED || s === FIN_WAIT_1 || s === FIN_WAIT_2 || s === SYN_RECEIVED) {
      t.rxFin = true;
      t.finHeld = false;
      t.rcvNxt = (t.rcvNxt + 1) >>> 0;
      t.ackNow = true;
      if (s === ESTABLISHED || s === SYN_RECEIVED) t.state = CLOSE_WAIT;
      else if (s === FIN_WAIT_2 || finAcked) t.toTimeWait(now);
      else t.state = CLOSING;
    }
  } else if (finInOrder && t.state === TIME_WAIT) {
    t.ackNow = true;
    t.timeWaitAt = now + t.timeWait;
  }
}

/**
 * Header prediction (RFC 9293 §3.10.7.4's common case, after Van Jacobson): in ESTABLISHED, the
 * next segment in order carrying only ACK (and PSH), no SACK blocks, a fresh
 * timestamp, nothing held out of order (no FIN either), no persist timer and no loss recovery
 * under way (what the general path would end is handled there): either a pure ACK of new
 * data or in-order data that fits. Handles it as the general path would and returns true; any
 * other segment returns false having changed nothing, and takes the general path.
 */
function predicted(
  t: TcpControl,
  now: number,
  h: TcpHeader,
  payload: Uint8Array,
  offset: number,
  length: number,
): boolean {
  const seq = h.seq;
  if (
    (h.flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK | TCP_URG)) !== TCP_ACK || seq !== t.rcvNxt ||
    h.sackCount !== 0 || t.inRecovery || t.finHeld || t.persisting ||
    t.dupAcks !== 0 || !t.sb.isEmpty || seqDiff(seq, t.sndWl1) < 0 ||
    seqDiff(h.ack, t.sndWl2) < 0 // (the window update rule of the general path)
  ) return false;
  const hasTs = t.tsOk;
  if (hasTs && (!h.hasTimestamps || seqDiff(h.tsVal, t.tsRecent) < 0)) return false;
  const ack = h.ack;
  const d = seqDiff(ack, t.sndUna);
  if (length === 0) {
    if (d <= 0 || seqDiff(ack, t.sndMax) > 0) return false; // a duplicate, or beyond what was sent
  } else if (
    d < 0 || seqDiff(ack, t.sndMax) > 0 || !t.asm.isEmpty || length > t.rx.free ||
    seqDiff(t.rcvAdvRight, seq) <= 0 // the window we advertised is closed
  ) return false;
  // As the general path: acceptable, PAWS passed; then TS.Recent, the window, the ACK, the data.
  t.lastRecv = now;
  t.keepAliveSent = 0;
  if (hasTs && seqDiff(seq, t.lastAckSent) <= 0) t.tsRecent = h.tsVal;
  t.inTsEcr = hasTs ? h.tsEcr : -1;
  // The window update rule holds (SEG.SEQ ≥ SND.WL1, SEG.ACK ≥ SND.WL2, checked above).
  const window = h.window << t.sndShift;
  t.sndWnd = window;
  if (window > t.maxSndWnd) t.maxSndWnd = window;
  t.sndWl1 = seq;
  t.sndWl2 = ack;
  if (d > 0) ackAdvance(t, now, h);
  // RACK on every acceptable ACK, and its loss rule (three duplicates and IsLost cannot hold here).
  if (t.rackOffer && t.sackOk) {
    rackOnAck(t, now, h, 0);
    if (
      !t.inRecovery && t.sndMax !== t.sndUna && seqDiff(ack, t.recover) >= 0 &&
      t.rack.anyLost
    ) t.enterRecovery(now);
  }
  if (length > 0) {
    t.rx.writeAt(t.rx.length, payload, offset, length);
    t.rx.commit(length);
    t.rcvNxt = (seq + length) >>> 0;
    t.stats.bytesIn += length;
    if (!t.ackNow) t.scheduleAck(now, length + h.headerLength - TCP_HEADER_LENGTH);
  }
  return true;
}

/**
 * SND.UNA moves to `h.ack` (after SND.UNA, not after SND.MAX): frees acknowledged bytes, samples
 * the RTT. (The header, not its ACK field: a number beyond 2^30 passed to a call is a heap
 * number allocated per call.)
 */
function ackAdvance(t: TcpControl, now: number, h: TcpHeader): void {
  const ack = h.ack;
  let acked = seqDiff(ack, t.sndUna);
  if (!t.synAcked) {
    acked--; // our SYN
    t.synAcked = true;
  }
  const data = acked < t.tx.length ? acked : t.tx.length; // beyond: our FIN
  t.tx.consume(data);
  t.sb.advance(seqDiff(ack, t.sndUna));
  t.sndUna = ack >>> 0;
  if (seqDiff(t.highRxt, t.sndUna) < 0) t.highRxt = t.sndUna;
  if (seqDiff(t.sndNxt, t.sndUna) < 0) t.sndNxt = t.sndUna;
  t.dupAcks = t.ltSent = t.ltBytes = 0;
  t.fastRetransmit = false;
  t.rtoStreak = 0;
  t.probeOut = false;
  if (t.inRecovery) {
    if (seqDiff(ack, t.recover) < 0) {
      // A partial ACK (RFC 6582 §3.2 step 5): the next hole is lost too, resend it at once.
      // With SACK the scoreboard says which holes to resend (RFC 6675 NextSeg).
      t.stats.partialAcks++;
      if (!t.sackOk) {
        t.fastRetransmit = true;
        t.cc.onPartialAck(data, t.mss);
        t.dupAcks = DUP_THRESH; // still in recovery: every further duplicate inflates cwnd (step 4)
      }
    } else {
      t.inRecovery = false;
      t.cc.onRecoveryEnd(now, seqDiff(t.sndMax, t.sndUna), t.mss);
      if (t.rackOffer && t.sackOk) t.rack.adaptReoWnd(t.sndUna, t.sndNxt, false, true);
    }
  } else {
    t.cc.onAck(now, data, t.mss, t.srtt);
  }
  if (!t.inRecovery && seqDiff(t.recover, t.sndUna) < 0) t.recover = t.sndUna;
  if (t.inTsEcr > 0) {
    // RFC 7323 §4.1: every ACK that moves SND.UNA echoes when the data it answers left.
    const r = (t.tsClock(now) - t.inTsEcr) >>> 0;
    if (r < 0x7fffffff) {
      t.rttActive = false;
      t.rttSample(r, data);
    }
  } else if (t.rttActive && seqDiff(ack, t.rttSeq) >= 0) {
    t.rttActive = false;
    t.rttSample(now - t.rttTime, 0);
  }
  if (t.sndUna === t.sndMax) {
    t.rtoAt = -1;
    t.unackedSince = -1;
  } else {
    t.rtoAt = now + t.rto;
    t.unackedSince = now;
  }
  t.armPto(now);
}

/**
 * RACK on an ACK (RFC 8985 §6.2): the records delivered, RFC 6675's IsLost and RACK's time
 * rule mark what is lost, the reordering timer for the rest; then the end of a probe's episode
 * (§7.4): a resent probe acknowledged beyond it without a D-SACK repaired a loss.
 */
function rackOnAck(t: TcpControl, now: number, h: TcpHeader, dsack: number): void {
  const rk = t.rack;
  // Int32 forms (`| 0`, seqDiff): a number beyond 2^31 − 1 passed to a call that is not inlined
  // is a heap number allocated per call; an int32 is not.
  const echoed = t.inTsEcr >= 0 ? seqDiff(t.inTsEcr, t.tsOffset) : NaN;
  rk.onAck(now, t.sndUna | 0, t.sb, echoed, t.minRtt);
  rk.adaptReoWnd(t.sndUna, t.sndNxt, dsack > 0, false);
  if (!t.sb.isEmpty) rk.markLostBelow(t.sndUna, t.sb.lostEnd(t.mss));
  if (!t.sb.isEmpty || t.inRecovery || t.rackAt >= 0) t.rackTimer(now);
  if (!t.tlpActive) return;
  const dsackEnd = seqDiff(t.tlpEnd, h.sack[1]); // 1: the probe carried our FIN
  if (dsack && t.tlpRetrans && dsackEnd >= 0 && dsackEnd <= 1) {
    t.tlpActive = false; // the probe was a duplicate: nothing was lost
  } else if (seqDiff(h.ack, t.tlpEnd) > 0 || (!t.tlpRetrans && h.ack === t.tlpEnd)) {
    t.tlpActive = false;
    if (t.tlpRetrans && !t.inRecovery) {
      t.stats.tlpRepairs++;
      const flight = seqDiff(t.sndMax, t.sndUna);
      t.cc.onFastRetransmit(now, flight, t.mss, true);
      t.cc.onRecoveryEnd(now, flight, t.mss);
    }
    t.armPto(now); // the episode is over: the next probe may be armed
  }
}
