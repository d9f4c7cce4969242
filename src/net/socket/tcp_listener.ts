/**
 * A listening port with a backlog: a bounded SYN queue (connections in the handshake) and a
 * bounded accept queue (established, not yet accepted), over a fixed pool of preallocated
 * sockets. Overflow of either is counted, never grown. Independent of the interface: the
 * interface looks a segment's 4-tuple up first and hands SYNs with no connection to
 * {@linkcode TcpListener.onSyn}, then feeds the returned socket like any other.
 *
 * When the SYN queue is full, SYNs are answered with SYN cookies (RFC 4987, see
 * `syn_cookie.ts`): {@linkcode TcpListener.synCookie} builds a stateless SYN-ACK and
 * {@linkcode TcpListener.onAck} turns an ACK that carries a valid cookie into an established
 * connection on the accept queue, so a SYN flood neither grows memory nor locks real clients out.
 *
 * @module
 */
import { TCP_ACK, TCP_MAX_WINDOW_SCALE, TCP_RST, TCP_SYN, TcpHeader } from "../wire/tcp.ts";
import { badArgument, isBytes, isFiniteFrom, isIntIn, isU32, shown } from "../args.ts";
import { checkInteger, SocketError } from "./error.ts";
import { SYN_COOKIE_NO_TIMESTAMPS, SYN_COOKIE_SLOT_MS, SynCookies } from "./syn_cookie.ts";
import { type TcpConfig, TcpSocket } from "./tcp.ts";

/** Options of a {@linkcode TcpListener}. */
export interface TcpListenerOptions {
  /** Established connections waiting for `accept` (default 128; 1 … 65535). */
  backlog?: number;
  /** Connections in the handshake at once (default: the backlog; 1 … 65535). */
  synBacklog?: number;
  /** Configuration of the connections' sockets. */
  socket?: TcpConfig;
  /**
   * Answer SYNs with SYN cookies (RFC 4987) while the SYN queue is full (default true); false
   * drops them (counted in `synQueueOverflow`).
   */
  synCookies?: boolean;
}

/** Counters of a listener. */
export class TcpListenerStats {
  /** SYNs that started a handshake. */
  synsAccepted: number = 0;
  /** SYNs dropped because the SYN queue was full. */
  synQueueOverflow: number = 0;
  /** SYNs dropped because the accept queue was full. */
  acceptQueueOverflow: number = 0;
  /** Handshakes that ended without a connection (RST, timeout). */
  handshakesFailed: number = 0;
  /** Connections handed to `accept`. */
  accepted: number = 0;
  /** SYN-ACKs sent with a SYN cookie (the SYN queue was full). */
  cookiesSent: number = 0;
  /** ACKs whose cookie was valid: a connection made without a handshake held in memory. */
  cookiesValidated: number = 0;
  /** ACKs checked for a cookie (cookies were sent lately) that carried none of ours. */
  cookiesRejected: number = 0;
  /** Connections in TIME-WAIT ended by a new SYN for their 4-tuple (RFC 6191), counted by the interface. */
  timeWaitReused: number = 0;
  /** Closed accepted sockets given back with `release`: their storage serves a later connection. */
  socketsReused: number = 0;
  /**
   * Segments to the port with none of SYN, ACK, RST (a bare FIN, data without ACK): dropped
   * without an answer (RFC 9293 3.10.7.2, LISTEN "fourth"), counted by the interface.
   */
  droppedNoSynAck: number = 0;
}

/** The fields of {@linkcode TcpListenerOptions}. */
const OPTION_KEYS: readonly string[] = ["backlog", "synBacklog", "socket", "synCookies"];

/** A pooled socket's standing, for {@linkcode TcpListener.release}. */
const IN_USE = 0; // in the caller's table, or held by the program
const RELEASED = 1; // released by the program, still in the caller's table
const LEFT = 2; // out of the caller's table, still held by the program
const POOLED = 3; // in the free pool (a fresh object over pooled storage: nobody else holds it)
const STANDING = 3; // the bits above
const ACCEPTED = 4; // with IN_USE or LEFT: handed out by accept (only those may be released)
const GONE = 8; // released: its storage went to the pool (or it was disposed); the object is disposed

