/**
 * The send side of a TCP connection: the timers (retransmission, delayed ACK, keep-alive,
 * TIME-WAIT, RACK-TLP), the plan of the next segment (what to send: SYN, data within the peer's
 * window and the congestion window, a retransmission, a probe, a FIN, an ACK) written into the
 * connection's outbound header, and its commit once the egress took it. Internal:
 * {@linkcode TcpSocket.dispatch} checks the arguments and drives these.
 *
 * @module
 */
import { seqDiff, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from "../wire/tcp.ts";
import { CLOSED, LISTEN, SYN_RECEIVED, SYN_SENT, TIME_WAIT } from "./tcp_config.ts";
import type { TcpControl } from "./tcp_control.ts";

// What the next segment is (see plan).
/** Nothing to send. */
export const NONE = 0;
/** An RST (queued by queueRst). */
export const SEND_RST = 1;
/** Our SYN or SYN-ACK. */
export const SEND_SYN = 2;
/** Data and/or FIN, or a pure ACK. */
export const SEND_DATA = 3;

/** Runs the timers due at `now`: TIME-WAIT, user timeout, keep-alive, RACK, the probe timeout and the RTO. */
export function timers(t: TcpControl, now: number): void {
  const s = t.state;
  if (s === CLOSED || s === LISTEN) return;
  if (s === TIME_WAIT) {
    if (now >= t.timeWaitAt) t.toClosed("Closed");
    return;
  }
  if (t.userTimeout > 0 && t.unackedSince >= 0 && now - t.unackedSince >= t.userTimeout) {
    t.toClosed("TimedOut");
    return;
  }
  const k = t.keepAliveTime();
  if (k >= 0 && now >= k) {
    if (t.keepAliveSent >= t.keepAliveProbes) {
      t.toClosed("TimedOut");
      return;
    }
    t.keepAliveDue = true;
  }
  if (t.rackAt >= 0 && now >= t.rackAt) t.rackTimer(now);
  if (t.ptoAt >= 0 && now >= t.ptoAt) {
    // RFC 8985 §7.3: the probe goes out on this dispatch; the RTO is pushed back from now.
    t.ptoAt = -1;
    if (t.sndMax !== t.sndUna && !t.inRecovery && !t.tlpActive) {
      t.tlpDue = true;
      t.rtoAt = now + t.rto;
    }
  }
  if (t.rtoAt >= 0 && now >= t.rtoAt) {
    t.rtoAt = -1;
    t.ptoAt = t.rackAt = -1;
    t.tlpDue = t.tlpActive = false;
    t.stats.timeouts++;
    const rto = t.rto;
    t.rto = Math.min(t.rto * 2, t.maxRto);
    t.rttActive = false; // Karn: no sample from a retransmitted segment
    t.dupAcks = t.ltSent = t.ltBytes = 0;
    if (t.state === SYN_SENT || t.state === SYN_RECEIVED) {
      if (t.synRetransmits++ >= t.synRetries) {
        if (t.passive) t.backToListen();
        else t.toClosed("TimedOut");
        return;
      }
      t.sndNxt = t.iss; // the SYN again
    } else if (t.sndMax !== t.sndUna && !(t.probeOut && t.sndWnd === 0)) {
      // Go back to SND.UNA and slow-start from one segment (RFC 5681 §3.1, RFC 6298 §5.4);
      // duplicate ACKs of what was sent before stay below `recover` (RFC 6582 §4).
      // A repeated timeout: the peer may have dropped what it SACKed (RFC 2018 §8).
      if (t.rtoStreak > 0) t.sb.clear();
      t.rack.onTimeout();
      t.cc.onTimeout(now, seqDiff(t.sndMax, t.sndUna), t.mss, t.rtoStreak++ === 0);
      t.fastRetransmit = false;
      t.inRecovery = false;
      t.recover = t.sndMax;
      t.sndNxt = t.sndUna;
      t.probeDue = true; // a closed window still gets a byte
    } else {
      // Persist timer: a probe goes out whatever the window (the same byte again when one is
      // out). A refused probe is no loss: cwnd stays (as Linux's tcp_probe_timer).
      if (!t.persisting) {
        t.persisting = true;
        t.persistRto = rto;
      }
      t.sndNxt = t.sndUna;
      t.probeDue = true;
    }
  }
}

/**
 * Decides the next segment and fills `out` (and the plan fields) without changing state.
 * `now` = -Infinity asks only for what is due regardless of timers (for pollAt).
 */
export function plan(t: TcpControl, now: number, mtu: number): number {
  const o = t.out;
  const s = t.state;
  if (t.rstPending) {
    o.reset();
    o.srcPort = t.localPort;
    o.dstPort = t.remotePort;
    o.dstPort = t.rstDstPort;
    o.seq = t.rstSeq;
    o.ack = t.rstAck;
    o.flags = t.rstFlags;
    t.planLen = 0;
    t.planPos = 0;
    return SEND_RST;
  }
  if (s === CLOSED || s === LISTEN) return NONE;
  if ((s === SYN_SENT || s === SYN_RECEIVED) && t.sndNxt === t.iss) {
    o.reset();
    o.srcPort = t.localPort;
    o.dstPort = t.remotePort;
    o.seq = t.iss;
    o.flags = s === SYN_SENT ? TCP_SYN : TCP_SYN | TCP_ACK;
    o.ack = s === SYN_SENT ? 0 : t.rcvNxt;
    o.mss = Math.min(Math.max(mtu - 40, 1), 0xffff);
    if (s === SYN_SENT || t.peerOfferedScale) o.windowScale = t.ourShift;
    if (s === SYN_SENT ? t.sackOffer : t.sackOk) o.sackPermitted = true;
    if (s === SYN_SENT ? t.tsOffer : t.tsOk) {
      o.hasTimestamps = true;
      o.tsVal = t.tsClock(now);
      o.tsEcr = s === SYN_SENT ? 0 : t.tsRecent;
    }
    o.window = t.synWindow();
    t.planSeq = t.iss;
    t.planLen = 0;
    t.planPos = 0;
    t.planFlags = o.flags;
    return SEND_SYN;
  }
  if (s === SYN_SENT) return NONE;
  // Idle (what pollAt and the last round of each dispatch ask): nothing unsent (FIN included),
  // no retransmission, probe (zero-window or tail-loss) or keep-alive, no ACK due. The general
  // plan below says NONE too.
  const sent = seqDiff(t.sndNxt, t.sndUna);
  if (
    (t.finQueued ? sent > t.tx.length : sent >= t.tx.length) && !t.ackNow &&
    !t.fastRetransmit && !t.inRecovery && !t.probeDue && !t.keepAliveDue && !t.tlpDue &&
    !(t.ackAt >= 0 && now >= t.ackAt) && !t.windowUpdateDue()
  ) return NONE;
  // SYN-RECEIVED with the SYN-ACK out: nothing but ACKs until established.
  const canSend = t.canSendData();
  // SACK blocks on every ACK while holes remain or a D-SACK is owed (3 fit with timestamps).
  let nSack = 0;
  if (t.sackOk && (!t.asm.isEmpty || t.sackBlk.dsackPending)) {
    nSack = t.sackBlk.fill(o, t.asm, t.rcvNxt, t.tsOk ? 3 : 4);
  }
  const optLen = (t.tsOk ? 12 : 0) + (nSack > 0 ? 4 + 8 * nSack : 0);
  let rxt = false;
  let seq = t.sndNxt;
  let len = 0;
  let fin = false;
  let probe = false;
  let tlp = false;
  let lt = false;
  if (canSend) {
    const txLen = t.tx.length;
    // RFC 6691: the MSS counts payload and options; ours come off the payload.
    const maxPayload = Math.max(Math.min(t.mss, mtu - 40) - optLen, 1);
    let avail = 0;
    if (t.inRecovery && t.sackOk && !t.fastRetransmit) {
      // RFC 6675 §5: send while cwnd − pipe ≥ 1 SMSS; NextSeg rule 1 (a lost hole above HighRxt) first.
      // With RACK the send records say what is lost (and resent) and what is in flight.
      const out = seqDiff(t.sndMax, t.sndUna);
      const hr = seqDiff(t.highRxt, t.sndUna);
      const rack = t.rackOffer;
      avail = t.cc.cwnd - (rack ? t.rack.pipe() : t.sb.pipe(out, hr > 0 ? hr : 0, t.mss));
      const hole = avail < maxPayload
        ? -1
        : rack
        ? t.rack.nextLost(t.sndUna)
        : t.sb.nextHole(hr > 0 ? hr : 0, t.sb.lostEnd(t.mss));
      if (hole >= 0) {
        seq = (t.sndUna + hole) >>> 0;
        const room = (rack ? t.rack.lostEnd : t.sb.holeEnd) - hole;
        len = Math.min(maxPayload, room, txLen - hole > 0 ? txLen - hole : 0);
        fin = t.finSent && hole + len === txLen && len < room;
        rxt = len > 0 || fin; // else: new data below, within cwnd − pipe
      }
    }
    if (rxt) {
      // (the hole chosen above)
    } else if (t.tlpDue && !t.fastRetransmit) {
      // A tail-loss probe (RFC 8985 §7.3): new data if the peer's window takes it, else the
      // last segment again; cwnd does not hold it back.
      tlp = true;
      const inFlight = seqDiff(t.sndMax, t.sndUna);
      const rwin = seqDiff((t.sndUna + t.sndWnd) >>> 0, t.sndMax);
      const unsent = txLen - inFlight;
      if (unsent > 0 && rwin > 0 && !t.finSent) {
        seq = t.sndMax;
        len = Math.min(unsent, maxPayload, rwin);
        fin = t.finQueued && inFlight + len === txLen;
      } else {
        const dataInFlight = inFlight < txLen ? inFlight : txLen;
        const from = dataInFlight > maxPayload ? dataInFlight - maxPayload : 0;
        seq = (t.sndUna + from) >>> 0;
        len = dataInFlight - from;
        fin = t.finSent && inFlight > dataInFlight;
      }
    } else if (t.fastRetransmit) {
      seq = t.sndUna;
      const inFlight = seqDiff(t.sndMax, t.sndUna);
      len = Math.min(maxPayload, txLen, inFlight);
      fin = t.finSent && len === txLen && len < inFlight;
    } else {
      let pos = seqDiff(seq, t.sndUna);
      let unsent = txLen - pos;
      // Resending after a timeout: what the peer SACKed is skipped.
      if (!t.sb.isEmpty && seqDiff(seq, t.sndMax) < 0) {
        pos = t.sb.skipSacked(pos);
        seq = (t.sndUna + pos) >>> 0;
        const next = t.sb.nextSacked(pos);
        unsent = (next < txLen ? next : txLen) - pos;
      }
      const rwin = seqDiff((t.sndUna + t.sndWnd) >>> 0, seq);
      // Congestion control: min(SND.WND, cwnd) beyond SND.UNA; in SACK recovery cwnd − pipe.
      // (SACKed bytes below SND.NXT are not in flight.)
      const cwin = t.inRecovery && t.sackOk
        ? avail
        : t.cc.cwnd - (t.sb.isEmpty ? pos : pos - t.sb.sackedBelow(pos));
      let win = cwin < rwin ? cwin : rwin;
      // Limited Transmit (RFC 3042; with SACK, SACKed bytes leave the flight instead): each of the
      // first two duplicate ACKs lets one new segment out beyond cwnd, cwnd unchanged.
      if (
        !t.sackOk && t.dupAcks > t.ltSent && t.ltSent < 2 && cwin < maxPayload &&
        !t.inRecovery && seq === t.sndMax && t.cc.state === "Open"
      ) {
        win = maxPayload < rwin ? maxPayload : rwin;
        lt = true;
      }
      if (unsent > 0) {
        len = Math.min(unsent, maxPayload, win > 0 ? win : 0);
        if (len > 0 && len < maxPayload && len < unsent && len < (t.maxSndWnd >>> 1)) {
          len = 0; // silly-window avoidance: wait for a bigger window (the persist timer overrides)
        }
        // Nagle: hold a runt while data is in flight, but not the last one before our FIN.
        if (
          len > 0 && len < maxPayload && t.nagle && t.sndMax !== t.sndUna &&
          !(t.finQueued && len === unsent)
        ) len = 0;
        if (len === 0 && t.probeDue) {
          len = Math.min(unsent, maxPayload, win > 1 ? win : 1);
          probe = rwin <= 0;
        }
      }
      fin = t.finQueued && pos + len === txLen; // the FIN follows the last byte
    }
  }
  const ackDue = t.ackNow || (t.ackAt >= 0 && now >= t.ackAt) || t.windowUpdateDue();
  let keepAlive = false;
  if (len === 0 && !fin && !ackDue) {
    if (t.keepAliveDue) keepAlive = true;
    else return NONE;
  }
  o.reset();
  o.srcPort = t.localPort;
  o.dstPort = t.remotePort;
  o.seq = keepAlive ? (t.sndNxt - 1) >>> 0 : seq >>> 0;
  o.ack = t.rcvNxt;
  const last = len > 0 && seqDiff(seq, t.sndUna) + len === t.tx.length;
  o.flags = TCP_ACK | (fin ? TCP_FIN : 0) | (last ? TCP_PSH : 0);
  o.window = t.windowField();
  if (t.tsOk) {
    o.hasTimestamps = true;
    o.tsVal = t.tsClock(now);
    o.tsEcr = t.tsRecent;
  }
  o.sackCount = nSack; // (the blocks sit in o.sack since the fill above)
  t.planSack = nSack;
  t.planSeq = seq;
  t.planPos = len > 0 ? seqDiff(seq, t.sndUna) : 0; // (past the data once the FIN is out)
  t.planLen = len;
  t.planFlags = (fin ? TCP_FIN : 0) | (keepAlive ? 0x100 : 0) | (probe ? 0x200 : 0) |
    (rxt ? 0x400 : 0) |
    (tlp ? 0x800 : 0) | (lt && len > 0 ? 0x1000 : 0);
  return SEND_DATA;
}

/** Commits the segment `plan` described, once the egress took it. */
export function commit(t: TcpControl, now: number, kind: number): void {
  t.stats.segmentsOut++;
  if (kind === SEND_RST) {
    t.rstPending = false;
    t.stats.resetsOut++;
    return;
  }
  // Every segment but an RST carries our current window and acknowledges RCV.NXT.
  if (t.acksOwed > 0) t.acksOwed--;
  else t.ackNow = false;
  t.ackAt = -1;
  t.fullSegments = 0;
  t.lastAckSent = t.out.ack;
  if (t.planSack > 0) {
    t.stats.sackAcksOut++;
    if (t.sackBlk.dsackPending) {
      t.stats.dsacksOut++;
      t.sackBlk.sent();
    }
  }
  const right = (t.rcvNxt + (t.out.window << t.rcvShift)) >>> 0;
  if (kind === SEND_SYN) {
    t.rcvAdvRight = (t.rcvNxt + t.out.window) >>> 0;
  } else if (seqDiff(right, t.rcvAdvRight) > 0) t.rcvAdvRight = right;
  if (kind === SEND_SYN) {
    if (seqDiff(t.sndMax, t.iss) > 0) t.stats.retransmits++;
    t.armRto(now, t.iss, 1);
    t.sndNxt = (t.iss + 1) >>> 0;
    if (seqDiff(t.sndNxt, t.sndMax) > 0) t.sndMax = t.sndNxt;
    return;
  }
  const f = t.planFlags;
  if (f & 0x100) {
    t.stats.keepAlives++;
    t.keepAliveSent++;
    t.keepAliveDue = false;
    return;
  }
  const len = t.planLen;
  const segLen = len + ((f & TCP_FIN) ? 1 : 0);
  if (segLen === 0) return; // a pure ACK
  const seq = t.planSeq;
  if (f & 0x200) t.stats.windowProbes++;
  if (f & 0x1000) {
    t.ltSent++;
    t.ltBytes += len;
  }
  t.probeOut = (f & 0x200) !== 0 && seq === t.sndUna;
  t.probeDue = false;
  t.lastSend = now;
  t.stats.bytesOut += len;
  const resent = seqDiff(seq, t.sndMax) < 0;
  if (resent) t.stats.retransmits++;
  if (f & TCP_FIN) t.finSent = true;
  t.armRto(now, seq, segLen);
  if (t.rackOffer && t.sackOk) {
    t.rack.sent(seq, segLen, now);
    if (f & 0x800) {
      t.stats.tlpProbes++;
      t.tlpDue = false;
      t.tlpActive = true;
      t.tlpRetrans = resent;
      t.tlpEnd = (seq + segLen) >>> 0;
      t.rttActive = t.rttActive && !resent;
    } else if (!resent) t.armPto(now, seqDiff((seq + segLen) >>> 0, t.sndMax));
  }
  if (f & 0x400) {
    // A SACK-recovery retransmission: HighRxt moves, SND.NXT stays.
    t.stats.sackRetransmits++;
    t.highRxt = (seq + segLen) >>> 0;
    t.rttActive = false;
    return;
  }
  if (t.fastRetransmit) {
    if (seqDiff((seq + segLen) >>> 0, t.highRxt) > 0) t.highRxt = (seq + segLen) >>> 0;
    t.fastRetransmit = false;
    t.rttActive = false;
    return;
  }
  t.sndNxt = (seq + segLen) >>> 0;
  if (seqDiff(t.sndNxt, t.sndMax) > 0) t.sndMax = t.sndNxt;
}
