/**
 * TCP shaped like Deno's own networking (`Deno.connect`, `Deno.listen`, `Deno.TcpConn`):
 * promises, web streams and `for await` over the poll-level {@linkcode TcpSocket} and
 * {@linkcode TcpListener}, driven by a {@linkcode Runner}. Off the hot path: reads and writes copy
 * between your buffers and the socket's rings, and every call is a promise.
 *
 * @module
 */
import type { TcpCloseReason, TcpSocket } from "../net/socket/tcp.ts";
import type { TcpListener } from "../net/socket/tcp_listener.ts";
import { ipv4ToString } from "../net/wire/mod.ts";
import { describeValue } from "../validate.ts";
import { stackArg, StackError } from "./error.ts";
import type { Runner } from "./runner.ts";

/** A TCP endpoint, as `Deno.NetAddr` has it. */
export interface TcpAddr {
  /** Always `"tcp"`. */
  transport: "tcp";
  /** Dotted IPv4 address. */
  hostname: string;
  /** Port, 1–65535. */
  port: number;
}

/** How long a closed connection may take to finish its FIN handshake before it is reset (ms). */
const LINGER_MS = 30_000;

interface Pending<T> {
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

interface ReadWaiter extends Pending<number | null> {
  buf: Uint8Array;
}

interface WriteWaiter extends Pending<number> {
  buf: Uint8Array;
  done: number;
}

/** What a connection needs of its stack. @internal */
export interface TcpHost {
  readonly runner: Runner;
  /** The connection is closed and needs no more polls: forget it. */
  forget(c: TcpConn | TcpListenerConn): void;
}

/** The typed error for a connection that ended by `reason` while `what` was asked of it. */
function endedError(what: string, reason: TcpCloseReason, peer: string): StackError {
  switch (reason) {
    case "Refused":
      return new StackError("ConnectionRefused", `${what}: ${peer} refused the connection (RST to our SYN)`);
    case "Reset":
      return new StackError("ConnectionReset", `${what}: ${peer} reset the connection (RST)`);
    case "TimedOut":
      return new StackError(
        "TimedOut",
        `${what}: the connection to ${peer} timed out (no answer to retransmissions, keep-alives or SYNs)`,
      );
    default:
      return new StackError("Closed", `${what}: the connection to ${peer} is closed`);
  }
}

function addr(ip: number, port: number): TcpAddr {
  return { transport: "tcp", hostname: ipv4ToString(ip), port };
}

/**
 * One TCP connection with promise-based `read`/`write`, half-close, and `readable`/`writable`
 * web streams, as `Deno.TcpConn` has them; made by {@linkcode Stack.connect} or a
 * {@linkcode TcpListenerConn}. The runner of its stack moves the data: a read resolves after the
 * poll that brought bytes, a write once all its bytes are in the socket's send ring (it waits
 * while the ring is full: backpressure), and a write wakes the runner.
 *
 * @example Send a request, read the answer to the end
 * ```ts ignore
 * using conn = await stack.connect({ hostname: "198.18.0.1", port: 8080 });
 * await conn.write(new TextEncoder().encode("hello"));
 * await conn.closeWrite(); // FIN: the peer sees the end of our data
 * const buf = new Uint8Array(65536);
 * for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) console.log(n, "bytes");
 * ```
 */
export class TcpConn implements Disposable {
  /** Our address and port. */
  readonly localAddr: TcpAddr;
  /** The peer's address and port. */
  readonly remoteAddr: TcpAddr;
  /** The poll-level socket underneath (state, counters, zero-copy views). */
  readonly socket: TcpSocket;
  #host: TcpHost;
  #hook: Disposable | null = null;
  #fail: Disposable | null = null;
  #reads: ReadWaiter[] = [];
  #writes: WriteWaiter[] = [];
  #connect: Pending<TcpConn> | null = null;
  #finWanted = false;
  #finWaiters: Pending<void>[] = [];
  #closed = false;
  #lingerUntil = -1;
  #readable: ReadableStream<Uint8Array> | null = null;
  #writable: WritableStream<Uint8Array> | null = null;
  #readableDone = false;
  #writableDone = false;
  #failure: StackError | null = null;

  /** @internal Made by {@linkcode Stack.connect} and {@linkcode TcpListenerConn}. */
  constructor(socket: TcpSocket, host: TcpHost) {
    this.socket = socket;
    this.#host = host;
    this.localAddr = addr(socket.localIp, socket.localPort);
    this.remoteAddr = addr(socket.remoteIp, socket.remotePort);
  }

