/**
 * The send path's header template (src/net/iface/egress.ts) against what invalidates it: a MAC
 * refreshed in place for the cached destination, the cached neighbour evicted, TCP from another of
 * our addresses and UDP after TCP set the template, and every IP id and UDP checksum value. Each
 * frame is checked field by field against sums computed here. Each test failed on a mutant of the
 * template (a MAC copied at #remember, no expiry check, the template for any TCP source, no
 * rebuild after TCP, no 0 → 0xffff rule, one fold of the header sum).
 */
import assert from "node:assert/strict";
import { parseIpv4Address as ip } from "../mod.ts";
import { arpFrame, be16, be32, ipFrame, ones } from "./_fixtures.ts";
import { wireHost } from "./_host.ts";
import { emitTcp, TCP_SYN, TcpHeader } from "../src/net/wire/tcp.ts";

const BCAST = new Uint8Array(6).fill(0xff);
const ZERO = new Uint8Array(6);
function checkFrame(f: Uint8Array, mac: Uint8Array, src: number, dst: number, proto: number, what: string) {
  assert.deepEqual(f.subarray(0, 6), mac, `${what}: eth dst`);
  assert.equal(be16(f, 12), 0x0800, `${what}: ethertype`);
  assert.deepEqual(
    [f[14], f[15], be16(f, 20), f[22], f[23]],
    [0x45, 0, 0x4000, 64, proto],
    `${what}: fixed fields`,
  );
  assert.equal(be16(f, 16), f.length - 14, `${what}: total length`);
  assert.equal(ones(f, 14, 34), 0, `${what}: IPv4 header checksum`);
  assert.equal(be32(f, 26), src, `${what}: src`);
  assert.equal(be32(f, 30), dst, `${what}: dst`);
  const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + f.length - 34;
  assert.equal(ones(f, 34, f.length, pseudo), 0, `${what}: L4 checksum`);
  if (proto === 17) assert.notEqual(be16(f, 40), 0, `${what}: a UDP checksum of 0 is sent as 0xffff`);
}
const A = Uint8Array.of(0xa2, 0xb3, 0xc4, 0xd5, 0xe6, 0xf7);
const B = Uint8Array.of(0xfe, 0, 0x80, 1, 0x90, 2);
const C = Uint8Array.of(2, 0, 0, 0, 0, 9);

Deno.test("template: the cached destination's MAC refreshed in place reaches the next datagram to it", () => {
  const us = ip("200.100.1.2"), p = ip("200.100.3.4");
  const h = wireHost({ addresses: [{ ip: us, prefix: 16 }] });
  h.inject(arpFrame(1, BCAST, A, p, ZERO, us));
  h.sent();
  using s = h.iface.bindUdp(5000);
  s.sendTo(Uint8Array.of(1, 2, 3), p, 6000);
  h.iface.poll(h.now);
  checkFrame(h.sent()[0], A, us, p, 17, "before");
  h.inject(arpFrame(1, BCAST, B, p, ZERO, us)); // same peer, new MAC; no other destination in between
  h.sent();
  s.sendTo(Uint8Array.of(1, 2, 3), p, 6000);
  h.iface.poll(h.now);
  checkFrame(h.sent()[0], B, us, p, 17, "after the refresh");
});

Deno.test("template: the cached neighbour evicted and the peer re-learned at a new MAC", () => {
  const us = ip("200.100.1.2"), p = ip("200.100.3.4"), q = ip("200.100.3.5"), r = ip("200.100.3.6");
  const h = wireHost({ addresses: [{ ip: us, prefix: 16 }], neighborCacheLimit: 2 });
  h.inject(arpFrame(1, BCAST, A, p, ZERO, us));
  h.sent();
  using s = h.iface.bindUdp(5000);
  s.sendTo(Uint8Array.of(1), p, 6000);
  h.iface.poll(h.now);
  checkFrame(h.sent()[0], A, us, p, 17, "before");
  // q and r evict p (cache of 2: p, q → q, r); p comes back at B (a new entry, the old one expired)
  h.inject(arpFrame(1, BCAST, C, q, ZERO, us));
  h.inject(arpFrame(1, BCAST, C, r, ZERO, us));
  h.inject(arpFrame(1, BCAST, B, p, ZERO, us));
  h.sent();
  s.sendTo(Uint8Array.of(1), p, 6000);
  h.iface.poll(h.now);
  checkFrame(h.sent()[0], B, us, p, 17, "after eviction and re-learning");
});

