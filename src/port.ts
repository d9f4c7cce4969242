/**
 * Ethernet ports (DPDK ethdev): poll-mode drivers, rx/tx bursts, stats. Virtual devices, attached
 * at run time, are in src/vdev.ts.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { cString, dpdk } from "./ffi.ts";
import {
  type ArgError,
  checkBool,
  checkInt as checkIntArg,
  checkOptions,
  checkString,
  intError,
  orDefault,
  typeError,
} from "./validate.ts";
import { EAL_STATE_RUNNING, ealStateWord, isolateSlot, requireEal, trackResource } from "./eal.ts";
import { holdPool, isMempool, type Mempool } from "./mempool.ts";
import {
  batchAssertPoolsLive,
  batchDrop,
  batchFreeRx,
  batchRx,
  batchTx,
  batchTxRefill,
  batchTxSized,
  MbufBatch,
} from "./mbuf_batch.ts";
import { mbufArg } from "./mbuf_error.ts";
import { PortError } from "./port_error.ts";

export { PortError };
export type { PortErrorKind } from "./port_error.ts";

const logger = getLogger(["melin-dpdk", "port"]);

/** Options for {@linkcode Port.open}. */
export interface PortOptions {
  /** Receive queues (default 1). */
  rxQueues?: number;
  /** Transmit queues (default 1). */
  txQueues?: number;
  /** Descriptors per receive queue (default 1024; DPDK may adjust to the driver's limits). */
  rxDescriptors?: number;
  /** Descriptors per transmit queue (default 1024; DPDK may adjust to the driver's limits). */
  txDescriptors?: number;
  /** MTU to set (default: the driver's). */
  mtu?: number;
  /** Receive frames for any destination MAC (default false). */
  promiscuous?: boolean;
  /** Enable the IPv4/UDP/TCP transmit checksum offloads the port offers (default true). */
  txChecksumOffload?: boolean;
  /** Enable the IPv4/UDP/TCP receive checksum offloads the port offers (default true). */
  rxChecksumOffload?: boolean;
}

/** What a port's driver can do (`rte_eth_dev_info_get`). */
export interface PortInfo {
  /** Driver name, e.g. `"net_ring"`, `"net_tap"`. */
  driverName: string;
  /** Device name, e.g. `"net_ring0"`. */
  deviceName: string;
  /** Maximum receive queues. */
  maxRxQueues: number;
  /** Maximum transmit queues. */
  maxTxQueues: number;
  /** Receive offload capabilities (`RTE_ETH_RX_OFFLOAD_*` bits). */
  rxOffloadCapa: bigint;
  /** Transmit offload capabilities (`RTE_ETH_TX_OFFLOAD_*` bits). */
  txOffloadCapa: bigint;
  /** Largest receivable frame. */
  maxRxPktLen: number;
  /** Smallest MTU. */
  minMtu: number;
  /** Largest MTU. */
  maxMtu: number;
  /** Receive descriptor limits per queue. */
  rxDescriptors: { min: number; max: number };
  /** Transmit descriptor limits per queue. */
  txDescriptors: { min: number; max: number };
  /** Index of the kernel interface behind the port (net_tap, af_packet), or 0. */
  ifIndex: number;
}

/** Link state (`rte_eth_link_get_nowait`). */
export interface LinkStatus {
  /** True when the link is up. */
  up: boolean;
  /** Speed in Mbps (0 when unknown). */
  speedMbps: number;
  /** Full duplex. */
  fullDuplex: boolean;
  /** Auto-negotiated. */
  autoneg: boolean;
}

/** Basic counters (`rte_eth_stats_get`). */
export interface PortStats {
  /** Packets received. */
  ipackets: number;
  /** Packets sent. */
  opackets: number;
  /** Bytes received. */
  ibytes: number;
  /** Bytes sent. */
  obytes: number;
  /** Packets dropped by the hardware/driver because rx queues were full. */
  imissed: number;
  /** Receive errors. */
  ierrors: number;
  /** Transmit errors. */
  oerrors: number;
  /** Receive mbuf allocation failures. */
  rxNombuf: number;
}

