/**
 * A TCP connection (RFC 9293) as a pure state machine: it is fed segments (a parsed header and
 * a payload view) at a virtual time `now` in milliseconds, emits segments through a narrow
 * {@linkcode TcpEgress} when {@linkcode TcpSocket.dispatch} is called, and says in
 * {@linkcode TcpSocket.pollAt} when it next needs to be. It knows nothing of interfaces, ports
 * or mbufs; the interface demultiplexes by 4-tuple and calls it.
 *
 * Sequence numbers are unsigned 32-bit numbers compared with `seqDiff` (mod 2^32). After
 * construction nothing is allocated per segment: the rings, the assembler and the outbound
 * header are preallocated.
 *
 * @module
 */
import { seqDiff, TCP_ACK, TCP_FIN, TCP_MAX_WINDOW_SCALE, TCP_RST, TCP_SYN, TcpHeader } from "../wire/tcp.ts";
import { isBytes } from "../args.ts";
import type { TcpCongestionControl, TcpCongestionState } from "./congestion.ts";
import { checkInteger, SocketError } from "./error.ts";
import {
  CLOSE_WAIT,
  CLOSED,
  ESTABLISHED,
  FIN_WAIT_1,
  LAST_ACK,
  LISTEN,
  STATE_NAMES,
  SYN_RECEIVED,
  SYN_SENT,
  type TcpCloseReason,
  type TcpConfig,
  type TcpEgress,
  type TcpSocketStats,
  type TcpState,
  TIME_WAIT,
} from "./tcp_config.ts";
import { TcpControl } from "./tcp_control.ts";
import { commit, NONE, plan, SEND_RST, timers } from "./tcp_output.ts";
import { onListen, onSynchronized, onSynSent } from "./tcp_input.ts";

export {
  type TcpCloseReason,
  type TcpConfig,
  type TcpEgress,
  TcpSocketStats,
  type TcpState,
} from "./tcp_config.ts";

export { setTcpHeaderPrediction, tcpHeaderPredictions } from "./tcp_input.ts";

/**
 * One TCP connection endpoint. Drive it with {@linkcode TcpSocket.process} (inbound segments),
 * {@linkcode TcpSocket.dispatch} (outbound) and {@linkcode TcpSocket.pollAt}; use it with
 * {@linkcode TcpSocket.connect} / {@linkcode TcpSocket.listen}, `send`/`recv` (copying) or
 * `sendView`/`recvView` (in place), {@linkcode TcpSocket.close} (FIN) and
 * {@linkcode TcpSocket.abort} (RST).
 */
export class TcpSocket implements Disposable {
  /** Counters. */
  readonly stats: TcpSocketStats;
  /** The connection's state; the receive and send sides are functions over it. */
  readonly #c: TcpControl;

