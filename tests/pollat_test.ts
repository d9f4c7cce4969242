/**
 * `Interface.pollAt` / `pollDelay` at virtual times: when poll next has work (ARP retries and
 * give-ups, reassembly timeouts, datagrams waiting for a device buffer), and null when nothing is
 * scheduled.
 */
import assert from "node:assert/strict";
import { Interface, InterfaceError, LoopbackDevice } from "../mod.ts";
import { ipFrame, udpSegment } from "./_fixtures.ts";
import { PEER, PEER_MAC, starvable, US, US_MAC, wireHost } from "./_host.ts";
import { thrown } from "./_assert.ts";

const OTHER = PEER + 5; // on our subnet, never answers

/** How many ARP requests for `ip` are among `frames`. */
function arpRequestsFor(frames: Uint8Array[], ip: number): number {
  return frames.filter((f) =>
    f[12] === 0x08 && f[13] === 0x06 && f[21] === 1 &&
    ((f[38] << 24) | (f[39] << 16) | (f[40] << 8) | f[41]) >>> 0 === ip
  ).length;
}

Deno.test("pollAt: an idle interface schedules nothing", () => {
  const h = wireHost();
  assert.equal(h.iface.pollAt(0), null);
  assert.equal(h.iface.pollDelay(0), null);
  h.iface.poll(5);
  h.learnPeer(); // a learned neighbour's expiry schedules nothing either
  assert.equal(h.iface.pollAt(10), null);
  using s = h.iface.bindUdp(7);
  s.sendTo(Uint8Array.of(1), PEER, 9);
  h.iface.poll(10);
  assert.equal(h.iface.pollAt(10), null, "sent at once: nothing left to do");
});

Deno.test("pollAt: ARP retries every interval, then the give-up, then nothing", () => {
  const h = wireHost({ arpRequestIntervalMs: 250, arpMaxRequests: 3 });
  const { iface } = h;
  using s = iface.bindUdp(7);
  h.now = 100;
  iface.poll(100);
  s.sendTo(Uint8Array.of(1), OTHER, 9); // queued behind ARP; the first request leaves now
  iface.poll(100);
  assert.equal(arpRequestsFor(h.sent(), OTHER), 1);
  assert.equal(iface.pollAt(100), 350);
  assert.equal(iface.pollDelay(100), 250);
  assert.equal(iface.pollDelay(300), 50);
  assert.equal(iface.pollDelay(400), 0, "past due: poll at once");
  iface.poll(349);
  assert.equal(arpRequestsFor(h.sent(), OTHER), 0, "not before its time");
  assert.equal(iface.pollAt(349), 350);
  iface.poll(350);
  assert.equal(arpRequestsFor(h.sent(), OTHER), 1, "the second request, when pollAt said");
  assert.equal(iface.pollAt(350), 600);
  iface.poll(600);
  assert.equal(arpRequestsFor(h.sent(), OTHER), 1, "the third");
  assert.equal(iface.pollAt(600), 850, "the give-up is scheduled too");
  assert.equal(iface.stats.arpGaveUp, 0);
  iface.poll(850);
  assert.equal(iface.stats.arpGaveUp, 1);
  assert.equal(iface.stats.txDropped, 1, "the queued datagram went with it");
  assert.equal(iface.pollAt(850), null);
});

Deno.test("pollAt: a resolved neighbour leaves nothing scheduled", () => {
  const h = wireHost({ arpRequestIntervalMs: 1000 });
  using s = h.iface.bindUdp(7);
  s.sendTo(Uint8Array.of(1), PEER, 9);
  h.iface.poll(0);
  h.sent();
  assert.equal(h.iface.pollAt(0), 1000);
  h.learnPeer(); // the peer's ARP teaches us its MAC: the datagram leaves
  assert.equal(h.iface.pollAt(1), null);
});

