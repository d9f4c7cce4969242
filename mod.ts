/**
 * @melin/dpdk — kernel-bypass networking for Deno on DPDK.
 *
 * Start DPDK's EAL once per process, then create packet buffer pools:
 *
 * ```ts
 * import { Eal, Mempool, MempoolError } from "@melin/dpdk";
 *
 * Eal.init(Eal.devOptions()); // no hugepages, no PCI, unique file prefix
 * using pool = Mempool.create("rx_pool"); // 8192 mbufs, cache 256
 * console.log(pool.capacity, pool.available, pool.dataRoomSize);
 *
 * try {
 *   Mempool.create("rx_pool");
 * } catch (e) {
 *   if (e instanceof MempoolError && e.kind === "CreateFailed") console.error(e.errno, e.message);
 * }
 * ```
 *
 * Needs the C shim: `deno task build` in a checkout (or `MELIN_DPDK_SHIM=/path/libmelin_dpdk.so`),
 * and `--allow-ffi` at run time.
 *
 * @module
 */
export { Eal, EAL_PROGRAM_NAME, EalError } from "./src/eal.ts";
export type { EalErrorKind, EalOptions, EalState } from "./src/eal.ts";
export {
  DEFAULT_NUM_MBUFS,
  ETHER_CRC_LEN,
  ETHER_HDR_LEN,
  MBUF_CACHE_SIZE,
  Mempool,
  MempoolError,
  MIN_MTU,
  SOCKET_ID_ANY,
} from "./src/mempool.ts";
export type { MempoolErrorKind, MempoolOptions } from "./src/mempool.ts";
export { Mbuf } from "./src/mbuf.ts";
export { DEFAULT_BATCH_SIZE, MbufBatch, PacketView } from "./src/mbuf_batch.ts";
export type { BatchColumns } from "./src/mbuf_batch.ts";
export { MbufError } from "./src/mbuf_error.ts";
export type { MbufErrorKind } from "./src/mbuf_error.ts";
export type { MbufPool } from "./src/pool_memory.ts";
export { Port, PortError } from "./src/port.ts";
export { Vdev } from "./src/vdev.ts";
export type {
  ChecksumOffloads,
  LinkStatus,
  PortErrorKind,
  PortInfo,
  PortOptions,
  PortState,
  PortStats,
} from "./src/port.ts";
export * from "./src/net/wire/mod.ts";
export { LoopbackDevice, PortDevice } from "./src/net/phy/device.ts";
export type { Device, PortDeviceOptions } from "./src/net/phy/device.ts";
export { FaultInjector, FaultStats } from "./src/net/phy/fault.ts";
export type { FaultConfig, FaultInjectorOptions, FaultInjectorStats } from "./src/net/phy/fault.ts";
export { PcapError, PcapWriter } from "./src/net/phy/pcap.ts";
export { VlanDemux } from "./src/net/phy/vlan.ts";
export type { PcapErrorKind } from "./src/net/phy/pcap.ts";
export { Interface, InterfaceError, UdpSocket } from "./src/net/iface/interface.ts";
export {
  ByteRing,
  IsnGenerator,
  SocketError,
  TcpListener,
  TcpListenerStats,
  TcpSocket,
  TcpSocketStats,
} from "./src/net/socket/mod.ts";
export type {
  SocketErrorKind,
  TcpCloseReason,
  TcpConfig,
  TcpCongestionControl,
  TcpCongestionState,
  TcpEgress,
  TcpListenerOptions,
  TcpState,
} from "./src/net/socket/mod.ts";
export type {
  Datagram,
  InterfaceConfig,
  InterfaceErrorKind,
  InterfaceStats,
  Ipv4Cidr,
  Route,
} from "./src/net/iface/interface.ts";
export { DatagramConn, Runner, Stack, StackError, TcpConn, TcpListenerConn } from "./src/stack.ts";
export type {
  ConnectOptions,
  DatagramAddr,
  ListenDatagramOptions,
  ListenOptions,
  Pollable,
  PollHook,
  RunnerOptions,
  RunnerStats,
  StackErrorKind,
  StackOptions,
  TcpAddr,
} from "./src/stack.ts";
export { BUILD_COMMAND, LibraryLoadError, SHIM_ENV_VAR } from "./src/ffi.ts";
export type { LibraryLoadErrorKind } from "./src/ffi.ts";
