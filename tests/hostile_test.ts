/**
 * The stack against a hostile wire (issue 10 §5): bounded tables, no throw from `poll`, RFC 1122's
 * rules on whom to answer, MAC filtering, ARP conflicts, the ICMP error rate limit, true counters.
 */
import assert from "node:assert/strict";
import { parseIpv4Address as ip, PcapWriter } from "../mod.ts";
import { arpFrame, echoFrame, ipFrame, udpFrame } from "./_fixtures.ts";
import { arpRequest, BROADCAST_MAC, PEER, PEER_MAC, US, US_MAC, wireHost } from "./_host.ts";

const spec = (src = PEER, dstMac = US_MAC, dst = US) => ({ dstMac, srcMac: PEER_MAC, src, dst });
const macOf = (n: number) => Uint8Array.of(2, 0x77, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);

Deno.test("200 000 spoofed ARP senders: the neighbour cache stays at its limit, evictions counted", () => {
  const h = wireHost({ neighborCacheLimit: 512 });
  const base = ip("10.1.0.0");
  for (let k = 0; k < 200_000; k += 1000) {
    const frames = [];
    for (let i = k; i < k + 1000; i++) frames.push(arpRequest(macOf(i), base + i, US));
    h.inject(...frames);
    h.sent();
  }
  assert.equal(h.iface.tableSizes.neighbors, 512);
  assert.equal(h.iface.stats.neighborEvictions, 200_000 - 512);
  assert.equal(h.iface.stats.arpUpdates, 200_000);
  assert.deepEqual(h.iface.neighbour(base + 199_999), macOf(199_999), "the newest are kept");
  assert.equal(h.iface.neighbour(base), null, "the oldest went");
});

Deno.test("an echo flood from unresolved sources: pending bounded, given up after 3 requests, idle polls send nothing", () => {
  const h = wireHost({ pendingLimit: 32, arpRequestIntervalMs: 100 });
  const frames = [];
  for (let i = 0; i < 5000; i++) frames.push(echoFrame(spec(ip("10.2.0.0") + i), 1, i, new Uint8Array(8)));
  h.inject(...frames);
  const s = h.iface.stats;
  assert.equal(h.iface.tableSizes.pending, 32);
  assert.equal(s.pendingOverflows, 5000 - 32);
  assert.equal(h.sent().length, 32, "one ARP request per neighbour being resolved");
  for (h.now = 0; h.now <= 400; h.now += 10) h.iface.poll(h.now);
  assert.equal(h.sent().length, 64, "two retries each, then nothing");
  assert.equal(h.iface.tableSizes.pending, 0);
  assert.equal(s.arpGaveUp, 32);
  assert.equal(s.txDropped, 5000, "every echo reply dropped and counted: 4968 overflows, 32 given up");
  const tx = s.txFrames;
  for (let i = 0; i < 10_000; i++) assert.equal(h.iface.poll(h.now + i), false, "an idle poll does nothing");
  assert.equal(s.txFrames, tx);
});

Deno.test("echoes larger than the MTU get replies in fragments, never a frame above the MTU; the burst goes on", () => {
  const h = wireHost({}, 1500);
  h.learnPeer();
  const jumbo = echoFrame(spec(), 1, 1, new Uint8Array(9000)); // as a link with a jumbo rx pool delivers it
  const small = echoFrame(spec(), 1, 2, new Uint8Array(100));
  h.inject(
    jumbo,
    small,
    echoFrame(spec(), 1, 3, new Uint8Array(1472)),
    echoFrame(spec(), 1, 4, new Uint8Array(1473)),
  );
  const out = h.sent();
  assert.ok(out.every((f) => f.length <= 1514), "no frame above the MTU");
  // 9008 bytes of ICMP: 7 fragments of up to 1480; 1481 bytes: 2; the others one frame each.
  assert.equal(out.length, 7 + 1 + 1 + 2);
  assert.equal(h.iface.stats.txFragments, 9);
  assert.equal(h.iface.stats.echoReplies, 4);
  assert.equal(h.iface.stats.txTooLarge, 0);
});

