/**
 * The interface's TCP: connections by 4-tuple (a {@linkcode TcpTable}, O(1)), listeners by port,
 * segments demultiplexed to them, RST for segments that reach no connection (RFC 9293
 * 3.10.7.1), ephemeral ports per RFC 6056 (algorithm 3), and the sockets dispatched through the
 * interface's egress when they have something to do. The sockets themselves (`socket/tcp.ts`)
 * know nothing of it.
 *
 * @module
 */
import { parseTcp, TCP_ACK, TCP_RST, TCP_SYN, TcpHeader } from "../wire/tcp.ts";
import { IPPROTO_TCP, ipv4ToString, pseudoHeaderSumRaw } from "../wire/ipv4.ts";
import { foldChecksum, sumViewRaw } from "../wire/checksum.ts";
import { WireError } from "../wire/error.ts";
import { copySum, ViewCache } from "../copy.ts";
import { type TcpConfig, type TcpEgress, tcpResetFor, TcpSocket } from "../socket/tcp.ts";
import { TcpListener, type TcpListenerOptions } from "../socket/tcp_listener.ts";
import { TcpTable } from "../socket/tcp_table.ts";
import { IsnGenerator } from "../socket/isn.ts";
import { ByteRing } from "../socket/ring.ts";
import { InterfaceError } from "../error.ts";
import type { InterfaceStats } from "./interface.ts";

/** First and last ephemeral port (RFC 6056 section 3.2: IANA's dynamic range). */
export const EPHEMERAL_FIRST = 49152;
/** Last ephemeral port. */
export const EPHEMERAL_LAST = 65535;

/**
 * A connection in the table: its socket, its key, the listener it came from (if any), and what
 * the last dispatch left: when the socket next needs one (`due`; 0: at once) and the socket's
 * state, queues and `maySend` then. A socket with no segment since, no change made by the
 * program (`send`, `recv`, `close`, `abort` all change one of those) and its time not come has
 * nothing to send: its dispatch is skipped, so idle connections cost a few loads per poll.
 */
class TcpConn {
  // When the socket next needs a dispatch (0: at once), in a Float64Array: as a number field
  // (0 by turns with times in ms) every store allocated a heap number, four a round trip.
  readonly #due = new Float64Array(1);
  /** When the socket next needs a dispatch: 0 at once, a time in ms, `Infinity` for never. */
  get due(): number {
    return this.#due[0];
  }
  set due(t: number) {
    this.#due[0] = t;
  }
  state = "";
  sendQueue = -1;
  recvQueue = -1;
  maySend = false;
  /** Replaced by a new incarnation of its 4-tuple (TIME-WAIT reuse): dropped at the next dispatch. */
  dead = false;
  /** A listener's handshake (SYN-RECEIVED) as of the last dispatch: counted in `#handshakes`. */
  handshake = false;
  constructor(
    readonly socket: TcpSocket,
    readonly localIp: number,
    readonly localPort: number,
    readonly remoteIp: number,
    readonly remotePort: number,
    readonly listener: TcpListener | null,
  ) {}

  /** True when the program changed the socket since the last dispatch. */
  touched(): boolean {
    const s = this.socket;
    return s.sendQueue !== this.sendQueue || s.recvQueue !== this.recvQueue || s.maySend !== this.maySend ||
      s.state !== this.state;
  }

  /** Records what a dispatch left. */
  dispatched(state: string): void {
    const s = this.socket;
    this.state = state;
    this.sendQueue = s.sendQueue;
    this.recvQueue = s.recvQueue;
    this.maySend = s.maySend;
    const at = s.pollAtAfterDispatch();
    this.due = at > 0 ? at : 0;
  }
}

const NO_PAYLOAD = new ByteRing(1);

/**
 * In-order payloads from this size up are copied into the socket's receive ring while they are
 * summed for the checksum (one C copy-and-sum instead of a sum and a copy); smaller ones are
 * summed in JS and copied by the socket.
 */
const PLACE_FROM = 256;