  /** @internal Resolves once the handshake completed; rejects with the reason it failed. */
  established(): Promise<TcpConn> {
    const s = this.socket;
    // Closed already: the runner's first polls run inside Stack.connect, and a peer as quick as
    // the kernel on a tap can refuse the SYN in them.
    if (s.state === "Closed") return Promise.reject(endedError("Stack.connect", s.closeReason, this.#peer()));
    if (s.state !== "SynSent" && s.state !== "SynReceived") return Promise.resolve(this);
    return new Promise((resolve, reject) => {
      this.#connect = { resolve, reject };
      this.#attach();
    });
  }

  /** True once {@linkcode TcpConn.close} ran (or the stack was disposed). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads into `buf`: resolves to the number of bytes read (at least 1; 0 only for an empty
   * `buf`), or null at the end of the stream (the peer closed its half and everything was read).
   * Reads are served in the order they were made.
   * @throws {StackError} (rejection) `ConnectionReset` / `TimedOut` when the connection was reset
   * or timed out; `Closed` after {@linkcode TcpConn.close} (or while waiting when it closes);
   * `RunnerFailed` when the runner stopped on an error; `InvalidArgument` for a `buf` that is not
   * a Uint8Array.
   */
  read(buf: Uint8Array): Promise<number | null> {
    if (!(buf instanceof Uint8Array)) {
      return Promise.reject(stackArg(`TcpConn.read: buf must be a Uint8Array, got ${describeValue(buf)}`));
    }
    if (this.#closed) return Promise.reject(this.#closedError("read"));
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (buf.length === 0) return Promise.resolve(0);
    if (this.#reads.length === 0) {
      try {
        const n = this.#tryRead(buf);
        if (n !== undefined) return Promise.resolve(n);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return new Promise((resolve, reject) => {
      this.#reads.push({ buf, resolve, reject });
      this.#attach();
    });
  }

  /**
   * Queues all of `buf` for sending; resolves to `buf.length` once every byte is in the socket's
   * send ring (while the ring is full it waits for the peer's acknowledgements: backpressure).
   * Do not change `buf` before it resolves. Writes are queued in the order they were made.
   * @throws {StackError} (rejection) `ConnectionReset` / `TimedOut` when the connection was reset
   * or timed out; `Closed` after {@linkcode TcpConn.closeWrite} or {@linkcode TcpConn.close}, or
   * when the connection closed; `RunnerFailed`; `InvalidArgument` for a `buf` that is not a
   * Uint8Array.
   */
  write(buf: Uint8Array): Promise<number> {
    if (!(buf instanceof Uint8Array)) {
      return Promise.reject(stackArg(`TcpConn.write: buf must be a Uint8Array, got ${describeValue(buf)}`));
    }
    if (this.#closed) return Promise.reject(this.#closedError("write"));
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (this.#finWanted) {
      return Promise.reject(new StackError("Closed", "TcpConn.write: after closeWrite (our half is closed)"));
    }
    const s = this.socket;
    if (!s.maySend) return Promise.reject(endedError("TcpConn.write", s.closeReason, this.#peer()));
    let done = 0;
    if (this.#writes.length === 0) {
      done = buf.length === 0 ? 0 : s.send(buf);
      if (done > 0) this.#host.runner.wake();
      if (done === buf.length) return Promise.resolve(done);
    }
    return new Promise((resolve, reject) => {
      this.#writes.push({ buf, done, resolve, reject });
      this.#attach();
    });
  }

  /**
   * Closes our sending half once the queued writes are in the ring: a FIN follows the data, and
   * reading goes on until the peer closes its half (as `Deno.TcpConn.closeWrite`). Idempotent.
   * @throws {StackError} (rejection) `Closed` after {@linkcode TcpConn.close}; the connection's
   * error when it failed before the writes were queued.
   */
  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError("closeWrite"));
    if (this.#failure !== null) return Promise.reject(this.#failure);
    this.#finWanted = true;
    if (this.#writes.length === 0) {
      this.#sendFin();
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.#finWaiters.push({ resolve, reject });
      this.#attach();
    });
  }

  /**
   * Closes the connection: waiting reads and writes reject with `Closed`, a FIN follows the data
   * already in the send ring, and whatever the peer still sends is read and dropped until its FIN
   * (after 30 s without one the connection is reset). Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rejectAll(this.#closedError("read/write"));
    const s = this.socket;
    if (s.isOpen) s.close();
    this.#host.runner.wake();
    this.#attach(); // to drain until the FIN handshake is over
  }

  /** Same as {@linkcode TcpConn.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** @internal The stack is going away: reset, reject everything, forget. */
  shutdown(): void {
    this.#closed = true;
    this.#rejectAll(this.#closedError("read/write"));
    try {
      this.socket.abort();
    } catch {
      // disposed with its listener already
    }
    this.#detach();
  }

  /**
   * The received bytes as a byte stream (one per connection). It ends at the peer's FIN; once it
   * has ended (or was cancelled) and {@linkcode TcpConn.writable} was closed, the connection is
   * closed. `conn.readable.pipeTo(conn.writable)` echoes.
   */
  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: 65536,
      pull: async (c) => {
        const view = c.byobRequest!.view!;
        const n = await this.read(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
        if (n === null) {
          c.close();
          c.byobRequest?.respond(0);
          this.#streamDone("readable");
        } else {
          c.byobRequest!.respond(n);
        }
      },
      cancel: () => this.#streamDone("readable"),
    });
  }

  /**
   * A stream writing to the connection (one per connection): each chunk is a
   * {@linkcode TcpConn.write}, closing it is {@linkcode TcpConn.closeWrite}, aborting it closes
   * the connection.
   */
  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= new WritableStream({
      write: async (chunk) => {
        await this.write(chunk);
      },
      close: async () => {
        await this.closeWrite();
        this.#streamDone("writable");
      },
      abort: () => this.close(),
    });
  }

  #streamDone(which: "readable" | "writable"): void {
    if (which === "readable") this.#readableDone = true;
    else this.#writableDone = true;
    if (this.#readableDone && this.#writableDone) this.close();
  }

  /** Bytes into `buf`, null at the end, undefined when none is there yet; throws a typed error for a failed connection. */
  #tryRead(buf: Uint8Array): number | null | undefined {
    const n = this.socket.recv(buf);
    if (n > 0) {
      this.#host.runner.wake(); // the window opened: an update may be due
      return n;
    }
    if (n === 0) return undefined;
    const reason = this.socket.closeReason;
    if (reason === "Reset" || reason === "TimedOut" || reason === "Refused") {
      throw endedError("TcpConn.read", reason, this.#peer());
    }
    return null;
  }

  #sendFin(): void {
    const s = this.socket;
    if (s.maySend) {
      s.close();
      this.#host.runner.wake();
    }
  }

  #attach(): void {
    if (this.#hook !== null) return;
    const runner = this.#host.runner;
    this.#hook = runner.onPoll((now) => this.#service(now));
    this.#fail = runner.onFail((e) => {
      this.#failure = e;
      this.#rejectAll(e);
    });
  }

