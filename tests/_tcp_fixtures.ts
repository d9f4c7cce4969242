/**
 * TCP segments the Linux kernel (6.18) sent, captured with tcpdump on a veth pair between two
 * network namespaces with checksum offload off (so every checksum was computed by the kernel):
 * 198.18.99.1:47125 talks to 198.18.99.2:47123, then a connection to a closed port, then a bulk
 * download through a `tbf` bottleneck whose drops made the receiver send SACK blocks. Whole
 * Ethernet frames; the TCP header starts at byte 34.
 */
import { hex } from "./_fixtures.ts";

/** Client SYN: seq 2668789234, win 64240, mss 1460, sackOK, TS 1148073811/0, nop, wscale 10. */
export const LINUX_SYN = hex(
  "3e14c00158fcde5b3aeaefc008004500003ccb3e400040061d55c6126301c6126302b815b8139f127df200000000" +
    "a002faf0f1f30000020405b40402080a446e3753000000000103030a",
);
/** Server SYN-ACK: seq 2218225938, ack 2668789235, win 65160, the same options, TS 907371414/1148073811. */
export const LINUX_SYN_ACK = hex(
  "de5b3aeaefc03e14c00158fc08004500003c000040004006e893c6126302c6126301b813b815843771129f127df3" +
    "a012fe885f550000020405b40402080a36156396446e37530103030a",
);
/** Client ACK completing the handshake: win 63 (scaled), nop, nop, TS. */
export const LINUX_ACK = hex(
  "3e14c00158fcde5b3aeaefc0080045000034cb3f400040061d5cc6126301c6126302b815b8139f127df384377113" +
    "8010003f8c6e00000101080a446e375336156396",
);
/** Client data: PSH|ACK, 16 bytes "hello from linux". */
export const LINUX_DATA = hex(
  "3e14c00158fcde5b3aeaefc0080045000044cb40400040061d4bc6126301c6126302b815b8139f127df384377113" +
    "8018003f733000000101080a446e37543615639668656c6c6f2066726f6d206c696e7578",
);
/** Server data: PSH|ACK, 10 bytes "hello back" (an even-length payload). */
export const LINUX_DATA_BACK = hex(
  "de5b3aeaefc03e14c00158fc08004500003ea438400040064459c6126302c6126301b813b815843771139f127e03" +
    "80180040828a00000101080a36156397446e375468656c6c6f206261636b",
);
/** Client FIN|ACK after shutdown(SHUT_WR): seq 2668789251, ack 2218225949. */
export const LINUX_FIN = hex(
  "3e14c00158fcde5b3aeaefc0080045000034cb42400040061d59c6126301c6126302b815b8139f127e038437711d" +
    "8011003f8c1f00000101080a446e378636156397",
);
/** RST|ACK from a closed port 47199 to a SYN from 47126: seq 0, ack 3256671553, win 0, no options. */
export const LINUX_RST = hex(
  "de5b3aeaefc03e14c00158fc080045000028000040004006e8a7c6126302c6126301b85fb81600000000c21cdd41" +
    "501400004dd30000",
);
/** Receiver ACK with TS and one SACK block {2405790441:2405791889} (nop, nop, sack). */
export const LINUX_SACK = hex(
  "3e14c00158fcde5b3aeaefc00800450000405c45400040068c4ac6126301c6126302d542b81aa2a7cb8e8f655c49" +
    "b010004526af00000101080a5d9a2b47a292aa8c0101050a8f6572e98f657891",
);

/** Every fixture above, for loops (fuzz seeds, truncations). */
export const LINUX_TCP_FRAMES: readonly Uint8Array[] = [
  LINUX_SYN,
  LINUX_SYN_ACK,
  LINUX_ACK,
  LINUX_DATA,
  LINUX_DATA_BACK,
  LINUX_FIN,
  LINUX_RST,
  LINUX_SACK,
];
