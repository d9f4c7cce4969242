/**
 * Known answers for every field the send paths write (issue 10 §6): the UDP fast path, echo
 * replies, ICMP port unreachable, ARP replies and requests, each checked byte by byte against
 * values written out here and checksums computed here (not by the wire module).
 */
import assert from "node:assert/strict";
import { parseIpv4Address as ip } from "../mod.ts";
import { be16, be32, echoFrame, ones, udpFrame } from "./_fixtures.ts";
import { arpRequest, BROADCAST_MAC, PEER, PEER_MAC, US, US_MAC, wireHost } from "./_host.ts";

/** Checks the Ethernet and IPv4 headers of `f` field by field; returns the IP id. */
function checkIpv4(f: Uint8Array, protocol: number, payloadLength: number, src = US, dst = PEER): number {
  assert.deepEqual(f.subarray(0, 6), PEER_MAC, "Ethernet destination: the neighbour's MAC");
  assert.deepEqual(f.subarray(6, 12), US_MAC, "Ethernet source: ours");
  assert.equal(be16(f, 12), 0x0800, "EtherType IPv4");
  assert.equal(f[14], 0x45, "version 4, IHL 5");
  assert.equal(f[15], 0, "TOS 0");
  assert.equal(be16(f, 16), 20 + payloadLength, "total length");
  assert.equal(be16(f, 20), 0x4000, "flags: DF only (reserved 0, MF 0), fragment offset 0");
  assert.equal(f[22], 64, "TTL 64");
  assert.equal(f[23], protocol, "protocol");
  assert.equal(be32(f, 26), src, "source");
  assert.equal(be32(f, 30), dst, "destination");
  assert.equal(ones(f, 14, 34), 0, "the header checksum verifies");
  const copy = f.slice(14, 34);
  copy[10] = copy[11] = 0;
  assert.equal(be16(f, 24), ones(copy, 0, 20), "the header checksum is the one computed here");
  assert.equal(f.length, 34 + payloadLength, "no padding, nothing after the packet");
  return be16(f, 18);
}

function udpChecksum(f: Uint8Array): number {
  const seg = f.slice(34);
  seg[6] = seg[7] = 0;
  const pseudo = (be32(f, 26) >>> 16) + (be32(f, 26) & 0xffff) + (be32(f, 30) >>> 16) +
    (be32(f, 30) & 0xffff) +
    17 + seg.length;
  const c = ones(seg, 0, seg.length, pseudo);
  return c === 0 ? 0xffff : c;
}

Deno.test("UDP send path: every field, and ids that count up, for payloads around the C copy threshold", () => {
  const h = wireHost();
  h.learnPeer();
  using s = h.iface.bindUdp(5000);
  let lastId = -1;
  for (const size of [0, 1, 2, 3, 31, 63, 64, 65, 1000, 1472]) {
    const data = Uint8Array.from({ length: size }, (_, i) => (i * 37 + size) & 0xff);
    assert.equal(s.sendTo(data, PEER, 6000), true);
    h.iface.poll(h.now);
    const [f, ...more] = h.sent();
    assert.equal(more.length, 0);
    const id = checkIpv4(f, 17, 8 + size);
    if (lastId >= 0) assert.equal(id, (lastId + 1) & 0xffff, "ids count up by one");
    lastId = id;
    assert.equal(be16(f, 34), 5000, "source port");
    assert.equal(be16(f, 36), 6000, "destination port");
    assert.equal(be16(f, 38), 8 + size, "UDP length");
    assert.equal(be16(f, 40), udpChecksum(f), `UDP checksum (${size} bytes)`);
    assert.deepEqual(f.subarray(42), data, "payload");
  }
});

/**
 * The whole frame a UDP datagram should be, written out here: untagged or with `vlan`, DF, TTL 64,
 * IP id `id`, both checksums computed here.
 */
