/**
 * UDP shaped like Deno's own `Deno.DatagramConn`: promises and async iteration over a
 * {@linkcode UdpSocket}, driven by a {@linkcode Runner}. Off the hot path: each datagram is a fresh
 * copy and an address object.
 *
 * @module
 */
import { isBytes } from "../net/args.ts";
import { InterfaceError, type UdpSocket } from "../net/iface/interface.ts";
import { ipv4ToString, parseIpv4Address } from "../net/wire/mod.ts";
import { checkInt, describeValue } from "../validate.ts";
import { stackArg, StackError } from "./error.ts";
import type { Runner } from "./runner.ts";

/** A UDP endpoint, as `Deno.NetAddr` has it. */
export interface DatagramAddr {
  /** Always `"udp"`. */
  transport: "udp";
  /** Dotted IPv4 address. */
  hostname: string;
  /** Port, 1–65535. */
  port: number;
}

interface Waiter {
  buf: Uint8Array | undefined;
  resolve: (r: [Uint8Array, DatagramAddr]) => void;
  reject: (e: unknown) => void;
}

/**
 * A bound UDP port with promise-based `receive`/`send` and `for await` iteration, made by
 * {@linkcode Stack.listenDatagram}. The runner of its stack moves its datagrams; the queues are the
 * socket's (bounded: overflow is dropped and counted in `socket.rxDropped` / `socket.txDropped`).
 *
 * @example Echo every datagram
 * ```ts ignore
 * using conn = stack.listenDatagram({ port: 7 });
 * for await (const [data, from] of conn) await conn.send(data, from);
 * ```
 */
export class DatagramConn implements AsyncIterable<[Uint8Array, DatagramAddr]>, Disposable {
  /** Our address and port. */
  readonly addr: DatagramAddr;
  /** The poll-level socket underneath (zero-copy `recvView`, counters). */
  readonly socket: UdpSocket;
  #runner: Runner;
  #waiters: Waiter[] = [];
  #closed = false;
  #hook: Disposable;
  #fail: Disposable;
  #onClose: (c: DatagramConn) => void;
  #lastHost = "";
  #lastIp = 0;

  /** @internal Made by {@linkcode Stack.listenDatagram}. */
  constructor(socket: UdpSocket, runner: Runner, hostname: string, onClose: (c: DatagramConn) => void) {
    this.socket = socket;
    this.#runner = runner;
    this.#onClose = onClose;
    this.addr = { transport: "udp", hostname, port: socket.port };
    this.#hook = runner.onPoll(() => this.#deliver());
    this.#fail = runner.onFail((e) => this.#rejectAll(e));
  }

  /** True once closed (by {@linkcode DatagramConn.close} or the stack's dispose). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The next datagram and its sender. With `buf`, the datagram is copied into it and the data
   * returned is `buf.subarray(0, length)`; without, a fresh copy.
   * @throws {StackError} `Closed` (rejection) when the socket is closed, or closes while waiting;
   * `RunnerFailed` when the runner stopped on an error; `InvalidArgument` for a `buf` that is not a
   * Uint8Array.
   * @throws {InterfaceError} `TooLarge` (rejection) when `buf` is smaller than the datagram, which
   * stays queued.
   */
  receive(buf?: Uint8Array): Promise<[Uint8Array, DatagramAddr]> {
    if (buf !== undefined && !isBytes(buf)) {
      return Promise.reject(
        stackArg(`DatagramConn.receive: buf must be a Uint8Array or omitted, got ${describeValue(buf)}`),
      );
    }
    if (this.#closed) return Promise.reject(this.#closedError("receive"));
    if (this.#waiters.length === 0 && this.socket.queued > 0) {
      try {
        return Promise.resolve(this.#take(buf));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return new Promise((resolve, reject) => this.#waiters.push({ buf, resolve, reject }));
  }

  /**
   * Sends a copy of `data` to `addr` (a dotted IPv4 `hostname` and a `port`); resolves to the bytes
   * sent, or 0 when the socket's send queue was full and the datagram was dropped (counted in
   * `socket.txDropped`). It leaves at the runner's next poll, which this call brings forward.
   * @throws {StackError} `InvalidArgument` (rejection) for data that is not a Uint8Array or a bad
   * address; `Closed` after close.
   * @throws {InterfaceError} `TooLarge` (rejection) for a payload above the MTU − 28 bytes.
   */
  send(data: Uint8Array, addr: { hostname: string; port: number }): Promise<number> {
    try {
      if (this.#closed) throw this.#closedError("send");
      if (!isBytes(data)) {
        throw stackArg(`DatagramConn.send: data must be a Uint8Array, got ${describeValue(data)}`);
      }
      if (typeof addr !== "object" || addr === null) {
        throw stackArg(`DatagramConn.send: addr must be { hostname, port }, got ${describeValue(addr)}`);
      }
      const port = checkInt(stackArg, "DatagramConn.send: addr.port", addr.port, 1, 0xffff);
      const ip = this.#ipOf(addr.hostname);
      const sent = this.socket.sendTo(data, ip, port);
      this.#runner.wake();
      return Promise.resolve(sent ? data.length : 0);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Unbinds the port; waiting receives reject with `Closed` (a `for await` loop just ends). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#hook[Symbol.dispose]();
    this.#fail[Symbol.dispose]();
    this.socket.close();
    this.#rejectAll(this.#closedError("receive"));
    this.#onClose(this);
  }

  /** Same as {@linkcode DatagramConn.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Datagrams with their senders until the socket closes. */
  async *[Symbol.asyncIterator](): AsyncGenerator<[Uint8Array, DatagramAddr]> {
    while (!this.#closed) {
      try {
        yield await this.receive();
      } catch (e) {
        if (e instanceof StackError && e.kind === "Closed") return;
        throw e;
      }
    }
  }

  #ipOf(hostname: unknown): number {
    if (hostname === this.#lastHost) return this.#lastIp;
    let ip: number;
    try {
      if (typeof hostname !== "string") throw new Error();
      ip = parseIpv4Address(hostname);
    } catch {
      throw stackArg(
        `DatagramConn.send: addr.hostname must be a dotted IPv4 address such as "198.18.0.1", got ` +
          describeValue(hostname),
      );
    }
    this.#lastHost = hostname;
    this.#lastIp = ip;
    return ip;
  }

  #take(buf: Uint8Array | undefined): [Uint8Array, DatagramAddr] {
    const s = this.socket;
    let data: Uint8Array;
    if (buf === undefined) {
      const d = s.recvFrom()!;
      data = d.data;
      return [data, { transport: "udp", hostname: ipv4ToString(d.ip), port: d.port }];
    }
    const n = s.recvInto(buf);
    return [buf.subarray(0, n), { transport: "udp", hostname: ipv4ToString(s.lastIp), port: s.lastPort }];
  }

  /** After each poll: hands queued datagrams to waiting receives. True when it resolved any. */
  #deliver(): boolean {
    const w = this.#waiters;
    if (w.length === 0 || this.socket.queued === 0) return false;
    while (w.length > 0 && this.socket.queued > 0) {
      const next = w.shift()!;
      try {
        next.resolve(this.#take(next.buf));
      } catch (e) {
        next.reject(e); // a too-small buffer: the datagram stays for the next receive
        if (!(e instanceof InterfaceError)) throw e;
      }
    }
    return true;
  }

  #rejectAll(e: unknown): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const x of w) x.reject(e);
  }

  #closedError(what: string): StackError {
    return new StackError("Closed", `DatagramConn.${what}: UDP port ${this.addr.port} is closed`);
  }
}
