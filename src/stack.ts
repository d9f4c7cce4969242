/**
 * One call to bring a host up: {@linkcode Stack.open} starts EAL (or uses the running one), makes
 * the packet pool, attaches the virtual device, opens and starts its port, and puts an IPv4
 * {@linkcode Interface} on it; `using` tears it all down in reverse order. A {@linkcode Runner}
 * polls it from the event loop; {@linkcode Stack.listenDatagram} gives UDP, and
 * {@linkcode Stack.connect} / {@linkcode Stack.listen} TCP, shaped like Deno's.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Eal, type EalOptions } from "./eal.ts";
import { Mempool, MIN_MTU } from "./mempool.ts";
import { Port } from "./port.ts";
import { Vdev } from "./vdev.ts";
import { PortDevice } from "./net/phy/device.ts";
import { PcapWriter } from "./net/phy/pcap.ts";
import { Interface } from "./net/iface/interface.ts";
import { ipv4ToString, parseIpv4Address } from "./net/wire/mod.ts";
import { checkBool, checkInt, checkOptions, checkString, describeValue, orDefault } from "./validate.ts";
import { stackArg, StackError } from "./stack/error.ts";
import { Runner, type RunnerOptions } from "./stack/runner.ts";
import { DatagramConn } from "./stack/datagram.ts";
import { TcpConn, type TcpHost, TcpListenerConn } from "./stack/tcp.ts";
import type { TcpConfig } from "./net/socket/tcp.ts";

export { StackError } from "./stack/error.ts";
export type { StackErrorKind } from "./stack/error.ts";
export { Runner } from "./stack/runner.ts";
export type { Pollable, PollHook, RunnerOptions, RunnerStats } from "./stack/runner.ts";
export { DatagramConn } from "./stack/datagram.ts";
export type { DatagramAddr } from "./stack/datagram.ts";
export { TcpConn, TcpListenerConn } from "./stack/tcp.ts";
export type { TcpAddr } from "./stack/tcp.ts";

const logger = getLogger(["melin-dpdk", "stack"]);

/** Everything {@linkcode Stack.open} takes; only `device` and `ip` are required. */
export interface StackOptions {
  /**
   * The virtual device and its arguments, as EAL's `--vdev` takes them: `"net_tap0,iface=dtap0"`
   * (a kernel interface `dtap0` is the peer), `"net_ring0"`, `"net_af_packet0,iface=veth1"`. The
   * name must be unique in the process.
   */
  device: string;
  /** Our address and prefix, e.g. `"198.18.0.2/24"`. */
  ip: string;
  /** Next hop for destinations off our subnet, e.g. `"198.18.0.1"` (must be on the subnet). */
  gateway?: string;
  /** Our MAC, `"02:00:5e:10:00:02"` (unicast). Default: the port's own, if it has one, else a random local one. */
  mac?: string;
  /** The IP MTU, 68–9000 (default 1500). When given, it is also set on the port (the kernel side of a tap follows). */
  mtu?: number;
  /** Mbufs in the pool this stack makes (default 4096, 256–1 048 576). Not with `pool`. */
  mbufs?: number;
  /** Name of the pool this stack makes (default: unique in the process; at most 25 bytes). Not with `pool`. */
  poolName?: string;
  /**
   * A pool to use instead of making one (not freed by the stack). Its mbufs must hold a frame of the
   * MTU (`Mempool.createForMtu`); after dispose, or after a failed open, all of them are back.
   */
  pool?: Mempool;
  /** Receive frames for any destination MAC (default true: `mac` may differ from the port's). */
  promiscuous?: boolean;
  /** Descriptors per receive queue (default 1024). */
  rxDescriptors?: number;
  /** Descriptors per transmit queue (default 1024). */
  txDescriptors?: number;
  /** Frames per rx/tx burst (default 32, 1–1024). */
  burst?: number;
  /** EAL options used when EAL does not run yet (default `Eal.devOptions()`); when it runs, they must match it. */
  eal?: EalOptions;
  /** Capture every frame in and out (not closed by the stack). */
  pcap?: PcapWriter;
  /** How the runner trades CPU for latency. */
  runner?: RunnerOptions;
}

