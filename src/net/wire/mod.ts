/**
 * Wire formats of the network stack: parse from and emit into a byte view at an offset, validating
 * every length and field against the view. They know nothing of sockets or ports.
 *
 * @module
 */
export { copyAndSum, finishChecksum, internetChecksum, sumView, sumWords, viewOf } from "./checksum.ts";
export { WireError, type WireErrorKind } from "./error.ts";
export {
  emitEthernet,
  EthernetHeader,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_QINQ,
  ETHERTYPE_VLAN,
  parseEthernet,
} from "./ethernet.ts";
export { ARP_LENGTH, ARP_REPLY, ARP_REQUEST, ArpPacket, emitArp, parseArp } from "./arp.ts";
export {
  emitIpv4,
  fragmentPayloadSize,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  Ipv4Header,
  ipv4OptionsError,
  ipv4ToString,
  l4Checksum,
  parseIpv4,
  parseIpv4Address,
  pseudoHeaderSum,
} from "./ipv4.ts";
export {
  emitIcmp,
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_FRAGMENT_TIMEOUT,
  ICMP_PARAMETER_PROBLEM,
  ICMP_PORT_UNREACHABLE,
  ICMP_PROTOCOL_UNREACHABLE,
  ICMP_TIME_EXCEEDED,
  IcmpHeader,
  parseIcmp,
} from "./icmp.ts";
export { emitUdp, parseUdp, UDP_HEADER_LENGTH, UdpHeader } from "./udp.ts";
export * from "./tcp.ts";
