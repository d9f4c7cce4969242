/**
 * Sockets and the storage they use, independent of any interface: a TCP connection state
 * machine fed segments at a virtual time, its byte rings and out-of-order assembler, and the
 * keyed hash behind initial sequence numbers.
 *
 * @module
 */
export { Assembler } from "./assembler.ts";
export { SocketError, type SocketErrorKind } from "./error.ts";
export { IsnGenerator, SipHash24 } from "./isn.ts";
export { ByteRing, copyBytes, MAX_RING_CAPACITY } from "./ring.ts";
export {
  type TcpCloseReason,
  type TcpConfig,
  type TcpEgress,
  tcpFlagsToString,
  tcpResetFor,
  TcpSocket,
  TcpSocketStats,
  type TcpState,
} from "./tcp.ts";
export { TcpListener, type TcpListenerOptions, TcpListenerStats } from "./tcp_listener.ts";
export { TcpTable } from "./tcp_table.ts";