const OPTION_NAMES = [
  "device",
  "ip",
  "gateway",
  "mac",
  "mtu",
  "mbufs",
  "poolName",
  "pool",
  "promiscuous",
  "rxDescriptors",
  "txDescriptors",
  "burst",
  "eal",
  "pcap",
  "runner",
] as const satisfies readonly (keyof StackOptions)[];

/** Options of {@linkcode Stack.listenDatagram}. */
export interface ListenDatagramOptions {
  /** The local UDP port, 1–65535. */
  port: number;
  /** Datagrams each of the socket's queues holds before dropping (default 64, 1–65536). */
  capacity?: number;
}

/** Options of {@linkcode Stack.connect}, as `Deno.connect` takes them. */
export interface ConnectOptions {
  /** The peer's dotted IPv4 address (no name resolution). */
  hostname: string;
  /** The peer's port, 1–65535. */
  port: number;
  /** Only `"tcp"` (as `Deno.connect`). */
  transport?: "tcp";
  /** Options of the socket (ring sizes, timeouts, Nagle, …; see `TcpConfig`). */
  socket?: TcpConfig;
}

/** Options of {@linkcode Stack.listen}, as `Deno.listen` takes them. */
export interface ListenOptions {
  /** The local TCP port, 1–65535 (on all our addresses). */
  port: number;
  /** Established connections waiting for `accept` (default 128, 1–65535). */
  backlog?: number;
  /** Connections in the handshake at once (default: the backlog, 1–65535). */
  synBacklog?: number;
  /** Only `"tcp"` (as `Deno.listen`). */
  transport?: "tcp";
  /** Options of the accepted connections' sockets (see `TcpConfig`). */
  socket?: TcpConfig;
}

/** The driver name plus a suffix, as `Vdev.attach` wants it (the same rule, checked before anything is made). */
const VDEV_NAME = /^net_[a-z_]+[A-Za-z0-9_]*$/;

function parseIp(what: string, text: unknown): number {
  const m = typeof text === "string" ? /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text) : null;
  const p = m?.slice(1).map(Number);
  if (!p || p.some((x) => x > 255)) {
    throw stackArg(`${what} must be a dotted IPv4 address such as "198.18.0.1", got ${describeValue(text)}`);
  }
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

function parseCidr(text: unknown): { ip: number; prefix: number } {
  const s = typeof text === "string" ? text : "";
  const slash = s.indexOf("/");
  const prefix = slash < 0 ? NaN : Number(s.slice(slash + 1));
  if (slash < 0 || !/^\d{1,2}$/.test(s.slice(slash + 1)) || prefix < 1 || prefix > 32) {
    throw stackArg(
      `ip must be an address with a prefix length 1–32, such as "198.18.0.2/24", got ${describeValue(text)}`,
    );
  }
  const ip = parseIp("ip", s.slice(0, slash));
  const first = ip >>> 24;
  if (first === 0 || first === 127 || first >= 224) {
    throw stackArg(`ip ${s}: not a unicast host address (0/8, 127/8, multicast and 240/4 are refused)`);
  }
  const host = prefix >= 31 ? 1 : (ip & ~maskOf(prefix)) >>> 0;
  if (host === 0 || host === (~maskOf(prefix) >>> 0)) {
    throw stackArg(`ip ${s}: the network or broadcast address of its subnet, not a host address`);
  }
  return { ip, prefix };
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
}

function parseMac(text: unknown): Uint8Array {
  const m = typeof text === "string"
    ? /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(text)
    : null;
  const mac = m === null ? null : Uint8Array.from(m.slice(1), (h) => parseInt(h, 16));
  if (mac === null || (mac[0] & 1) !== 0 || mac.every((b) => b === 0)) {
    throw stackArg(
      `mac must be a unicast MAC such as "02:00:5e:10:00:02" (first byte even, not all zero), got ${
        describeValue(text)
      }`,
    );
  }
  return mac;
}

