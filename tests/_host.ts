/** One Interface on one end of a LoopbackDevice pair: the test holds the other end, the "wire". */
import { type Device, Interface, type InterfaceConfig, LoopbackDevice, parseIpv4Address } from "../mod.ts";

export const US = parseIpv4Address("10.0.0.2");
export const PEER = parseIpv4Address("10.0.0.1");
export const US_MAC = Uint8Array.of(2, 0, 0, 0, 0, 2);
export const PEER_MAC = Uint8Array.of(2, 0, 0, 0, 0, 1);
export const BROADCAST_MAC = new Uint8Array(6).fill(0xff);

/**
 * An interface at 10.0.0.2/8 with MTU `mtu` and the wire: inject frames, read what it sent. The
 * wire carries frames of up to 64 KiB whatever the MTU, as a link with a jumbo rx pool would.
 */
export function wireHost(config: Partial<InterfaceConfig> = {}, mtu = 1500) {
  const [wire, raw] = LoopbackDevice.pair(65535, 1 << 20);
  const dev: Device = {
    mtu,
    receive: (f) => raw.receive(f),
    txSlot: (n) => {
      if (n > mtu + 18) throw new Error(`the interface asked for a ${n}-byte frame on a ${mtu}-byte MTU`);
      return raw.txSlot(n);
    },
    flush: () => raw.flush(),
    get txBytes() {
      return raw.txBytes;
    },
  };
  const iface = new Interface(dev, { mac: US_MAC, addresses: [{ ip: US, prefix: 8 }], ...config });
  const h = {
    iface,
    wire,
    now: 0,
    /** Puts frames on the wire and polls until the interface has taken them all. */
    inject(...frames: Uint8Array[]): void {
      for (const f of frames) {
        const at = wire.txSlot(f.length);
        wire.txBytes.set(f, at);
      }
      wire.flush();
      for (let i = 0; i <= frames.length / 32; i++) iface.poll(h.now);
    },
    /** Everything the interface sent since the last call. */
    sent(): Uint8Array[] {
      const out: Uint8Array[] = [];
      while (wire.receive((b, s, l) => out.push(b.slice(s, s + l))) > 0) { /* drain */ }
      return out;
    },
    /** Teaches the interface the peer's MAC (an ARP request from it, to us). */
    learnPeer(ip = PEER, mac = PEER_MAC): void {
      h.inject(arpRequest(mac, ip, US));
      h.sent();
    },
  };
  return h;
}

import { arpFrame } from "./_fixtures.ts";

/** An ARP request from `mac`/`ip` for `target`, broadcast. */
export function arpRequest(mac: Uint8Array, ip: number, target: number): Uint8Array {
  return arpFrame(1, BROADCAST_MAC, mac, ip, new Uint8Array(6), target);
}

/**
 * A device over `inner` whose buffers run out on demand (`starved = true`), like a PortDevice on
 * an empty pool.
 */
export function starvable(inner: Device): Device & { starved: boolean } {
  return {
    starved: false,
    get mtu() {
      return inner.mtu;
    },
    get txBytes() {
      return inner.txBytes;
    },
    receive: (f) => inner.receive(f),
    txSlot(len) {
      return this.starved ? -1 : inner.txSlot(len);
    },
    flush: () => inner.flush(),
  };
}

/**
 * Two interfaces over a LoopbackDevice pair (`frames` frames each way), `a` at `aIp` and `b` at
 * `bIp` (/24), with `run(rounds)` polling both once a round, 1 ms apart, from `now`.
 */
export function hostPair(
  aIp: number,
  bIp: number,
  macs: readonly [Uint8Array, Uint8Array],
  optionsA: Partial<InterfaceConfig> = {},
  optionsB: Partial<InterfaceConfig> = optionsA,
  frames = 4096,
) {
  const [da, db] = LoopbackDevice.pair(1500, frames);
  const a = new Interface(da, { mac: macs[0], addresses: [{ ip: aIp, prefix: 24 }], ...optionsA });
  const b = new Interface(db, { mac: macs[1], addresses: [{ ip: bIp, prefix: 24 }], ...optionsB });
  const h = {
    a,
    b,
    now: 0,
    /** Polls both for `rounds` rounds, 1 ms apart. */
    run(rounds = 8): void {
      for (let i = 0; i < rounds; i++) {
        a.poll(h.now);
        b.poll(h.now);
        h.now += 1;
      }
    },
  };
  return h;
}