Deno.test("pollAt: a datagram being reassembled is scheduled at its timeout", () => {
  const h = wireHost({ reassemblyTimeoutMs: 500 });
  const { iface } = h;
  h.learnPeer();
  const spec = { dstMac: US_MAC, srcMac: PEER_MAC, src: PEER, dst: US, id: 77 };
  const whole = udpSegment(PEER, US, 9, 7, new Uint8Array(64));
  h.now = 40;
  h.inject(ipFrame({ ...spec, moreFragments: true }, whole.subarray(0, 32)));
  assert.equal(iface.reassembly.datagrams, 1);
  assert.equal(iface.pollAt(40), 540);
  assert.equal(iface.pollDelay(100), 440);
  h.now = 90;
  h.inject(ipFrame({ ...spec, id: 78, moreFragments: true }, whole.subarray(0, 32)));
  assert.equal(iface.pollAt(90), 540, "the oldest datagram's timeout comes first");
  iface.poll(539);
  assert.equal(iface.stats.reassemblyTimeouts, 0);
  iface.poll(540);
  assert.equal(iface.stats.reassemblyTimeouts, 1, "timed out when pollAt said");
  assert.equal(iface.pollAt(540), 590);
  iface.poll(590);
  assert.equal(iface.stats.reassemblyTimeouts, 2);
  assert.equal(iface.pollAt(590), null);
});

Deno.test("pollAt: the earliest of ARP and reassembly", () => {
  const h = wireHost({ reassemblyTimeoutMs: 300, arpRequestIntervalMs: 1000 });
  const { iface } = h;
  h.learnPeer();
  using s = iface.bindUdp(7);
  s.sendTo(Uint8Array.of(1), OTHER, 9);
  iface.poll(0);
  assert.equal(iface.pollAt(0), 1000);
  const spec = { dstMac: US_MAC, srcMac: PEER_MAC, src: PEER, dst: US, id: 5, moreFragments: true };
  h.now = 10;
  h.inject(ipFrame(spec, new Uint8Array(16)));
  assert.equal(iface.pollAt(10), 310);
  iface.poll(310);
  assert.equal(iface.pollAt(310), 1000);
});

Deno.test("pollAt: datagrams waiting for a device buffer make poll due now", () => {
  const [la, lb] = LoopbackDevice.pair();
  const dev = starvable(la);
  const a = new Interface(dev, { mac: US_MAC, addresses: [{ ip: US, prefix: 8 }] });
  const b = new Interface(lb, { mac: PEER_MAC, addresses: [{ ip: PEER, prefix: 8 }] });
  using sa = a.bindUdp(5000);
  using sb = b.bindUdp(6000);
  sa.sendTo(Uint8Array.of(0), PEER, 6000);
  for (let t = 0; t < 4; t++) {
    a.poll(t);
    b.poll(t);
  }
  assert.equal(sb.queued, 1);
  assert.equal(a.pollAt(4), null);
  dev.starved = true;
  sa.sendTo(Uint8Array.of(1), PEER, 6000);
  assert.equal(a.pollAt(7), 7, "queued for a buffer: due now");
  assert.equal(a.pollDelay(7), 0);
  a.poll(8);
  assert.equal(a.pollAt(9), 9, "still starved: still due");
  dev.starved = false;
  a.poll(10);
  assert.equal(a.pollAt(10), null, "sent: nothing left");
  b.poll(10);
  assert.equal(sb.queued, 2);
});

Deno.test("poll / pollAt / pollDelay: a time that is not a finite number ≥ 0 is refused", () => {
  const h = wireHost();
  for (const bad of [NaN, Infinity, -Infinity, -1, "1", null, undefined, 1n]) {
    for (
      const call of [
        () => h.iface.poll(bad as number),
        () => h.iface.pollAt(bad as number),
        () => h.iface.pollDelay(bad as number),
      ]
    ) {
      const e = thrown(call, InterfaceError);
      assert.equal(e.kind, "InvalidArgument");
      assert.match(e.message, /now/);
    }
  }
});