/** Which transmit checksum offloads are enabled on a port. */
export interface ChecksumOffloads {
  /** IPv4 header checksum. */
  ipv4: boolean;
  /** UDP checksum. */
  udp: boolean;
  /** TCP checksum. */
  tcp: boolean;
}

// RTE_ETH_{RX,TX}_OFFLOAD_{IPV4,UDP,TCP}_CKSUM: bits 1, 2, 3 in both masks.
const OFFLOAD_IPV4_CKSUM = 1 << 1;
const OFFLOAD_UDP_CKSUM = 1 << 2;
const OFFLOAD_TCP_CKSUM = 1 << 3;
const CKSUM_OFFLOADS = OFFLOAD_IPV4_CKSUM | OFFLOAD_UDP_CKSUM | OFFLOAD_TCP_CKSUM;
/** Room for a device name, with its NUL (RTE_ETH_NAME_MAX_LEN). @internal */
export const ETH_NAME_MAX_LEN = 64;
const XSTAT_NAME_SIZE = 64;
const ENOTSUP = 95;

const decoder = new TextDecoder();

/** Port lifecycle. */
export type PortState = "configured" | "started" | "stopped" | "closed";

/** Ports open in this isolate, by id. */
const openPorts = new Map<number, Port>();

/** The Port object open in this isolate for port `id`, if any (for Vdev.detach). @internal */
export function openPort(id: number): Port | undefined {
  return openPorts.get(id);
}

let eal: Int32Array;

/**
 * `Port.txBurst` that first sets each sent mbuf's lengths from the batch's length column
 * (`batchLengths`): for a sender that filled single-segment mbufs it allocated. @internal
 */
export let portTxSized: (port: Port, queue: number, batch: MbufBatch, count: number) => number;

/**
 * For a sender that keeps spare mbufs in its batch (net/phy/device.ts), one FFI call: sends the
 * first `count` entries as `portTxSized`, moves the rest to the front and tops the batch up to
 * `fillTo` with mbufs of `dataLen` bytes from `pool` (see `batchTxRefill`; the caller checks
 * `count`, `fillTo` and `dataLen`). Returns the number sent, | REFILL_FAILED. @internal
 */
export let portTxRefill: (
  port: Port,
  queue: number,
  batch: MbufBatch,
  count: number,
  pool: Mempool,
  fillTo: number,
  dataLen: number,
) => number;

/**
 * For a receiver that keeps its last burst until the next (net/phy/device.ts), one FFI call: frees
 * every entry of `batch`, then receives into it from `queue` (see `batchFreeRx`). @internal
 */
export let portFreeRx: (port: Port, queue: number, batch: MbufBatch) => number;

function portArg(port: number): ArgError {
  return (message) => new PortError("InvalidArgument", port, message);
}

function checkInt(port: number, what: string, v: unknown, min: number, max: number): number {
  return checkIntArg(portArg(port), what, v, min, max);
}

const OPTION_NAMES = [
  "rxQueues",
  "txQueues",
  "rxDescriptors",
  "txDescriptors",
  "mtu",
  "promiscuous",
  "txChecksumOffload",
  "rxChecksumOffload",
] as const satisfies readonly (keyof PortOptions)[];

function resolvePort(portOrName: number | string): number {
  const s = dpdk();
  if (typeof portOrName === "string") {
    checkString(portArg(-1), "port name", portOrName);
    const out = new Uint16Array(1);
    if (s.rte_eth_dev_get_port_by_name(cString(portOrName), out) !== 0) {
      throw new PortError(
        "NotFound",
        -1,
        `No port named ${JSON.stringify(portOrName)} (attach it with Vdev.attach)`,
      );
    }
    return out[0];
  }
  checkInt(-1, "port id", portOrName, 0, 0xffff);
  if (s.rte_eth_dev_is_valid_port(portOrName) !== 1) {
    throw new PortError(
      "NotFound",
      portOrName,
      `No port ${portOrName}: ${s.rte_eth_dev_count_avail()} port(s) available`,
    );
  }
  return portOrName;
}