Deno.test("RFC 1122: no echo reply or ICMP error to broadcast, multicast, loopback, unspecified or our own sources", () => {
  const h = wireHost();
  h.learnPeer();
  using sock = h.iface.bindUdp(9);
  const bad = [
    "255.255.255.255",
    "224.0.0.1",
    "0.0.0.0",
    "127.0.0.1",
    "10.0.0.2",
    "10.255.255.255",
    "240.0.0.1",
  ];
  for (const src of bad) {
    h.inject(
      echoFrame(spec(ip(src)), 1, 1, new Uint8Array(4)),
      udpFrame(spec(ip(src)), 5, 7, new Uint8Array(4)),
    );
    h.inject(udpFrame(spec(ip(src)), 5, 9, new Uint8Array(4)));
  }
  assert.deepEqual(h.sent(), [], "nothing answered");
  assert.equal(sock.queued, 0, "nothing delivered");
  assert.equal(h.iface.stats.rxBadSource, bad.length * 3);
  // Sent to a broadcast or multicast MAC: a datagram for our address is delivered, but a closed
  // port gets no ICMP error (RFC 1122 3.2.2).
  h.inject(udpFrame(spec(PEER, BROADCAST_MAC), 5, 7, new Uint8Array(4)));
  h.inject(udpFrame(spec(PEER, Uint8Array.of(1, 0, 0x5e, 0, 0, 1)), 5, 7, new Uint8Array(4)));
  assert.deepEqual(h.sent(), []);
  assert.equal(h.iface.stats.udpNoSocket, 2);
  // An echo to a broadcast address is not for us.
  h.inject(echoFrame(spec(PEER, BROADCAST_MAC, ip("10.255.255.255")), 1, 1, new Uint8Array(4)));
  assert.deepEqual(h.sent(), []);
  // The control: a unicast peer gets both.
  h.inject(echoFrame(spec(), 1, 1, new Uint8Array(4)), udpFrame(spec(), 5, 7, new Uint8Array(4)));
  const out = h.sent();
  assert.deepEqual(out.map((f) => [f[23], f[34]]), [[1, 0], [1, 3]], "echo reply, port unreachable");
});

Deno.test("frames to another unicast MAC are dropped and counted, unless promiscuous", () => {
  for (const promiscuous of [false, true]) {
    const h = wireHost({ promiscuous });
    using sock = h.iface.bindUdp(9);
    const other = Uint8Array.of(2, 0, 0, 0, 0, 0x99);
    h.inject(
      udpFrame(spec(PEER, other), 5, 9, Uint8Array.of(1)),
      echoFrame(spec(PEER, other), 1, 1, new Uint8Array(4)),
    );
    h.inject(arpFrame(1, other, PEER_MAC, PEER, new Uint8Array(6), US));
    assert.equal(sock.queued, promiscuous ? 1 : 0);
    assert.equal(h.iface.stats.rxOtherMac, promiscuous ? 0 : 3);
  }
});

Deno.test("ARP claiming our address is ignored and counted as a conflict; counters tell what happened", () => {
  const h = wireHost();
  const s = h.iface.stats;
  h.inject(arpRequest(PEER_MAC, US, US)); // "10.0.0.2 is at PEER_MAC"
  h.inject(arpFrame(2, US_MAC, PEER_MAC, US, US_MAC, US));
  assert.equal(s.arpConflicts, 2);
  assert.equal(h.iface.neighbour(US), null, "not learned");
  assert.deepEqual(h.sent(), [], "not answered");
  h.learnPeer();
  assert.equal(s.arpUpdates, 1);
  // An unsolicited reply from a neighbour we know refreshes it: an update, not ignored.
  const newMac = Uint8Array.of(2, 0, 0, 0, 0, 0x42);
  h.inject(arpFrame(2, BROADCAST_MAC, newMac, PEER, new Uint8Array(6), ip("10.0.0.77")));
  assert.deepEqual(h.iface.neighbour(PEER), newMac);
  assert.equal(s.arpUpdates, 2);
  assert.equal(s.rxIgnored, 0);
  // About hosts we do not know, not for us: ignored.
  h.inject(arpFrame(2, BROADCAST_MAC, newMac, ip("10.0.0.9"), new Uint8Array(6), ip("10.0.0.77")));
  assert.equal(s.rxIgnored, 1);
  assert.equal(h.iface.neighbour(ip("10.0.0.9")), null);
  // A sender off our subnets or with a multicast MAC is not learned.
  h.inject(
    arpRequest(macOf(1), ip("192.0.2.1"), US),
    arpRequest(Uint8Array.of(3, 0, 0, 0, 0, 1), ip("10.0.0.8"), US),
  );
  assert.equal(h.iface.neighbour(ip("192.0.2.1")), null);
  assert.equal(h.iface.neighbour(ip("10.0.0.8")), null);
});

