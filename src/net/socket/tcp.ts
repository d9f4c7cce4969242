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
import {
  seqDiff,
  TCP_ACK,
  TCP_FIN,
  TCP_HEADER_LENGTH,
  TCP_MAX_WINDOW_SCALE,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  TcpHeader,
} from "../wire/tcp.ts";
import { isBytes } from "../args.ts";
import { Assembler } from "./assembler.ts";
import { Congestion, type TcpCongestionControl, type TcpCongestionState } from "./congestion.ts";
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
  STATE_NAMES,
  SYN_RECEIVED,
  SYN_SENT,
  type TcpCloseReason,
  type TcpConfig,
  type TcpEgress,
  TcpSocketStats,
  type TcpState,
  TIME_WAIT,
} from "./tcp_config.ts";

export {
  type TcpCloseReason,
  type TcpConfig,
  type TcpEgress,
  TcpSocketStats,
  type TcpState,
} from "./tcp_config.ts";

let defaultIsn: IsnGenerator | null = null;

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

/** The smallest MSS taken from a peer (Linux's `TCP_MIN_SND_MSS`). */
const MIN_PEER_MSS = 48;

// What the next segment is (see #plan).
const NONE = 0;
const SEND_RST = 1;
const SEND_SYN = 2;
const SEND_DATA = 3; // data and/or FIN, or a pure ACK

/**
 * One TCP connection endpoint. Drive it with {@linkcode TcpSocket.process} (inbound segments),
 * {@linkcode TcpSocket.dispatch} (outbound) and {@linkcode TcpSocket.pollAt}; use it with
 * {@linkcode TcpSocket.connect} / {@linkcode TcpSocket.listen}, `send`/`recv` (copying) or
 * `sendView`/`recvView` (in place), {@linkcode TcpSocket.close} (FIN) and
 * {@linkcode TcpSocket.abort} (RST).
 */
export class TcpSocket implements Disposable {
  /** Counters. */
  readonly stats: TcpSocketStats = new TcpSocketStats();
  #rx: ByteRing; // (not readonly: a socket whose storage was taken gets empty rings, see the constructor)
  #tx: ByteRing;
  readonly #asm: Assembler;
  readonly #out = new TcpHeader();
  readonly #isn: IsnGenerator;
  #nagle: boolean;
  readonly #ackDelay: number;
  readonly #initialRto: number;
  readonly #minRto: number;
  readonly #maxRto: number;
  readonly #timeWait: number;
  readonly #userTimeout: number;
  readonly #keepAlive: number;
  readonly #keepAliveInterval: number;
  readonly #keepAliveProbes: number;
  readonly #ourShift: number; // the window scale we offer
  readonly #synRetries: number;
  #synRetransmits = 0;
  readonly #cc: Congestion;
  #lastSend = -1; // when a data segment last went out (restart after idle)
  #dispatchIdle = false; // the last dispatch stopped at a plan of nothing (see pollAtAfterDispatch)
  #rtoStreak = 0; // timeouts since SND.UNA last moved
  readonly #tsOffer: boolean;
  #tsOk = false; // both SYNs carried timestamps
  #tsOffset = 0; // our TSval = now (ms) + this, per connection
  #tsRecent = 0; // the peer's TSval to echo (RFC 7323 §4.3)
  #lastAckSent = 0; // the ACK field of our last segment (Last.ACK.sent)
  #inTsEcr = -1; // the TSecr of the segment being processed, -1 without
  readonly #sackOffer: boolean;
  #sackOk = false; // both SYNs carried SACK-permitted
  readonly #sb: SackScoreboard; // what the peer SACKed (sender side)
  readonly #sackBlk = new SackBlocks(); // what we report (receiver side)
  #highRxt = 0; // RFC 6675 HighRxt: end of the highest retransmission in this recovery
  #planSack = 0; // SACK blocks of the planned segment (filled in #out.sack)
  readonly #challengeLimit: number;
  #challengeStart = -Infinity; // start of the current one-second window
  #challengeCount = 0;
  // RACK-TLP (RFC 8985), with SACK.
  readonly #rackOffer: boolean;
  readonly #rack: RackRecords;
  #rackAt = -1; // the reordering timer
  #ptoAt = -1; // the probe timeout
  #tlpDue = false; // the PTO fired: send a probe
  #tlpActive = false; // a probe is out (TLP.end_seq set)
  #tlpEnd = 0;
  #tlpRetrans = false; // the probe resent the last segment
  #minRtt = Infinity;

  #state = CLOSED;
  #reason: TcpCloseReason = "None";
  #disposed = false;
  #passive = false; // entered SYN-RECEIVED from LISTEN
  #localIp = 0;
  #localPort = 0;
  #remoteIp = 0;
  #remotePort = 0;
  #listenIp = 0;

  // Send sequence space.
  #iss = 0;
  #sndUna = 0;
  #sndNxt = 0;
  #sndMax = 0; // highest sequence number sent + 1
  #sndWnd = 0; // bytes (scaled)
  #sndWl1 = 0;
  #sndWl2 = 0;
  #maxSndWnd = 0;
  #sndShift = 0; // applied to the peer's window field
  #rcvShift = 0; // applied to ours
  #peerMss = 536;
  #peerOfferedScale = false;
  #mss = 536; // effective send MSS, from the last dispatch's MTU
  #rcvMss = 536; // what we advertise
  #finQueued = false; // close() called: a FIN follows the data
  #finSent = false; // our FIN went out at least once (it is the last sequence number)
  #synAcked = false;

  // Receive sequence space.
  #irs = 0;
  #rcvNxt = 0;
  #rcvAdvRight = 0; // rcvNxt + the window last advertised
  #rxFin = false;
  #finHeld = false; // a FIN arrived beyond a hole (RFC 9293 §3.10.7.4: held until the hole fills)
  #finHeldAt = 0; // its sequence number

  // Timers (-1: not armed) and retransmission state.
  #rtoAt = -1;
  #ackAt = -1;
  #timeWaitAt = -1;
  #unackedSince = -1;
  #lastRecv = 0;
  #keepAliveSent = 0;
  #keepAliveDue = false;
  #probeDue = false;
  #probeOut = false; // what is out is only a zero-window probe (its timeout is the persist timer's)
  #persisting = false; // the persist timer ran: the window is closed, probes back off
  #persistRto = 0; // the RTO before the probes backed it off
  #rto: number;
  #srtt = -1;
  #rttvar = 0;
  #rttActive = false;
  #rttSeq = 0;
  #rttTime = 0;
  #dupAcks = 0;
  #ltSent = 0; // segments Limited Transmit (RFC 3042) sent since SND.UNA last moved
  #ltBytes = 0;
  #fastRetransmit = false; // send one segment from SND.UNA (fast retransmit, RTO, partial ACK)
  #inRecovery = false; // fast recovery (three duplicate ACKs) until `recover` is acknowledged
  #recover = 0; // SND.MAX when loss was detected (RFC 6582): ACKs below it are partial; else ≤ SND.UNA
  #acksOwed = 0; // immediate ACKs owed beyond one (one per out-of-order segment)

  // ACK state.
  #ackNow = false;
  #fullSegments = 0;
  #rstPending = false;
  #rstSeq = 0;
  #rstAck = 0;
  #rstFlags = 0;
  #rstSrcIp = 0;
  #rstDstIp = 0;
  #rstDstPort = 0;