function readInfo(id: number): PortInfo & { rxCapaLow: number; txCapaLow: number } {
  const s = dpdk();
  const out = new Uint32Array(14);
  const driver = new Uint8Array(64);
  const rc = s.mdp_eth_dev_info(id, out, driver, driver.length);
  if (rc !== 0) throw new PortError("NotFound", id, `rte_eth_dev_info_get failed for port ${id}`, -rc);
  const nameBuf = new Uint8Array(ETH_NAME_MAX_LEN);
  s.rte_eth_dev_get_name_by_port(id, nameBuf);
  const str = (b: Uint8Array) => decoder.decode(b.subarray(0, Math.max(0, b.indexOf(0))));
  const u64 = (lo: number, hi: number) => (BigInt(hi) << 32n) | BigInt(lo);
  return {
    driverName: str(driver),
    deviceName: str(nameBuf),
    maxRxQueues: out[0],
    maxTxQueues: out[1],
    rxOffloadCapa: u64(out[2], out[3]),
    txOffloadCapa: u64(out[4], out[5]),
    maxRxPktLen: out[6],
    minMtu: out[7],
    maxMtu: out[8],
    rxDescriptors: { min: out[9], max: out[10] },
    txDescriptors: { min: out[11], max: out[12] },
    ifIndex: out[13],
    rxCapaLow: out[2],
    txCapaLow: out[4],
  };
}

/**
 * An Ethernet port owned by this program: configured by {@linkcode Port.open}, then
 * {@linkcode Port.start}ed; packets move with {@linkcode Port.rxBurst} and {@linkcode Port.txBurst}
 * on an {@linkcode MbufBatch}, one FFI call per burst. Dispose (or `using`) stops and closes it; its
 * pool cannot be freed before that.
 *
 * @example Loop frames through a net_ring port
 * ```ts
 * import { Eal, MbufBatch, Mempool, Port, Vdev } from "@melin/dpdk";
 * Eal.init(Eal.devOptions());
 * using pool = Mempool.create("pool");
 * using ring = Vdev.attach("net_ring0");
 * using port = Port.open(ring.portId, pool);
 * port.start();
 * const batch = new MbufBatch(32);
 * pool.allocBulk(batch);
 * port.txBurst(0, batch); // unsent mbufs stay in the batch
 * port.rxBurst(0, batch);
 * pool.freeBulk(batch);
 * ```
 */
export class Port implements Disposable {
  /** The port id. */
  readonly id: number;
  /** The pool receive queues take mbufs from. */
  readonly pool: Mempool;
  /** Receive queues. */
  readonly rxQueues: number;
  /** Transmit queues. */
  readonly txQueues: number;
  /** Descriptors per receive queue, after DPDK's adjustment to the driver's limits. */
  readonly rxDescriptors: number;
  /** Descriptors per transmit queue, after DPDK's adjustment to the driver's limits. */
  readonly txDescriptors: number;
  /** NUMA socket of the device; 0 when DPDK does not know (-1). */
  readonly socketId: number;
  /** Transmit checksum offloads enabled on the port (software checksums are needed for the rest). */
  readonly txChecksumOffload: Readonly<ChecksumOffloads>;
  /** Receive checksum offloads enabled on the port. */
  readonly rxChecksumOffload: Readonly<ChecksumOffloads>;
  #state: PortState = "configured";
  #started = false;
  #releasePool: () => void;
  #untrack: () => void;

  private constructor(
    id: number,
    pool: Mempool,
    q: { rx: number; tx: number; rxDesc: number; txDesc: number; socket: number },
    tx: ChecksumOffloads,
    rx: ChecksumOffloads,
  ) {
    this.id = id;
    this.pool = pool;
    this.rxQueues = q.rx;
    this.txQueues = q.tx;
    this.rxDescriptors = q.rxDesc;
    this.txDescriptors = q.txDesc;
    this.socketId = q.socket;
    this.txChecksumOffload = Object.freeze(tx);
    this.rxChecksumOffload = Object.freeze(rx);
    this.#releasePool = holdPool(pool, `port ${id}`);
    this.#untrack = trackResource(this);
    openPorts.set(id, this);
  }