/**
 * Accepts connections on one local address and port. Sockets come from a pool sized
 * `backlog + synBacklog` plus what the application holds: `accept` hands a socket over and
 * {@linkcode TcpListener.release} gives it back once closed. The pool keeps the storage (rings,
 * reassembly, records), not the objects: each connection gets a fresh `TcpSocket` over pooled
 * storage, and a released one is disposed, so a stale reference throws `Disposed` instead of
 * reaching the next connection.
 */
export class TcpListener implements Disposable {
  /** Counters. */
  readonly stats: TcpListenerStats = new TcpListenerStats();
  readonly #localIp: number;
  readonly #localPort: number;
  readonly #free: TcpSocket[] = [];
  readonly #syn: TcpSocket[] = []; // in the handshake
  readonly #ready: TcpSocket[]; // ring of established connections
  #readyHead = 0;
  #readyCount = 0;
  readonly #synBacklog: number;
  readonly #config: TcpConfig;
  readonly #status = new WeakMap<TcpSocket, number>(); // this listener's sockets
  #tracked = false; // an Interface keeps the 4-tuple table (see track)
  #disposed = false;
  // SYN cookies
  readonly #cookies: SynCookies | null;
  #lastCookieAt = -Infinity;
  readonly #ourShift: number;
  readonly #synWindow: number;
  readonly #tsOffer: boolean;
  readonly #sackOffer: boolean;