Deno.test("ICMP errors are rate limited: per destination (burst 6, 1/s) and overall (burst 50, 1000/s)", () => {
  const h = wireHost();
  h.learnPeer();
  const s = h.iface.stats;
  const closed = (src = PEER) => udpFrame(spec(src), 5, 7, new Uint8Array(4));
  h.inject(...Array.from({ length: 20 }, () => closed()));
  assert.equal(s.icmpErrors, 6, "a burst of 6 to one destination");
  assert.equal(s.icmpRateLimited, 14);
  h.now = 999;
  h.inject(closed());
  assert.equal(s.icmpErrors, 6);
  h.now = 1000 + 999; // 1999 ms after the burst's start: one token per second
  h.inject(closed());
  assert.equal(s.icmpErrors, 7);
  assert.equal(h.sent().length, 7);
  // Overall: 100 sources at once, per-destination limit off.
  const g = wireHost({ icmpHostIntervalMs: 0 });
  for (let i = 0; i < 100; i++) g.learnPeer(PEER + 10 + i, macOf(i));
  g.inject(...Array.from({ length: 100 }, (_, i) => closed(PEER + 10 + i)));
  assert.equal(g.iface.stats.icmpErrors, 50);
  g.now = 10;
  g.inject(...Array.from({ length: 100 }, (_, i) => closed(PEER + 10 + i)));
  assert.equal(g.iface.stats.icmpErrors, 60, "10 ms at 1000/s: 10 more");
  const off = wireHost({ icmpErrorsPerSecond: 0, icmpErrorBurst: 1 });
  off.learnPeer();
  off.now = 5000;
  off.inject(closed(), closed());
  assert.equal(off.iface.stats.icmpErrors, 0, "rate 0: none");
  assert.equal(off.iface.stats.icmpRateLimited, 2);
});

Deno.test("a capture that fails stops, is counted, and keeps its typed error; poll goes on", async () => {
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    const pcap = new PcapWriter(path);
    const h = wireHost({ pcap });
    pcap.close();
    h.learnPeer();
    h.inject(echoFrame(spec(), 1, 1, new Uint8Array(4)));
    assert.equal(h.iface.stats.captureFailures, 1);
    assert.equal(h.iface.captureError?.kind, "Closed");
    assert.equal(h.iface.stats.echoReplies, 1, "the stack went on");
    assert.equal(h.sent().length, 1);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("packets waiting for ARP are bounded in bytes too: large echoes from unresolved sources", () => {
  const h = wireHost({ arpQueueBytes: 20_000 });
  const data = new Uint8Array(8000);
  // Fragmented 8000-byte echoes from one unresolved source: 2 replies (16 016 bytes) fit, not 3.
  const spec8 = { dstMac: US_MAC, srcMac: PEER_MAC, src: PEER, dst: US };
  for (let i = 0; i < 4; i++) {
    const whole = echoFrame(spec8, 1, i, data).subarray(34);
    for (let off = 0; off < whole.length; off += 1480) {
      h.inject(
        ipFrame({
          ...spec8,
          protocol: 1,
          id: 100 + i,
          moreFragments: off + 1480 < whole.length,
          fragmentOffset: off,
        }, whole.subarray(off, off + 1480)),
      );
    }
  }
  assert.equal(h.iface.stats.reassembled, 4);
  assert.equal(h.iface.stats.txDropped, 2, "the third and fourth replies did not fit in 20 000 bytes");
  h.inject(arpRequest(PEER_MAC, PEER, US));
  assert.equal(
    h.sent().filter((f) => f[23] === 1).length,
    2 * 6,
    "the two queued replies left, 6 fragments each",
  );
});

Deno.test("a neighbour evicted while the send path holds it is never used again; sends follow the new entry", () => {
  const h = wireHost({ neighborCacheLimit: 1 });
  h.learnPeer();
  using s = h.iface.bindUdp(5000);
  const dstMac = () => {
    h.iface.poll(h.now);
    const out = h.sent().filter((f) => f[12] === 8 && f[13] === 0);
    assert.equal(out.length, 1);
    return out[0].subarray(0, 6);
  };
  s.sendTo(Uint8Array.of(1), PEER, 9);
  assert.deepEqual(dstMac(), PEER_MAC);
  h.learnPeer(PEER + 5, macOf(1)); // evicts PEER (limit 1)
  assert.equal(h.iface.stats.neighborEvictions, 1);
  const moved = Uint8Array.of(2, 0, 0, 0, 0, 0x33);
  h.learnPeer(PEER, moved); // PEER is back, at another MAC, in a new entry
  s.sendTo(Uint8Array.of(2), PEER, 9);
  assert.deepEqual(dstMac(), moved, "not the evicted entry's MAC");
});
