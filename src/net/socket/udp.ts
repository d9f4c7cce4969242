/**
 * The UDP socket: bounded send and receive queues of datagram slots, filled and drained by the
 * interface it is bound on. The socket sends through a {@linkcode UdpEgress}, the narrow part of
 * the interface it needs (the send path, its queue's place in the backlog, its release), never
 * the interface itself.
 *
 * @module
 */
import { ipv4ToString } from "../wire/mod.ts";
import { badArgument, isBytes, isIntIn, isU32, shown } from "../args.ts";
import { InterfaceError } from "../error.ts";
import { copySum, ViewCache } from "../copy.ts";
import type { SlotRing } from "./slot_ring.ts";

/** Most datagrams a socket queue holds (each queue is preallocated: capacity × (MTU − 28) bytes). */
export const MAX_SOCKET_QUEUE = 4096;

/** A received UDP datagram. */
export interface Datagram {
  /** The payload (a copy). */
  data: Uint8Array;
  /** Sender address (u32). */
  ip: number;
  /** Sender port. */
  port: number;
}

/**
 * What a {@linkcode UdpSocket} needs of its interface. The interface hands one to each socket it
 * binds; one class implements it, so the call in `sendTo` stays monomorphic and inlined.
 */
export interface UdpEgress {
  /** The device's MTU (for messages). */
  readonly mtu: number;
  /** True when `ip` (a u32) is a unicast host the interface may send to. */
  isUnicastPeer(ip: number): boolean;
  /**
   * Sends one datagram from `srcPort` to `dst:dstPort` (`dst` a u32, or the same bits as an
   * int32), its payload `data[from .. from + length)` (checked by the caller). Returns false,
   * having sent nothing, when the device has no free buffer (the datagram is the caller's to queue).
   */
  send(srcPort: number, dst: number, dstPort: number, data: DataView, from: number, length: number): boolean;
  /** The socket on `port` queued datagrams in `queue`: later polls send them, in order. */
  backlogged(port: number, queue: SlotRing): void;
  /** The socket on `port` closed: its port is free, the datagrams left in `queue` are dropped. */
  release(port: number, queue: SlotRing): void;
}

/** @internal The constructor's guard: only the interface binds sockets. */
export const UDP_SOCKET_TOKEN: unique symbol = Symbol("UdpSocket");

/** A UDP socket bound on an {@linkcode Interface}. Queues are bounded: overflow drops and counts. */
export class UdpSocket implements Disposable {
  /** The local port. */
  readonly port: number;
  /**
   * Datagrams dropped because the receive queue was full (or, on a `PortDevice` disposed with
   * datagrams unread, because their frames went back to the pool).
   */
  rxDropped = 0;
  /** Datagrams dropped because the send queue was full. */
  txDropped = 0;
  /** Sender address (u32) of the datagram the last {@linkcode UdpSocket.recvInto} or {@linkcode UdpSocket.recvView} returned. */
  get lastIp(): number {
    return this.#lastIp as number;
  }
  set lastIp(ip: number) {
    this.#lastIp = ip;
  }
  /**
   * Behind {@linkcode UdpSocket.lastIp}. It starts as null (the constructor makes it 0), so V8
   * keeps the field tagged: an address above 2^31 is then one heap number, made when the sender
   * changes, that `sendTo(…, s.lastIp, …)` passes on as it is. A field that only ever held numbers
   * would hold the value unboxed, and every call that passes it on would box it in a new heap
   * number (16 B per echoed datagram in the bench).
   */
  #lastIp: number | null = null;
  /** Sender port of the datagram the last {@linkcode UdpSocket.recvInto} or {@linkcode UdpSocket.recvView} returned. */
  lastPort = 0;
  #rx: SlotRing;
  #tx: SlotRing;
  #egress: UdpEgress;
  #closed = false;
  #txView = new ViewCache();
  #rxView = new ViewCache();

  /**
   * Made by {@linkcode Interface.bindUdp} (the constructor refuses other callers): the socket
   * reads from `rx`, which the interface fills, and sends through `egress`, queueing in `tx`
   * what cannot leave at once.
   */
  constructor(egress: UdpEgress, port: number, rx: SlotRing, tx: SlotRing, token?: symbol) {
    if (token !== UDP_SOCKET_TOKEN) {
      throw new InterfaceError("InvalidArgument", "UdpSocket: made by Interface.bindUdp, not by new");
    }
    this.#egress = egress;
    this.port = port;
    this.#lastIp = 0; // after null: see #lastIp
    this.#rx = rx;
    this.#tx = tx;
    this.#rxBytes = rx.bytes;
  }

