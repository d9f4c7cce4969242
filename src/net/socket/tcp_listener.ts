/**
 * A listening port with a backlog: a bounded SYN queue (connections in the handshake) and a
 * bounded accept queue (established, not yet accepted), over a fixed pool of preallocated
 * sockets. Overflow of either is counted, never grown. Independent of the interface: the
 * interface looks a segment's 4-tuple up first and hands SYNs with no connection to
 * {@linkcode TcpListener.onSyn}, then feeds the returned socket like any other.
 *
 * @module
 */
import { TCP_ACK, TCP_RST, TCP_SYN, TcpHeader } from "../wire/tcp.ts";
import { checkInteger, SocketError } from "./error.ts";
import { type TcpConfig, TcpSocket } from "./tcp.ts";

/** Options of a {@linkcode TcpListener}. */
export interface TcpListenerOptions {
  /** Established connections waiting for `accept` (default 128; 1 … 65535). */
  backlog?: number;
  /** Connections in the handshake at once (default: the backlog; 1 … 65535). */
  synBacklog?: number;
  /** Configuration of the connections' sockets. */
  socket?: TcpConfig;
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
}

/**
 * Accepts connections on one local address and port. Sockets come from a pool sized
 * `backlog + synBacklog` plus what the application holds: `accept` hands a socket over and
 * {@linkcode TcpListener.release} gives it back once closed.
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
  #disposed = false;

  /**
   * Listens on `localIp:localPort` (`localIp` 0: any address).
   * @throws {SocketError} `InvalidArgument` for a port or a backlog out of range.
   */
  constructor(localIp: number, localPort: number, options: TcpListenerOptions = {}) {
    checkInteger("TcpListener: localIp", localIp, 0, 0xffffffff);
    checkInteger("TcpListener: localPort", localPort, 1, 0xffff);
    const backlog = options.backlog ?? 128;
    checkInteger("TcpListener: backlog", backlog, 1, 0xffff);
    this.#synBacklog = options.synBacklog ?? backlog;
    checkInteger("TcpListener: synBacklog", this.#synBacklog, 1, 0xffff);
    this.#localIp = localIp;
    this.#localPort = localPort;
    this.#config = options.socket ?? {};
    new TcpSocket(this.#config)[Symbol.dispose](); // validates the socket options now
    this.#ready = new Array(backlog);
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

  /**
   * A segment for this listener's port that matched no connection, from `src` to `dst`. A SYN
   * with room in both queues takes a socket (from the pool, or a new one) into SYN-RECEIVED and
   * returns it: the caller enters it in its 4-tuple table and dispatches it like any socket. A
   * SYN without room is dropped and counted (the peer retries). Anything else returns null
   * (answer it with `tcpResetFor` unless it is an RST).
   */
  onSyn(now: number, src: number, dst: number, h: TcpHeader): TcpSocket | null {
    this.#live();
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
    const s = this.#free.pop() ?? new TcpSocket(this.#config);
    s.listen(this.#localIp, this.#localPort);
    s.process(now, src, dst, h, EMPTY, 0, 0);
    if (s.state !== "SynReceived") {
      s.close();
      this.#free.push(s);
      return null;
    }
    this.#syn.push(s);
    this.stats.synsAccepted++;
    return s;
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
    return s;
  }

  /**
   * Returns an accepted socket to the pool once it is closed (Closed state), for a later
   * connection. The caller removed it from its 4-tuple table.
   * @throws {SocketError} `InvalidState` while the socket is still open.
   */
  release(s: TcpSocket): void {
    this.#live();
    if (!(s instanceof TcpSocket)) throw new SocketError("InvalidArgument", "release: not a TcpSocket");
    if (s.state !== "Closed") throw new SocketError("InvalidState", `release: the socket is ${s.state}`);
    if (this.#free.length < this.#ready.length + this.#synBacklog) this.#free.push(s);
    else s[Symbol.dispose]();
  }

  /**
   * Sockets of handshakes that ended without a connection since the last call: the caller
   * removes them from its table (they are back in the pool). Fills `out`, returns the count.
   * Until taken, they count against the SYN queue (so they cannot pile up).
   */
  takeFailed(out: TcpSocket[]): number {
    this.#live();
    if (!Array.isArray(out)) throw new SocketError("InvalidArgument", "takeFailed: out must be an array");
    this.#sweep();
    let n = 0;
    for (const s of this.#failed) {
      out[n++] = s;
      this.#free.push(s); // reused only now that the caller forgets its 4-tuple
    }
    this.#failed.length = 0;
    return n;
  }
  readonly #failed: TcpSocket[] = [];

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