function udpFrameBytes(
  dstMac: Uint8Array,
  srcMac: Uint8Array,
  src: number,
  dst: number,
  ports: [number, number],
  id: number,
  payload: Uint8Array,
  vlan = -1,
): Uint8Array {
  const l2 = vlan < 0 ? 14 : 18;
  const f = new Uint8Array(l2 + 28 + payload.length);
  f.set(dstMac, 0);
  f.set(srcMac, 6);
  if (vlan >= 0) f.set([0x81, 0, vlan >> 8, vlan & 0xff], 12);
  f.set([0x08, 0x00], l2 - 2);
  const total = 28 + payload.length;
  const ip = [0x45, 0, total >> 8, total & 0xff, id >> 8, id & 0xff, 0x40, 0, 64, 17, 0, 0];
  for (const a of [src, dst]) ip.push(a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff);
  f.set(ip, l2);
  const ipSum = ones(f, l2, l2 + 20);
  f.set([ipSum >> 8, ipSum & 0xff], l2 + 10);
  const u = l2 + 20;
  const len = 8 + payload.length;
  f.set([ports[0] >> 8, ports[0] & 0xff, ports[1] >> 8, ports[1] & 0xff, len >> 8, len & 0xff], u);
  f.set(payload, u + 8);
  const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 17 + len;
  const c = ones(f, u, f.length, pseudo) || 0xffff;
  f.set([c >> 8, c & 0xff], u + 6);
  return f;
}

for (const vlan of [-1, 100]) {
  Deno.test(`UDP header template: addresses and MACs with the high bit set, two destinations, a MAC refreshed in place (VLAN ${vlan})`, () => {
    // Addresses above 2^31 and MACs whose words are negative as int32s: the template keeps them as
    // int32 bits, and must write the same bytes as a u32.
    const us = ip("200.100.1.2");
    const peers = [ip("200.200.3.4"), ip("200.7.255.254")];
    const macs = [
      Uint8Array.of(0xa2, 0xb3, 0xc4, 0xd5, 0xe6, 0xf7),
      Uint8Array.of(0xfe, 0, 0x80, 1, 0x90, 2),
    ];
    const ourMac = Uint8Array.of(0xf2, 0x81, 0x92, 0xa3, 0xb4, 0xc5);
    const h = wireHost({
      mac: ourMac,
      addresses: [{ ip: us, prefix: 8 }],
      vlan: vlan < 0 ? undefined : vlan,
    });
    const arp = (mac: Uint8Array, from: number) => {
      const f = arpRequest(mac, from, us);
      if (vlan < 0) return f;
      const t = new Uint8Array(f.length + 4); // the same request, tagged with our VLAN
      t.set(f.subarray(0, 12));
      t.set([0x81, 0, vlan >> 8, vlan & 0xff], 12);
      t.set(f.subarray(12), 16);
      return t;
    };
    h.inject(arp(macs[0], peers[0]), arp(macs[1], peers[1]));
    assert.equal(h.sent().length, 2, "two ARP replies");
    using s = h.iface.bindUdp(0xfedc);
    let id = -1;
    for (const [k, peer] of [0, 0, 1, 0, 1, 1, 0].entries()) {
      if (k === 4) { // both peers' MACs change: the entries are refreshed in place
        h.inject(arp(macs[0], peers[1]), arp(macs[1], peers[0]));
        h.sent();
      }
      const payload = Uint8Array.from({ length: 5 + 8 * k }, (_, i) => (0xf0 + i * 13) & 0xff);
      assert.equal(s.sendTo(payload, peers[peer], 0x8001 + k), true);
      h.iface.poll(h.now);
      const [f, ...more] = h.sent();
      assert.equal(more.length, 0);
      const l2 = vlan < 0 ? 14 : 18;
      const got = be16(f, l2 + 4);
      if (id >= 0) assert.equal(got, (id + 1) & 0xffff, "ids count up by one");
      id = got;
      const mac = k < 4 ? macs[peer] : macs[1 - peer];
      assert.deepEqual(
        f,
        udpFrameBytes(mac, ourMac, us, peers[peer], [0xfedc, 0x8001 + k], id, payload, vlan),
        `datagram ${k}: every byte`,
      );
    }
  });
}

