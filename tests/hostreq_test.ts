/**
 * IPv4 host requirements (issue 12) from byte fixtures: reassembly at the interface, fragmenting
 * on send, the ICMP errors a host owes with RFC 1122 3.2.2's exclusions, and VLANs by configuration.
 */
import assert from "node:assert/strict";
import { Interface, IPPROTO_ICMP, IPPROTO_UDP, LoopbackDevice, VlanDemux } from "../mod.ts";
import { echoFrame, type FrameSpec, icmpMessage, ipFrame, udpFrame, udpSegment } from "./_fixtures.ts";
import { arpRequest, BROADCAST_MAC, PEER, PEER_MAC, US, US_MAC, wireHost } from "./_host.ts";

const be16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const base: FrameSpec = { dstMac: US_MAC, srcMac: PEER_MAC, src: PEER, dst: US };

/** The IP payload `p` as fragments of `size` bytes (a multiple of 8), in order. */
function fragments(
  spec: FrameSpec,
  protocol: number,
  p: Uint8Array,
  size: number,
  id = 0x4242,
): Uint8Array[] {
  const out = [];
  for (let off = 0; off < p.length; off += size) {
    const more = off + size < p.length;
    out.push(
      ipFrame(
        { ...spec, protocol, id, moreFragments: more, fragmentOffset: off },
        p.subarray(off, off + size),
      ),
    );
  }
  return out;
}

/** Reassembles the IP payload of fragments `fs` (frames with a 14-byte header) independently. */
function joinFragments(fs: Uint8Array[]): { payload: Uint8Array; ids: Set<number> } {
  const parts: [number, Uint8Array][] = [];
  const ids = new Set<number>();
  let total = -1;
  for (const f of fs) {
    assert.ok(f.length <= 1514, "no frame above the MTU");
    const flags = be16(f, 20);
    assert.equal(flags & 0x8000, 0, "reserved flag clear");
    assert.equal(flags & 0x4000, 0, "fragments do not say Don't Fragment");
    ids.add(be16(f, 18));
    const off = (flags & 0x1fff) * 8;
    const data = f.subarray(34, 14 + be16(f, 16));
    if ((flags & 0x2000) === 0) total = off + data.length;
    else assert.equal(data.length % 8, 0, "non-last fragments carry multiples of 8 bytes");
    parts.push([off, data]);
  }
  const payload = new Uint8Array(total);
  for (const [off, d] of parts) payload.set(d, off);
  return { payload, ids };
}

Deno.test("an echo in fragments, in and out of order, gets a reply in fragments", () => {
  for (const reverse of [false, true]) {
    const h = wireHost();
    h.learnPeer();
    const data = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff);
    const fs = fragments(base, IPPROTO_ICMP, icmpMessage(8, 0, 0x00070001, data), 1480);
    h.inject(...(reverse ? fs.reverse() : fs));
    const out = h.sent();
    assert.equal(out.length, 3, "3008 bytes of ICMP: 1480 + 1480 + 48");
    const { payload, ids } = joinFragments(out);
    assert.equal(ids.size, 1, "one id for the whole datagram");
    assert.equal(payload[0], 0, "echo reply");
    assert.equal(be16(payload, 4), 7);
    assert.deepEqual(payload.subarray(8), data);
    assert.equal(h.iface.stats.reassembled, 1);
    assert.equal(h.iface.stats.rxFragments, 3);
    assert.equal(h.iface.stats.txFragments, 3);
  }
});

Deno.test("UDP: an 8000-byte datagram in fragments arrives whole; ours leaves in fragments and checks out", () => {
  const h = wireHost();
  h.learnPeer();
  using big = h.iface.bindUdp(9000, 4, 8000);
  using small = h.iface.bindUdp(9001);
  const data = Uint8Array.from({ length: 8000 }, (_, i) => (i * 13 + 1) & 0xff);
  h.inject(...fragments(base, IPPROTO_UDP, udpSegment(PEER, US, 4000, 9000, data), 1480, 1));
  h.inject(...fragments(base, IPPROTO_UDP, udpSegment(PEER, US, 4000, 9001, data), 1480, 2));
  const got = big.recvFrom();
  assert.ok(got);
  assert.deepEqual(got.data, data);
  assert.equal(got.port, 4000);
  assert.equal(small.queued, 0);
  assert.equal(small.rxDropped, 1, "larger than the socket's maxPayload: dropped and counted");
  assert.equal(h.iface.stats.reassembled, 2);
  // And back: 8008 bytes of UDP in 6 fragments.
  assert.equal(big.sendTo(data, PEER, 4000), true);
  h.iface.poll(h.now);
  const out = h.sent();
  assert.equal(out.length, 6);
  const { payload } = joinFragments(out);
  assert.deepEqual(payload, udpSegment(US, PEER, 9000, 4000, data), "ports, length, checksum and data");
  assert.throws(() => small.sendTo(data, PEER, 4000), /maxPayload/);
});