function syn(from: number, to: number, mac: Uint8Array, sport: number, dport: number): Uint8Array {
  const t = new TcpHeader();
  t.srcPort = sport;
  t.dstPort = dport;
  t.seq = 777;
  t.flags = TCP_SYN;
  t.window = 65535;
  const seg = new Uint8Array(20);
  emitTcp(seg, 0, 20, from, to, t, 0);
  return ipFrame(
    { dstMac: Uint8Array.of(2, 0, 0, 0, 0, 2), srcMac: mac, src: from, dst: to, protocol: 6 },
    seg,
  );
}

Deno.test("template: TCP from a secondary address to the cached destination; UDP after TCP set the template", () => {
  const us = ip("200.100.1.2"), us2 = ip("10.0.0.2"), p = ip("200.100.3.4");
  const h = wireHost({ addresses: [{ ip: us, prefix: 16 }, { ip: us2, prefix: 8 }] });
  h.inject(arpFrame(1, BCAST, A, p, ZERO, us));
  h.sent();
  using _l = h.iface.listenTcp(80);
  // RST from our primary address (the template's source): transmit remembers p
  h.inject(syn(p, us, A, 40000, 81));
  const [rst1] = h.sent();
  checkFrame(rst1, A, us, p, 6, "RST from the primary");
  // UDP to p right after: the template transmit made
  using s = h.iface.bindUdp(5000);
  s.sendTo(Uint8Array.of(9, 8, 7), p, 6000);
  h.iface.poll(h.now);
  checkFrame(h.sent()[0], A, us, p, 17, "UDP after TCP");
  // SYN-ACK and RST from the secondary address, p still cached with the primary as source
  h.inject(syn(p, us2, A, 40001, 80), syn(p, us2, A, 40002, 81));
  const out = h.sent();
  assert.equal(out.length, 2);
  for (const f of out) checkFrame(f, A, us2, p, 6, "from the secondary address");
});

Deno.test("template: every IP id and every UDP checksum value, high-bit addresses", () => {
  const us = ip("223.255.255.253"), p = ip("223.255.255.254");
  const h = wireHost({ addresses: [{ ip: us, prefix: 24 }] });
  h.inject(arpFrame(1, BCAST, A, p, ZERO, us));
  h.sent();
  using s = h.iface.bindUdp(0xffff);
  const data = Uint8Array.of(0xff, 0xfe, 0xfd);
  let zeroSeen = 0, carries = 0;
  for (let port = 1; port <= 0xffff; port++) {
    assert.equal(s.sendTo(data, p, port), true);
    h.iface.poll(h.now);
    const [f] = h.sent();
    // the header's word sum before its complement, folded once: the cases that need a second fold
    let x = 0;
    for (let i = 14; i < 34; i += 2) if (i !== 24) x += be16(f, i);
    if ((x & 0xffff) + (x >>> 16) > 0xffff) carries++;
    const c = f.slice(34);
    c[6] = c[7] = 0;
    if (ones(c, 0, c.length, (us >>> 16) + (us & 0xffff) + (p >>> 16) + (p & 0xffff) + 17 + c.length) === 0) {
      zeroSeen++;
    }
    checkFrame(f, A, us, p, 17, `port ${port}`);
  }
  assert.ok(zeroSeen > 0 && carries > 0, `exercised: ${zeroSeen} zero UDP sums, ${carries} double folds`);
});

Deno.test("template: a TCP segment to the cached destination after its neighbour expired asks ARP again", () => {
  const us = ip("200.100.1.2"), p = ip("200.100.3.4");
  const h = wireHost({ addresses: [{ ip: us, prefix: 16 }], arpExpiryMs: 1000 });
  h.inject(arpFrame(1, BCAST, A, p, ZERO, us));
  h.sent();
  h.inject(syn(p, us, A, 40000, 81)); // RST from the template: transmit remembers p
  checkFrame(h.sent()[0], A, us, p, 6, "RST while the neighbour is fresh");
  h.now = 5000; // past the entry's expiry
  h.inject(syn(p, us, A, 40001, 81));
  const out = h.sent();
  assert.ok(out.length >= 1, "something is sent");
  for (const f of out) assert.equal(be16(f, 12), 0x0806, "only an ARP request, no segment to the stale MAC");
  assert.equal(be32(out[0], 38), p, "the request asks for the peer (ARP target address)");
});