  /**
   * Creates a closed socket with its rings. With `storage` (a closed socket made with the same
   * buffer sizes, for pools such as `TcpListener`'s) it takes that socket's rings,
   * reassembly and loss-detection records instead of allocating them, emptied; `storage` is
   * disposed then (its later use throws `Disposed`, and it shows empty rings), so no reference
   * to it reaches the new connection.
   * @throws {SocketError} `InvalidArgument` for an option out of range, or a `storage` that is
   * not a socket or has other buffer sizes; `InvalidState` for a `storage` that is open or whose
   * storage was taken already.
   */
  constructor(config: TcpConfig = {}, storage?: TcpSocket) {
    this.#c = new TcpControl(
      config,
      (rxSize, txSize, maxOoo) =>
        storage === undefined ? null : TcpSocket.#storageOf(storage, rxSize, txSize, maxOoo),
    );
    this.stats = this.#c.stats;
  }

  // ---- State and addresses ----------------------------------------------------------------

  /** The connection state. */
  get state(): TcpState {
    return STATE_NAMES[this.#c.state];
  }
  /** Why the connection ended, `"None"` while it has not (reset by `connect`/`listen`). */
  get closeReason(): TcpCloseReason {
    return this.#c.reason;
  }
  /** Local address (u32). */
  get localIp(): number {
    return this.#c.localIp;
  }
  /** Local port. */
  get localPort(): number {
    return this.#c.localPort;
  }
  /** Remote address (u32; 0 while listening). */
  get remoteIp(): number {
    return this.#c.remoteIp;
  }
  /** Remote port (0 while listening). */
  get remotePort(): number {
    return this.#c.remotePort;
  }
  /** True in states where the connection can carry data both ways or one way (not Closed, Listen, TimeWait). */
  get isOpen(): boolean {
    return this.#c.state !== CLOSED && this.#c.state !== LISTEN && this.#c.state !== TIME_WAIT;
  }
  /** True once the handshake completed and until the connection closed. */
  get isEstablished(): boolean {
    return this.#c.state >= ESTABLISHED && this.#c.state !== TIME_WAIT;
  }
  /** The MSS this socket sends with: min(peer's MSS, MTU − 40). */
  get mss(): number {
    return this.#c.mss;
  }
  /** The current retransmission timeout (ms). */
  get rto(): number {
    return this.#c.rto;
  }
  /** The smoothed RTT (ms), or -1 before the first sample. */
  get srtt(): number {
    return this.#c.srtt;
  }
  /** Nagle's algorithm (RFC 896) on this socket: settable at any time, as `TCP_NODELAY` (default from the config). */
  get nagle(): boolean {
    return this.#c.nagle;
  }
  set nagle(on: boolean) {
    if (typeof on !== "boolean") {
      throw new SocketError("InvalidArgument", `nagle: ${String(on)} is not a boolean`);
    }
    this.#c.nagle = on;
  }
  /** The congestion control algorithm. */
  get congestionControl(): TcpCongestionControl {
    return this.#c.cc.kind;
  }
  /** The congestion window in bytes (before the first data: the initial window to come). */
  get cwnd(): number {
    return this.#c.cc.cwnd;
  }
  /** The slow-start threshold in bytes. */
  get ssthresh(): number {
    return this.#c.cc.ssthresh;
  }
  /** Open, in fast recovery (`"Recovery"`) or after a retransmission timeout (`"Loss"`). */
  get congestionState(): TcpCongestionState {
    return this.#c.cc.state;
  }
  /** True when timestamps (RFC 7323) are in use on this connection. */
  get timestamps(): boolean {
    return this.#c.tsOk;
  }
  /** True when selective acknowledgments (RFC 2018) are in use on this connection. */
  get sack(): boolean {
    return this.#c.sackOk;
  }
  /** The peer's receive window in bytes (scaled). */
  get sendWindow(): number {
    return this.#c.sndWnd;
  }
  /** Window scale shifts in use: [ours (applied to our window field), the peer's]. */
  get windowScales(): [number, number] {
    return [this.#c.rcvShift, this.#c.sndShift];
  }
  /** Bytes queued in the send ring (unacknowledged or unsent). */
  get sendQueue(): number {
    return this.#c.tx.length;
  }
  /** Bytes ready to be read. */
  get recvQueue(): number {
    return this.#c.rx.length;
  }
  /** Free bytes of the send ring. */
  get sendCapacity(): number {
    return this.#c.tx.free;
  }
  /** True while `send` accepts data (connecting or established, not yet closed by us). */
  get maySend(): boolean {
    const s = this.#c.state;
    return !this.#c.finQueued &&
      (s === SYN_SENT || s === SYN_RECEIVED || s === ESTABLISHED || s === CLOSE_WAIT);
  }
  /** True while data is buffered or may still arrive (false once the peer's FIN and all data were read, or closed). */
  get mayRecv(): boolean {
    return this.#c.rx.length > 0 || (!this.#c.rxFin && this.#c.state !== CLOSED);
  }

  // ---- Opening and closing ------------------------------------------------------------------

  /**
   * Active open: sends a SYN from `localIp:localPort` to `remoteIp:remotePort` on the next
   * dispatch. `now` picks the initial sequence number (RFC 6528).
   * @throws {SocketError} `InvalidState` unless closed; `InvalidArgument` for an address or port 0 or out of range.
   */
  connect(localIp: number, localPort: number, remoteIp: number, remotePort: number, now: number): void {
    this.#live();
    if (this.#c.state !== CLOSED) {
      throw new SocketError("InvalidState", `connect: the socket is ${this.state}`);
    }
    checkInteger("connect: localIp", localIp, 1, 0xffffffff); // the checksum needs the real source
    checkInteger("connect: remoteIp", remoteIp, 1, 0xffffffff);
    checkInteger("connect: localPort", localPort, 1, 0xffff);
    checkInteger("connect: remotePort", remotePort, 1, 0xffff);
    checkTime("connect", now);
    this.#c.reset();
    this.#c.localIp = localIp;
    this.#c.localPort = localPort;
    this.#c.remoteIp = remoteIp;
    this.#c.remotePort = remotePort;
    this.#c.iss = this.#c.isn.next(localIp, localPort, remoteIp, remotePort, now);
    this.#c.sndUna = this.#c.sndNxt = this.#c.sndMax = this.#c.iss;
    this.#c.tsOffset = this.#c.iss; // a TSval that says nothing of our clock or other connections
    this.#c.lastRecv = now;
    this.#c.state = SYN_SENT;
  }

  /**
   * Passive open: waits for a SYN to `localPort` (on `localIp`, 0 for any address).
   * @throws {SocketError} `InvalidState` unless closed; `InvalidArgument` for a port out of range.
   */
  listen(localIp: number, localPort: number): void {
    this.#live();
    if (this.#c.state !== CLOSED) {
      throw new SocketError("InvalidState", `listen: the socket is ${this.state}`);
    }
    checkInteger("listen: localIp", localIp, 0, 0xffffffff);
    checkInteger("listen: localPort", localPort, 1, 0xffff);
    this.#c.reset();
    this.#c.listenIp = localIp;
    this.#c.localIp = localIp;
    this.#c.localPort = localPort;
    this.#c.state = LISTEN;
  }

  /**
   * Closes our sending half: a FIN follows the queued data (half-close; receiving goes on until
   * the peer's FIN). A listening or connecting socket closes at once. Idempotent.
   */
  close(): void {
    this.#live();
    switch (this.#c.state) {
      case LISTEN:
      case SYN_SENT:
        this.#c.toClosed("Closed");
        return;
      case SYN_RECEIVED:
      case ESTABLISHED:
        this.#c.queueFin();
        // SYN-RECEIVED moves to FIN-WAIT-1 once established (RFC 9293: after the handshake).
        if (this.#c.state === ESTABLISHED) this.#c.state = FIN_WAIT_1;
        return;
      case CLOSE_WAIT:
        this.#c.queueFin();
        this.#c.state = LAST_ACK;
        return;
      default:
        return;
    }
  }

  /**
   * Resets the connection: an RST goes out on the next dispatch (in SYN-RECEIVED, ESTABLISHED,
   * FIN-WAIT-1/2 and CLOSE-WAIT), then Closed. In CLOSING, LAST-ACK and TIME-WAIT both sides have
   * closed: the connection is only forgotten (RFC 9293 §3.10.5).
   */
  abort(): void {
    this.#live();
    const s = this.#c.state;
    if (s === SYN_RECEIVED || (s >= ESTABLISHED && s <= CLOSE_WAIT)) {
      this.#c.queueRst(this.#c.sndNxt, 0, TCP_RST, this.#c.localIp, this.#c.remoteIp, this.#c.remotePort);
    }
    if (s !== CLOSED) this.#c.toClosed("Aborted");
  }

  /**
   * Aborts an open connection (see {@linkcode TcpSocket.abort}); later calls of the application's
   * methods (connect, listen, close, abort, send and recv in all their forms) are typed `Disposed`
   * errors. The driving methods (`process`, `dispatch`, `pollAt`) keep working on the closed
   * socket, so that its interface can still send the RST the abort queued. Idempotent.
   */
  [Symbol.dispose](): void {
    if (this.#c.disposed) return;
    if (this.#c.state !== CLOSED) this.abort();
    this.#c.disposed = true;
  }

  // ---- Data ---------------------------------------------------------------------------------

  /**
   * Queues up to `length` bytes (default: the rest) of `src[offset ..]` for sending; returns how many fit in the
   * send ring (0 when full).
   * @throws {SocketError} `InvalidState` after `close` or outside a connection; `InvalidArgument` for a bad range.
   */
  send(src: Uint8Array, offset: number = 0, length?: number): number {
    this.#checkSend();
    const n = checkRange("send", src, offset, length);
    return this.#c.tx.write(src, offset, n);
  }

  /**
   * Zero-copy send: the number of free bytes contiguous in the send ring, to be written at
   * `txBytes[txOffset ..]`; then {@linkcode TcpSocket.sendCommit} says how many were written.
   */
  sendView(): number {
    this.#checkSend();
    return this.#c.tx.contiguous(this.#c.tx.length, this.#c.tx.free);
  }
  /**
   * The send ring's memory (see {@linkcode TcpSocket.sendView}), over a `SharedArrayBuffer`: it
   * cannot be transferred away from the socket.
   */
  get txBytes(): Uint8Array {
    return this.#c.tx.storage;
  }
  /** Where in {@linkcode TcpSocket.txBytes} the free space {@linkcode TcpSocket.sendView} reported starts. */
  get txOffset(): number {
    return this.#c.tx.indexOf(this.#c.tx.length);
  }
  /**
   * Queues `n` bytes written at `txBytes[txOffset ..]`.
   * @throws {SocketError} `InvalidArgument` when `n` exceeds what `sendView` reported.
   */
  sendCommit(n: number): void {
    this.#checkSend();
    checkInteger("sendCommit: n", n, 0, this.#c.tx.contiguous(this.#c.tx.length, this.#c.tx.free));
    this.#c.tx.commit(n);
  }

  /**
   * Moves up to `length` (default: the rest of `dst`) received bytes into `dst[offset ..]`. Returns how many; 0 when none is
   * buffered now; -1 at the end of the stream (the peer's FIN and all data read, or the
   * connection gone).
   * @throws {SocketError} `InvalidArgument` for a bad range.
   */
  recv(dst: Uint8Array, offset: number = 0, length?: number): number {
    this.#live();
    const n = checkRange("recv", dst, offset, length);
    if (this.#c.rx.length === 0) return this.mayRecv ? 0 : -1;
    return this.#c.rx.read(dst, offset, n);
  }

  /**
   * Zero-copy receive: the number of received bytes contiguous at `rxBytes[rxOffset ..]` (0 when
   * none; -1 at the end of the stream, as `recv`). Release them with {@linkcode TcpSocket.recvRelease}.
   */
  recvView(): number {
    this.#live();
    if (this.#c.rx.length === 0) return this.mayRecv ? 0 : -1;
    return this.#c.rx.contiguous(0, this.#c.rx.length);
  }
  /**
   * The receive ring's memory (see {@linkcode TcpSocket.recvView}), over a `SharedArrayBuffer`: it
   * cannot be transferred away from the socket.
   */
  get rxBytes(): Uint8Array {
    return this.#c.rx.storage;
  }
  /** Where in {@linkcode TcpSocket.rxBytes} the bytes {@linkcode TcpSocket.recvView} reported start. */
  get rxOffset(): number {
    return this.#c.rx.indexOf(0);
  }
  /**
   * True when `length` bytes at sequence `seq` would land at the receive ring's end: ESTABLISHED,
   * `seq` the next expected, nothing held out of order, room for them. The interface then copies
   * them there itself while it sums them for the checksum (a ring's `writeAt` onto the same place
   * copies nothing). @internal
   */
  placesAtEnd(seq: number, length: number): boolean {
    return this.#c.state === ESTABLISHED && seq === this.#c.rcvNxt && this.#c.asm.isEmpty &&
      length <= this.#c.rx.free;
  }
  /**
   * Releases `n` bytes of those `recvView` reported.
   * @throws {SocketError} `InvalidArgument` when `n` exceeds them.
   */
  recvRelease(n: number): void {
    this.#live();
    checkInteger("recvRelease: n", n, 0, this.#c.rx.contiguous(0, this.#c.rx.length));
    this.#c.rx.consume(n);
  }

  // ---- Driving -------------------------------------------------------------------------------

  /**
   * Feeds one inbound segment addressed to this socket (the interface matched its 4-tuple, or
   * its port for a listening socket) at time `now`: `h` parsed by `parseTcp` (checksum
   * verified), its payload `payload[offset .. offset + length)`. Never throws on segment content;
   * what to answer goes out on the next dispatch.
   * @throws {SocketError} `InvalidArgument` for a payload range outside `payload` or a bad `now`.
   */
  process(
    now: number,
    src: number,
    dst: number,
    h: TcpHeader,
    payload: Uint8Array,
    offset: number,
    length: number,
  ): void {
    // Cheap checks of the caller's numbers (a bad range or time is a bug in the caller, not the wire).
    if (
      !(h instanceof TcpHeader) || !(payload instanceof Uint8Array) || typeof now !== "number" ||
      typeof offset !== "number" || typeof length !== "number" || typeof src !== "number" ||
      typeof dst !== "number" ||
      !(now >= 0 && offset >= 0 && length >= 0 && offset + length <= payload.length)
    ) {
      throw new SocketError(
        "InvalidArgument",
        `process: needs a TcpHeader, numbers, a time ≥ 0 and a range within a Uint8Array payload; got ` +
          `now ${String(now)}, offset ${String(offset)}, length ${String(length)}`,
      );
    }
    const c = this.#c;
    this.stats.segmentsIn++;
    // The interface demultiplexes; a segment for another endpoint is still never taken.
    if (
      h.dstPort !== c.localPort ||
      (c.state !== LISTEN && c.state !== CLOSED &&
        (src !== c.remoteIp || h.srcPort !== c.remotePort || dst !== c.localIp))
    ) {
      this.stats.dropIgnored++;
      return;
    }
    switch (c.state) {
      case CLOSED:
        this.stats.dropIgnored++; // the interface answers segments to no connection (tcpResetFor)
        return;
      case LISTEN:
        return onListen(c, now, src, dst, h);
      case SYN_SENT:
        return onSynSent(c, now, h);
    }
    onSynchronized(c, now, h, payload, offset, length);
    c.gauges();
  }

  /**
   * Sends what is due at `now` through `egress` (handshake, data, FIN, ACKs, probes,
   * retransmissions, RST), running the timers first. Returns the number of segments sent.
   * @throws {SocketError} `InvalidArgument` for a bad `now`.
   */
  dispatch(now: number, egress: TcpEgress): number {
    const c = this.#c;
    if (typeof now !== "number" || !(now >= 0)) {
      throw new SocketError("InvalidArgument", `dispatch: now ${String(now)} is not a time ≥ 0 (ms)`);
    }
    const linkMtu = egress?.mtu; // (read once: an interface's egress has it as a getter)
    if (typeof egress?.transmit !== "function" || !(linkMtu >= 41)) {
      throw new SocketError("InvalidArgument", "dispatch: egress must have transmit() and an mtu ≥ 41");
    }
    timers(c, now);
    const mtu = linkMtu < 0xffff ? linkMtu : 0xffff; // an IPv4 packet's length field
    c.rcvMss = Math.max(mtu - 40, 1);
    c.mss = Math.max(Math.min(c.peerMss, mtu - 40), 1);
    // Restart after idle (RFC 5681 §4.1): nothing in flight, new data to send, silent for an RTO.
    if (
      c.lastSend >= 0 && now - c.lastSend > c.rto && c.sndMax === c.sndUna &&
      c.tx.length > 0 && c.canSendData()
    ) {
      if (c.cc.restartAfterIdle(c.mss)) this.stats.idleRestarts++;
      c.lastSend = -1;
    }
    let sent = 0;
    c.dispatchIdle = false;
    for (let guard = 0; guard < 256; guard++) {
      const kind = plan(c, now, mtu);
      if (kind === NONE) {
        c.dispatchIdle = true; // nothing to send now: pollAtAfterDispatch needs no second plan
        break;
      }
      const src = kind === SEND_RST ? c.rstSrcIp : c.localIp;
      const dst = kind === SEND_RST ? c.rstDstIp : c.remoteIp;
      if (!egress.transmit(src, dst, c.out, c.tx, c.planPos, c.planLen)) break;
      commit(c, now, kind);
      sent++;
    }
    // Persist timer: data waits for a window and nothing is in flight to draw an ACK.
    if (c.rtoAt < 0 && c.sndMax === c.sndUna && c.canSendData()) {
      if (c.tx.length > seqDiff(c.sndNxt, c.sndUna)) c.rtoAt = now + c.rto;
    }
    c.gauges();
    return sent;
  }

  /**
   * When {@linkcode TcpSocket.dispatch} next needs to run: 0 when something is due now, a time
   * in ms for the nearest timer, `Infinity` when nothing is pending.
   */
  pollAt(): number {
    if (plan(this.#c, Number.NEGATIVE_INFINITY, this.#c.mss + 40) !== NONE) return 0;
    return this.#c.timerAt();
  }

  /**
   * {@linkcode TcpSocket.pollAt} right after a dispatch, before anything else touches the socket:
   * when that dispatch stopped because nothing was left to send, only the timers. @internal
   */
  pollAtAfterDispatch(): number {
    return this.#c.dispatchIdle ? this.#c.timerAt() : this.pollAt();
  }

  // (The receive side is in tcp_input.ts, the timers and the send side in tcp_output.ts.)

  #checkSend(): void {
    this.#live();
    if (!this.maySend) {
      throw new SocketError(
        "InvalidState",
        `send: the socket is ${this.state}${this.#c.finQueued ? " and closed for sending" : ""}`,
      );
    }
  }

  // ---- For the listener (SYN cookies, TIME-WAIT reuse) -----------------------------------------

  /**
   * @internal For a listener that validated a SYN cookie (RFC 4987): makes this closed socket
   * the SYN-RECEIVED end of the handshake the cookie stands for, our SYN-ACK (ISN `iss`) sent
   * and not retransmitted, so that feeding it the peer's ACK (`process`) establishes it.
   * `peerMss` is the MSS the cookie carries, `windowScale` the peer's shift (-1: none), `sack`
   * and `timestamps` what the SYN-ACK agreed to, `tsRecent` the ACK's TSval.
   */
  cookieHandshake(
    listenIp: number,
    localIp: number,
    localPort: number,
    remoteIp: number,
    remotePort: number,
    iss: number,
    irs: number,
    peerMss: number,
    windowScale: number,
    sack: boolean,
    timestamps: boolean,
    tsRecent: number,
    now: number,
  ): void {
    this.#live();
    if (this.#c.state !== CLOSED) {
      throw new SocketError("InvalidState", `cookieHandshake: the socket is ${this.state}`);
    }
    this.#c.reset();
    this.#c.listenIp = listenIp;
    this.#c.localIp = localIp;
    this.#c.localPort = localPort;
    this.#c.remoteIp = remoteIp;
    this.#c.remotePort = remotePort;
    this.#c.peerMss = peerMss;
    this.#c.peerOfferedScale = windowScale >= 0;
    this.#c.sndShift = windowScale >= 0 ? Math.min(windowScale, TCP_MAX_WINDOW_SCALE) : 0;
    this.#c.rcvShift = windowScale >= 0 ? this.#c.ourShift : 0;
    this.#c.tsOk = timestamps && this.#c.tsOffer;
    this.#c.sackOk = sack && this.#c.sackOffer;
    if (this.#c.tsOk) this.#c.tsRecent = tsRecent;
    this.#c.irs = irs >>> 0;
    this.#c.rcvNxt = (irs + 1) >>> 0;
    this.#c.lastAckSent = this.#c.rcvNxt;
    this.#c.rcvAdvRight = (this.#c.rcvNxt + this.#c.synWindow()) >>> 0;
    this.#c.iss = iss >>> 0;
    this.#c.sndUna = this.#c.iss;
    this.#c.sndNxt = this.#c.sndMax = (iss + 1) >>> 0;
    this.#c.tsOffset = this.#c.iss; // the SYN-ACK's TSval came from this clock (SynCookies.tsVal)
    this.#c.sndWl1 = irs >>> 0;
    this.#c.sndWl2 = this.#c.iss;
    this.#c.lastRecv = now;
    this.#c.passive = true;
    this.#c.state = SYN_RECEIVED;
  }

  /**
   * @internal RFC 6191 / RFC 9293 §3.10.7.4 (as Linux decides it): true when this socket is in
   * TIME-WAIT and `h` is a SYN (no ACK, no RST) that may open a new incarnation of the
   * connection: a timestamp newer than the last one seen (when this connection used them), or
   * else a sequence number above RCV.NXT — and the timestamp not older (PAWS).
   */
  timeWaitReusableBy(h: TcpHeader): boolean {
    if (this.#c.state !== TIME_WAIT || (h.flags & (TCP_SYN | TCP_ACK | TCP_RST)) !== TCP_SYN) return false;
    if (this.#c.tsOk && h.hasTimestamps) {
      const d = seqDiff(h.tsVal, this.#c.tsRecent);
      if (d < 0) return false; // PAWS
      if (d > 0) return true;
    }
    return seqDiff(h.seq, this.#c.rcvNxt) > 0;
  }

  /** @internal Ends TIME-WAIT at once (its 4-tuple goes to a new connection): Closed, nothing sent. */
  endTimeWait(): void {
    if (this.#c.state === TIME_WAIT) this.#c.toClosed("Closed");
  }

  // ---- Pooled storage (see the constructor) ---------------------------------------------------

  /** The state of `s`, checked as the storage of a new socket with these sizes. */
  static #storageOf(s: unknown, rxSize: number, txSize: number, maxOoo: number): TcpControl {
    if (!(s instanceof TcpSocket)) {
      throw new SocketError("InvalidArgument", "TcpSocket: storage is not a TcpSocket");
    }
    const c = s.#c;
    if (c.storageTaken) throw new SocketError("InvalidState", "TcpSocket: storage was taken already");
    if (c.state !== CLOSED) throw new SocketError("InvalidState", `TcpSocket: storage is ${s.state}`);
    if (c.rx.capacity !== rxSize || c.tx.capacity !== txSize || c.asm.capacity !== maxOoo) {
      throw new SocketError(
        "InvalidArgument",
        `TcpSocket: storage has rings of ${c.rx.capacity}/${c.tx.capacity} bytes and ${c.asm.capacity} ` +
          `out-of-order ranges, not ${rxSize}/${txSize} and ${maxOoo}`,
      );
    }
    return c;
  }

  #live(): void {
    if (this.#c.disposed) throw new SocketError("Disposed", "TcpSocket: used after dispose");
  }
}

/** Checks `b[offset .. offset + length)` (`length` defaults to the rest) and returns the length. */
function checkRange(what: string, b: Uint8Array, offset: number, length: number | undefined): number {
  // The common case, with no message built: a view with bytes (a detached buffer's has none)
  // and whole numbers within it. Anything else takes the checks below, which say what is wrong.
  if (b instanceof Uint8Array && b.length > 0 && typeof offset === "number" && (offset >>> 0) === offset) {
    const room = b.length - offset;
    if (length === undefined) {
      if (room >= 0) return room;
    } else if (typeof length === "number" && (length >>> 0) === length && length <= room) return length;
  }
  return checkRangeSlow(what, b, offset, length);
}

function checkRangeSlow(what: string, b: Uint8Array, offset: number, length: number | undefined): number {
  if (!isBytes(b)) {
    throw new SocketError("InvalidArgument", `${what}: not a Uint8Array (or its buffer is detached)`);
  }
  checkInteger(`${what}: offset`, offset, 0, b.length);
  if (length === undefined) return b.length - offset;
  checkInteger(`${what}: length`, length, 0, b.length - offset);
  return length;
}

function checkTime(what: string, now: number): void {
  if (!Number.isFinite(now) || now < 0) {
    throw new SocketError("InvalidArgument", `${what}: now ${now} is not a finite time ≥ 0 (ms)`);
  }
}

/**
 * Fills `out` with the RST that answers a segment `h` (of `length` payload bytes) that no
 * connection takes (RFC 9293 §3.10.7.1), ports swapped. Returns false when `h` is itself an RST
 * (never answered).
 * @throws {SocketError} `InvalidArgument` for headers of the wrong kind or a length beyond 16 bits.
 */
export function tcpResetFor(h: TcpHeader, length: number, out: TcpHeader): boolean {
  if (!(h instanceof TcpHeader) || !(out instanceof TcpHeader)) {
    throw new SocketError("InvalidArgument", "tcpResetFor: h and out must be TcpHeaders");
  }
  checkInteger("tcpResetFor: length", length, 0, 0xffff);
  if (h.flags & TCP_RST) return false;
  out.reset();
  out.srcPort = h.dstPort;
  out.dstPort = h.srcPort;
  if (h.flags & TCP_ACK) {
    out.seq = h.ack;
    out.flags = TCP_RST;
  } else {
    out.ack = (h.seq + length + ((h.flags & TCP_SYN) ? 1 : 0) + ((h.flags & TCP_FIN) ? 1 : 0)) >>> 0;
    out.flags = TCP_RST | TCP_ACK;
  }
  return true;
}

/** The socket's flags of a segment it sent, for tests and traces: e.g. `"SYN|ACK"`. */
export function tcpFlagsToString(flags: number): string {
  const names = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];
  const out: string[] = [];
  for (let i = 0; i < 8; i++) if (flags & (1 << i)) out.push(names[i]);
  return out.join("|") || "-";
}