function macString(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** Validated options; nothing is made before all of them pass. */
function checkStackOptions(options: unknown) {
  if (options === undefined) throw stackArg("Stack.open needs options: at least { device, ip }");
  const o = checkOptions<StackOptions>(stackArg, "Stack.open options", options, OPTION_NAMES);
  const device = checkString(stackArg, "device", o.device);
  const comma = device.indexOf(",");
  const name = comma < 0 ? device : device.slice(0, comma);
  const args = comma < 0 ? "" : device.slice(comma + 1);
  if (!VDEV_NAME.test(name) || name.length >= 64) {
    throw stackArg(
      `device ${JSON.stringify(device)}: the name before the first comma must be a driver name plus a ` +
        `suffix, e.g. "net_tap0,iface=dtap0", "net_ring0" (letters, digits, _; under 64 characters)`,
    );
  }
  const cidr = parseCidr(o.ip);
  let gateway: number | undefined;
  if (o.gateway !== undefined) {
    gateway = parseIp("gateway", o.gateway);
    const m = maskOf(cidr.prefix);
    if (((gateway & m) >>> 0) !== ((cidr.ip & m) >>> 0) || gateway === cidr.ip) {
      throw stackArg(`gateway ${o.gateway} must be another address on our subnet ${o.ip}`);
    }
  }
  const mac = o.mac === undefined ? undefined : parseMac(o.mac);
  const mtu = o.mtu === undefined ? undefined : checkInt(stackArg, "mtu", o.mtu, MIN_MTU, 9000);
  if (o.pool !== undefined && !(o.pool instanceof Mempool)) {
    throw stackArg(`pool must be a Mempool, got ${describeValue(o.pool)}`);
  }
  if (o.pool !== undefined && (o.mbufs !== undefined || o.poolName !== undefined)) {
    throw stackArg(
      "mbufs and poolName are for the pool the stack makes: give either pool or those, not both",
    );
  }
  const poolName = o.poolName === undefined ? undefined : checkString(stackArg, "poolName", o.poolName);
  if (poolName !== undefined && new TextEncoder().encode(poolName).length > 25) {
    throw stackArg(`poolName ${JSON.stringify(poolName)} is longer than DPDK's 25 bytes`);
  }
  if (o.pool?.disposed) throw stackArg(`pool ${JSON.stringify(o.pool.name)} was disposed`);
  const mbufs = checkInt(stackArg, "mbufs", orDefault(o.mbufs, 4096), 256, 1 << 20);
  const promiscuous = checkBool(stackArg, "promiscuous", orDefault(o.promiscuous, true));
  const rxDescriptors = checkInt(stackArg, "rxDescriptors", orDefault(o.rxDescriptors, 1024), 1, 0xffff);
  const txDescriptors = checkInt(stackArg, "txDescriptors", orDefault(o.txDescriptors, 1024), 1, 0xffff);
  const burst = checkInt(stackArg, "burst", orDefault(o.burst, 32), 1, 1024);
  if (o.eal !== undefined && (typeof o.eal !== "object" || o.eal === null || Array.isArray(o.eal))) {
    throw stackArg(`eal must be EalOptions (an object), got ${describeValue(o.eal)}`);
  }
  if (o.pcap !== undefined && !(o.pcap instanceof PcapWriter)) {
    throw stackArg(`pcap must be a PcapWriter, got ${describeValue(o.pcap)}`);
  }
  // The runner checks its own options; made here so that a bad one fails before anything exists.
  const runnerOptions = o.runner;
  new Runner({ poll: () => false }, runnerOptions)[Symbol.dispose]();
  return {
    name,
    args,
    cidr,
    gateway,
    mac,
    mtu,
    pool: o.pool,
    mbufs,
    poolName,
    promiscuous,
    rxDescriptors,
    txDescriptors,
    burst,
    eal: o.eal,
    pcap: o.pcap,
    runnerOptions,
  };
}

/** Pool names are process-wide (every isolate shares them): a random tag and a counter keep them apart. */
const POOL_TAG = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
let poolCounter = 0;

/**
 * A host on one DPDK port: EAL, a pool, a virtual device, its port, a {@linkcode PortDevice} and
 * an {@linkcode Interface}, made by {@linkcode Stack.open} and torn down, in reverse order, by
 * dispose. A {@linkcode Runner} polls the interface once started ({@linkcode Stack.start},
 * {@linkcode Stack.run}, or the first {@linkcode Stack.listenDatagram}); the layers stay available
 * (`stack.iface`, `stack.port`, …) for poll loops of one's own.
 *
 * EAL is not ended by dispose: it starts once per process, and other stacks may use it.
 *
 * @example A UDP echo server on a tap until Ctrl-C
 * ```ts ignore
 * import { Stack } from "@melin/dpdk";
 * using stack = Stack.open({ device: "net_tap0,iface=dtap0", ip: "198.18.0.2/24" });
 * using conn = stack.listenDatagram({ port: 7 });
 * for await (const [data, from] of conn) await conn.send(data, from);
 * ```
 */
export class Stack implements Disposable, AsyncDisposable {
  /** The EAL this stack runs on. */
  readonly eal: Eal;
  /** The packet pool (made by the stack unless `pool` was given). */
  readonly pool: Mempool;
  /** The virtual device. */
  readonly vdev: Vdev;
  /** Its port, started. */
  readonly port: Port;
  /** The port as the interface's link. */
  readonly device: PortDevice;
  /** The IPv4 interface: `bindUdp` for poll-level sockets, `stats`, `poll`. */
  readonly iface: Interface;
  /** The runner that polls `iface` (see {@linkcode Stack.start}). */
  readonly runner: Runner;
  /** Our address, dotted. */
  readonly ip: string;
  /** Our prefix length. */
  readonly prefix: number;
  /** Our MAC, `aa:bb:cc:dd:ee:ff`. */
  readonly mac: string;
  /** The IP MTU. */
  readonly mtu: number;
  #ownsPool: boolean;
  #conns = new Set<DatagramConn>();
  #tcp = new Set<TcpConn | TcpListenerConn>();
  #tcpHost: TcpHost;
  #closed = false;

  private constructor(parts: {
    eal: Eal;
    pool: Mempool;
    ownsPool: boolean;
    vdev: Vdev;
    port: Port;
    device: PortDevice;
    iface: Interface;
    runner: Runner;
    prefix: number;
    mtu: number;
  }) {
    this.eal = parts.eal;
    this.pool = parts.pool;
    this.#ownsPool = parts.ownsPool;
    this.vdev = parts.vdev;
    this.port = parts.port;
    this.device = parts.device;
    this.iface = parts.iface;
    this.runner = parts.runner;
    this.ip = ipv4ToString(parts.iface.ip);
    this.prefix = parts.prefix;
    this.mac = macString(parts.iface.mac);
    this.mtu = parts.mtu;
    this.#tcpHost = { runner: parts.runner, forget: (c) => void this.#tcp.delete(c) };
  }

  /**
   * Brings a host up on `options.device` with address `options.ip`. Every option is checked before
   * anything is made; when a later step fails, everything made so far is torn down (the pool full
   * again, the device detached, a tap's kernel interface gone) before the error is thrown.
   *
   * @throws {StackError} `InvalidArgument` for a bad option (nothing was made).
   * @throws {EalError} when EAL cannot start, or runs with other arguments than `options.eal`.
   * @throws {MempoolError} when the pool cannot be made (e.g. not enough DPDK memory).
   * @throws {PortError} when the device cannot be attached, or its port opened or started
   * (e.g. `AlreadyAttached` for a name in use, `ConfigureFailed` for a pool too small for the
   * queues, `InvalidArgument` for a `pool` whose mbufs cannot hold a frame of the MTU).
   */
  static open(options: StackOptions): Stack {
    const o = checkStackOptions(options);
    const eal = o.eal !== undefined ? Eal.init(o.eal) : (Eal.current ?? Eal.init(Eal.devOptions()));
    const undo: (() => void)[] = [];
    try {
      const mtu = o.mtu ?? 1500;
      let pool = o.pool;
      if (pool === undefined) {
        pool = Mempool.createWithOptions(o.poolName ?? `stk_${POOL_TAG}_${(poolCounter++).toString(36)}`, {
          numMbufs: o.mbufs,
          dataRoomSize: Math.max(Mempool.defaultDataRoomSize, Mempool.dataRoomForMtu(mtu)),
        });
        const p = pool;
        undo.push(() => p[Symbol.dispose]());
      }
      const vdev = Vdev.attach(o.name, o.args);
      undo.push(() => vdev.detach());
      const port = Port.open(vdev.portId, pool, {
        promiscuous: o.promiscuous,
        rxDescriptors: o.rxDescriptors,
        txDescriptors: o.txDescriptors,
        ...(o.mtu === undefined ? {} : { mtu: o.mtu }),
      });
      undo.push(() => port.close());
      port.start();
      const device = new PortDevice(port, pool, { burst: o.burst, mtu });
      undo.push(() => device[Symbol.dispose]());
      const iface = new Interface(device, {
        mac: o.mac ?? defaultMac(port),
        addresses: [o.cidr],
        ...(o.gateway === undefined ? {} : { gateway: o.gateway }),
        ...(o.pcap === undefined ? {} : { pcap: o.pcap }),
      });
      const runner = new Runner(iface, o.runnerOptions);
      const stack = new Stack({
        eal,
        pool,
        ownsPool: o.pool === undefined,
        vdev,
        port,
        device,
        iface,
        runner,
        prefix: o.cidr.prefix,
        mtu,
      });
      logger.info("Stack up: {ip}/{prefix} on {device} (port {port})", {
        ip: stack.ip,
        prefix: stack.prefix,
        device: options.device,
        port: port.id,
      });
      return stack;
    } catch (e) {
      const errors = runAll(undo.reverse());
      for (const err of errors) {
        logger.warn("Stack.open: undoing a step failed: {error}", { error: String(err) });
      }
      throw e;
    }
  }

  /** True once disposed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Starts the runner in the background (a no-op when it runs). @throws {StackError} `Closed`. */
  start(): void {
    this.#alive("start");
    this.runner.start();
  }

  /**
   * Starts the runner if needed and resolves when it stops: when `signal` aborts, on
   * {@linkcode Stack.stop}, or on dispose.
   * @throws {StackError} `Closed`; `RunnerFailed` (rejection) when a poll threw.
   */
  run(signal?: AbortSignal): Promise<void> {
    this.#alive("run");
    return this.runner.run(signal);
  }

  /** Stops the runner; resolves once it has. @throws {StackError} `RunnerFailed` (rejection) when a poll threw. */
  stop(): Promise<void> {
    return this.runner.stop();
  }

  /**
   * Binds UDP `port` as a {@linkcode DatagramConn} (promises, `for await`) and starts the runner.
   * @throws {StackError} `InvalidArgument`, `Closed`.
   * @throws {InterfaceError} `PortInUse` when the port is bound already.
   */
  listenDatagram(options: ListenDatagramOptions): DatagramConn {
    this.#alive("listenDatagram");
    const o = checkOptions<ListenDatagramOptions>(stackArg, "listenDatagram options", options, [
      "port",
      "capacity",
    ]);
    const port = checkInt(stackArg, "listenDatagram: port", o.port, 1, 0xffff);
    const capacity = checkInt(stackArg, "listenDatagram: capacity", orDefault(o.capacity, 64), 1, 65536);
    const socket = this.iface.bindUdp(port, capacity);
    const conn = new DatagramConn(socket, this.runner, this.ip, (c) => this.#conns.delete(c));
    this.#conns.add(conn);
    this.runner.start();
    return conn;
  }

  /**
   * Opens a TCP connection to `hostname:port` (like `Deno.connect`) from an ephemeral port and
   * starts the runner; resolves once the handshake completed.
   * @throws {StackError} `InvalidArgument` for bad options, `Closed` after dispose (rejections);
   * `ConnectionRefused` when the peer answered with RST, `TimedOut` when it never answered
   * (`socket.synRetries`), `RunnerFailed`.
   * @throws {InterfaceError} (rejection) `InvalidArgument` with no route to the peer, `PortInUse`
   * when no ephemeral port is free or the connection table is full.
   * @throws {SocketError} (rejection) `InvalidArgument` for bad `socket` options.
   */
  connect(options: ConnectOptions): Promise<TcpConn> {
    try {
      this.#alive("connect");
      const o = checkOptions<ConnectOptions>(stackArg, "connect options", options, [
        "hostname",
        "port",
        "transport",
        "socket",
      ]);
      if (o.transport !== undefined && o.transport !== "tcp") {
        throw stackArg(`connect: transport must be "tcp" or omitted, got ${describeValue(o.transport)}`);
      }
      const port = checkInt(stackArg, "connect: port", o.port, 1, 0xffff);
      let ip: number;
      try {
        if (typeof o.hostname !== "string") throw new Error();
        ip = parseIpv4Address(o.hostname);
      } catch {
        throw stackArg(
          `connect: hostname must be a dotted IPv4 address such as "198.18.0.1", got ${
            describeValue(o.hostname)
          }`,
        );
      }
      const socket = this.iface.connectTcp(ip, port, o.socket ?? {});
      const conn = new TcpConn(socket, this.#tcpHost);
      this.#tcp.add(conn);
      this.runner.start();
      this.runner.wake();
      return conn.established();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Listens for TCP connections on `port` (like `Deno.listen`) and starts the runner.
   * @throws {StackError} `InvalidArgument`, `Closed`.
   * @throws {InterfaceError} `PortInUse` when a listener holds the port.
   * @throws {SocketError} `InvalidArgument` for bad `socket` options or backlogs.
   */
  listen(options: ListenOptions): TcpListenerConn {
    this.#alive("listen");
    const o = checkOptions<ListenOptions>(stackArg, "listen options", options, [
      "port",
      "backlog",
      "synBacklog",
      "transport",
      "socket",
    ]);
    if (o.transport !== undefined && o.transport !== "tcp") {
      throw stackArg(`listen: transport must be "tcp" or omitted, got ${describeValue(o.transport)}`);
    }
    const port = checkInt(stackArg, "listen: port", o.port, 1, 0xffff);
    const backlog = checkInt(stackArg, "listen: backlog", orDefault(o.backlog, 128), 1, 0xffff);
    const synBacklog = checkInt(stackArg, "listen: synBacklog", orDefault(o.synBacklog, backlog), 1, 0xffff);
    const l = this.iface.listenTcp(port, { backlog, synBacklog, ...(o.socket ? { socket: o.socket } : {}) });
    const conn = new TcpListenerConn(l, this.ip, this.#tcpHost, (s) => {
      const c = new TcpConn(s, this.#tcpHost);
      this.#tcp.add(c);
      return c;
    });
    this.#tcp.add(conn);
    this.runner.start();
    return conn;
  }

  /**
   * Tears everything down in reverse order: the runner, the TCP connections and listeners (reset),
   * the datagram sockets, the device's spare
   * mbufs, the port (stopped and closed), the virtual device (a tap's kernel interface goes with
   * it), and the pool if the stack made it. Each layer is closed even when another fails.
   * Idempotent.
   * @throws {StackError} `TeardownFailed` when a layer failed to close.
   */
  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#closed = true;
    const steps = [
      () => this.runner[Symbol.dispose](),
      ...[...this.#tcp].map((c) => () => c instanceof TcpConn ? c.shutdown() : c.close()),
      ...[...this.#conns].map((c) => () => c.close()),
      () => this.device[Symbol.dispose](),
      () => this.port.close(),
      () => this.vdev.detach(),
      ...(this.#ownsPool ? [() => this.pool[Symbol.dispose]()] : []),
    ];
    const errors = runAll(steps);
    if (errors.length > 0) {
      throw new StackError(
        "TeardownFailed",
        `Stack ${this.ip}: ${errors.length} layer(s) failed to close: ${errors.map(String).join("; ")}`,
        { cause: errors.length === 1 ? errors[0] : new AggregateError(errors) },
      );
    }
  }

  /** Stops the runner, waits for it, then disposes (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.runner.stop().catch(() => {}); // a failed runner is already stopped
    this[Symbol.dispose]();
  }

  #alive(what: string): void {
    if (this.#closed) throw new StackError("Closed", `Stack.${what}: the stack ${this.ip} was disposed`);
  }
}

/** The port's MAC when it is a usable unicast one, else a random locally administered one. */
function defaultMac(port: Port): Uint8Array {
  const mac = port.macBytes();
  if ((mac[0] & 1) === 0 && mac.some((b) => b !== 0)) return mac;
  const r = crypto.getRandomValues(new Uint8Array(6));
  r[0] = (r[0] & 0xfc) | 0x02;
  return r;
}

/** Runs every step, even after one throws; returns what they threw. */
function runAll(steps: (() => void)[]): unknown[] {
  const errors: unknown[] = [];
  for (const s of steps) {
    try {
      s();
    } catch (e) {
      errors.push(e);
    }
  }
  return errors;
}