/** The TCP connections and listeners of one interface. */
export class TcpConnections {
  /** Made on the first connect or listen: an interface without TCP pays nothing for it. */
  #table: TcpTable<TcpConn> | null = null;
  readonly #capacity: number;
  readonly #conns: TcpConn[] = [];
  readonly #listeners = new Map<number, TcpListener>();
  readonly #stats: InterfaceStats;
  readonly #ports = new IsnGenerator();
  #nextEphemeral: number;
  readonly #in = new TcpHeader();
  readonly #rst = new TcpHeader();
  readonly #failed: TcpSocket[] = [];
  readonly #frameView = new ViewCache();
  readonly #ringView = new ViewCache();
  /** Entries that are listeners' handshakes (SYN-RECEIVED as of their last dispatch). */
  #handshakes = 0;
  /**
   * The connection the last segment went to, while it is in the table: a flow's segments come in
   * runs, so most find it here without hashing their 4-tuple.
   */
  #last: TcpConn | null = null;

  /**
   * At most `capacity` connections; counters in `stats`. Handshakes count twice against the
   * capacity (a SYN takes an entry only while `size + handshakes < capacity`), so that however
   * many SYNs arrive, half the free room stays for established connections and for the ACKs of
   * SYN cookies, which answer the SYNs beyond.
   */
  constructor(capacity: number, stats: InterfaceStats) {
    this.#capacity = capacity;
    this.#stats = stats;
    this.#nextEphemeral = crypto.getRandomValues(new Uint16Array(1))[0];
  }

  /** Connections in the table (listeners' handshakes included). */
  get size(): number {
    return this.#conns.length;
  }

  /** True when there is anything to dispatch. */
  get active(): boolean {
    return this.#conns.length > 0;
  }