Deno.test("UDP datagrams queued behind ARP leave with the same fields", () => {
  const h = wireHost();
  using s = h.iface.bindUdp(5000);
  s.sendTo(Uint8Array.of(1, 2, 3), PEER, 6000);
  h.iface.poll(h.now);
  const [req] = h.sent();
  assert.equal(req.length, 42);
  h.inject(arpRequest(PEER_MAC, PEER, US));
  const out = h.sent();
  assert.deepEqual(out.map((x) => be16(x, 12)).sort(), [0x0800, 0x0806], "the datagram and the ARP reply");
  const f = out.find((x) => be16(x, 12) === 0x0800)!;
  checkIpv4(f, 17, 11);
  assert.equal(be16(f, 40), udpChecksum(f));
  assert.deepEqual(f.subarray(42), Uint8Array.of(1, 2, 3));
});

Deno.test("echo reply: every field; id, sequence and data kept", () => {
  const h = wireHost();
  h.learnPeer();
  const data = Uint8Array.from({ length: 57 }, (_, i) => i ^ 0x5a);
  h.inject(echoFrame({ dstMac: US_MAC, srcMac: PEER_MAC, src: PEER, dst: US, ttl: 3 }, 0x1234, 0xabcd, data));
  const [f] = h.sent();
  checkIpv4(f, 1, 8 + 57);
  assert.equal(f[34], 0, "type echo reply");
  assert.equal(f[35], 0, "code 0");
  assert.equal(ones(f, 34, f.length), 0, "ICMP checksum");
  assert.equal(be32(f, 38), 0x1234abcd, "identifier and sequence");
  assert.deepEqual(f.subarray(42), data);
});

Deno.test("port unreachable: every field; quotes the IP header and the first 8 bytes", () => {
  const h = wireHost();
  h.learnPeer();
  const inFrame = udpFrame(
    { dstMac: US_MAC, srcMac: PEER_MAC, src: PEER, dst: US, ttl: 9, id: 77 },
    1111,
    2222,
    new Uint8Array(40).fill(7),
  );
  h.inject(inFrame);
  const [f] = h.sent();
  checkIpv4(f, 1, 8 + 28);
  assert.equal(f[34], 3, "destination unreachable");
  assert.equal(f[35], 3, "port unreachable");
  assert.equal(be32(f, 38), 0, "unused");
  assert.equal(ones(f, 34, f.length), 0, "ICMP checksum");
  assert.deepEqual(f.subarray(42), inFrame.subarray(14, 14 + 28), "the header as received and 8 bytes");
});

Deno.test("ARP: reply and request, every field", () => {
  const h = wireHost();
  h.inject(arpRequest(PEER_MAC, PEER, US));
  const [r] = h.sent();
  const arp = (f: Uint8Array, ethDst: Uint8Array, op: number, tmac: Uint8Array, tip: number) => {
    assert.equal(f.length, 42);
    assert.deepEqual(f.subarray(0, 6), ethDst);
    assert.deepEqual(f.subarray(6, 12), US_MAC);
    assert.equal(be16(f, 12), 0x0806);
    assert.deepEqual(Array.from(f.subarray(14, 20)), [0, 1, 8, 0, 6, 4], "Ethernet/IPv4, lengths 6/4");
    assert.equal(be16(f, 20), op);
    assert.deepEqual(f.subarray(22, 28), US_MAC, "sender MAC");
    assert.equal(be32(f, 28), US, "sender IP");
    assert.deepEqual(f.subarray(32, 38), tmac, "target MAC");
    assert.equal(be32(f, 38), tip, "target IP");
  };
  arp(r, PEER_MAC, 2, PEER_MAC, PEER);
  using s = h.iface.bindUdp(1);
  s.sendTo(Uint8Array.of(1), ip("10.0.0.9"), 9);
  h.iface.poll(h.now);
  const [q] = h.sent();
  arp(q, BROADCAST_MAC, 1, new Uint8Array(6), ip("10.0.0.9"));
});
