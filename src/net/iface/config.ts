/**
 * The configuration of an {@linkcode Interface}: its keys, their defaults and bounds, and the
 * checks the constructor makes (in the order it makes them, so the first bad field is the one
 * reported).
 *
 * @module
 */
import type { Device } from "../phy/device.ts";
import { PcapWriter } from "../phy/pcap.ts";
import { badArgument, isIntIn } from "../args.ts";
import { InterfaceError } from "../error.ts";
import type { Ipv4Cidr, Route } from "./route.ts";

/** Configuration of an {@linkcode Interface}. Limits default to Linux's where Linux has one. */
export interface InterfaceConfig {
  /** Our MAC address: 6 bytes, unicast, not all zero. */
  mac: Uint8Array;
  /** Our addresses and their subnets (1–16). */
  addresses: Ipv4Cidr[];
  /** Static routes (at most 256): destinations in `ip/prefix` go through `via`, longest prefix first. */
  routes?: readonly Route[];
  /** Next hop (u32, on one of our subnets) for destinations outside our subnets and routes, if any. */
  gateway?: number;
  /**
   * Accept frames addressed to other unicast MACs (default false: they are dropped and counted in
   * `rxOtherMac`, as a NIC not in promiscuous mode would).
   */
  promiscuous?: boolean;
  /** How long a learned neighbour stays valid, ms (default 60 000). */
  arpExpiryMs?: number;
  /** Minimum time between ARP requests for the same address, ms (default 1 000). */
  arpRequestIntervalMs?: number;
  /**
   * ARP requests sent for a neighbour before it is given up and its packets dropped (default 3,
   * Linux's `mcast_solicit`).
   */
  arpMaxRequests?: number;
  /** Datagrams queued per unresolved neighbour before new ones are dropped (default 16). */
  arpQueueLimit?: number;
  /**
   * IP payload bytes queued per unresolved neighbour before new datagrams are dropped (default
   * 212 992, Linux's `unres_qlen_bytes`).
   */
  arpQueueBytes?: number;
  /**
   * Neighbours the cache holds (default 1024, Linux's `gc_thresh3`); when full, the one refreshed
   * longest ago is evicted.
   */
  neighborCacheLimit?: number;
  /** Neighbours being resolved at once (default 64); beyond, packets to new ones are dropped. */
  pendingLimit?: number;
  /** ICMP errors sent per second overall (default 1000, Linux's `icmp_msgs_per_sec`; 0: none). */
  icmpErrorsPerSecond?: number;
  /** Burst of the overall ICMP error bucket (default 50, Linux's `icmp_msgs_burst`). */
  icmpErrorBurst?: number;
  /**
   * Per destination, one ICMP error every this many ms (default 1000, Linux's `icmp_ratelimit`;
   * 0: no per-destination limit).
   */
  icmpHostIntervalMs?: number;
  /** Burst of each destination's ICMP error bucket (default 6, as Linux). */
  icmpHostBurst?: number;
  /**
   * The 802.1Q VLAN this interface is on (1–4094), if any. Without one, tagged frames are dropped
   * (VLAN 0, priority-tagged, is ours); with one, only frames tagged with it are ours, and
   * everything we send carries the tag. Frames for other VLANs are counted in `rxOtherVlan`.
   */
  vlan?: number;
  /** Datagrams being reassembled at once (default 256); fragments of new ones beyond are dropped. */
  reassemblyMaxDatagrams?: number;
  /**
   * Bytes all datagrams being reassembled may hold, counting 64 bytes per fragment besides its
   * payload (default 4 MiB, Linux's `ipfrag_high_thresh`; 0: fragments are dropped).
   */
  reassemblyMaxBytes?: number;
  /** How long a datagram may take to arrive in full, ms (default 30 000, Linux's `ipfrag_time`). */
  reassemblyTimeoutMs?: number;
  /**
   * TCP connections at once, handshakes in listeners' SYN queues included (default 4096;
   * 1–4 194 304). Handshakes take at most half the free room (the SYNs beyond get SYN cookies).
   * Beyond, SYNs to listeners are dropped (counted in `tcpConnectionsFull`) and
   * {@linkcode Interface.connectTcp} refuses.
   */
  tcpMaxConnections?: number;
  /**
   * Optional capture of every frame sent and received. A capture that fails (the writer closed,
   * the disk full) stops, is counted in `captureFailures`, and leaves its error in
   * {@linkcode Interface.captureError}; the interface goes on.
   */
  pcap?: PcapWriter;
}