Deno.test("reassembly timeout: ICMP time exceeded (code 1) quoting the first fragment, exact bytes", () => {
  const h = wireHost({ reassemblyTimeoutMs: 30_000 });
  h.learnPeer();
  const fs = fragments(base, IPPROTO_UDP, udpSegment(PEER, US, 4000, 9, new Uint8Array(2000)), 1480);
  h.inject(fs[0]);
  h.now = 29_999;
  h.iface.poll(h.now);
  assert.deepEqual(h.sent(), []);
  h.now = 30_000;
  h.iface.poll(h.now);
  const [f, ...more] = h.sent();
  assert.equal(more.length, 0);
  assert.equal(f[23], 1, "ICMP");
  assert.deepEqual(Array.from(f.subarray(34, 36)), [11, 1], "time exceeded, reassembly");
  assert.deepEqual(Array.from(f.subarray(36 + 2, 42)), [0, 0, 0, 0], "unused");
  assert.deepEqual(f.subarray(42), fs[0].subarray(14, 14 + 28), "the first fragment's header and 8 bytes");
  assert.equal(h.iface.stats.reassemblyTimeouts, 1);
  // Without the first fragment: no ICMP.
  h.inject(fs[1]);
  h.now += 30_000;
  h.iface.poll(h.now);
  assert.deepEqual(h.sent(), []);
  assert.equal(h.iface.stats.reassemblyTimeouts, 2);
  assert.deepEqual(h.iface.reassembly, { datagrams: 0, bytes: 0 });
});

Deno.test("overlapping fragments drop the datagram; duplicates are ignored; all counted", () => {
  const h = wireHost();
  h.learnPeer();
  using s = h.iface.bindUdp(9, 4, 4000);
  const seg = udpSegment(PEER, US, 4000, 9, new Uint8Array(3000).fill(5));
  const fs = fragments(base, IPPROTO_UDP, seg, 1480);
  const overlap = ipFrame(
    { ...base, id: 0x4242, moreFragments: true, fragmentOffset: 1000 },
    seg.subarray(1000, 1480 + 1000),
  );
  h.inject(fs[0], overlap, fs[1], fs[2]);
  assert.equal(s.queued, 0, "the overlap dropped what came before; the rest never completes");
  assert.equal(h.iface.stats.reassemblyOverlaps, 1);
  const again = fragments(base, IPPROTO_UDP, seg, 1480, 0x4343);
  h.inject(again[0], again[1], again[1], again[2]);
  assert.equal(s.queued, 1, "a duplicate does not spoil the datagram");
  assert.equal(h.iface.stats.reassemblyDuplicates, 1);
  assert.deepEqual(s.recvFrom()?.data, seg.subarray(8));
});

/** The frame `f`'s ICMP message: [type, code, rest, quote]. */
function icmpOf(f: Uint8Array): [number, number, number, Uint8Array] {
  assert.equal(f[23], 1);
  return [f[34], f[35], ((f[38] << 24) | (f[39] << 16) | (f[40] << 8) | f[41]) >>> 0, f.subarray(42)];
}

Deno.test("protocol unreachable and parameter problem: exact bytes", () => {
  const h = wireHost();
  h.learnPeer();
  const proto = ipFrame({ ...base, protocol: 99 }, new Uint8Array(12).fill(9));
  h.inject(proto);
  let [type, code, rest, quote] = icmpOf(h.sent()[0]);
  assert.deepEqual([type, code, rest], [3, 2, 0]);
  assert.deepEqual(quote, proto.subarray(14, 14 + 28));
  assert.equal(h.iface.stats.rxUnknownProtocol, 1);
  // An option whose length runs past the header: the pointer names its type byte (offset 20).
  const bad = udpFrame({ ...base, options: Uint8Array.of(0x07, 0x09, 0, 0) }, 1, 2, new Uint8Array(4));
  h.inject(bad);
  [type, code, rest, quote] = icmpOf(h.sent()[0]);
  assert.deepEqual([type, code, rest >>> 24, rest & 0xffffff], [12, 0, 20, 0]);
  assert.deepEqual(quote, bad.subarray(14, 14 + 24 + 8), "header with options and 8 bytes");
  assert.equal(h.iface.stats.rxBadOptions, 1);
  // Good options: delivered as usual.
  using s = h.iface.bindUdp(2);
  h.inject(udpFrame({ ...base, options: Uint8Array.of(1, 1, 1, 0) }, 1, 2, new Uint8Array(4)));
  assert.equal(s.queued, 1);
});