  // The plan for the next segment (#plan → transmit → #commit).
  #planSeq = 0;
  #planPos = 0;
  #planLen = 0;
  #planFlags = 0;

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
    const rxSize = config.rxBufferSize ?? 65536;
    const txSize = config.txBufferSize ?? 65536;
    checkInteger("TcpSocket: rxBufferSize", rxSize, 1, MAX_RING_CAPACITY);
    checkInteger("TcpSocket: txBufferSize", txSize, 1, MAX_RING_CAPACITY);
    const ms = (name: keyof TcpConfig, def: number, min: number, max = 2 ** 31) => {
      const v = (config[name] as number | undefined) ?? def;
      checkInteger(`TcpSocket: ${name}`, v, min, max);
      return v;
    };
    this.#ackDelay = ms("ackDelay", 40, 0, 500);
    this.#minRto = ms("minRto", 200, 1);
    this.#maxRto = ms("maxRto", 60000, this.#minRto);
    this.#initialRto = ms("initialRto", 1000, this.#minRto, this.#maxRto);
    this.#timeWait = ms("timeWait", 60000, 0);
    this.#userTimeout = ms("userTimeout", 300000, 0);
    this.#keepAlive = ms("keepAlive", 0, 0);
    this.#keepAliveInterval = ms("keepAliveInterval", 75000, 1);
    this.#keepAliveProbes = ms("keepAliveProbes", 9, 1, 1000);
    // By default a range per two full segments of the receive ring (the most holes a window can
    // have), at least 8: a bottleneck's drops then cost one retransmission each.
    const maxOoo = ms("maxOutOfOrder", Math.min(Math.max(Math.ceil(rxSize / 2920), 8), 1024), 1, 1024);
    this.#synRetries = ms("synRetries", 6, 0, 100);
    this.#challengeLimit = ms("challengeAckLimit", 1000, 0, 1_000_000);
    if (config.nagle !== undefined && typeof config.nagle !== "boolean") {
      throw new SocketError("InvalidArgument", `TcpSocket: nagle ${config.nagle} is not a boolean`);
    }
    if (config.isn !== undefined && !(config.isn instanceof IsnGenerator)) {
      throw new SocketError("InvalidArgument", "TcpSocket: isn is not an IsnGenerator");
    }
    this.#cc = new Congestion(config.congestionControl ?? "newreno");
    if (config.timestamps !== undefined && typeof config.timestamps !== "boolean") {
      throw new SocketError("InvalidArgument", `TcpSocket: timestamps ${config.timestamps} is not a boolean`);
    }
    this.#tsOffer = config.timestamps ?? true;
    if (config.sack !== undefined && typeof config.sack !== "boolean") {
      throw new SocketError("InvalidArgument", `TcpSocket: sack ${config.sack} is not a boolean`);
    }
    this.#sackOffer = config.sack ?? true;
    if (config.rack !== undefined && typeof config.rack !== "boolean") {
      throw new SocketError("InvalidArgument", `TcpSocket: rack ${config.rack} is not a boolean`);
    }
    this.#rackOffer = config.rack ?? true;
    // SACKed ranges: as many as a send ring of full segments can have holes (at least 32).
    this.#sb = new SackScoreboard(Math.min(Math.max(Math.ceil(txSize / 2920), 32), 1024));
    this.#nagle = config.nagle ?? false;
    this.#isn = config.isn ?? (defaultIsn ??= new IsnGenerator());
    const from = storage === undefined ? null : TcpSocket.#storageOf(storage, rxSize, txSize, maxOoo);
    if (from !== null) {
      this.#rx = from.#rx;
      this.#tx = from.#tx;
      this.#asm = from.#asm;
      this.#rack = from.#rack; // sized from the send ring, as below
      this.#rx.clear();
      this.#tx.clear();
      this.#asm.clear();
      this.#rack.clear(0);
      TcpSocket.#emptied(from);
    } else {
      // A record per segment in flight: the send ring over 512-byte segments (beyond: the last grows).
      this.#rack = new RackRecords(Math.min(Math.max(Math.ceil(txSize / 512) + 2, 16), 4096));
      this.#rx = new ByteRing(rxSize);
      this.#tx = new ByteRing(txSize);
      this.#asm = new Assembler(maxOoo);
    }
    this.#rto = this.#initialRto;
    let shift = 0;
    while (shift < TCP_MAX_WINDOW_SCALE && rxSize >>> shift > 0xffff) shift++;
    this.#ourShift = shift;
  }

  // ---- State and addresses ----------------------------------------------------------------

  /** The connection state. */
  get state(): TcpState {
    return STATE_NAMES[this.#state];
  }
  /** Why the connection ended, `"None"` while it has not (reset by `connect`/`listen`). */
  get closeReason(): TcpCloseReason {
    return this.#reason;
  }
  /** Local address (u32). */
  get localIp(): number {
    return this.#localIp;
  }
  /** Local port. */
  get localPort(): number {
    return this.#localPort;
  }
  /** Remote address (u32; 0 while listening). */
  get remoteIp(): number {
    return this.#remoteIp;
  }
  /** Remote port (0 while listening). */
  get remotePort(): number {
    return this.#remotePort;
  }
  /** True in states where the connection can carry data both ways or one way (not Closed, Listen, TimeWait). */
  get isOpen(): boolean {
    return this.#state !== CLOSED && this.#state !== LISTEN && this.#state !== TIME_WAIT;
  }
  /** True once the handshake completed and until the connection closed. */
  get isEstablished(): boolean {
    return this.#state >= ESTABLISHED && this.#state !== TIME_WAIT;
  }
  /** The MSS this socket sends with: min(peer's MSS, MTU − 40). */
  get mss(): number {
    return this.#mss;
  }
  /** The current retransmission timeout (ms). */
  get rto(): number {
    return this.#rto;
  }
  /** The smoothed RTT (ms), or -1 before the first sample. */
  get srtt(): number {
    return this.#srtt;
  }
  /** Nagle's algorithm (RFC 896) on this socket: settable at any time, as `TCP_NODELAY` (default from the config). */
  get nagle(): boolean {
    return this.#nagle;
  }
  set nagle(on: boolean) {
    if (typeof on !== "boolean") {
      throw new SocketError("InvalidArgument", `nagle: ${String(on)} is not a boolean`);
    }
    this.#nagle = on;
  }
  /** The congestion control algorithm. */
  get congestionControl(): TcpCongestionControl {
    return this.#cc.kind;
  }
  /** The congestion window in bytes (before the first data: the initial window to come). */
  get cwnd(): number {
    return this.#cc.cwnd;
  }
  /** The slow-start threshold in bytes. */
  get ssthresh(): number {
    return this.#cc.ssthresh;
  }
  /** Open, in fast recovery (`"Recovery"`) or after a retransmission timeout (`"Loss"`). */
  get congestionState(): TcpCongestionState {
    return this.#cc.state;
  }
  /** True when timestamps (RFC 7323) are in use on this connection. */
  get timestamps(): boolean {
    return this.#tsOk;
  }
  /** True when selective acknowledgments (RFC 2018) are in use on this connection. */
  get sack(): boolean {
    return this.#sackOk;
  }
  /** The peer's receive window in bytes (scaled). */
  get sendWindow(): number {
    return this.#sndWnd;
  }
  /** Window scale shifts in use: [ours (applied to our window field), the peer's]. */
  get windowScales(): [number, number] {
    return [this.#rcvShift, this.#sndShift];
  }
  /** Bytes queued in the send ring (unacknowledged or unsent). */
  get sendQueue(): number {
    return this.#tx.length;
  }
  /** Bytes ready to be read. */
  get recvQueue(): number {
    return this.#rx.length;
  }
  /** Free bytes of the send ring. */
  get sendCapacity(): number {
    return this.#tx.free;
  }
  /** True while `send` accepts data (connecting or established, not yet closed by us). */
  get maySend(): boolean {
    const s = this.#state;
    return !this.#finQueued &&
      (s === SYN_SENT || s === SYN_RECEIVED || s === ESTABLISHED || s === CLOSE_WAIT);
  }
  /** True while data is buffered or may still arrive (false once the peer's FIN and all data were read, or closed). */
  get mayRecv(): boolean {
    return this.#rx.length > 0 || (!this.#rxFin && this.#state !== CLOSED);
  }

  // ---- Opening and closing ------------------------------------------------------------------

  /**
   * Active open: sends a SYN from `localIp:localPort` to `remoteIp:remotePort` on the next
   * dispatch. `now` picks the initial sequence number (RFC 6528).
   * @throws {SocketError} `InvalidState` unless closed; `InvalidArgument` for an address or port 0 or out of range.
   */
  connect(localIp: number, localPort: number, remoteIp: number, remotePort: number, now: number): void {
    this.#live();
    if (this.#state !== CLOSED) throw new SocketError("InvalidState", `connect: the socket is ${this.state}`);
    checkInteger("connect: localIp", localIp, 1, 0xffffffff); // the checksum needs the real source
    checkInteger("connect: remoteIp", remoteIp, 1, 0xffffffff);
    checkInteger("connect: localPort", localPort, 1, 0xffff);
    checkInteger("connect: remotePort", remotePort, 1, 0xffff);
    checkTime("connect", now);
    this.#reset();
    this.#localIp = localIp;
    this.#localPort = localPort;
    this.#remoteIp = remoteIp;
    this.#remotePort = remotePort;
    this.#iss = this.#isn.next(localIp, localPort, remoteIp, remotePort, now);
    this.#sndUna = this.#sndNxt = this.#sndMax = this.#iss;
    this.#tsOffset = this.#iss; // a TSval that says nothing of our clock or other connections
    this.#lastRecv = now;
    this.#state = SYN_SENT;
  }

  /**
   * Passive open: waits for a SYN to `localPort` (on `localIp`, 0 for any address).
   * @throws {SocketError} `InvalidState` unless closed; `InvalidArgument` for a port out of range.
   */
  listen(localIp: number, localPort: number): void {
    this.#live();
    if (this.#state !== CLOSED) throw new SocketError("InvalidState", `listen: the socket is ${this.state}`);
    checkInteger("listen: localIp", localIp, 0, 0xffffffff);
    checkInteger("listen: localPort", localPort, 1, 0xffff);
    this.#reset();
    this.#listenIp = localIp;
    this.#localIp = localIp;
    this.#localPort = localPort;
    this.#state = LISTEN;
  }

  /**
   * Closes our sending half: a FIN follows the queued data (half-close; receiving goes on until
   * the peer's FIN). A listening or connecting socket closes at once. Idempotent.
   */
  close(): void {
    this.#live();
    switch (this.#state) {
      case LISTEN:
      case SYN_SENT:
        this.#toClosed("Closed");
        return;
      case SYN_RECEIVED:
      case ESTABLISHED:
        this.#queueFin();
        // SYN-RECEIVED moves to FIN-WAIT-1 once established (RFC 9293: after the handshake).
        if (this.#state === ESTABLISHED) this.#state = FIN_WAIT_1;
        return;
      case CLOSE_WAIT:
        this.#queueFin();
        this.#state = LAST_ACK;
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
    const s = this.#state;
    if (s === SYN_RECEIVED || (s >= ESTABLISHED && s <= CLOSE_WAIT)) {
      this.#queueRst(this.#sndNxt, 0, TCP_RST, this.#localIp, this.#remoteIp, this.#remotePort);
    }
    if (s !== CLOSED) this.#toClosed("Aborted");
  }

  /**
   * Aborts an open connection (see {@linkcode TcpSocket.abort}); later calls of the application's
   * methods (connect, listen, close, abort, send and recv in all their forms) are typed `Disposed`
   * errors. The driving methods (`process`, `dispatch`, `pollAt`) keep working on the closed
   * socket, so that its interface can still send the RST the abort queued. Idempotent.
   */
  [Symbol.dispose](): void {
    if (this.#disposed) return;
    if (this.#state !== CLOSED) this.abort();
    this.#disposed = true;
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
    return this.#tx.write(src, offset, n);
  }

  /**
   * Zero-copy send: the number of free bytes contiguous in the send ring, to be written at
   * `txBytes[txOffset ..]`; then {@linkcode TcpSocket.sendCommit} says how many were written.
   */
  sendView(): number {
    this.#checkSend();
    return this.#tx.contiguous(this.#tx.length, this.#tx.free);
  }
  /** The send ring's memory (see {@linkcode TcpSocket.sendView}). */
  get txBytes(): Uint8Array {
    return this.#tx.storage;
  }
  /** Where in {@linkcode TcpSocket.txBytes} the free space {@linkcode TcpSocket.sendView} reported starts. */
  get txOffset(): number {
    return this.#tx.indexOf(this.#tx.length);
  }
  /**
   * Queues `n` bytes written at `txBytes[txOffset ..]`.
   * @throws {SocketError} `InvalidArgument` when `n` exceeds what `sendView` reported.
   */
  sendCommit(n: number): void {
    this.#checkSend();
    checkInteger("sendCommit: n", n, 0, this.#tx.contiguous(this.#tx.length, this.#tx.free));
    this.#tx.commit(n);
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
    if (this.#rx.length === 0) return this.mayRecv ? 0 : -1;
    return this.#rx.read(dst, offset, n);
  }

  /**
   * Zero-copy receive: the number of received bytes contiguous at `rxBytes[rxOffset ..]` (0 when
   * none; -1 at the end of the stream, as `recv`). Release them with {@linkcode TcpSocket.recvRelease}.
   */
  recvView(): number {
    this.#live();
    if (this.#rx.length === 0) return this.mayRecv ? 0 : -1;
    return this.#rx.contiguous(0, this.#rx.length);
  }
  /** The receive ring's memory (see {@linkcode TcpSocket.recvView}). */
  get rxBytes(): Uint8Array {
    return this.#rx.storage;
  }
  /** Where in {@linkcode TcpSocket.rxBytes} the bytes {@linkcode TcpSocket.recvView} reported start. */
  get rxOffset(): number {
    return this.#rx.indexOf(0);
  }
  /**
   * True when `length` bytes at sequence `seq` would land at the receive ring's end: ESTABLISHED,
   * `seq` the next expected, nothing held out of order, room for them. The interface then copies
   * them there itself while it sums them for the checksum (a ring's `writeAt` onto the same place
   * copies nothing). @internal
   */
  placesAtEnd(seq: number, length: number): boolean {
    return this.#state === ESTABLISHED && seq === this.#rcvNxt && this.#asm.isEmpty &&
      length <= this.#rx.free;
  }
  /**
   * Releases `n` bytes of those `recvView` reported.
   * @throws {SocketError} `InvalidArgument` when `n` exceeds them.
   */
  recvRelease(n: number): void {
    this.#live();
    checkInteger("recvRelease: n", n, 0, this.#rx.contiguous(0, this.#rx.length));
    this.#rx.consume(n);
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
    this.stats.segmentsIn++;
    // The interface demultiplexes; a segment for another endpoint is still never taken.
    if (
      h.dstPort !== this.#localPort ||
      (this.#state !== LISTEN && this.#state !== CLOSED &&
        (src !== this.#remoteIp || h.srcPort !== this.#remotePort || dst !== this.#localIp))
    ) {
      this.stats.dropIgnored++;
      return;
    }
    switch (this.#state) {
      case CLOSED:
        this.stats.dropIgnored++; // the interface answers segments to no connection (tcpResetFor)
        return;
      case LISTEN:
        return this.#onListen(now, src, dst, h);
      case SYN_SENT:
        return this.#onSynSent(now, h);
    }
    this.#onSynchronized(now, h, payload, offset, length);
    this.#gauges();
  }

  /**
   * Sends what is due at `now` through `egress` (handshake, data, FIN, ACKs, probes,
   * retransmissions, RST), running the timers first. Returns the number of segments sent.
   * @throws {SocketError} `InvalidArgument` for a bad `now`.
   */
  dispatch(now: number, egress: TcpEgress): number {
    if (typeof now !== "number" || !(now >= 0)) {
      throw new SocketError("InvalidArgument", `dispatch: now ${String(now)} is not a time ≥ 0 (ms)`);
    }
    const linkMtu = egress?.mtu; // (read once: an interface's egress has it as a getter)
    if (typeof egress?.transmit !== "function" || !(linkMtu >= 41)) {
      throw new SocketError("InvalidArgument", "dispatch: egress must have transmit() and an mtu ≥ 41");
    }
    this.#timers(now);
    const mtu = linkMtu < 0xffff ? linkMtu : 0xffff; // an IPv4 packet's length field
    this.#rcvMss = Math.max(mtu - 40, 1);
    this.#mss = Math.max(Math.min(this.#peerMss, mtu - 40), 1);
    // Restart after idle (RFC 5681 §4.1): nothing in flight, new data to send, silent for an RTO.
    if (
      this.#lastSend >= 0 && now - this.#lastSend > this.#rto && this.#sndMax === this.#sndUna &&
      this.#tx.length > 0 && this.#canSendData()
    ) {
      if (this.#cc.restartAfterIdle(this.#mss)) this.stats.idleRestarts++;
      this.#lastSend = -1;
    }
    let sent = 0;
    this.#dispatchIdle = false;
    for (let guard = 0; guard < 256; guard++) {
      const kind = this.#plan(now, mtu);
      if (kind === NONE) {
        this.#dispatchIdle = true; // nothing to send now: pollAtAfterDispatch needs no second plan
        break;
      }
      const src = kind === SEND_RST ? this.#rstSrcIp : this.#localIp;
      const dst = kind === SEND_RST ? this.#rstDstIp : this.#remoteIp;
      if (!egress.transmit(src, dst, this.#out, this.#tx, this.#planPos, this.#planLen)) break;
      this.#commit(now, kind);
      sent++;
    }
    // Persist timer: data waits for a window and nothing is in flight to draw an ACK.
    if (this.#rtoAt < 0 && this.#sndMax === this.#sndUna && this.#canSendData()) {
      if (this.#tx.length > seqDiff(this.#sndNxt, this.#sndUna)) this.#rtoAt = now + this.#rto;
    }
    this.#gauges();
    return sent;
  }

  /**
   * When {@linkcode TcpSocket.dispatch} next needs to run: 0 when something is due now, a time
   * in ms for the nearest timer, `Infinity` when nothing is pending.
   */
  pollAt(): number {
    if (this.#plan(Number.NEGATIVE_INFINITY, this.#mss + 40) !== NONE) return 0;
    return this.#timerAt();
  }

  /**
   * {@linkcode TcpSocket.pollAt} right after a dispatch, before anything else touches the socket:
   * when that dispatch stopped because nothing was left to send, only the timers. @internal
   */
  pollAtAfterDispatch(): number {
    return this.#dispatchIdle ? this.#timerAt() : this.pollAt();
  }

  #timerAt(): number {
    let t = Infinity;
    if (this.#rtoAt >= 0 && this.#rtoAt < t) t = this.#rtoAt;
    if (this.#ackAt >= 0 && this.#ackAt < t) t = this.#ackAt;
    if (this.#timeWaitAt >= 0 && this.#timeWaitAt < t) t = this.#timeWaitAt;
    if (this.#ptoAt >= 0 && this.#ptoAt < t) t = this.#ptoAt;
    if (this.#rackAt >= 0 && this.#rackAt < t) t = this.#rackAt;
    if (this.#userTimeout > 0 && this.#unackedSince >= 0) {
      const u = this.#unackedSince + this.#userTimeout;
      if (u < t) t = u;
    }
    const k = this.#keepAliveTime();
    if (k >= 0 && k < t) t = k;
    return t;
  }

  // ---- Inbound ------------------------------------------------------------------------------

  #onListen(now: number, src: number, dst: number, h: TcpHeader): void {
    const flags = h.flags;
    if (flags & TCP_RST) return;
    if (flags & TCP_ACK) {
      this.#queueRst(h.ack, 0, TCP_RST, dst, src, h.srcPort);
      return;
    }
    if ((flags & TCP_SYN) === 0) {
      this.stats.dropIgnored++;
      return;
    }
    if (this.#listenIp !== 0 && dst !== this.#listenIp) {
      this.stats.dropIgnored++;
      return;
    }
    this.#localIp = dst;
    this.#remoteIp = src;
    this.#remotePort = h.srcPort;
    this.#takeSynOptions(h);
    this.#irs = h.seq;
    this.#rcvNxt = (h.seq + 1) >>> 0;
    this.#rcvAdvRight = (this.#rcvNxt + this.#synWindow()) >>> 0;
    this.#iss = this.#isn.next(dst, this.#localPort, src, h.srcPort, now);
    this.#sndUna = this.#sndNxt = this.#sndMax = this.#iss;
    this.#tsOffset = this.#iss;
    this.#sndWnd = h.window; // never scaled in a SYN
    this.#sndWl1 = h.seq;
    this.#sndWl2 = this.#iss;
    this.#maxSndWnd = h.window;
    this.#lastRecv = now;
    this.#passive = true;
    this.#state = SYN_RECEIVED;
  }

  #onSynSent(now: number, h: TcpHeader): void {
    const flags = h.flags;
    const hasAck = (flags & TCP_ACK) !== 0;
    if (hasAck && (seqDiff(h.ack, this.#iss) <= 0 || seqDiff(h.ack, this.#sndMax) > 0)) {
      if ((flags & TCP_RST) === 0) {
        this.#queueRst(h.ack, 0, TCP_RST, this.#localIp, this.#remoteIp, h.srcPort);
      }
      this.stats.dropBadAck++;
      return;
    }
    if (flags & TCP_RST) {
      if (hasAck) this.#toClosed("Refused");
      else this.stats.dropIgnored++;
      return;
    }
    if ((flags & TCP_SYN) === 0) {
      this.stats.dropIgnored++;
      return;
    }
    this.#takeSynOptions(h);
    this.#irs = h.seq;
    this.#rcvNxt = (h.seq + 1) >>> 0;
    this.#rcvAdvRight = (this.#rcvNxt + this.#synWindow()) >>> 0;
    this.#lastRecv = now;
    if (hasAck) {
      this.#inTsEcr = this.#tsOk ? h.tsEcr : -1;
      this.#ackAdvance(now, h);
      this.#sndWnd = h.window; // SYN-ACK: unscaled
      this.#maxSndWnd = h.window;
      this.#sndWl1 = h.seq;
      this.#sndWl2 = h.ack;
      this.#state = ESTABLISHED;
      this.#ackNow = true;
      this.#ccStart();
    } else {
      // Simultaneous open: answer with SYN-ACK (our SYN again, now with ACK).
      this.#state = SYN_RECEIVED;
      this.#sndNxt = this.#iss;
      this.#sndWnd = h.window;
      this.#maxSndWnd = h.window;
      this.#sndWl1 = h.seq;
      this.#sndWl2 = this.#iss;
    }
  }

  #takeSynOptions(h: TcpHeader): void {
    // No MSS (or 0): RFC 9293's default. A tiny one is raised to Linux's floor (TCP_MIN_SND_MSS):
    // a peer must not make us send a segment per byte.
    this.#peerMss = h.mss > 0 ? (h.mss < MIN_PEER_MSS ? MIN_PEER_MSS : h.mss) : 536;
    this.#peerOfferedScale = h.windowScale >= 0;
    // Timestamps: our SYN offered them (SYN-SENT) or will answer theirs (LISTEN).
    if (this.#state === SYN_SENT || this.#state === LISTEN) {
      this.#tsOk = this.#tsOffer && h.hasTimestamps;
      this.#sackOk = this.#sackOffer && h.sackPermitted;
      if (this.#tsOk) this.#tsRecent = h.tsVal;
    }
    if (this.#peerOfferedScale && (this.#state === SYN_SENT || this.#state === LISTEN)) {
      // Scaling holds only if both SYNs carry the option; ours always does (SYN-ACK: when theirs did).
      this.#sndShift = Math.min(h.windowScale, TCP_MAX_WINDOW_SCALE);
      this.#rcvShift = this.#ourShift;
    } else {
      this.#sndShift = 0;
      this.#rcvShift = 0;
    }
  }

  #onSynchronized(now: number, h: TcpHeader, payload: Uint8Array, offset: number, length: number): void {
    if (headerPrediction && this.#state === ESTABLISHED && this.#predicted(now, h, payload, offset, length)) {
      predictedSegments++;
      return;
    }
    const flags = h.flags;
    const seq = h.seq;
    const finAt = (seq + length) >>> 0; // where a FIN of this segment sits
    const segLen = length + ((flags & TCP_SYN) ? 1 : 0) + ((flags & TCP_FIN) ? 1 : 0);
    const wnd = seqDiff(this.#rcvAdvRight, this.#rcvNxt) > 0 ? seqDiff(this.#rcvAdvRight, this.#rcvNxt) : 0;
    const start = seqDiff(seq, this.#rcvNxt);
    // 0. PAWS (RFC 7323 §5.3 R1): a TSval older than TS.Recent is an old duplicate.
    const hasTs = this.#tsOk && h.hasTimestamps;
    if (hasTs && (flags & TCP_RST) === 0 && seqDiff(h.tsVal, this.#tsRecent) < 0) {
      this.stats.dropPaws++;
      this.#ackNow = true;
      return;
    }
    this.#inTsEcr = hasTs ? h.tsEcr : -1;
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
      this.stats.dropWindowFull += length;
      if (length > 0) this.#ackNow = true; // a zero-window probe is answered (RFC 9293 §3.8.6.1)
      length = 0;
      acceptable = true;
    }
    if (!acceptable) {
      this.stats.dropOutOfWindow++;
      if (flags & TCP_RST) return;
      if (this.#sackOk && length > 0 && start + length <= 0) this.#sackBlk.duplicate(seq, finAt); // RFC 2883
      if (this.#state === SYN_RECEIVED && (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && seq === this.#irs) {
        this.#sndNxt = this.#iss; // a retransmitted SYN: our SYN-ACK was lost
        return;
      }
      if (this.#state === TIME_WAIT && (flags & TCP_FIN)) this.#timeWaitAt = now + this.#timeWait;
      this.#ackNow = true;
      return;
    }
    this.#lastRecv = now;
    this.#keepAliveSent = 0;
    // 2. RST: exact match resets, in window draws a challenge ACK (RFC 5961 §3).
    if (flags & TCP_RST) {
      if (start !== 0) {
        this.#challenge(now);
        return;
      }
      if (this.#state === SYN_RECEIVED && this.#passive) {
        this.#backToListen();
        return;
      }
      this.#toClosed(this.#state === SYN_RECEIVED ? "Refused" : "Reset");
      return;
    }
    // 3. SYN in a synchronized state: challenge ACK (RFC 5961 §4). A passive SYN-RECEIVED returns
    // to LISTEN (RFC 9293 §3.10.7.4, fourth).
    if (flags & TCP_SYN) {
      if (this.#state === SYN_RECEIVED && this.#passive) {
        this.#backToListen();
        return;
      }
      this.#challenge(now);
      return;
    }
    // 4. ACK.
    if ((flags & TCP_ACK) === 0) {
      this.stats.dropBadAck++;
      return;
    }
    if (this.#state === SYN_RECEIVED) {
      if (seqDiff(h.ack, this.#sndUna) <= 0 || seqDiff(h.ack, this.#sndMax) > 0) {
        this.#queueRst(h.ack, 0, TCP_RST, this.#localIp, this.#remoteIp, this.#remotePort);
        this.stats.dropBadAck++;
        return;
      }
      this.#state = this.#finQueued ? FIN_WAIT_1 : ESTABLISHED;
      this.#ccStart();
      this.#sndWnd = h.window << this.#sndShift;
      this.#maxSndWnd = this.#sndWnd;
      this.#sndWl1 = seq;
      this.#sndWl2 = h.ack;
    }
    const d = seqDiff(h.ack, this.#sndUna);
    // RFC 5961 §5.2: acceptable only in [SND.UNA − MAX.SND.WND, SND.MAX]; else dropped with a
    // (rate-limited) challenge ACK. (SND.MAX: after a timeout SND.NXT went back.)
    if (seqDiff(h.ack, this.#sndMax) > 0 || d < -this.#maxSndWnd) {
      this.stats.dropBadAck++;
      this.#challenge(now);
      return;
    }
    // RFC 7323 §4.3: TS.Recent from a segment that starts at or before the last ACK we sent, once
    // it passed the RST, SYN and ACK checks (as Linux: a segment RFC 5961 drops sets nothing).
    if (hasTs && seqDiff(seq, this.#lastAckSent) <= 0 && seqDiff(h.tsVal, this.#tsRecent) >= 0) {
      this.#tsRecent = h.tsVal;
    }
    const window = h.window << this.#sndShift;
    if (d >= 0) {
      // Window update (RFC 9293 §3.10.7.4, SND.WL1/WL2).
      const w1 = seqDiff(seq, this.#sndWl1);
      const windowChanged = window !== this.#sndWnd;
      if (w1 > 0 || (w1 === 0 && seqDiff(h.ack, this.#sndWl2) >= 0)) {
        this.#sndWnd = window;
        this.#sndWl1 = seq;
        this.#sndWl2 = h.ack;
        if (window > this.#maxSndWnd) this.#maxSndWnd = window;
        if (window > 0 && this.#persisting) this.#endPersist(now);
      }
      if (d > 0) {
        this.#ackAdvance(now, h);
      } else if (length === 0 && (flags & TCP_FIN) === 0 && this.#sndMax !== this.#sndUna) {
        // A duplicate ACK (RFC 5681 §2); ACKs of zero-window probes are not.
        if (!windowChanged && window !== 0) {
          this.stats.duplicateAcks++;
          // RFC 6582 §3.2 step 1: only an ACK beyond `recover` starts a new recovery (not the
          // duplicates that data sent again after a timeout draws).
          if (++this.#dupAcks > 3 && this.#inRecovery && !this.#sackOk) this.#cc.onDupAck(this.#mss);
        }
        // A zero window answered: the peer is alive, the user timeout starts over.
        if (window === 0 && this.#unackedSince >= 0) this.#unackedSince = now;
      }
    }
    let dsack = 0;
    if (d >= 0 && this.#sackOk && h.sackCount > 0) {
      dsack = this.#sb.update(h, this.#sndUna, this.#sndMax);
      this.stats.dsacksIn += dsack;
    }
    const rack = d >= 0 && this.#rackOffer && this.#sackOk;
    if (rack) this.#rackOnAck(now, h, dsack);
    // Loss: three duplicate ACKs, or (with SACK) RFC 6675's IsLost(SND.UNA), or RACK.
    if (
      d >= 0 && !this.#inRecovery && this.#sndMax !== this.#sndUna && seqDiff(h.ack, this.#recover) >= 0 &&
      (this.#dupAcks >= 3 || (this.#sackOk && this.#sb.lostEnd(this.#mss) > 0) ||
        (rack && this.#rack.anyLost))
    ) this.#enterRecovery(now);
    // Our FIN acknowledged?
    const finAcked = this.#finSent && this.#sndUna === this.#sndMax;
    switch (this.#state) {
      case FIN_WAIT_1:
        if (finAcked) this.#state = FIN_WAIT_2;
        break;
      case CLOSING:
        if (finAcked) this.#toTimeWait(now);
        break;
      case LAST_ACK:
        if (finAcked) {
          this.#toClosed("Closed");
          return;
        }
        break;
    }
    // 5. Payload.
    if (length > 0) {
      const s = this.#state;
      if (s !== ESTABLISHED && s !== FIN_WAIT_1 && s !== FIN_WAIT_2) {
        this.stats.dropAfterFin++;
        length = 0;
      }
    }
    if (length > 0) {
      const skip = start < 0 ? -start : 0; // bytes already received
      if (skip > 0 && this.#sackOk) this.#sackBlk.duplicate(seq, this.#rcvNxt);
      const off = start < 0 ? 0 : start;
      let n = length - skip;
      if (n < 0) n = 0;
      const room = this.#rx.free - off;
      if (n > room) {
        this.stats.dropWindowFull += n - (room > 0 ? room : 0);
        n = room > 0 ? room : 0;
      }
      if (n > 0) {
        if (off === 0) {
          this.#rx.writeAt(this.#rx.length, payload, offset + skip, n);
          const hadHoles = !this.#asm.isEmpty;
          this.#asm.advance(n);
          const more = this.#asm.removeFront();
          this.#rx.commit(n + more);
          this.#rcvNxt = (this.#rcvNxt + n + more) >>> 0;
          this.stats.bytesIn += n;
          if (hadHoles) this.#ackNow = true; // a hole filled: tell the sender at once
          else if (!this.#ackNow) this.#scheduleAck(now, length + h.headerLength - TCP_HEADER_LENGTH);
        } else if (this.#asm.add(off, n)) {
          this.#rx.writeAt(this.#rx.length + off, payload, offset + skip, n);
          if (this.#sackOk) this.#sackBlk.arrived((this.#rcvNxt + off) >>> 0);
          this.stats.outOfOrder++;
          this.stats.bytesIn += n;
          // A duplicate ACK per such segment: what drives the sender's fast retransmit.
          if (this.#ackNow && this.#acksOwed < 16) this.#acksOwed++;
          this.#ackNow = true;
        } else {
          this.stats.dropAssemblerFull++;
          this.#ackNow = true;
        }
      }
    }
    // 6. FIN: taken once every byte before it is in. One beyond a hole (in the window) is held and
    // taken when the hole fills (RFC 9293 §3.10.7.4).
    if ((flags & TCP_FIN) !== 0 && !this.#rxFin) {
      const ahead = seqDiff(finAt, this.#rcvNxt);
      const s = this.#state;
      if (
        ahead > 0 && start + seqDiff(finAt, seq) < wnd &&
        (s === ESTABLISHED || s === FIN_WAIT_1 || s === FIN_WAIT_2)
      ) {
        this.#finHeld = true;
        this.#finHeldAt = finAt;
        this.#ackNow = true; // out of order: a duplicate ACK at once
      }
    }
    const finInOrder = ((flags & TCP_FIN) !== 0 && this.#rcvNxt === finAt) ||
      (this.#finHeld && this.#rcvNxt === this.#finHeldAt);
    if (finInOrder && !this.#rxFin) {
      const s = this.#state;
      if (s === ESTABLISHED || s === FIN_WAIT_1 || s === FIN_WAIT_2 || s === SYN_RECEIVED) {
        this.#rxFin = true;
        this.#finHeld = false;
        this.#rcvNxt = (this.#rcvNxt + 1) >>> 0;
        this.#ackNow = true;
        if (s === ESTABLISHED || s === SYN_RECEIVED) this.#state = CLOSE_WAIT;
        else if (s === FIN_WAIT_2 || finAcked) this.#toTimeWait(now);
        else this.#state = CLOSING;
      }
    } else if (finInOrder && this.#state === TIME_WAIT) {
      this.#ackNow = true;
      this.#timeWaitAt = now + this.#timeWait;
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
  #predicted(now: number, h: TcpHeader, payload: Uint8Array, offset: number, length: number): boolean {
    const seq = h.seq;
    if (
      (h.flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK | TCP_URG)) !== TCP_ACK || seq !== this.#rcvNxt ||
      h.sackCount !== 0 || this.#inRecovery || this.#finHeld || this.#persisting ||
      this.#dupAcks !== 0 || !this.#sb.isEmpty || seqDiff(seq, this.#sndWl1) < 0 ||
      seqDiff(h.ack, this.#sndWl2) < 0 // (the window update rule of the general path)
    ) return false;
    const hasTs = this.#tsOk;
    if (hasTs && (!h.hasTimestamps || seqDiff(h.tsVal, this.#tsRecent) < 0)) return false;
    const ack = h.ack;
    const d = seqDiff(ack, this.#sndUna);
    if (length === 0) {
      if (d <= 0 || seqDiff(ack, this.#sndMax) > 0) return false; // a duplicate, or beyond what was sent
    } else if (
      d < 0 || seqDiff(ack, this.#sndMax) > 0 || !this.#asm.isEmpty || length > this.#rx.free ||
      seqDiff(this.#rcvAdvRight, seq) <= 0 // the window we advertised is closed
    ) return false;
    // As the general path: acceptable, PAWS passed; then TS.Recent, the window, the ACK, the data.
    this.#lastRecv = now;
    this.#keepAliveSent = 0;
    if (hasTs && seqDiff(seq, this.#lastAckSent) <= 0) this.#tsRecent = h.tsVal;
    this.#inTsEcr = hasTs ? h.tsEcr : -1;
    // The window update rule holds (SEG.SEQ ≥ SND.WL1, SEG.ACK ≥ SND.WL2, checked above).
    const window = h.window << this.#sndShift;
    this.#sndWnd = window;
    if (window > this.#maxSndWnd) this.#maxSndWnd = window;
    this.#sndWl1 = seq;
    this.#sndWl2 = ack;
    if (d > 0) this.#ackAdvance(now, h);
    // RACK on every acceptable ACK, and its loss rule (three duplicates and IsLost cannot hold here).
    if (this.#rackOffer && this.#sackOk) {
      this.#rackOnAck(now, h, 0);
      if (
        !this.#inRecovery && this.#sndMax !== this.#sndUna && seqDiff(ack, this.#recover) >= 0 &&
        this.#rack.anyLost
      ) this.#enterRecovery(now);
    }
    if (length > 0) {
      this.#rx.writeAt(this.#rx.length, payload, offset, length);
      this.#rx.commit(length);
      this.#rcvNxt = (seq + length) >>> 0;
      this.stats.bytesIn += length;
      if (!this.#ackNow) this.#scheduleAck(now, length + h.headerLength - TCP_HEADER_LENGTH);
    }
    return true;
  }

  /** Full-sized segments are acknowledged every second one; others within the ACK delay. */
  #scheduleAck(now: number, sizeWithOptions: number): void {
    if (this.#ackDelay === 0) {
      this.#ackNow = true;
      return;
    }
    if (sizeWithOptions >= Math.min(this.#rcvMss, this.#peerMss) && ++this.#fullSegments >= 2) {
      this.#ackNow = true;
      return;
    }
    if (this.#ackAt < 0) this.#ackAt = now + this.#ackDelay;
  }

  /**
   * SND.UNA moves to `h.ack` (after SND.UNA, not after SND.MAX): frees acknowledged bytes, samples
   * the RTT. (The header, not its ACK field: a number beyond 2^30 passed to a call is a heap
   * number allocated per call.)
   */
  #ackAdvance(now: number, h: TcpHeader): void {
    const ack = h.ack;
    let acked = seqDiff(ack, this.#sndUna);
    if (!this.#synAcked) {
      acked--; // our SYN
      this.#synAcked = true;
    }
    const data = acked < this.#tx.length ? acked : this.#tx.length; // beyond: our FIN
    this.#tx.consume(data);
    this.#sb.advance(seqDiff(ack, this.#sndUna));
    this.#sndUna = ack >>> 0;
    if (seqDiff(this.#highRxt, this.#sndUna) < 0) this.#highRxt = this.#sndUna;
    if (seqDiff(this.#sndNxt, this.#sndUna) < 0) this.#sndNxt = this.#sndUna;
    this.#dupAcks = this.#ltSent = this.#ltBytes = 0;
    this.#fastRetransmit = false;
    this.#rtoStreak = 0;
    this.#probeOut = false;
    if (this.#inRecovery) {
      if (seqDiff(ack, this.#recover) < 0) {
        // A partial ACK (RFC 6582 §3.2 step 5): the next hole is lost too, resend it at once.
        // With SACK the scoreboard says which holes to resend (RFC 6675 NextSeg).
        this.stats.partialAcks++;
        if (!this.#sackOk) {
          this.#fastRetransmit = true;
          this.#cc.onPartialAck(data, this.#mss);
          this.#dupAcks = DUP_THRESH; // still in recovery: every further duplicate inflates cwnd (step 4)
        }
      } else {
        this.#inRecovery = false;
        this.#cc.onRecoveryEnd(now, seqDiff(this.#sndMax, this.#sndUna), this.#mss);
        if (this.#rackOffer && this.#sackOk) this.#rack.adaptReoWnd(this.#sndUna, this.#sndNxt, false, true);
      }
    } else {
      this.#cc.onAck(now, data, this.#mss, this.#srtt);
    }
    if (!this.#inRecovery && seqDiff(this.#recover, this.#sndUna) < 0) this.#recover = this.#sndUna;
    if (this.#inTsEcr > 0) {
      // RFC 7323 §4.1: every ACK that moves SND.UNA echoes when the data it answers left.
      const r = (this.#tsClock(now) - this.#inTsEcr) >>> 0;
      if (r < 0x7fffffff) {
        this.#rttActive = false;
        this.#rttSample(r, data);
      }
    } else if (this.#rttActive && seqDiff(ack, this.#rttSeq) >= 0) {
      this.#rttActive = false;
      this.#rttSample(now - this.#rttTime, 0);
    }
    if (this.#sndUna === this.#sndMax) {
      this.#rtoAt = -1;
      this.#unackedSince = -1;
    } else {
      this.#rtoAt = now + this.#rto;
      this.#unackedSince = now;
    }
    this.#armPto(now);
  }

  /**
   * RFC 6298 §2: SRTT, RTTVAR and RTO from one sample (Karn: only segments sent once). With a
   * sample per ACK (timestamps) the gains are divided by the samples expected per flight
   * (RFC 7323 Appendix G), so a window's worth of samples weighs as one RFC 6298 sample.
   */
  #rttSample(r: number, acked: number): void {
    if (r < 0) r = 0;
    this.stats.rttSamples++;
    if (r < this.#minRtt) this.#minRtt = r;
    if (this.#srtt < 0) {
      this.#srtt = r;
      this.#rttvar = r / 2;
    } else {
      let beta = 0.25, alpha = 0.125; // n = 1: no divisions (a flight of up to two segments)
      if (acked > 0) {
        const flight = seqDiff(this.#sndMax, this.#sndUna) + acked;
        if (flight > 2 * this.#mss) {
          const n = Math.ceil(flight / (2 * this.#mss));
          beta = 0.25 / n;
          alpha = 0.125 / n;
        }
      }
      this.#rttvar = (1 - beta) * this.#rttvar + beta * Math.abs(this.#srtt - r);
      this.#srtt = (1 - alpha) * this.#srtt + alpha * r;
    }
    const rto = this.#srtt + Math.max(1, 4 * this.#rttvar);
    this.#rto = Math.min(Math.max(Math.ceil(rto), this.#minRto), this.#maxRto);
  }

  // ---- Timers -------------------------------------------------------------------------------

  #timers(now: number): void {
    const s = this.#state;
    if (s === CLOSED || s === LISTEN) return;
    if (s === TIME_WAIT) {
      if (now >= this.#timeWaitAt) this.#toClosed("Closed");
      return;
    }
    if (this.#userTimeout > 0 && this.#unackedSince >= 0 && now - this.#unackedSince >= this.#userTimeout) {
      this.#toClosed("TimedOut");
      return;
    }
    const k = this.#keepAliveTime();
    if (k >= 0 && now >= k) {
      if (this.#keepAliveSent >= this.#keepAliveProbes) {
        this.#toClosed("TimedOut");
        return;
      }
      this.#keepAliveDue = true;
    }
    if (this.#rackAt >= 0 && now >= this.#rackAt) this.#rackTimer(now);
    if (this.#ptoAt >= 0 && now >= this.#ptoAt) {
      // RFC 8985 §7.3: the probe goes out on this dispatch; the RTO is pushed back from now.
      this.#ptoAt = -1;
      if (this.#sndMax !== this.#sndUna && !this.#inRecovery && !this.#tlpActive) {
        this.#tlpDue = true;
        this.#rtoAt = now + this.#rto;
      }
    }
    if (this.#rtoAt >= 0 && now >= this.#rtoAt) {
      this.#rtoAt = -1;
      this.#ptoAt = this.#rackAt = -1;
      this.#tlpDue = this.#tlpActive = false;
      this.stats.timeouts++;
      const rto = this.#rto;
      this.#rto = Math.min(this.#rto * 2, this.#maxRto);
      this.#rttActive = false; // Karn: no sample from a retransmitted segment
      this.#dupAcks = this.#ltSent = this.#ltBytes = 0;
      if (this.#state === SYN_SENT || this.#state === SYN_RECEIVED) {
        if (this.#synRetransmits++ >= this.#synRetries) {
          if (this.#passive) this.#backToListen();
          else this.#toClosed("TimedOut");
          return;
        }
        this.#sndNxt = this.#iss; // the SYN again
      } else if (this.#sndMax !== this.#sndUna && !(this.#probeOut && this.#sndWnd === 0)) {
        // Go back to SND.UNA and slow-start from one segment (RFC 5681 §3.1, RFC 6298 §5.4);
        // duplicate ACKs of what was sent before stay below `recover` (RFC 6582 §4).
        // A repeated timeout: the peer may have dropped what it SACKed (RFC 2018 §8).
        if (this.#rtoStreak > 0) this.#sb.clear();
        this.#rack.onTimeout();
        this.#cc.onTimeout(now, seqDiff(this.#sndMax, this.#sndUna), this.#mss, this.#rtoStreak++ === 0);
        this.#fastRetransmit = false;
        this.#inRecovery = false;
        this.#recover = this.#sndMax;
        this.#sndNxt = this.#sndUna;
        this.#probeDue = true; // a closed window still gets a byte
      } else {
        // Persist timer: a probe goes out whatever the window (the same byte again when one is
        // out). A refused probe is no loss: cwnd stays (as Linux's tcp_probe_timer).
        if (!this.#persisting) {
          this.#persisting = true;
          this.#persistRto = rto;
        }
        this.#sndNxt = this.#sndUna;
        this.#probeDue = true;
      }
    }
  }

  /** When the next keep-alive probe is due, or -1. */
  #keepAliveTime(): number {
    if (this.#keepAlive === 0) return -1;
    const s = this.#state;
    if (s !== ESTABLISHED && s !== CLOSE_WAIT) return -1;
    if (this.#sndMax !== this.#sndUna || this.#tx.length > 0) return -1;
    return this.#lastRecv + this.#keepAlive + this.#keepAliveSent * this.#keepAliveInterval;
  }

  // ---- Outbound -----------------------------------------------------------------------------

  /**
   * Decides the next segment and fills `#out` (and the plan fields) without changing state.
   * `now` = -Infinity asks only for what is due regardless of timers (for pollAt).
   */
  #plan(now: number, mtu: number): number {
    const o = this.#out;
    const s = this.#state;
    if (this.#rstPending) {
      o.reset();
      o.srcPort = this.#localPort;
      o.dstPort = this.#remotePort;
      o.dstPort = this.#rstDstPort;
      o.seq = this.#rstSeq;
      o.ack = this.#rstAck;
      o.flags = this.#rstFlags;
      this.#planLen = 0;
      this.#planPos = 0;
      return SEND_RST;
    }
    if (s === CLOSED || s === LISTEN) return NONE;
    if ((s === SYN_SENT || s === SYN_RECEIVED) && this.#sndNxt === this.#iss) {
      o.reset();
      o.srcPort = this.#localPort;
      o.dstPort = this.#remotePort;
      o.seq = this.#iss;
      o.flags = s === SYN_SENT ? TCP_SYN : TCP_SYN | TCP_ACK;
      o.ack = s === SYN_SENT ? 0 : this.#rcvNxt;
      o.mss = Math.min(Math.max(mtu - 40, 1), 0xffff);
      if (s === SYN_SENT || this.#peerOfferedScale) o.windowScale = this.#ourShift;
      if (s === SYN_SENT ? this.#sackOffer : this.#sackOk) o.sackPermitted = true;
      if (s === SYN_SENT ? this.#tsOffer : this.#tsOk) {
        o.hasTimestamps = true;
        o.tsVal = this.#tsClock(now);
        o.tsEcr = s === SYN_SENT ? 0 : this.#tsRecent;
      }
      o.window = this.#synWindow();
      this.#planSeq = this.#iss;
      this.#planLen = 0;
      this.#planPos = 0;
      this.#planFlags = o.flags;
      return SEND_SYN;
    }
    if (s === SYN_SENT) return NONE;
    // Idle (what pollAt and the last round of each dispatch ask): nothing unsent (FIN included),
    // no retransmission, probe (zero-window or tail-loss) or keep-alive, no ACK due. The general
    // plan below says NONE too.
    const sent = seqDiff(this.#sndNxt, this.#sndUna);
    if (
      (this.#finQueued ? sent > this.#tx.length : sent >= this.#tx.length) && !this.#ackNow &&
      !this.#fastRetransmit && !this.#inRecovery && !this.#probeDue && !this.#keepAliveDue && !this.#tlpDue &&
      !(this.#ackAt >= 0 && now >= this.#ackAt) && !this.#windowUpdateDue()
    ) return NONE;
    // SYN-RECEIVED with the SYN-ACK out: nothing but ACKs until established.
    const canSend = this.#canSendData();
    // SACK blocks on every ACK while holes remain or a D-SACK is owed (3 fit with timestamps).
    let nSack = 0;
    if (this.#sackOk && (!this.#asm.isEmpty || this.#sackBlk.dsackPending)) {
      nSack = this.#sackBlk.fill(o, this.#asm, this.#rcvNxt, this.#tsOk ? 3 : 4);
    }
    const optLen = (this.#tsOk ? 12 : 0) + (nSack > 0 ? 4 + 8 * nSack : 0);
    let rxt = false;
    let seq = this.#sndNxt;
    let len = 0;
    let fin = false;
    let probe = false;
    let tlp = false;
    let lt = false;
    if (canSend) {
      const txLen = this.#tx.length;
      // RFC 6691: the MSS counts payload and options; ours come off the payload.
      const maxPayload = Math.max(Math.min(this.#mss, mtu - 40) - optLen, 1);
      let avail = 0;
      if (this.#inRecovery && this.#sackOk && !this.#fastRetransmit) {
        // RFC 6675 §5: send while cwnd − pipe ≥ 1 SMSS; NextSeg rule 1 (a lost hole above HighRxt) first.
        // With RACK the send records say what is lost (and resent) and what is in flight.
        const out = seqDiff(this.#sndMax, this.#sndUna);
        const hr = seqDiff(this.#highRxt, this.#sndUna);
        const rack = this.#rackOffer;
        avail = this.#cc.cwnd - (rack ? this.#rack.pipe() : this.#sb.pipe(out, hr > 0 ? hr : 0, this.#mss));
        const hole = avail < maxPayload
          ? -1
          : rack
          ? this.#rack.nextLost(this.#sndUna)
          : this.#sb.nextHole(hr > 0 ? hr : 0, this.#sb.lostEnd(this.#mss));
        if (hole >= 0) {
          seq = (this.#sndUna + hole) >>> 0;
          const room = (rack ? this.#rack.lostEnd : this.#sb.holeEnd) - hole;
          len = Math.min(maxPayload, room, txLen - hole > 0 ? txLen - hole : 0);
          fin = this.#finSent && hole + len === txLen && len < room;
          rxt = len > 0 || fin; // else: new data below, within cwnd − pipe
        }
      }
      if (rxt) {
        // (the hole chosen above)
      } else if (this.#tlpDue && !this.#fastRetransmit) {
        // A tail-loss probe (RFC 8985 §7.3): new data if the peer's window takes it, else the
        // last segment again; cwnd does not hold it back.
        tlp = true;
        const inFlight = seqDiff(this.#sndMax, this.#sndUna);
        const rwin = seqDiff((this.#sndUna + this.#sndWnd) >>> 0, this.#sndMax);
        const unsent = txLen - inFlight;
        if (unsent > 0 && rwin > 0 && !this.#finSent) {
          seq = this.#sndMax;
          len = Math.min(unsent, maxPayload, rwin);
          fin = this.#finQueued && inFlight + len === txLen;
        } else {
          const dataInFlight = inFlight < txLen ? inFlight : txLen;
          const from = dataInFlight > maxPayload ? dataInFlight - maxPayload : 0;
          seq = (this.#sndUna + from) >>> 0;
          len = dataInFlight - from;
          fin = this.#finSent && inFlight > dataInFlight;
        }
      } else if (this.#fastRetransmit) {
        seq = this.#sndUna;
        const inFlight = seqDiff(this.#sndMax, this.#sndUna);
        len = Math.min(maxPayload, txLen, inFlight);
        fin = this.#finSent && len === txLen && len < inFlight;
      } else {
        let pos = seqDiff(seq, this.#sndUna);
        let unsent = txLen - pos;
        // Resending after a timeout: what the peer SACKed is skipped.
        if (!this.#sb.isEmpty && seqDiff(seq, this.#sndMax) < 0) {
          pos = this.#sb.skipSacked(pos);
          seq = (this.#sndUna + pos) >>> 0;
          const next = this.#sb.nextSacked(pos);
          unsent = (next < txLen ? next : txLen) - pos;
        }
        const rwin = seqDiff((this.#sndUna + this.#sndWnd) >>> 0, seq);
        // Congestion control: min(SND.WND, cwnd) beyond SND.UNA; in SACK recovery cwnd − pipe.
        // (SACKed bytes below SND.NXT are not in flight.)
        const cwin = this.#inRecovery && this.#sackOk
          ? avail
          : this.#cc.cwnd - (this.#sb.isEmpty ? pos : pos - this.#sb.sackedBelow(pos));
        let win = cwin < rwin ? cwin : rwin;
        // Limited Transmit (RFC 3042; with SACK, SACKed bytes leave the flight instead): each of the
        // first two duplicate ACKs lets one new segment out beyond cwnd, cwnd unchanged.
        if (
          !this.#sackOk && this.#dupAcks > this.#ltSent && this.#ltSent < 2 && cwin < maxPayload &&
          !this.#inRecovery && seq === this.#sndMax && this.#cc.state === "Open"
        ) {
          win = maxPayload < rwin ? maxPayload : rwin;
          lt = true;
        }
        if (unsent > 0) {
          len = Math.min(unsent, maxPayload, win > 0 ? win : 0);
          if (len > 0 && len < maxPayload && len < unsent && len < (this.#maxSndWnd >>> 1)) {
            len = 0; // silly-window avoidance: wait for a bigger window (the persist timer overrides)
          }
          // Nagle: hold a runt while data is in flight, but not the last one before our FIN.
          if (
            len > 0 && len < maxPayload && this.#nagle && this.#sndMax !== this.#sndUna &&
            !(this.#finQueued && len === unsent)
          ) len = 0;
          if (len === 0 && this.#probeDue) {
            len = Math.min(unsent, maxPayload, win > 1 ? win : 1);
            probe = rwin <= 0;
          }
        }
        fin = this.#finQueued && pos + len === txLen; // the FIN follows the last byte
      }
    }
    const ackDue = this.#ackNow || (this.#ackAt >= 0 && now >= this.#ackAt) || this.#windowUpdateDue();
    let keepAlive = false;
    if (len === 0 && !fin && !ackDue) {
      if (this.#keepAliveDue) keepAlive = true;
      else return NONE;
    }
    o.reset();
    o.srcPort = this.#localPort;
    o.dstPort = this.#remotePort;
    o.seq = keepAlive ? (this.#sndNxt - 1) >>> 0 : seq >>> 0;
    o.ack = this.#rcvNxt;
    const last = len > 0 && seqDiff(seq, this.#sndUna) + len === this.#tx.length;
    o.flags = TCP_ACK | (fin ? TCP_FIN : 0) | (last ? TCP_PSH : 0);
    o.window = this.#windowField();
    if (this.#tsOk) {
      o.hasTimestamps = true;
      o.tsVal = this.#tsClock(now);
      o.tsEcr = this.#tsRecent;
    }
    o.sackCount = nSack; // (the blocks sit in o.sack since the fill above)
    this.#planSack = nSack;
    this.#planSeq = seq;
    this.#planPos = len > 0 ? seqDiff(seq, this.#sndUna) : 0; // (past the data once the FIN is out)
    this.#planLen = len;
    this.#planFlags = (fin ? TCP_FIN : 0) | (keepAlive ? 0x100 : 0) | (probe ? 0x200 : 0) |
      (rxt ? 0x400 : 0) |
      (tlp ? 0x800 : 0) | (lt && len > 0 ? 0x1000 : 0);
    return SEND_DATA;
  }

  /** Commits the segment `#plan` described, once the egress took it. */
  #commit(now: number, kind: number): void {
    this.stats.segmentsOut++;
    if (kind === SEND_RST) {
      this.#rstPending = false;
      this.stats.resetsOut++;
      return;
    }
    // Every segment but an RST carries our current window and acknowledges RCV.NXT.
    if (this.#acksOwed > 0) this.#acksOwed--;
    else this.#ackNow = false;
    this.#ackAt = -1;
    this.#fullSegments = 0;
    this.#lastAckSent = this.#out.ack;
    if (this.#planSack > 0) {
      this.stats.sackAcksOut++;
      if (this.#sackBlk.dsackPending) {
        this.stats.dsacksOut++;
        this.#sackBlk.sent();
      }
    }
    const right = (this.#rcvNxt + (this.#out.window << this.#rcvShift)) >>> 0;
    if (kind === SEND_SYN) {
      this.#rcvAdvRight = (this.#rcvNxt + this.#out.window) >>> 0;
    } else if (seqDiff(right, this.#rcvAdvRight) > 0) this.#rcvAdvRight = right;
    if (kind === SEND_SYN) {
      if (seqDiff(this.#sndMax, this.#iss) > 0) this.stats.retransmits++;
      this.#armRto(now, this.#iss, 1);
      this.#sndNxt = (this.#iss + 1) >>> 0;
      if (seqDiff(this.#sndNxt, this.#sndMax) > 0) this.#sndMax = this.#sndNxt;
      return;
    }
    const f = this.#planFlags;
    if (f & 0x100) {
      this.stats.keepAlives++;
      this.#keepAliveSent++;
      this.#keepAliveDue = false;
      return;
    }
    const len = this.#planLen;
    const segLen = len + ((f & TCP_FIN) ? 1 : 0);
    if (segLen === 0) return; // a pure ACK
    const seq = this.#planSeq;
    if (f & 0x200) this.stats.windowProbes++;
    if (f & 0x1000) {
      this.#ltSent++;
      this.#ltBytes += len;
    }
    this.#probeOut = (f & 0x200) !== 0 && seq === this.#sndUna;
    this.#probeDue = false;
    this.#lastSend = now;
    this.stats.bytesOut += len;
    const resent = seqDiff(seq, this.#sndMax) < 0;
    if (resent) this.stats.retransmits++;
    if (f & TCP_FIN) this.#finSent = true;
    this.#armRto(now, seq, segLen);
    if (this.#rackOffer && this.#sackOk) {
      this.#rack.sent(seq, segLen, now);
      if (f & 0x800) {
        this.stats.tlpProbes++;
        this.#tlpDue = false;
        this.#tlpActive = true;
        this.#tlpRetrans = resent;
        this.#tlpEnd = (seq + segLen) >>> 0;
        this.#rttActive = this.#rttActive && !resent;
      } else if (!resent) this.#armPto(now, seqDiff((seq + segLen) >>> 0, this.#sndMax));
    }
    if (f & 0x400) {
      // A SACK-recovery retransmission: HighRxt moves, SND.NXT stays.
      this.stats.sackRetransmits++;
      this.#highRxt = (seq + segLen) >>> 0;
      this.#rttActive = false;
      return;
    }
    if (this.#fastRetransmit) {
      if (seqDiff((seq + segLen) >>> 0, this.#highRxt) > 0) this.#highRxt = (seq + segLen) >>> 0;
      this.#fastRetransmit = false;
      this.#rttActive = false;
      return;
    }
    this.#sndNxt = (seq + segLen) >>> 0;
    if (seqDiff(this.#sndNxt, this.#sndMax) > 0) this.#sndMax = this.#sndNxt;
  }

  #armRto(now: number, seq: number, segLen: number): void {
    if (this.#rtoAt < 0) this.#rtoAt = now + this.#rto;
    if (this.#unackedSince < 0) this.#unackedSince = now;
    // Time one segment at a time, only new data (Karn).
    if (!this.#rttActive && seqDiff((seq + segLen) >>> 0, this.#sndMax) > 0) {
      this.#rttActive = true;
      this.#rttSeq = (seq + segLen) >>> 0;
      this.#rttTime = now;
    }
  }

  /** Our window field: free receive space, scaled, never moving the right edge left, RFC 9293 SWS rule. */
  #windowField(): number {
    const free = this.#rx.free;
    const advertised = seqDiff(this.#rcvAdvRight, this.#rcvNxt);
    let w = free;
    const threshold = Math.min(this.#rx.capacity >>> 1, this.#rcvMss);
    if (advertised >= 0 && w > advertised && w - advertised < threshold) w = advertised;
    if (advertised > w) w = advertised; // never shrink (rounding aside)
    w = w >>> this.#rcvShift;
    return w > 0xffff ? 0xffff : w;
  }

  /** True when reading freed enough space to tell the peer (receiver SWS avoidance). */
  #windowUpdateDue(): boolean {
    const s = this.#state;
    if (s !== ESTABLISHED && s !== FIN_WAIT_1 && s !== FIN_WAIT_2) return false;
    const advertised = seqDiff(this.#rcvAdvRight, this.#rcvNxt);
    const most = 0xffff << this.#rcvShift; // the largest window the field can say (shift ≤ 14)
    const could = this.#rx.free < most ? this.#rx.free : most;
    const gain = could - (advertised > 0 ? advertised : 0);
    return gain >= Math.min(this.#rx.capacity >>> 1, this.#rcvMss) && gain >= 1 << this.#rcvShift;
  }

  // ---- Helpers ------------------------------------------------------------------------------

  /** The connection is synchronized: the window starts at IW for the MSS known now (RFC 6928). */
  #ccStart(): void {
    const mss = Math.max(Math.min(this.#peerMss, this.#rcvMss), 1);
    this.#cc.init(mss, this.#synRetransmits > 0);
    this.#recover = this.#sndUna;
    this.#rack.clear(this.#sndUna);
    // RFC 6298 §5.7: a SYN timed out and no RTT sample yet: data starts with an RTO of 3 s.
    if (this.#synRetransmits > 0 && this.#srtt < 0 && this.#rto < 3000) {
      this.#rto = Math.min(3000, this.#maxRto);
    }
  }

  /** Our TSval at `now` (ms ticks, RFC 7323 §5.4: 1 ms … 1 s); 0 for pollAt's planning. */
  #tsClock(now: number): number {
    return now >= 0 && now < Infinity ? (Math.floor(now) + this.#tsOffset) >>> 0 : 0;
  }

  /** A challenge ACK (RFC 5961), at most `challengeAckLimit` a second (§7). */
  #challenge(now: number): void {
    if (now - this.#challengeStart >= 1000) {
      this.#challengeStart = now;
      this.#challengeCount = 0;
    }
    if (this.#challengeCount >= this.#challengeLimit) {
      this.stats.challengeAcksLimited++;
      return;
    }
    this.#challengeCount++;
    this.stats.challengeAcks++;
    this.#ackNow = true;
  }

  /**
   * RACK on an ACK (RFC 8985 §6.2): the records delivered, RFC 6675's IsLost and RACK's time
   * rule mark what is lost, the reordering timer for the rest; then the end of a probe's episode
   * (§7.4): a resent probe acknowledged beyond it without a D-SACK repaired a loss.
   */
  #rackOnAck(now: number, h: TcpHeader, dsack: number): void {
    const rk = this.#rack;
    // Int32 forms (`| 0`, seqDiff): a number beyond 2^31 − 1 passed to a call that is not inlined
    // is a heap number allocated per call; an int32 is not.
    const echoed = this.#inTsEcr >= 0 ? seqDiff(this.#inTsEcr, this.#tsOffset) : NaN;
    rk.onAck(now, this.#sndUna | 0, this.#sb, echoed, this.#minRtt);
    rk.adaptReoWnd(this.#sndUna, this.#sndNxt, dsack > 0, false);
    if (!this.#sb.isEmpty) rk.markLostBelow(this.#sndUna, this.#sb.lostEnd(this.#mss));
    if (!this.#sb.isEmpty || this.#inRecovery || this.#rackAt >= 0) this.#rackTimer(now);
    if (!this.#tlpActive) return;
    const dsackEnd = seqDiff(this.#tlpEnd, h.sack[1]); // 1: the probe carried our FIN
    if (dsack && this.#tlpRetrans && dsackEnd >= 0 && dsackEnd <= 1) {
      this.#tlpActive = false; // the probe was a duplicate: nothing was lost
    } else if (seqDiff(h.ack, this.#tlpEnd) > 0 || (!this.#tlpRetrans && h.ack === this.#tlpEnd)) {
      this.#tlpActive = false;
      if (this.#tlpRetrans && !this.#inRecovery) {
        this.stats.tlpRepairs++;
        const flight = seqDiff(this.#sndMax, this.#sndUna);
        this.#cc.onFastRetransmit(now, flight, this.#mss, true);
        this.#cc.onRecoveryEnd(now, flight, this.#mss);
      }
      this.#armPto(now); // the episode is over: the next probe may be armed
    }
  }

  /** RACK's detection (RFC 8985 §6.2 step 5) now; the reordering timer for what is not yet due. */
  #rackTimer(now: number): void {
    const rk = this.#rack;
    // RACK.reo_wnd (§6.2 step 4): none in recovery before reordering is seen, else min_RTT/4 ≤ SRTT.
    let reo = 0;
    if (rk.reorderingSeen || (!this.#inRecovery && this.#sb.sackedBytes < DUP_THRESH * this.#mss)) {
      const q = this.#minRtt < Infinity ? (rk.reoWndMult * this.#minRtt) / 4 : 0;
      reo = this.#srtt >= 0 && this.#srtt < q ? this.#srtt : q;
    }
    const n = rk.detectLoss(now, reo);
    this.stats.rackLosses += n;
    this.#rackAt = rk.timeout >= 0 ? Math.ceil(rk.timeout) : -1;
    if (
      n > 0 && !this.#inRecovery && this.#sndMax !== this.#sndUna && seqDiff(this.#sndUna, this.#recover) >= 0
    ) this.#enterRecovery(now);
  }

  /**
   * Arms the probe timeout (RFC 8985 §7.2) while data is out, no probe is and no recovery runs:
   * 2·SRTT (+ 200 ms, the worst delayed ACK, with one segment out; else + 2 ms of clock
   * allowance), never after the RTO. `beyond`: how far the segment leaving now ends past SND.MAX
   * (which has not moved yet), so that it counts in the flight (a distance, not the sequence
   * number: a number beyond 2^31 − 1 passed to a call is a heap number allocated per call).
   */
  #armPto(now: number, beyond: number = 0): void {
    const flight = seqDiff(this.#sndMax, this.#sndUna) + (beyond > 0 ? beyond : 0);
    if (
      !this.#rackOffer || !this.#sackOk || this.#inRecovery || this.#tlpActive ||
      flight === 0 || this.#sndWnd === 0 || seqDiff(this.#sndUna, this.#recover) < 0 ||
      !this.#canSendData()
    ) {
      this.#ptoAt = -1;
      return;
    }
    const pto = this.#srtt >= 0 ? Math.ceil(2 * this.#srtt) + (flight <= this.#mss ? 200 : 2) : 1000;
    let at = now + pto;
    if (this.#rtoAt >= 0 && at > this.#rtoAt) at = this.#rtoAt;
    this.#ptoAt = at;
  }

  /** The window opened after probes: the RTO they backed off is restored (Linux: icsk_backoff = 0). */
  #endPersist(now: number): void {
    this.#persisting = false;
    this.#rto = this.#persistRto;
    if (this.#rtoAt >= 0) this.#rtoAt = now + this.#rto;
  }

  /** Loss detected (RFC 5681 §3.2, RFC 6675 §5): the first unacknowledged segment at once. */
  #enterRecovery(now: number): void {
    this.#ptoAt = -1;
    this.#tlpActive = this.#tlpDue = false;
    this.#fastRetransmit = true;
    this.#inRecovery = true;
    this.#recover = this.#sndMax;
    this.#highRxt = this.#sndUna;
    this.stats.fastRetransmits++;
    this.stats.recoveries++;
    // RFC 5681 §3.2 step 2: what Limited Transmit sent is not in the flight size.
    const flight = seqDiff(this.#sndMax, this.#sndUna) - (this.#sackOk ? 0 : this.#ltBytes);
    this.#cc.onFastRetransmit(now, flight, this.#mss, this.#sackOk);
  }

  #gauges(): void {
    const st = this.stats;
    st.cwnd = this.#cc.cwnd;
    st.ssthresh = this.#cc.ssthresh;
    st.congestionState = this.#cc.state;
  }

  /** True in the states that send data and FIN. */
  #canSendData(): boolean {
    const s = this.#state;
    return s === ESTABLISHED || s === CLOSE_WAIT || s === FIN_WAIT_1 || s === CLOSING || s === LAST_ACK;
  }

  /** The window a SYN or SYN-ACK advertises (never scaled). */
  #synWindow(): number {
    return this.#rx.free > 0xffff ? 0xffff : this.#rx.free;
  }

  #queueFin(): void {
    this.#finQueued = true;
  }

  #queueRst(seq: number, ack: number, flags: number, src: number, dst: number, dstPort: number): void {
    this.#rstPending = true;
    this.#rstSeq = seq >>> 0;
    this.#rstAck = ack >>> 0;
    this.#rstFlags = flags;
    this.#rstSrcIp = src;
    this.#rstDstIp = dst;
    this.#rstDstPort = dstPort;
  }

  #toTimeWait(now: number): void {
    this.#state = TIME_WAIT;
    this.#timeWaitAt = now + this.#timeWait;
    this.#rtoAt = this.#ptoAt = this.#rackAt = -1;
    this.#tlpDue = false;
    this.#unackedSince = -1;
  }

  #toClosed(reason: TcpCloseReason): void {
    this.#state = CLOSED;
    this.#reason = reason;
    this.#rtoAt = -1;
    this.#ackAt = -1;
    this.#timeWaitAt = -1;
    this.#unackedSince = -1;
    this.#ackNow = false;
    this.#acksOwed = 0;
    this.#fastRetransmit = false;
    this.#inRecovery = false;
    this.#keepAliveDue = false;
    this.#probeDue = false;
    this.#ptoAt = this.#rackAt = -1;
    this.#tlpDue = this.#tlpActive = false;
    this.#tx.clear();
    this.#asm.clear();
  }

  #backToListen(): void {
    const port = this.#localPort;
    const ip = this.#listenIp;
    this.#reset();
    this.#localIp = ip;
    this.#listenIp = ip;
    this.#localPort = port;
    this.#state = LISTEN;
  }

  #reset(): void {
    this.#rx.clear();
    this.#tx.clear();
    this.#asm.clear();
    this.#reason = "None";
    this.#passive = false;
    this.#remoteIp = 0;
    this.#remotePort = 0;
    this.#listenIp = 0;
    this.#sndWnd = this.#maxSndWnd = 0;
    this.#sndShift = this.#rcvShift = 0;
    this.#peerMss = 536;
    this.#peerOfferedScale = false;
    this.#finQueued = false;
    this.#finSent = false;
    this.#synAcked = false;
    this.#synRetransmits = 0;
    this.#rxFin = false;
    this.#finHeld = false;
    this.#rtoAt =
      this.#ackAt =
      this.#timeWaitAt =
      this.#unackedSince =
        -1;
    this.#keepAliveSent = 0;
    this.#keepAliveDue =
      this.#probeDue =
      this.#probeOut =
      this.#persisting =
        false;
    this.#rto = this.#initialRto;
    this.#srtt = -1;
    this.#rttvar = 0;
    this.#rttActive = false;
    this.#dupAcks = this.#ltSent = this.#ltBytes = 0;
    this.#fastRetransmit = false;
    this.#inRecovery = false;
    this.#recover = 0;
    this.#rtoStreak = 0;
    this.#lastSend = -1;
    this.#tsOk = false;
    this.#sackOk = false;
    this.#sb.clear();
    this.#sackBlk.clear();
    this.#rack.clear(0);
    this.#ptoAt = this.#rackAt = -1;
    this.#tlpDue = this.#tlpActive = this.#tlpRetrans = false;
    this.#minRtt = Infinity;
    this.#highRxt = 0;
    this.#planSack = 0;
    this.#tsRecent = 0;
    this.#lastAckSent = 0;
    this.#inTsEcr = -1;
    this.#cc.init(536, false);
    this.#acksOwed = 0;
    this.#ackNow = false;
    this.#fullSegments = 0;
    this.#rstPending = false;
  }

  #checkSend(): void {
    this.#live();
    if (!this.maySend) {
      throw new SocketError(
        "InvalidState",
        `send: the socket is ${this.state}${this.#finQueued ? " and closed for sending" : ""}`,
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
    if (this.#state !== CLOSED) {
      throw new SocketError("InvalidState", `cookieHandshake: the socket is ${this.state}`);
    }
    this.#reset();
    this.#listenIp = listenIp;
    this.#localIp = localIp;
    this.#localPort = localPort;
    this.#remoteIp = remoteIp;
    this.#remotePort = remotePort;
    this.#peerMss = peerMss;
    this.#peerOfferedScale = windowScale >= 0;
    this.#sndShift = windowScale >= 0 ? Math.min(windowScale, TCP_MAX_WINDOW_SCALE) : 0;
    this.#rcvShift = windowScale >= 0 ? this.#ourShift : 0;
    this.#tsOk = timestamps && this.#tsOffer;
    this.#sackOk = sack && this.#sackOffer;
    if (this.#tsOk) this.#tsRecent = tsRecent;
    this.#irs = irs >>> 0;
    this.#rcvNxt = (irs + 1) >>> 0;
    this.#lastAckSent = this.#rcvNxt;
    this.#rcvAdvRight = (this.#rcvNxt + this.#synWindow()) >>> 0;
    this.#iss = iss >>> 0;
    this.#sndUna = this.#iss;
    this.#sndNxt = this.#sndMax = (iss + 1) >>> 0;
    this.#tsOffset = this.#iss; // the SYN-ACK's TSval came from this clock (SynCookies.tsVal)
    this.#sndWl1 = irs >>> 0;
    this.#sndWl2 = this.#iss;
    this.#lastRecv = now;
    this.#passive = true;
    this.#state = SYN_RECEIVED;
  }

  /**
   * @internal RFC 6191 / RFC 9293 §3.10.7.4 (as Linux decides it): true when this socket is in
   * TIME-WAIT and `h` is a SYN (no ACK, no RST) that may open a new incarnation of the
   * connection: a timestamp newer than the last one seen (when this connection used them), or
   * else a sequence number above RCV.NXT — and the timestamp not older (PAWS).
   */
  timeWaitReusableBy(h: TcpHeader): boolean {
    if (this.#state !== TIME_WAIT || (h.flags & (TCP_SYN | TCP_ACK | TCP_RST)) !== TCP_SYN) return false;
    if (this.#tsOk && h.hasTimestamps) {
      const d = seqDiff(h.tsVal, this.#tsRecent);
      if (d < 0) return false; // PAWS
      if (d > 0) return true;
    }
    return seqDiff(h.seq, this.#rcvNxt) > 0;
  }

  /** @internal Ends TIME-WAIT at once (its 4-tuple goes to a new connection): Closed, nothing sent. */
  endTimeWait(): void {
    if (this.#state === TIME_WAIT) this.#toClosed("Closed");
  }

  // ---- Pooled storage (see the constructor) ---------------------------------------------------

  /** The rings a socket whose storage was taken shows (empty; nothing writes to a disposed socket). */
  static readonly #noRing = new ByteRing(1);
  #storageTaken = false;

  /** `s`, checked as the storage of a new socket with these sizes. */
  static #storageOf(s: unknown, rxSize: number, txSize: number, maxOoo: number): TcpSocket {
    if (!(s instanceof TcpSocket)) {
      throw new SocketError("InvalidArgument", "TcpSocket: storage is not a TcpSocket");
    }
    if (s.#storageTaken) throw new SocketError("InvalidState", "TcpSocket: storage was taken already");
    if (s.#state !== CLOSED) throw new SocketError("InvalidState", `TcpSocket: storage is ${s.state}`);
    if (s.#rx.capacity !== rxSize || s.#tx.capacity !== txSize || s.#asm.capacity !== maxOoo) {
      throw new SocketError(
        "InvalidArgument",
        `TcpSocket: storage has rings of ${s.#rx.capacity}/${s.#tx.capacity} bytes and ${s.#asm.capacity} ` +
          `out-of-order ranges, not ${rxSize}/${txSize} and ${maxOoo}`,
      );
    }
    return s;
  }

  /** `s` after a new socket took its storage: disposed, with empty rings of its own. */
  static #emptied(s: TcpSocket): void {
    s.#storageTaken = true;
    s.#disposed = true;
    s.#rx = s.#tx = TcpSocket.#noRing;
  }

  #live(): void {
    if (this.#disposed) throw new SocketError("Disposed", "TcpSocket: used after dispose");
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