  #detach(): void {
    this.#hook?.[Symbol.dispose]();
    this.#fail?.[Symbol.dispose]();
    this.#hook = this.#fail = null;
    if (this.#closed) this.#host.forget(this);
  }

  /** After each poll: settles what the poll made possible. True when it did anything. */
  #service(now: number): boolean {
    const s = this.socket;
    const state = s.state;
    if (this.#closed) {
      // Lingering: drop what still arrives until the FIN handshake ends, bounded in time.
      for (let n = s.recvView(); n > 0; n = s.recvView()) s.recvRelease(n);
      if (this.#lingerUntil < 0) this.#lingerUntil = now + LINGER_MS;
      if (state === "Closed" || state === "TimeWait" || now > this.#lingerUntil) {
        if (state !== "Closed" && state !== "TimeWait") s.abort();
        this.#detach();
      }
      return false;
    }
    let did = false;
    if (this.#connect !== null) {
      if (state === "SynSent" || state === "SynReceived") return false;
      const c = this.#connect;
      this.#connect = null;
      if (state === "Closed") c.reject(endedError("Stack.connect", s.closeReason, this.#peer()));
      else c.resolve(this);
      did = true;
    }
    const writes = this.#writes;
    while (writes.length > 0) {
      const w = writes[0];
      if (!s.maySend) {
        this.#rejectWrites(endedError("TcpConn.write", s.closeReason, this.#peer()));
        break;
      }
      const n = s.send(w.buf, w.done);
      if (n === 0) break;
      did = true;
      w.done += n;
      if (w.done < w.buf.length) break;
      writes.shift();
      w.resolve(w.buf.length);
    }
    if (this.#finWanted && writes.length === 0 && this.#finWaiters.length > 0) {
      this.#sendFin();
      for (const f of this.#finWaiters.splice(0)) f.resolve();
      did = true;
    }
    const reads = this.#reads;
    while (reads.length > 0) {
      const r = reads[0];
      let n: number | null | undefined;
      try {
        n = this.#tryRead(r.buf);
      } catch (e) {
        for (const x of reads.splice(0)) x.reject(e);
        did = true;
        break;
      }
      if (n === undefined) break;
      reads.shift();
      r.resolve(n);
      did = true;
    }
    if (
      reads.length === 0 && writes.length === 0 && this.#finWaiters.length === 0 &&
      (state === "Closed" || state === "TimeWait")
    ) {
      this.#detach(); // nothing can change any more: later calls settle at once
    }
    return did;
  }

  #rejectWrites(e: unknown): void {
    for (const w of this.#writes.splice(0)) w.reject(e);
    for (const f of this.#finWaiters.splice(0)) f.reject(e);
  }

  #rejectAll(e: unknown): void {
    this.#rejectWrites(e);
    for (const r of this.#reads.splice(0)) r.reject(e);
    const c = this.#connect;
    this.#connect = null;
    c?.reject(e);
  }

  #peer(): string {
    return `${this.remoteAddr.hostname}:${this.remoteAddr.port}`;
  }

  #closedError(what: string): StackError {
    return new StackError("Closed", `TcpConn.${what}: the connection to ${this.#peer()} was closed`);
  }
}

/**
 * A listening TCP port, as `Deno.TcpListener` has it: `accept()` resolves to the next
 * established connection, `for await (const conn of listener)` takes them as they come; made by
 * {@linkcode Stack.listen}. Its backlog is the poll-level listener's (bounded SYN and accept
 * queues; overflow dropped and counted in `listener.stats`, the peer retries). Closing it stops
 * accepting and resets connections not yet accepted; accepted ones live on.
 *
 * @example An echo server
 * ```ts ignore
 * using listener = stack.listen({ port: 7 });
 * for await (const conn of listener) conn.readable.pipeTo(conn.writable).catch(() => conn.close());
 * ```
 */
export class TcpListenerConn implements AsyncIterable<TcpConn>, Disposable {
  /** Our address and the listening port. */
  readonly addr: TcpAddr;
  /** The poll-level listener underneath (counters, queue lengths). */
  readonly listener: TcpListener;
  #host: TcpHost;
  #adopt: (s: TcpSocket) => TcpConn;
  #waiters: Pending<TcpConn>[] = [];
  #hook: Disposable;
  #fail: Disposable;
  #closed = false;

  /** @internal Made by {@linkcode Stack.listen}; `adopt` wraps an accepted socket. */
  constructor(listener: TcpListener, hostname: string, host: TcpHost, adopt: (s: TcpSocket) => TcpConn) {
    this.listener = listener;
    this.addr = { transport: "tcp", hostname, port: listener.localPort };
    this.#host = host;
    this.#adopt = adopt;
    this.#hook = host.runner.onPoll(() => this.#deliver());
    this.#fail = host.runner.onFail((e) => this.#rejectAll(e));
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The next established connection (in the order they completed).
   * @throws {StackError} (rejection) `Closed` when the listener is closed or closes while
   * waiting; `RunnerFailed` when the runner stopped on an error.
   */
  accept(): Promise<TcpConn> {
    if (this.#closed) return Promise.reject(this.#closedError());
    if (this.#waiters.length === 0) {
      const s = this.listener.accept();
      if (s !== null) return Promise.resolve(this.#adopt(s));
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Stops listening: waiting accepts reject with `Closed` (a `for await` loop just ends). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#hook[Symbol.dispose]();
    this.#fail[Symbol.dispose]();
    this.listener[Symbol.dispose]();
    this.#rejectAll(this.#closedError());
    this.#host.forget(this);
  }

  /** Same as {@linkcode TcpListenerConn.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Connections as they are accepted, until the listener closes. */
  async *[Symbol.asyncIterator](): AsyncGenerator<TcpConn> {
    while (!this.#closed) {
      try {
        yield await this.accept();
      } catch (e) {
        if (e instanceof StackError && e.kind === "Closed") return;
        throw e;
      }
    }
  }

  #deliver(): boolean {
    const w = this.#waiters;
    let did = false;
    while (w.length > 0) {
      const s = this.listener.accept();
      if (s === null) break;
      w.shift()!.resolve(this.#adopt(s));
      did = true;
    }
    return did;
  }

  #rejectAll(e: unknown): void {
    for (const x of this.#waiters.splice(0)) x.reject(e);
  }

  #closedError(): StackError {
    return new StackError("Closed", `TcpListenerConn.accept: TCP port ${this.addr.port} is closed`);
  }
}