  /**
   * Sends a copy of `data[offset .. offset + length)` (default: all of `data`) to `ip:port`. When the next hop
   * is known and the device has a free buffer, the datagram is written straight into it and leaves
   * at the next poll (or sooner, once the device's burst is full); otherwise it waits in this
   * socket's send queue (or, for an unresolved neighbour, the ARP queue) and leaves at a later poll.
   * Returns false when the send queue is full (the datagram is dropped and counted in
   * {@linkcode UdpSocket.txDropped}).
   * @throws {InterfaceError} `Closed` after {@linkcode UdpSocket.close}; `InvalidArgument` for a bad address (not a unicast
   * host: see {@linkcode Interface.isUnicastPeer}), port, offset or length;
   * `TooLarge` when the payload exceeds the socket's `maxPayload` (by default the MTU minus 28
   * bytes of headers; see {@linkcode Interface.bindUdp}).
   */
  sendTo(data: Uint8Array, ip: number, port: number, offset?: number, length?: number): boolean {
    const off = offset === undefined ? 0 : offset;
    // The same array (at the same length: not detached or resized since) and destination as last
    // time were checked then (#refuse caches both); typeof before the bit tests, which would throw
    // TypeError on a BigInt.
    if (
      this.#closed || data !== this.#txView.bytes || data.length !== this.#txView.length ||
      ip !== this.#checkedIp || typeof port !== "number" ||
      (port & 0xffff) !== port || port === 0 || typeof off !== "number" || (off >>> 0) !== off ||
      off > data.length
    ) {
      this.#refuse(data, ip, port, off);
    }
    const len = length === undefined ? data.length - off : length;
    if (
      typeof len !== "number" || (len >>> 0) !== len || off + len > data.length || len > this.#tx.slotSize
    ) {
      this.#refuseLength(data, off, len);
    }
    const v = this.#txView.view; // of data: checked above
    // Straight to the device unless earlier datagrams are still queued (order is kept).
    // `ip | 0`: the address as an int32, a small integer to V8, where a u32 above 2^31 would be
    // boxed in a new heap number for the call.
    if (this.#tx.count === 0 && this.#egress.send(this.port, ip | 0, port, v, off, len)) {
      return true;
    }
    if (this.#tx.push(v, off, len, ip, port)) {
      this.#egress.backlogged(this.port, this.#tx);
      return true;
    }
    this.txDropped++;
    return false;
  }

  /** The destination last found valid: the check runs once per destination, not per datagram. */
  #checkedIp = NaN;