  /**
   * Listens on `localIp:localPort` (`localIp` 0: any address).
   * @throws {SocketError} `InvalidArgument` for a port or a backlog out of range, `options` not
   * an object or with a field it does not have, or bad socket options.
   */
  constructor(localIp: number, localPort: number, options: TcpListenerOptions = {}) {
    checkInteger("TcpListener: localIp", localIp, 0, 0xffffffff);
    checkInteger("TcpListener: localPort", localPort, 1, 0xffff);
    checkObject("TcpListener", "options", options);
    for (const k of Object.keys(options)) {
      if (!OPTION_KEYS.includes(k)) {
        throw new SocketError(
          "InvalidArgument",
          `TcpListener: options has no field ${shown(k)}; the fields are ${OPTION_KEYS.join(", ")}`,
        );
      }
    }
    if (options.socket !== undefined) checkObject("TcpListener", "options.socket", options.socket);
    const backlog = options.backlog ?? 128;
    checkInteger("TcpListener: backlog", backlog, 1, 0xffff);
    this.#synBacklog = options.synBacklog ?? backlog;
    checkInteger("TcpListener: synBacklog", this.#synBacklog, 1, 0xffff);
    if (options.synCookies !== undefined && typeof options.synCookies !== "boolean") {
      throw new SocketError(
        "InvalidArgument",
        badArgument("TcpListener", "synCookies", options.synCookies, "a boolean"),
      );
    }
    this.#localIp = localIp;
    this.#localPort = localPort;
    this.#config = options.socket ?? {};
    new TcpSocket(this.#config)[Symbol.dispose](); // validates the socket options now
    this.#ready = new Array(backlog);
    this.#cookies = options.synCookies === false ? null : new SynCookies();
    const rx = this.#config.rxBufferSize ?? 65536;
    let shift = 0;
    while (shift < TCP_MAX_WINDOW_SCALE && rx >>> shift > 0xffff) shift++;
    this.#ourShift = shift;
    this.#synWindow = rx > 0xffff ? 0xffff : rx;
    this.#tsOffer = this.#config.timestamps ?? true;
    this.#sackOffer = this.#config.sack ?? true;
  }

  /** The local port. */
  get localPort(): number {
    return this.#localPort;
  }
  /** The local address (0: any). */
  get localIp(): number {
    return this.#localIp;
  }
  /** Connections in the handshake. */
  get pending(): number {
    return this.#syn.length;
  }
  /** Established connections waiting for `accept`. */
  get ready(): number {
    return this.#readyCount;
  }
  /** Closed sockets in the pool, kept for later connections. */
  get pooled(): number {
    return this.#free.length;
  }
  /** True once disposed (its methods then throw `Disposed`). Reading it changes nothing. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * A segment for this listener's port that matched no connection, from `src` to `dst`. A SYN
   * with room in both queues takes a socket (from the pool, or a new one) into SYN-RECEIVED and
   * returns it: the caller enters it in its 4-tuple table and dispatches it like any socket. A
   * SYN without room is dropped and counted (see {@linkcode TcpListener.synCookie} for the
   * answer to a full SYN queue). Anything else returns null (answer it with `tcpResetFor`
   * unless it is an RST, or try {@linkcode TcpListener.onAck} for an ACK).
   * @throws {SocketError} `InvalidArgument` for a bad time or address (checked before anything
   * changes); `Disposed` after dispose.
   */
  onSyn(now: number, src: number, dst: number, h: TcpHeader): TcpSocket | null {
    this.#live();
    checkSegment("onSyn", now, src, dst);
    if (!(h instanceof TcpHeader)) throw new SocketError("InvalidArgument", "onSyn: h must be a TcpHeader");
    if ((h.flags & (TCP_SYN | TCP_ACK | TCP_RST)) !== TCP_SYN) return null;
    if (this.#localIp !== 0 && dst !== this.#localIp) return null;
    this.#sweep();
    if (this.#syn.length + this.#failed.length >= this.#synBacklog) { // failed: until takeFailed
      this.stats.synQueueOverflow++;
      return null;
    }
    if (this.#readyCount >= this.#ready.length) {
      this.stats.acceptQueueOverflow++;
      return null;
    }
    const s = this.#take();
    s.listen(this.#localIp, this.#localPort);
    s.process(now, src, dst, h, EMPTY, 0, 0);
    if (s.state !== "SynReceived") {
      s.close();
      this.#pool(s, false);
      return null;
    }
    this.#syn.push(s);
    this.stats.synsAccepted++;
    return s;
  }

  /**
   * The stateless answer to a SYN whose handshake is not kept — {@linkcode TcpListener.onSyn}
   * refused it because the SYN queue is full, or the caller has no room for it in its 4-tuple
   * table: fills `out` with a SYN-ACK from `dst` to `src` whose ISN is a SYN cookie (RFC 4987;
   * MSS from `mtu`, window scale and SACK-permitted only with timestamps, see `syn_cookie.ts`)
   * and returns true — send it. False (send nothing) when cookies are off, the accept queue is
   * full, or `h` is not a SYN for this listener. Nothing is kept.
   * @throws {SocketError} `InvalidArgument` for a bad time, address or `mtu` (a whole number
   * 41–65535); `Disposed` after dispose.
   */
  synCookie(now: number, src: number, dst: number, h: TcpHeader, mtu: number, out: TcpHeader): boolean {
    this.#live();
    checkSegment("synCookie", now, src, dst);
    if (!(h instanceof TcpHeader) || !(out instanceof TcpHeader)) {
      throw new SocketError("InvalidArgument", "synCookie: h and out must be TcpHeaders");
    }
    if (!isIntIn(mtu, 41, 0xffff)) {
      throw new SocketError(
        "InvalidArgument",
        badArgument("synCookie", "mtu", mtu, "a whole number 41–65535"),
      );
    }
    const cookies = this.#cookies;
    if (cookies === null || (h.flags & (TCP_SYN | TCP_ACK | TCP_RST)) !== TCP_SYN) return false;
    if (this.#localIp !== 0 && dst !== this.#localIp) return false;
    if (this.#readyCount >= this.#ready.length) return false;
    const ourMss = Math.min(Math.max(mtu - 40, 1), 0xffff);
    const peerMss = h.mss > 0 ? Math.min(h.mss, ourMss) : 536;
    const ts = this.#tsOffer && h.hasTimestamps;
    // Window scale and SACK-permitted live in the TSval's low bits (the ACK's TSecr), under the hash.
    const ws = ts && h.windowScale >= 0 ? Math.min(h.windowScale, TCP_MAX_WINDOW_SCALE) : -1;
    const sack = ts && this.#sackOffer && h.sackPermitted;
    const options = ts ? SynCookies.options(ws, sack) : SYN_COOKIE_NO_TIMESTAMPS;
    const iss = cookies.make(now, dst, this.#localPort, src, h.srcPort, h.seq, peerMss, options);
    out.reset();
    out.srcPort = this.#localPort;
    out.dstPort = h.srcPort;
    out.seq = iss;
    out.ack = (h.seq + 1) >>> 0;
    out.flags = TCP_SYN | TCP_ACK;
    out.mss = ourMss;
    out.window = this.#synWindow;
    if (ts) {
      if (ws >= 0) out.windowScale = this.#ourShift;
      if (sack) out.sackPermitted = true;
      out.hasTimestamps = true;
      out.tsVal = SynCookies.tsVal((Math.floor(now) + iss) >>> 0, ws, sack);
      out.tsEcr = h.tsVal;
    }
    this.#lastCookieAt = now;
    this.stats.cookiesSent++;
    return true;
  }

  /**
   * An ACK for this listener's port that matched no connection: while SYN cookies were sent in
   * the last two time slots, its acknowledgment number is checked as one (same 4-tuple, the
   * SYN's sequence number, the current or previous slot). A valid one makes an established
   * connection (with the cookie's MSS, and the window scale and SACK-permitted its timestamp
   * echoes), fed the ACK (its data and FIN too) and queued for `accept`: returned, for the
   * caller's 4-tuple table. `"drop"`: a valid cookie but the accept queue is full (counted; the
   * peer retries). null: no cookie of ours (answer with `tcpResetFor`).
   * @throws {SocketError} `InvalidArgument` for a bad time or address, or a payload range
   * outside `payload` (checked before anything changes).
   */
  onAck(
    now: number,
    src: number,
    dst: number,
    h: TcpHeader,
    payload: Uint8Array,
    offset: number,
    length: number,
  ): TcpSocket | "drop" | null {
    this.#live();
    checkSegment("onAck", now, src, dst);
    if (!(h instanceof TcpHeader)) throw new SocketError("InvalidArgument", "onAck: h must be a TcpHeader");
    // The range before anything is taken (a socket from the pool, a cookie's check).
    if (!isBytes(payload)) {
      throw new SocketError(
        "InvalidArgument",
        badArgument("onAck", "payload", payload, "a Uint8Array whose buffer is not detached"),
      );
    }
    if (!isIntIn(offset, 0, payload.length)) {
      throw new SocketError(
        "InvalidArgument",
        badArgument("onAck", "offset", offset, `a whole number 0–${payload.length} (the payload's length)`),
      );
    }
    if (!isIntIn(length, 0, payload.length - offset)) {
      throw new SocketError(
        "InvalidArgument",
        badArgument(
          "onAck",
          "length",
          length,
          `a whole number 0–${payload.length - offset} (the rest of the payload)`,
        ),
      );
    }
    const cookies = this.#cookies;
    if (cookies === null || (h.flags & (TCP_SYN | TCP_ACK | TCP_RST)) !== TCP_ACK) return null;
    if (this.#localIp !== 0 && dst !== this.#localIp) return null;
    if (!this.cookiesPending(now)) return null; // no cookie can be valid
    const iss = (h.ack - 1) >>> 0;
    const irs = (h.seq - 1) >>> 0;
    const ts = this.#tsOffer && h.hasTimestamps;
    // The options the TSecr claims are under the hash: forged bits fail the check.
    const options = ts ? SynCookies.echoedOptions(h.tsEcr) : SYN_COOKIE_NO_TIMESTAMPS;
    const mss = cookies.check(now, dst, this.#localPort, src, h.srcPort, irs, iss, options);
    if (mss === 0) {
      this.stats.cookiesRejected++;
      return null;
    }
    this.#sweep();
    if (this.#readyCount >= this.#ready.length) {
      this.stats.acceptQueueOverflow++;
      return "drop";
    }
    const s = this.#take();
    s.cookieHandshake(
      this.#localIp,
      dst,
      this.#localPort,
      src,
      h.srcPort,
      iss,
      irs,
      mss,
      ts ? SynCookies.windowScale(h.tsEcr) : -1,
      ts && SynCookies.sackPermitted(h.tsEcr),
      ts,
      h.tsVal,
      now,
    );
    s.process(now, src, dst, h, payload, offset, length);
    const st = s.state;
    if (st === "SynReceived" || st === "Closed" || st === "Listen") {
      if (st !== "Closed") s.abort();
      this.#pool(s, false);
      this.stats.cookiesRejected++;
      return null;
    }
    this.stats.cookiesValidated++;
    this.#ready[(this.#readyHead + this.#readyCount) % this.#ready.length] = s;
    this.#readyCount++;
    return s;
  }

  /**
   * @internal True when an ACK at `now` may carry one of this listener's cookies (some went out
   * in the last two time slots): `onAck` checks it.
   */
  cookiesPending(now: number): boolean {
    if (typeof now !== "number") {
      throw new SocketError("InvalidArgument", badArgument("cookiesPending", "now", now, "a time (ms)"));
    }
    return !this.#disposed && this.#cookies !== null && now - this.#lastCookieAt < 2 * SYN_COOKIE_SLOT_MS;
  }

  /**
   * The next established connection, or null. Handshakes that completed move to the accept
   * queue here (and in `onSyn`); those that failed are counted and wait for `takeFailed`.
   */
  accept(): TcpSocket | null {
    this.#live();
    this.#sweep();
    if (this.#readyCount === 0) return null;
    const s = this.#ready[this.#readyHead]!;
    this.#ready[this.#readyHead] = undefined as unknown as TcpSocket;
    this.#readyHead = (this.#readyHead + 1) % this.#ready.length;
    this.#readyCount--;
    this.stats.accepted++;
    this.#status.set(s, this.#status.get(s)! | ACCEPTED);
    return s;
  }

  /**
   * Gives an accepted socket's storage back to the pool, for a later connection, and disposes
   * the socket: its later use throws `Disposed` (views of `rxBytes`/`txBytes` taken before must
   * not be kept: that memory serves the next connection). Without an interface (the caller
   * keeps the 4-tuple table) the socket must be closed and out of the caller's table. Under an
   * interface (`Interface.listenTcp`) it may be Closed or in TIME-WAIT: it is disposed and its
   * storage pooled once it has closed and the interface has dropped its 4-tuple. Beyond the
   * pool's size (`backlog + synBacklog`) it is disposed with its storage. Releasing a socket
   * twice does nothing.
   * @throws {SocketError} `InvalidArgument` for a socket this listener did not make;
   * `InvalidState` while the socket is still open, or for one `accept` did not hand out (still in
   * the handshake or the accept queue: the listener recycles those itself).
   */
  release(s: TcpSocket): void {
    this.#live();
    if (!(s instanceof TcpSocket)) throw new SocketError("InvalidArgument", "release: not a TcpSocket");
    const status = this.#status.get(s);
    if (status === undefined) {
      throw new SocketError("InvalidArgument", "release: the socket is not one of this listener's");
    }
    if (status === POOLED || status === RELEASED || status === GONE) return;
    if ((status & ACCEPTED) === 0) {
      throw new SocketError(
        "InvalidState",
        "release: accept did not hand this socket out (it is in the listener's SYN queue or accept queue)",
      );
    }
    const st = s.state;
    if (st !== "Closed" && !(this.#tracked && st === "TimeWait")) {
      throw new SocketError("InvalidState", `release: the socket is ${st}`);
    }
    if (!this.#tracked || (status & STANDING) === LEFT) this.#reuse(s);
    else this.#status.set(s, RELEASED);
  }

  /**
   * @internal The caller's table keeps this listener's sockets and will say when one leaves it
   * ({@linkcode TcpListener.left}): {@linkcode TcpListener.release} then waits for that.
   */
  track(): void {
    this.#tracked = true;
  }

  /**
   * @internal A socket of this listener left the caller's 4-tuple table (it closed). Reused now
   * if the program released it already. A no-op once disposed.
   */
  left(s: TcpSocket): void {
    if (this.#disposed) return;
    const status = this.#status.get(s);
    if (status === RELEASED) this.#reuse(s);
    else if (status !== undefined && (status & STANDING) === IN_USE) this.#status.set(s, status | LEFT);
  }

  /**
   * Sockets of handshakes that ended without a connection since the last call: the caller
   * removes them from its table (their storage is back in the pool, they are disposed). Fills
   * `out`, returns the count. Until taken, they count against the SYN queue (so they cannot pile
   * up).
   */
  takeFailed(out: TcpSocket[]): number {
    this.#live();
    if (!Array.isArray(out)) throw new SocketError("InvalidArgument", "takeFailed: out must be an array");
    this.#sweep();
    let n = 0;
    for (const s of this.#failed) {
      out[n++] = s;
      this.#pool(s); // reused only now that the caller forgets its 4-tuple
    }
    this.#failed.length = 0;
    return n;
  }
  readonly #failed: TcpSocket[] = [];

  /** A socket for a new connection: from the pool (a fresh object nobody holds), or a new one. */
  #take(): TcpSocket {
    const s = this.#free.pop() ?? new TcpSocket(this.#config);
    this.#status.set(s, IN_USE);
    return s;
  }

  /**
   * A closed socket's storage back to the pool (or disposed, beyond the pool's size). One that
   * was `exposed` (returned to the caller or the program) gives its storage to a fresh object
   * and is disposed, so that no reference to it reaches a later connection.
   */
  #pool(s: TcpSocket, exposed = true): void {
    if (s.state !== "Closed" || this.#free.length >= this.#ready.length + this.#synBacklog) {
      this.#status.set(s, GONE);
      s[Symbol.dispose]();
      return;
    }
    let holder = s;
    if (exposed) {
      holder = new TcpSocket(this.#config, s); // s is disposed now
      this.#status.set(s, GONE);
    }
    this.#status.set(holder, POOLED);
    this.#free.push(holder);
  }

  /** A released accepted socket, out of every table: into the pool. */
  #reuse(s: TcpSocket): void {
    if (s.state !== "Closed") return; // (left: the table dropped it, so it closed)
    this.stats.socketsReused++;
    this.#pool(s);
  }

  /** Moves completed handshakes to the accept queue and recycles failed ones. */
  #sweep(): void {
    // Compacts the SYN queue in place, keeping arrival order (accept is first come, first served).
    let w = 0;
    const syn = this.#syn;
    for (let i = 0; i < syn.length; i++) {
      const s = syn[i];
      const st = s.state;
      const failed = st === "Listen" || st === "Closed";
      if (failed) {
        this.stats.handshakesFailed++;
        if (st === "Listen") s.close();
        this.#failed.push(s);
      } else if (st !== "SynReceived" && this.#readyCount < this.#ready.length) {
        // Established (or further: data and FIN may come with the handshake's end).
        this.#ready[(this.#readyHead + this.#readyCount) % this.#ready.length] = s;
        this.#readyCount++;
      } else {
        syn[w++] = s; // in the handshake, or done while the accept queue is full
      }
    }
    syn.length = w;
  }

  /** Aborts every connection not yet accepted and disposes the pool. Idempotent. */
  [Symbol.dispose](): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const s of this.#syn) s[Symbol.dispose]();
    for (let i = 0; i < this.#readyCount; i++) {
      this.#ready[(this.#readyHead + i) % this.#ready.length][Symbol.dispose]();
    }
    for (const s of this.#free) s[Symbol.dispose]();
    for (const s of this.#failed) s[Symbol.dispose]();
    this.#failed.length = 0;
    this.#syn.length = 0;
    this.#free.length = 0;
    this.#readyCount = 0;
  }

  #live(): void {
    if (this.#disposed) throw new SocketError("Disposed", "TcpListener: used after dispose");
  }
}

const EMPTY = new Uint8Array(0);

/** Throws `InvalidArgument` unless `value` is a plain object (`{ … }`). */
function checkObject(where: string, name: string, value: unknown): void {
  const proto = typeof value === "object" && value !== null ? Object.getPrototypeOf(value) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new SocketError("InvalidArgument", badArgument(where, name, value, "an options object"));
  }
}

/** Checks a segment's time and addresses (per segment: no allocation unless it throws). */
function checkSegment(where: string, now: number, src: number, dst: number): void {
  if (!isFiniteFrom(now, 0)) {
    throw new SocketError("InvalidArgument", badArgument(where, "now", now, "a finite time ≥ 0 (ms)"));
  }
  if (!isU32(src)) {
    throw new SocketError("InvalidArgument", badArgument(where, "src", src, "a u32 IPv4 address"));
  }
  if (!isU32(dst)) {
    throw new SocketError("InvalidArgument", badArgument(where, "dst", dst, "a u32 IPv4 address"));
  }
}