Deno.test("RFC 1122 3.2.2: no ICMP error about an ICMP error, a link broadcast, a non-first fragment; rate limited", () => {
  const h = wireHost();
  h.learnPeer();
  const opts = { options: Uint8Array.of(0x07, 0x09, 0, 0) };
  // An ICMP error (destination unreachable) with bad options: silence. An echo with them: an error.
  h.inject(ipFrame({ ...base, ...opts, protocol: IPPROTO_ICMP }, icmpMessage(3, 3, 0, new Uint8Array(28))));
  assert.deepEqual(h.sent(), []);
  h.inject(ipFrame({ ...base, ...opts, protocol: IPPROTO_ICMP }, icmpMessage(8, 0, 0, new Uint8Array(8))));
  assert.equal(h.sent().length, 1);
  h.inject(ipFrame({ ...base, dstMac: BROADCAST_MAC, protocol: 99 }, new Uint8Array(8)));
  h.inject(ipFrame({ ...base, ...opts, fragmentOffset: 8, moreFragments: false }, new Uint8Array(8)));
  assert.deepEqual(h.sent(), [], "link broadcast, non-first fragment");
  assert.equal(h.iface.stats.rxUnknownProtocol, 1);
  assert.equal(h.iface.stats.rxBadOptions, 3);
  for (let i = 0; i < 10; i++) h.inject(ipFrame({ ...base, protocol: 99 }, new Uint8Array(8)));
  assert.equal(h.sent().length, 5, "the per-destination burst of 6, one already spent");
  assert.equal(h.iface.stats.icmpRateLimited, 5);
});

Deno.test("VLANs: untagged interfaces take untagged and VLAN 0 frames; a VLAN 5 interface only VLAN 5, and tags all it sends", () => {
  const echo = (vlan?: number) => echoFrame({ ...base, vlan }, 1, 1, new Uint8Array(4));
  const plain = wireHost();
  plain.learnPeer();
  plain.inject(echo(5));
  assert.deepEqual(plain.sent(), []);
  assert.equal(plain.iface.stats.rxOtherVlan, 1);
  plain.inject(echo(0));
  const [r0] = plain.sent();
  assert.equal(be16(r0, 12), 0x0800, "the reply to a priority-tagged frame is untagged");

  const v5 = wireHost({ vlan: 5 });
  const arp = arpRequest(PEER_MAC, PEER, US);
  v5.inject(arp); // untagged: not ours
  assert.deepEqual(v5.sent(), []);
  const tagged = new Uint8Array(46);
  tagged.set(arp.subarray(0, 12));
  tagged.set([0x81, 0, 0x20, 5], 12); // priority 1, VLAN 5
  tagged.set(arp.subarray(12), 16);
  v5.inject(tagged);
  const [reply] = v5.sent();
  assert.deepEqual(
    Array.from(reply.subarray(12, 18)),
    [0x81, 0, 0, 5, 0x08, 0x06],
    "ARP reply tagged with VLAN 5",
  );
  v5.inject(echo(6), echo());
  assert.deepEqual(v5.sent(), []);
  assert.equal(v5.iface.stats.rxOtherVlan, 3);
  v5.inject(echo(5));
  const [r5] = v5.sent();
  assert.deepEqual(Array.from(r5.subarray(12, 18)), [0x81, 0, 0, 5, 0x08, 0x00]);
  assert.equal(r5[18], 0x45);
  assert.equal(r5[18 + 20], 0, "echo reply");
  // UDP both ways through the fast paths, tagged.
  using s = v5.iface.bindUdp(7);
  v5.inject(udpFrame({ ...base, vlan: 5 }, 9, 7, Uint8Array.of(1, 2, 3)));
  assert.equal(s.recvInto(new Uint8Array(8)), 3);
  s.sendTo(Uint8Array.of(4, 5), PEER, 9);
  v5.iface.poll(v5.now);
  const [u] = v5.sent();
  assert.equal(u.length, 18 + 20 + 8 + 2);
  assert.deepEqual(Array.from(u.subarray(12, 18)), [0x81, 0, 0, 5, 0x08, 0x00]);
  assert.deepEqual(Array.from(u.subarray(46)), [4, 5]);
});