  /** Throws the error `sendTo`'s arguments deserve, or accepts `ip` as a destination and returns. */
  #refuse(data: unknown, ip: unknown, port: unknown, off: unknown): void {
    const where = "UdpSocket.sendTo";
    if (this.#closed) {
      throw new InterfaceError("Closed", `${where}: UDP socket ${this.port} is closed`);
    }
    if (!isBytes(data)) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument(where, "data", data, "a Uint8Array (not detached)"),
      );
    }
    if (!isU32(ip)) {
      throw new InterfaceError("InvalidArgument", badArgument(where, "ip", ip, "a u32 IPv4 address"));
    }
    if (!isIntIn(port, 1, 0xffff)) {
      throw new InterfaceError("InvalidArgument", badArgument(where, "port", port, "a whole number 1–65535"));
    }
    if (!isIntIn(off, 0, data.length)) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument(where, "offset", off, `a whole number 0–${data.length} (the data's length)`),
      );
    }
    this.#txView.of(data);
    if (ip !== this.#checkedIp) {
      if (!this.#egress.isUnicastPeer(ip)) {
        throw new InterfaceError(
          "InvalidArgument",
          badArgument(
            where,
            "ip",
            ipv4ToString(ip),
            "a unicast host address (not 0/8, 127/8, multicast, broadcast, class E or our own)",
          ),
        );
      }
      this.#checkedIp = ip;
    }
  }

  /** Throws the error a bad `length` deserves (kept out of sendTo, which V8 must inline). */
  #refuseLength(data: Uint8Array, off: number, len: unknown): never {
    if (typeof len !== "number" || (len >>> 0) !== len || off + len > data.length) {
      throw new InterfaceError(
        "InvalidArgument",
        `UdpSocket.sendTo: length must be a whole number with offset + length ≤ ${data.length} ` +
          `(the data's length), got offset ${shown(off)} and length ${shown(len)}`,
      );
    }
    throw new InterfaceError(
      "TooLarge",
      `UdpSocket.sendTo: a payload of ${len} bytes exceeds the socket's maxPayload ${this.#tx.slotSize} ` +
        `(bindUdp's third argument; default MTU ${this.#egress.mtu} - 28)`,
    );
  }

  /** The oldest received datagram as a copy, or null. (See {@linkcode UdpSocket.recvInto} for no allocation.) */
  recvFrom(): Datagram | null {
    const r = this.#rx;
    if (r.firstLost()) this.rxDropped += r.dropLost();
    if (r.count === 0) return null;
    const i = r.first;
    const o = r.firstStart();
    const d = { data: r.firstBytes().slice(o, o + r.len[i]), ip: r.ip[i], port: r.port[i] };
    r.shift();
    return d;
  }

  /**
   * Copies the oldest received datagram into `out` and returns its length (sender in
   * {@linkcode UdpSocket.lastIp} / {@linkcode UdpSocket.lastPort}), or -1 when none is waiting.
   * @throws {InterfaceError} `TooLarge` when `out` is too small (the datagram stays queued).
   */
  recvInto(out: Uint8Array): number {
    if (!isBytes(out)) {
      throw new InterfaceError(
        "InvalidArgument",
        badArgument("UdpSocket.recvInto", "out", out, "a Uint8Array (not detached)"),
      );
    }
    const r = this.#rx;
    if (r.firstLost()) this.rxDropped += r.dropLost();
    if (r.count === 0) return -1;
    const i = r.first;
    const len = r.len[i];
    if (out.length < len) {
      throw new InterfaceError("TooLarge", `UdpSocket.recvInto: ${len} bytes do not fit in ${out.length}`);
    }
    copySum(this.#rxView.of(out), 0, r.firstView(), r.firstStart(), len); // the sum is not needed here
    const ip = r.ip[i];
    if (ip !== this.#lastIp) this.#lastIp = ip; // a new heap number only for a new sender above 2^31
    this.lastPort = r.port[i];
    r.shift();
    return len;
  }

  /**
   * Takes the oldest received datagram without copying it: returns its length, or -1 when none
   * is waiting. The payload is `rxBytes[rxStart .. rxStart + length)` (sender in
   * {@linkcode UdpSocket.lastIp} / {@linkcode UdpSocket.lastPort}) and stays there until the
   * interface's next poll, which may reuse the memory. On a DPDK port's device (`PortDevice`) that
   * memory is the received frame itself (the datagram was never copied; one not read before the next poll
   * is copied into the socket's ring then), elsewhere the socket's ring. Read it, never write it:
   * `rxBytes` is then the pool's whole memory, other packets and mbuf headers included.
   *
   * @example Echo every datagram, no copy on the way in
   * ```ts
   * for (let n = s.recvView(); n >= 0; n = s.recvView()) {
   *   s.sendTo(s.rxBytes, s.lastIp, s.lastPort, s.rxStart, n);
   * }
   * ```
   */
  recvView(): number {
    const r = this.#rx;
    if (r.count === 0) return -1;
    const i = r.first;
    const at = r.lentAt[i];
    if (at >= 0 && r.lender.disposed) {
      this.rxDropped += r.dropLost();
      return this.recvView();
    }
    // A compare costs less than a pointer store's write barrier: the array seldom changes.
    if (at < 0) {
      if (this.#rxBytes !== r.bytes) this.#rxBytes = r.bytes;
      this.rxStart = i * r.slotSize;
    } else {
      const lent = r.firstBytes(); // the frame's memory (mapped again if a program detached it)
      if (this.#rxBytes !== lent) this.#rxBytes = lent;
      this.rxStart = at;
    }
    const ip = r.ip[i];
    if (ip !== this.#lastIp) this.#lastIp = ip; // a new heap number only for a new sender above 2^31
    this.lastPort = r.port[i];
    r.shift();
    return r.len[i];
  }

  /**
   * The memory that holds the datagram the last {@linkcode UdpSocket.recvView} returned (before
   * the first: the socket's ring), to read only.
   */
  get rxBytes(): Uint8Array {
    return this.#rxBytes;
  }
  #rxBytes: Uint8Array;

  /** Where in {@linkcode UdpSocket.rxBytes} the datagram the last {@linkcode UdpSocket.recvView} returned starts. */
  rxStart = 0;

  /** Datagrams waiting to be read. */
  get queued(): number {
    const r = this.#rx;
    if (r.firstLost()) this.rxDropped += r.dropLost();
    return r.count;
  }

  /** Unbinds the port. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#egress.release(this.port, this.#tx);
  }

  /** Same as {@linkcode UdpSocket.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