  /**
   * Handles the TCP segment `b[off .. end)` from `src` to `dst` (one of our addresses) at `now`,
   * arrived as a link-layer unicast or not; RSTs go out through `egress`.
   * @throws {WireError} for a malformed segment or a bad checksum (the interface counts it).
   */
  receive(
    now: number,
    src: number,
    dst: number,
    b: Uint8Array,
    off: number,
    end: number,
    linkUnicast: boolean,
    egress: TcpEgress,
  ): void {
    const h = this.#in;
    const data = parseTcp(b, off, end, src, dst, h, false); // the checksum below
    const c = this.#lookup(dst, h.dstPort, src, h.srcPort);
    // The checksum, verified before anything takes the segment. In-order data for an established
    // connection is copied into its receive ring's free space as it is summed: a bad sum leaves
    // only bytes past the ring's end, unread and overwritten by the next segment.
    const v = this.#frameView.of(b);
    const length = end - data;
    let sum = sumViewRaw(v, off, data, pseudoHeaderSumRaw(src, dst, IPPROTO_TCP, end - off));
    let payload = b;
    let from = data;
    if (
      length >= PLACE_FROM && c !== undefined && (h.flags & TCP_SYN) === 0 &&
      c.socket.placesAtEnd(h.seq, length)
    ) {
      const s = c.socket;
      const ring = s.rxBytes;
      let at = s.rxOffset + s.recvQueue;
      if (at >= ring.length) at -= ring.length;
      if (at + length <= ring.length) {
        sum += copySum(this.#ringView.of(ring), at, v, data, length);
        payload = ring;
        from = at;
      } else sum = sumViewRaw(v, data, end, sum);
    } else if (length > 0) sum = sumViewRaw(v, data, end, sum);
    if (foldChecksum(sum) !== 0) throw new WireError("BadChecksum", "TCP: checksum");
    const stats = this.#stats;
    stats.tcpSegmentsIn++;
    if (c !== undefined) {
      if ((h.flags & TCP_SYN) === 0 || !this.#reuses(c, h)) {
        c.socket.process(now, src, dst, h, payload, from, length);
        c.due = 0; // whatever it answers goes out at this poll's dispatch
        return;
      }
      // RFC 6191: a new SYN ends TIME-WAIT; the listener takes it as a new connection.
      this.#retire(c);
    }
    let l = this.#listeners.get(h.dstPort);
    if (l !== undefined && l.disposed) {
      this.#listeners.delete(h.dstPort); // the program disposed it: the port is closed (RST below)
      l = undefined;
    }
    const kind = h.flags & (TCP_SYN | TCP_ACK | TCP_RST);
    if (l !== undefined && kind === TCP_ACK) {
      if (this.#conns.length < this.#capacity) {
        const r = l.onAck(now, src, dst, h, b, data, end - data);
        if (r === "drop") return; // a valid cookie, the accept queue full: counted by the listener
        if (r !== null) {
          this.#add(new TcpConn(r, dst, h.dstPort, src, h.srcPort, l));
          return;
        }
      } else if (l.cookiesPending(now)) {
        stats.tcpConnectionsFull++; // maybe a cookie's ACK: dropped (not reset), the peer retries
        return;
      }
    } else if (l !== undefined && kind === TCP_SYN) {
      const size = this.#conns.length;
      if (size >= this.#capacity) {
        stats.tcpConnectionsFull++; // dropped: the peer retries its SYN
        return;
      }
      // A handshake takes an entry while it leaves as much room free (see the constructor).
      const room = size + this.#handshakes < this.#capacity;
      const s = room ? l.onSyn(now, src, dst, h) : null;
      if (s !== null) {
        const c = new TcpConn(s, dst, h.dstPort, src, h.srcPort, l);
        c.handshake = true;
        this.#handshakes++;
        this.#add(c);
      } else if (l.synCookie(now, src, dst, h, egress.mtu, this.#rst)) {
        // The SYN queue, or our room for handshakes, is full: a stateless SYN-ACK with a cookie
        // (RFC 4987).
        if (!egress.transmit(dst, src, this.#rst, NO_PAYLOAD, 0, 0)) stats.deviceDropped++;
      } else if (!room) {
        stats.tcpConnectionsFull++; // no room and no cookie (off, or the accept queue full): dropped
      } // else a full queue: dropped and counted by the listener
      return;
    } else if (l !== undefined && kind === 0) {
      l.stats.droppedNoSynAck++; // neither SYN, ACK nor RST to a listening port: dropped, no RST
      return;
    }
    // No connection takes it: RST unless it is one, never to a link-layer broadcast (RFC 1122 4.2.3.10).
    stats.tcpNoConnection++;
    if (!linkUnicast) return;
    if (tcpResetFor(h, end - data, this.#rst)) {
      if (egress.transmit(dst, src, this.#rst, NO_PAYLOAD, 0, 0)) stats.tcpResetsSent++;
      else stats.deviceDropped++; // no buffer: the peer's next segment draws another
    }
  }

  /**
   * Dispatches the connections with something to do at `now` (a segment arrived, the program
   * changed the socket, or a timer is due) through `egress`; removes the connections that
   * closed. Returns true when anything was sent.
   */
  dispatch(now: number, egress: TcpEgress): boolean {
    const list = this.#conns;
    let sent = 0;
    let keep = 0;
    let fromListener = false;
    for (let i = 0; i < list.length; i++) {
      const c = list[i];
      if (c.dead) {
        if (c.handshake) this.#handshakes--;
        continue; // out of the table already
      }
      if (c.due > now && !c.touched()) {
        if (keep !== i) list[keep] = c; // (a store of an object costs a write barrier: only when moved)
        keep++; // nothing to send, no timer due
        continue;
      }
      const s = c.socket;
      sent += s.dispatch(now, egress);
      const state = s.state;
      if (c.handshake && state !== "SynReceived") {
        c.handshake = false;
        this.#handshakes--;
      }
      // Closed, or a listener's handshake back in Listen (failed): the 4-tuple is free again.
      if (state === "Closed" || state === "Listen") {
        this.#table!.delete(c.localIp, c.localPort, c.remoteIp, c.remotePort);
        if (this.#last === c) this.#last = null;
        if (c.listener !== null) {
          fromListener = true;
          c.listener.left(s); // a released accepted socket goes back to its pool
        }
        continue;
      }
      c.dispatched(state);
      if (keep !== i) list[keep] = c;
      keep++;
    }
    if (keep !== list.length) list.length = keep; // (a store to length costs a builtin call)
    if (fromListener) this.#recycle();
    this.#stats.tcpSegmentsOut += sent;
    return sent > 0;
  }

  /** The connection of a 4-tuple: the last one found, or the table's. */
  #lookup(localIp: number, localPort: number, remoteIp: number, remotePort: number): TcpConn | undefined {
    const l = this.#last;
    if (
      l !== null && l.localPort === localPort && l.remotePort === remotePort && l.localIp === localIp &&
      l.remoteIp === remoteIp
    ) return l;
    const table = this.#table;
    const c = table === null ? undefined : table.get(localIp, localPort, remoteIp, remotePort);
    if (c !== undefined) this.#last = c;
    return c;
  }

  /** When a connection next needs a dispatch: 0 for now, a time in ms, `Infinity` for never. */
  pollAt(): number {
    let t = Infinity;
    const list = this.#conns;
    for (let i = 0; i < list.length; i++) {
      const c = list[i];
      if (c.dead) continue;
      if (c.due <= 0 || c.touched()) return 0;
      if (c.due < t) t = c.due;
    }
    return t;
  }

  /**
   * A socket connecting from `localIp` to `remoteIp:remotePort` (the SYN leaves on the next
   * poll), on an ephemeral port.
   * @throws {InterfaceError} `PortInUse` when no ephemeral port is free towards that peer, or the
   * table is full; `SocketError` for bad socket options.
   */
  connect(localIp: number, remoteIp: number, remotePort: number, config: TcpConfig, now: number): TcpSocket {
    if (this.#conns.length >= this.#capacity) {
      throw new InterfaceError(
        "PortInUse",
        `Interface.connectTcp: the connection table is full (${this.#capacity}; see tcpMaxConnections)`,
      );
    }
    const port = this.#ephemeralPort(localIp, remoteIp, remotePort);
    const s = new TcpSocket(config);
    s.connect(localIp, port, remoteIp, remotePort, now);
    this.#add(new TcpConn(s, localIp, port, remoteIp, remotePort, null));
    return s;
  }

  /**
   * A listener on `port` (any of our addresses).
   * @throws {InterfaceError} `PortInUse` when a listener holds the port; `SocketError`
   * for bad options.
   */
  listen(port: number, options: TcpListenerOptions): TcpListener {
    const old = this.#listeners.get(port);
    if (old !== undefined && !old.disposed) {
      throw new InterfaceError("PortInUse", `TCP port ${port} is already listening`);
    }
    const l = new TcpListener(0, port, options);
    l.track(); // release() of an accepted socket waits until its 4-tuple leaves our table
    this.#tableOf();
    this.#listeners.set(port, l);
    return l;
  }

  /** True when the SYN `h` may end `c`'s TIME-WAIT (RFC 6191) for a live listener on its port. */
  #reuses(c: TcpConn, h: TcpHeader): boolean {
    if (!c.socket.timeWaitReusableBy(h)) return false;
    const l = this.#listeners.get(h.dstPort);
    if (l === undefined || l.disposed) return false; // (no side effect: see takeFailed)
    l.stats.timeWaitReused++;
    return true;
  }

  /** Ends `c` (in TIME-WAIT) at once: out of the table now, out of the list at the next dispatch. */
  #retire(c: TcpConn): void {
    c.socket.endTimeWait();
    c.dead = true;
    this.#table!.delete(c.localIp, c.localPort, c.remoteIp, c.remotePort);
    if (this.#last === c) this.#last = null;
    c.listener?.left(c.socket);
  }

  #add(c: TcpConn): void {
    this.#last = null; // (a 4-tuple's entry may change)
    this.#tableOf().set(c.localIp, c.localPort, c.remoteIp, c.remotePort, c);
    this.#conns.push(c);
  }

  #tableOf(): TcpTable<TcpConn> {
    return this.#table ??= new TcpTable<TcpConn>(this.#capacity);
  }

  /**
   * RFC 6056 algorithm 3 (double-hash port selection): a keyed hash of the peer picks where the
   * search starts, a counter moves it on; the first port with no connection to that peer and no
   * listener is taken.
   */
  #ephemeralPort(localIp: number, remoteIp: number, remotePort: number): number {
    const count = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
    const offset = this.#ports.portOffset(localIp, remoteIp, remotePort);
    for (let k = 0; k < count; k++) {
      const port = EPHEMERAL_FIRST + ((offset + this.#nextEphemeral) >>> 0) % count;
      this.#nextEphemeral = (this.#nextEphemeral + 1) & 0xffff;
      if (this.#listeners.has(port)) continue;
      if (this.#tableOf().get(localIp, port, remoteIp, remotePort) === undefined) return port;
    }
    throw new InterfaceError(
      "PortInUse",
      `Interface.connectTcp: every ephemeral port (${EPHEMERAL_FIRST}–${EPHEMERAL_LAST}) has a connection ` +
        `to ${ipv4ToString(remoteIp)}:${remotePort}`,
    );
  }

  /** Hands the listeners' failed handshakes back to their pools (they have left the table). */
  #recycle(): void {
    for (const [port, l] of this.#listeners) {
      if (l.disposed) this.#listeners.delete(port);
      else l.takeFailed(this.#failed);
    }
    this.#failed.length = 0;
  }
}