Deno.test("frames a LAN carries that an IP host does not take: 802.3/LLC and ARP for other hardware ignored, 802.1ad and stacked tags other VLANs, none malformed", () => {
  const echo = echoFrame(base, 1, 1, new Uint8Array(4));
  // A spanning-tree BPDU: 802.3 (a length field, 38 bytes of LLC and BPDU), to the bridges' group MAC.
  const bpdu = new Uint8Array(60);
  bpdu.set([0x01, 0x80, 0xc2, 0, 0, 0], 0);
  bpdu.set(PEER_MAC, 6);
  bpdu.set([0, 38, 0x42, 0x42, 0x03], 12);
  // ARP for IEEE 802 hardware (type 6), not Ethernet: well formed, not ours to handle.
  const arp802 = arpRequest(PEER_MAC, PEER, US);
  arp802[15] = 6;
  // The echo behind an 802.1ad service tag (VLAN 5), and behind two 802.1Q tags (5 outside, 7 inside).
  const tagged = (tags: number[]) => {
    const f = new Uint8Array(echo.length + tags.length);
    f.set(echo.subarray(0, 12));
    f.set(tags, 12);
    f.set(echo.subarray(12), 12 + tags.length);
    return f;
  };
  const svlan = tagged([0x88, 0xa8, 0, 5]);
  const qinq = tagged([0x81, 0, 0, 5, 0x81, 0, 0, 7]);
  for (const vlan of [undefined, 5]) {
    const h = wireHost({ vlan });
    h.learnPeer();
    const st = h.iface.stats;
    const before = [st.rxIgnored, st.rxOtherVlan, st.rxMalformed];
    h.inject(bpdu, arp802, svlan, qinq);
    assert.deepEqual(h.sent(), [], `VLAN ${vlan ?? "none"}: nothing answered`);
    assert.deepEqual(
      [st.rxIgnored - before[0], st.rxOtherVlan - before[1], st.rxMalformed - before[2]],
      [vlan === undefined ? 2 : 1, vlan === undefined ? 2 : 3, 0],
      `VLAN ${vlan ?? "none"}: [rxIgnored, rxOtherVlan, rxMalformed]`,
    );
  }
});

Deno.test("several VLANs on one device: one interface each over a VlanDemux", () => {
  const [wire, dev] = LoopbackDevice.pair(1500, 4096);
  const demux = new VlanDemux(dev, 8);
  const mk = (vlan: number | undefined, ip: number) =>
    new Interface(demux.view(vlan ?? -1), { mac: US_MAC, addresses: [{ ip, prefix: 24 }], vlan });
  const plain = mk(undefined, US);
  const v5 = mk(5, US);
  const v6 = mk(6, US + 256);
  assert.throws(() => demux.view(5), /already/);
  const send = (...frames: Uint8Array[]) => {
    for (const f of frames) {
      const at = wire.txSlot(f.length);
      wire.txBytes.set(f, at);
    }
    wire.flush();
  };
  const echo = (vlan: number | undefined, dst = US) =>
    echoFrame({ ...base, src: dst === US ? PEER : PEER + 256, dst, vlan }, 1, vlan ?? 0, new Uint8Array(4));
  const arp = (vlan: number | undefined, target: number) => {
    const a = arpRequest(PEER_MAC, target === US ? PEER : PEER + 256, target);
    if (vlan === undefined) return a;
    const t = new Uint8Array(46);
    t.set(a.subarray(0, 12));
    t.set([0x81, 0, 0, vlan], 12);
    t.set(a.subarray(12), 16);
    return t;
  };
  send(arp(undefined, US), arp(5, US), arp(6, US + 256), arp(7, US));
  for (let t = 0; t < 3; t++) [plain, v5, v6].forEach((i) => i.poll(t));
  send(echo(6, US + 256), echo(5), echo(undefined), echo(0), echo(9));
  for (let t = 3; t < 6; t++) [v6, plain, v5].forEach((i) => i.poll(t)); // any order
  const out: Uint8Array[] = [];
  while (wire.receive((b, s, l) => out.push(b.slice(s, s + l))) > 0) { /* drain */ }
  const tags = (type: number) =>
    out.filter((f) => (f[12] === 0x81 ? be16(f, 16) : be16(f, 12)) === type)
      .map((f) => (f[12] === 0x81 ? be16(f, 14) & 0xfff : -1)).sort((a, b) => a - b);
  assert.deepEqual(tags(0x0806), [-1, 5, 6], "each VLAN's ARP answered on its VLAN");
  assert.deepEqual(tags(0x0800), [-1, -1, 5, 6], "echoes: untagged and VLAN 0 by the plain interface");
  assert.equal(demux.unclaimed, 2, "VLANs 7 and 9 have no interface");
  assert.equal(demux.dropped, 0);
  assert.deepEqual([plain, v5, v6].map((i) => i.stats.echoReplies), [2, 1, 1]);
});