/** Every key of {@linkcode InterfaceConfig}: any other (a typo such as `maxNeighbours`) is refused. */
const CONFIG_KEYS: ReadonlySet<string> = new Set(
  [
    "mac",
    "addresses",
    "routes",
    "gateway",
    "promiscuous",
    "arpExpiryMs",
    "arpRequestIntervalMs",
    "arpMaxRequests",
    "arpQueueLimit",
    "arpQueueBytes",
    "neighborCacheLimit",
    "pendingLimit",
    "icmpErrorsPerSecond",
    "icmpErrorBurst",
    "icmpHostIntervalMs",
    "icmpHostBurst",
    "vlan",
    "reassemblyMaxDatagrams",
    "reassemblyMaxBytes",
    "reassemblyTimeoutMs",
    "tcpMaxConnections",
    "pcap",
  ] satisfies (keyof InterfaceConfig)[],
);

/** A whole-number limit from the configuration: its default when absent, else checked. */
export function limit(
  config: InterfaceConfig,
  name: keyof InterfaceConfig,
  fallback: number,
  lo: number,
  hi: number,
): number {
  const v = config[name];
  if (v === undefined) return fallback;
  if (!isIntIn(v, lo, hi)) {
    throw new InterfaceError(
      "InvalidArgument",
      badArgument("Interface", name, v, `a whole number ${lo}–${hi}`),
    );
  }
  return v;
}

/** Checks the device an interface is made on. */
export function checkDevice(device: unknown): Device {
  const d = device as Partial<Device> | null;
  if (
    typeof d !== "object" || d === null || typeof d.receive !== "function" ||
    typeof d.txSlot !== "function" || typeof d.flush !== "function"
  ) {
    throw new InterfaceError(
      "InvalidArgument",
      badArgument("Interface", "device", device, "a Device (receive, txSlot, txBytes, flush, mtu)"),
    );
  }
  if (!isIntIn(d.mtu, 68, 65535)) {
    throw new InterfaceError(
      "InvalidArgument",
      badArgument("Interface", "device.mtu", d.mtu, "a whole number 68–65535"),
    );
  }
  return d as Device;
}

/** Checks that `config` is an object with only known keys. */
export function checkConfig(config: InterfaceConfig): void {
  if (typeof config !== "object" || config === null) {
    throw new InterfaceError(
      "InvalidArgument",
      badArgument("Interface", "config", config, "an InterfaceConfig object"),
    );
  }
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.has(key)) {
      throw new InterfaceError(
        "InvalidArgument",
        `Interface: config has an unknown key ${JSON.stringify(key)}; known keys: ${
          [...CONFIG_KEYS].join(", ")
        }`,
      );
    }
  }
}

/** Checks `config.mac` and returns a copy of it. */
export function checkMac(mac: Uint8Array): Uint8Array {
  if (!(mac instanceof Uint8Array) || mac.length !== 6 || (mac[0] & 1) !== 0 || mac.every((x) => x === 0)) {
    throw new InterfaceError(
      "InvalidArgument",
      badArgument(
        "Interface",
        "mac",
        mac,
        "a Uint8Array of 6 bytes, unicast (first byte even) and not all zero",
      ),
    );
  }
  return mac.slice();
}

/** `config.promiscuous`, checked (default false). */
export function checkPromiscuous(promiscuous: boolean | undefined): boolean {
  if (promiscuous !== undefined && typeof promiscuous !== "boolean") {
    throw new InterfaceError(
      "InvalidArgument",
      badArgument("Interface", "promiscuous", promiscuous, "a boolean"),
    );
  }
  return promiscuous ?? false;
}

/** Checks `config.pcap`. */
export function checkPcap(pcap: PcapWriter | undefined): void {
  if (pcap !== undefined && !(pcap instanceof PcapWriter)) {
    throw new InterfaceError(
      "InvalidArgument",
      badArgument("Interface", "pcap", pcap, "a PcapWriter"),
    );
  }
}

/** `config.vlan`, checked (-1: none). */
export function checkVlan(vlan: number | undefined): number {
  if (vlan !== undefined && !isIntIn(vlan, 1, 4094)) {
    throw new InterfaceError(
      "InvalidArgument",
      badArgument("Interface", "vlan", vlan, "a whole number 1–4094"),
    );
  }
  return vlan ?? -1;
}