  /**
   * Claims port `id` for this isolate in the shim: a port is process-wide, and two isolates
   * configuring, starting and closing it under each other would each believe their own state.
   */
  static #claim(id: number, rxQueues: number): void {
    const other = dpdk().mdp_port_claim(id, isolateSlot(), rxQueues);
    if (other !== 0) {
      throw new PortError(
        "InUse",
        id,
        `Port ${id} is open in another isolate (a Worker or another test file): a port is process-wide; ` +
          `close it there first, or use it from that isolate`,
      );
    }
  }

  /** Number of ports DPDK has (`rte_eth_dev_count_avail`). */
  static count(): number {
    requireEal("Port.count");
    return dpdk().rte_eth_dev_count_avail();
  }

  /**
   * Configures port `portOrName` (an id, or a device name such as `"net_ring0"`) with receive
   * queues fed from `pool`. The port is not started: call {@linkcode Port.start}.
   * @throws {PortError} `NotFound`, `InUse`, `InvalidArgument`, `ConfigureFailed`.
   */
  static open(portOrName: number | string, pool: Mempool, options: PortOptions = {}): Port {
    requireEal("Port.open");
    const s = dpdk();
    eal ??= ealStateWord();
    const id = resolvePort(portOrName);
    // A brand check, not instanceof: Object.create(Mempool.prototype) must not get further.
    if (!isMempool(pool)) throw typeError(portArg(id), "Port.open: pool", pool, "a Mempool");
    options = checkOptions<PortOptions>(portArg(id), "Port.open options", options, OPTION_NAMES);
    for (const k of ["promiscuous", "txChecksumOffload", "rxChecksumOffload"] as const) {
      if (options[k] !== undefined) checkBool(portArg(id), k, options[k]);
    }
    const info = readInfo(id);
    const rx = checkInt(id, "rxQueues", orDefault(options.rxQueues, 1), 1, info.maxRxQueues);
    const tx = checkInt(id, "txQueues", orDefault(options.txQueues, 1), 1, info.maxTxQueues);
    const desc = new Uint16Array([
      checkInt(id, "rxDescriptors", orDefault(options.rxDescriptors, 1024), 1, 0xffff),
      checkInt(id, "txDescriptors", orDefault(options.txDescriptors, 1024), 1, 0xffff),
    ]);
    const mtu = options.mtu === undefined ? 0 : checkInt(id, "mtu", options.mtu, info.minMtu, info.maxMtu);
    // After the checks, so that a bad argument is reported as such even for an open port.
    if (openPorts.has(id)) throw new PortError("InUse", id, `Port ${id} is already open; close it first`);
    const txOff = options.txChecksumOffload === false ? 0 : info.txCapaLow & CKSUM_OFFLOADS;
    const rxOff = options.rxChecksumOffload === false ? 0 : info.rxCapaLow & CKSUM_OFFLOADS;
    const poolPtr = pool.pointer;
    Port.#claim(id, rx);
    const fail = (what: string, rc: number): never => {
      s.mdp_port_release(id, isolateSlot());
      throw new PortError("ConfigureFailed", id, `${what} failed for port ${id} (${info.driverName})`, -rc);
    };
    let rc = s.mdp_eth_configure(id, rx, tx, rxOff, txOff, mtu);
    if (rc !== 0) fail("rte_eth_dev_configure", rc);
    rc = s.mdp_eth_adjust_desc(id, desc);
    if (rc !== 0) fail("rte_eth_dev_adjust_nb_rx_tx_desc", rc);
    const dev = s.rte_eth_dev_socket_id(id);
    const socket = dev < 0 ? 0 : dev;
    for (let q = 0; q < rx; q++) {
      rc = s.rte_eth_rx_queue_setup(id, q, desc[0], socket, null, poolPtr);
      if (rc !== 0) fail(`rte_eth_rx_queue_setup(queue ${q}, ${desc[0]} descriptors)`, rc);
    }
    for (let q = 0; q < tx; q++) {
      rc = s.rte_eth_tx_queue_setup(id, q, desc[1], socket, null);
      if (rc !== 0) fail(`rte_eth_tx_queue_setup(queue ${q}, ${desc[1]} descriptors)`, rc);
    }
    if (options.promiscuous) {
      rc = s.rte_eth_promiscuous_enable(id);
      if (rc !== 0 && rc !== -ENOTSUP) fail("rte_eth_promiscuous_enable", rc);
    }
    const flags = (m: number) => ({
      ipv4: (m & OFFLOAD_IPV4_CKSUM) !== 0,
      udp: (m & OFFLOAD_UDP_CKSUM) !== 0,
      tcp: (m & OFFLOAD_TCP_CKSUM) !== 0,
    });
    let port: Port;
    try {
      port = new Port(
        id,
        pool,
        { rx, tx, rxDesc: desc[0], txDesc: desc[1], socket },
        flags(txOff),
        flags(rxOff),
      );
    } catch (e) {
      s.mdp_port_release(id, isolateSlot());
      throw e;
    }
    logger.info("Opened port {id} ({driver}): {rx} rx / {tx} tx queues, {rxDesc}/{txDesc} descriptors", {
      id,
      driver: info.driverName,
      rx,
      tx,
      rxDesc: desc[0],
      txDesc: desc[1],
    });
    return port;
  }

  #alive(what: string): void {
    if (this.#state === "closed") {
      throw new PortError("Closed", this.id, `Port ${this.id}.${what}: the port is closed`);
    }
    if (eal[0] !== EAL_STATE_RUNNING) {
      throw new PortError("Closed", this.id, `Port ${this.id}.${what}: EAL was cleaned up`);
    }
  }

  /** `"configured"`, `"started"`, `"stopped"` or `"closed"`. */
  get state(): PortState {
    return this.#state;
  }

  /** Starts the port (`rte_eth_dev_start`). @throws {PortError} `AlreadyStarted`, `StartFailed`, `Closed`. */
  start(): void {
    this.#alive("start");
    if (this.#started) throw new PortError("AlreadyStarted", this.id, `Port ${this.id} is already started`);
    const rc = dpdk().mdp_eth_start(this.id);
    if (rc !== 0) {
      throw new PortError("StartFailed", this.id, `rte_eth_dev_start failed for port ${this.id}`, -rc);
    }
    this.#started = true;
    this.#state = "started";
  }

  /**
   * Stops the port (`rte_eth_dev_stop`); a no-op when it is not started. Frames still waiting in
   * the receive queues are taken out and freed first, so that they return to their pools.
   */
  stop(): void {
    this.#alive("stop");
    if (!this.#started) return;
    const rc = dpdk().mdp_eth_stop(this.id, this.rxQueues);
    if (rc !== 0) {
      throw new PortError("StopFailed", this.id, `rte_eth_dev_stop failed for port ${this.id}`, -rc);
    }
    this.#started = false;
    this.#state = "stopped";
  }

  /**
   * Stops (if needed, draining the receive queues as {@linkcode Port.stop} does) and closes the
   * port (`rte_eth_dev_close`), then releases its pool and its claim. Idempotent.
   */
  close(): void {
    if (this.#state === "closed") return;
    const running = eal[0] === EAL_STATE_RUNNING;
    let rc = 0;
    if (running) {
      if (this.#started) dpdk().mdp_eth_stop(this.id, this.rxQueues);
      rc = dpdk().rte_eth_dev_close(this.id);
      dpdk().mdp_port_release(this.id, isolateSlot());
    }
    this.#started = false;
    this.#state = "closed";
    openPorts.delete(this.id);
    this.#releasePool();
    this.#untrack();
    if (rc !== 0) {
      throw new PortError("CloseFailed", this.id, `rte_eth_dev_close failed for port ${this.id}`, -rc);
    }
  }

  /** Same as {@linkcode Port.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Driver facts and limits. */
  info(): PortInfo {
    this.#alive("info");
    const { rxCapaLow: _r, txCapaLow: _t, ...info } = readInfo(this.id);
    return info;
  }

  /** The port's MAC address as 6 bytes. */
  macBytes(): Uint8Array {
    this.#alive("macBytes");
    const out = new Uint8Array(6);
    const rc = dpdk().mdp_eth_macaddr(this.id, out);
    if (rc !== 0) throw new PortError("StatsFailed", this.id, `rte_eth_macaddr_get failed`, -rc);
    return out;
  }

  /** The port's MAC address, e.g. `"02:00:00:00:00:01"`. */
  get macAddress(): string {
    return Array.from(this.macBytes(), (b) => b.toString(16).padStart(2, "0")).join(":");
  }

  /** Link state, without waiting (`rte_eth_link_get_nowait`). */
  get linkStatus(): LinkStatus {
    this.#alive("linkStatus");
    const out = new Uint32Array(4);
    dpdk().mdp_eth_link(this.id, out);
    return { speedMbps: out[0], fullDuplex: out[1] === 1, autoneg: out[2] === 1, up: out[3] === 1 };
  }

  /** The current MTU. */
  get mtu(): number {
    this.#alive("mtu");
    const out = new Uint16Array(1);
    const rc = dpdk().rte_eth_dev_get_mtu(this.id, out);
    if (rc !== 0) throw new PortError("StatsFailed", this.id, `rte_eth_dev_get_mtu failed`, -rc);
    return out[0];
  }

  /** True when the port receives frames for any destination MAC. */
  get promiscuous(): boolean {
    this.#alive("promiscuous");
    return dpdk().rte_eth_promiscuous_get(this.id) === 1;
  }

  /**
   * Receives up to `batch.free` packets from `queue` into `batch`, after its current entries
   * (`rte_eth_rx_burst`, one FFI call). Returns how many arrived; they are owned by the batch.
   * @throws {PortError} `NotStarted`, `QueueOutOfRange`, `Closed`.
   */
  rxBurst(queue: number, batch: MbufBatch): number {
    if (!this.#started || eal[0] !== EAL_STATE_RUNNING) this.#notRunning("rxBurst");
    if (!(typeof queue === "number" && (queue >>> 0) === queue && queue < this.rxQueues)) {
      throw this.#badQueue(queue, this.rxQueues, "rx");
    }
    if (!(batch instanceof MbufBatch)) throw typeError(mbufArg, "rxBurst: batch", batch, "an MbufBatch");
    return batchRx(batch, this.id, queue, this.pool);
  }

  /**
   * Sends the batch's first `count` packets (default: all) on `queue` (`rte_eth_tx_burst`, one FFI
   * call) and returns how many the driver took. Those leave the batch (the driver frees them); the
   * rest stay in the batch, moved to the front and still owned by the caller: the ones the driver
   * did not take come first (retry or free them), then the entries after `count`.
   * @throws {PortError} `NotStarted`, `QueueOutOfRange`, `Closed`.
   * @throws {MbufError} `InvalidArgument` when `count` is not a whole number up to `batch.length`.
   */
  txBurst(queue: number, batch: MbufBatch, count?: number): number {
    return this.#tx(queue, batch, count, false);
  }

  #tx(queue: number, batch: MbufBatch, count: number | undefined, sized: boolean): number {
    if (!this.#started || eal[0] !== EAL_STATE_RUNNING) this.#notRunning("txBurst");
    if (!(typeof queue === "number" && (queue >>> 0) === queue && queue < this.txQueues)) {
      throw this.#badQueue(queue, this.txQueues, "tx");
    }
    if (!(batch instanceof MbufBatch)) throw typeError(mbufArg, "txBurst: batch", batch, "an MbufBatch");
    if (count === undefined) count = batch.length;
    else if (!(typeof count === "number" && (count >>> 0) === count && count <= batch.length)) {
      throw intError(mbufArg, "txBurst: count", count, 0, batch.length, " (the batch's length)");
    }
    if (count === 0) return 0;
    batchAssertPoolsLive(batch, "txBurst");
    const n = sized ? batchTxSized(batch, this.id, queue, count) : batchTx(batch, this.id, queue, count);
    if (n > 0) batchDrop(batch, n);
    return n;
  }

  static {
    portTxSized = (p, queue, batch, count) => p.#tx(queue, batch, count, true);
    portTxRefill = (p, queue, batch, count, pool, fillTo, dataLen) => {
      if (!p.#started || eal[0] !== EAL_STATE_RUNNING) p.#notRunning("txBurst");
      if (!((queue >>> 0) === queue && queue < p.txQueues)) throw p.#badQueue(queue, p.txQueues, "tx");
      return batchTxRefill(batch, p.id, queue, count, pool.address, pool, fillTo, dataLen);
    };
    portFreeRx = (p, queue, batch) => {
      if (!p.#started || eal[0] !== EAL_STATE_RUNNING) p.#notRunning("rxBurst");
      if (!((queue >>> 0) === queue && queue < p.rxQueues)) throw p.#badQueue(queue, p.rxQueues, "rx");
      return batchFreeRx(batch, p.id, queue, p.pool);
    };
  }

  #notRunning(what: string): never {
    this.#alive(what);
    throw new PortError(
      "NotStarted",
      this.id,
      `Port ${this.id}.${what}: the port is not started (call start())`,
    );
  }

  #badQueue(queue: unknown, count: number, dir: string): PortError {
    if (typeof queue !== "number") {
      return intError(portArg(this.id), `${dir} queue`, queue, 0, count - 1) as PortError;
    }
    return new PortError(
      "QueueOutOfRange",
      this.id,
      `Port ${this.id}: ${dir} queue ${queue} does not exist (the port has ${count}: 0..${count - 1})`,
    );
  }

  /** Basic counters (`rte_eth_stats_get`). */
  stats(): PortStats {
    this.#alive("stats");
    const out = new BigUint64Array(8);
    const rc = dpdk().mdp_eth_stats(this.id, out);
    if (rc !== 0) {
      throw new PortError("StatsFailed", this.id, `rte_eth_stats_get failed for port ${this.id}`, -rc);
    }
    const n = Array.from(out, Number);
    return {
      ipackets: n[0],
      opackets: n[1],
      ibytes: n[2],
      obytes: n[3],
      imissed: n[4],
      ierrors: n[5],
      oerrors: n[6],
      rxNombuf: n[7],
    };
  }

  /** Extended counters by name (`rte_eth_xstats_get_names` / `rte_eth_xstats_get`). */
  xstats(): Map<string, number> {
    this.#alive("xstats");
    const s = dpdk();
    const count = s.rte_eth_xstats_get_names(this.id, null, 0);
    if (count < 0) throw new PortError("StatsFailed", this.id, `rte_eth_xstats_get_names failed`, -count);
    const names = new Uint8Array(count * XSTAT_NAME_SIZE);
    const values = new BigUint64Array(count * 2);
    const n1 = s.rte_eth_xstats_get_names(this.id, names, count);
    const n2 = s.rte_eth_xstats_get(this.id, values, count);
    if (n1 < 0 || n2 < 0) {
      throw new PortError("StatsFailed", this.id, `rte_eth_xstats_get failed`, -(n1 < 0 ? n1 : n2));
    }
    const out = new Map<string, number>();
    for (let i = 0; i < Math.min(n2, count); i++) {
      const id = Number(values[2 * i]); // index into the names array
      if (id >= n1) continue;
      const raw = names.subarray(id * XSTAT_NAME_SIZE, (id + 1) * XSTAT_NAME_SIZE);
      out.set(decoder.decode(raw.subarray(0, Math.max(0, raw.indexOf(0)))), Number(values[2 * i + 1]));
    }
    return out;
  }

  /** Resets basic and extended counters. */
  resetStats(): void {
    this.#alive("resetStats");
    const s = dpdk();
    const rc = s.rte_eth_stats_reset(this.id);
    if (rc !== 0) throw new PortError("StatsFailed", this.id, `rte_eth_stats_reset failed`, -rc);
    const rx = s.rte_eth_xstats_reset(this.id);
    if (rx !== 0 && rx !== -ENOTSUP) {
      throw new PortError("StatsFailed", this.id, `rte_eth_xstats_reset failed`, -rx);
    }
  }
}
