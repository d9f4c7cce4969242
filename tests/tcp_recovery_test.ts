/**
 * RACK-TLP (RFC 8985), segment by segment: a tail drop repaired by a probe at about 2·SRTT, not
 * at the RTO; a single segment's probe at the RTO in its place; a probe the peer D-SACKs (no
 * window cut) against one that repaired a loss (one cut); RACK's time rule marking a segment
 * lost after the reordering window (where RFC 6675 alone waits for the RTO); a lost
 * retransmission found by RACK. Segment i of our data spans [1 + 1000·i, 1 + 1000·(i + 1)).
 */
import assert from "node:assert/strict";
import { SackScoreboard, type TcpConfig } from "../src/net/socket/mod.ts";
import { RackRecords } from "../src/net/socket/tcp_rack.ts";
import { TCP_ACK, TcpHeader } from "../src/net/wire/mod.ts";
import { data, type Fixture, synReceived } from "./_tcp_harness.ts";

const A = TCP_ACK;
const MSS = 1000;

/** Established with SACK and MSS 1000, the handshake's RTT sample 10 ms (SRTT 10, RTO 200), at t = 10. */
function conn(cfg: TcpConfig = {}): Fixture {
  const f = synReceived(cfg, { mss: MSS, sackPermitted: true });
  f.put(10, A, 1, 1);
  assert.equal(f.s.state, "Established");
  assert.ok(f.s.sack);
  assert.deepEqual([f.s.srtt, f.s.rto], [10, 200]);
  return f;
}
/** The start of segment i. */
const seg = (i: number) => 1 + MSS * i;

Deno.test("TLP: a tail drop is repaired by a probe at 2·SRTT + 2 ms, then RACK finds the hole; no RTO", () => {
  const f = conn();
  f.s.send(data(5 * MSS));
  assert.equal(f.out(20).length, 5);
  f.put(30, A, 1, seg(3)); // 3 and 4 lost
  assert.equal(f.s.pollAt(), 30 + 22, "PTO = 2·SRTT + 2");
  assert.deepEqual(f.out(51), []);
  assert.deepEqual(f.out(52), [["PSH|ACK", seg(4), 1, MSS]], "the last segment again");
  assert.equal(f.s.stats.tlpProbes, 1);
  assert.equal(f.s.pollAt(), 52 + 200, "the RTO runs from the probe");
  // The probe is SACKed: segment 3, sent before it, is lost once RACK.rtt has passed.
  f.put(62, A, 1, seg(3), { sack: [[seg(4), seg(5)]] });
  assert.deepEqual(f.out(62), [["ACK", seg(3), 1, MSS]]);
  assert.deepEqual([f.s.stats.rackLosses, f.s.stats.recoveries, f.s.stats.timeouts], [1, 1, 0]);
  f.put(72, A, 1, seg(5));
  assert.equal(f.s.congestionState, "Open");
  assert.equal(f.s.pollAt(), Infinity);
});

Deno.test("TLP: new data goes as the probe when the peer's window takes it, cwnd aside", () => {
  const f = conn();
  f.s.send(data(20 * MSS));
  assert.equal(f.out(20).length, 10, "IW: 10 segments, 10 wait for cwnd");
  f.put(30, A, 1, seg(1)); // an ACK of one; the rest of the flight and its ACKs are lost
  assert.deepEqual(f.out(30).map((g) => g[1]), [seg(10), seg(11)], "slow start: cwnd 11, 9 out");
  assert.equal(f.s.pollAt(), 30 + 22);
  assert.deepEqual(f.out(52), [["ACK", seg(12), 1, MSS]], "the probe is the next unsent segment");
  assert.equal(f.s.stats.retransmits, 0);
});

Deno.test("TLP: one segment out: the probe waits for the worst delayed ACK, capped by the RTO it replaces", () => {
  const f = conn();
  f.s.send(data(3 * MSS));
  f.out(20);
  f.put(30, A, 1, seg(2));
  assert.equal(f.s.pollAt(), 30 + 200, "2·SRTT + 200 = 220, capped at the RTO (200)");
  assert.deepEqual(f.out(230), [["PSH|ACK", seg(2), 1, MSS]]);
  assert.deepEqual([f.s.stats.tlpProbes, f.s.stats.timeouts], [1, 0], "a probe, not a timeout");
  assert.equal(f.s.cwnd, 10 * MSS + 2 * MSS, "cwnd untouched by the probe");
});

Deno.test("TLP: a probe the peer D-SACKs cuts nothing; one that repaired a loss cuts cwnd once", async (t) => {
  for (const dsack of [true, false]) {
    await t.step(
      dsack ? "D-SACKed: the original had arrived" : "no D-SACK: the probe repaired the loss",
      () => {
        const f = conn();
        f.s.send(data(3 * MSS));
        f.out(20);
        f.put(30, A, 1, seg(2));
        assert.deepEqual(f.out(230), [["PSH|ACK", seg(2), 1, MSS]]);
        const cwnd = f.s.cwnd;
        // The ACK of the probe: with a D-SACK of it when the original's ACK was what got lost.
        f.put(240, A, 1, seg(3), dsack ? { sack: [[seg(2), seg(3)]] } : {});
        assert.equal(f.s.stats.dsacksIn, dsack ? 1 : 0);
        f.s.send(data(MSS));
        assert.deepEqual(f.out(240), [["PSH|ACK", seg(3), 1, MSS]]);
        f.put(250, A, 1, seg(4)); // beyond the probe: its episode ends
        assert.equal(f.s.stats.tlpRepairs, dsack ? 0 : 1);
        if (dsack) assert.ok(f.s.cwnd >= cwnd, `cwnd ${f.s.cwnd} kept`);
        else assert.ok(f.s.cwnd < cwnd, `cwnd ${f.s.cwnd} cut from ${cwnd}`);
        assert.equal(f.s.congestionState, "Open");
      },
    );
  }
});

Deno.test("RACK: a segment is lost once one sent after it is SACKed and RACK.rtt + reo_wnd has passed", () => {
  const f = conn();
  f.s.send(data(4 * MSS));
  f.out(20);
  // 1 missing, 2 SACKed (one segment: RFC 6675's IsLost would not fire).
  f.put(30, A, 1, seg(1), { sack: [[seg(2), seg(3)]] });
  assert.equal(f.s.pollAt(), 33, "reo_wnd = min_RTT/4 = 2.5 ms: the reordering timer at ⌈32.5⌉");
  assert.deepEqual(f.out(32), []);
  assert.deepEqual(f.out(33), [["ACK", seg(1), 1, MSS]]);
  assert.deepEqual([f.s.stats.rackLosses, f.s.stats.recoveries, f.s.congestionState], [1, 1, "Recovery"]);
  // Reordering, not loss: segment 1 arrives late; the next time the window is wider.
  const g = conn();
  g.s.send(data(4 * MSS));
  g.out(20);
  g.put(30, A, 1, seg(1), { sack: [[seg(2), seg(3)]] });
  g.put(31, A, 1, seg(3)); // 1 was only late
  assert.deepEqual(g.out(33), []);
  assert.equal(g.s.stats.rackLosses, 0);
  // RFC 6675 alone: nothing before the RTO.
  const h = conn({ rack: false });
  h.s.send(data(4 * MSS));
  h.out(20);
  h.put(30, A, 1, seg(1), { sack: [[seg(2), seg(3)]] });
  assert.equal(h.s.pollAt(), 30 + 200);
});

Deno.test("RACK: a D-SACK widens the reordering window (reo_wnd_mult, RFC 8985 §6.2 step 4)", () => {
  for (const dsack of [false, true]) {
    const f = conn();
    f.s.send(data(4 * MSS));
    f.out(20);
    f.put(30, A, 1, seg(1)); // 0 arrives
    // 2 SACKed, 1 missing; with a D-SACK of 0 (a duplicate the peer saw) or not.
    f.put(31, A, 1, seg(1), { sack: dsack ? [[seg(0), seg(1)], [seg(2), seg(3)]] : [[seg(2), seg(3)]] });
    // RACK.rtt 11, sent at 20: 31 + reo_wnd; min_RTT 10: reo_wnd 2.5, or 5 after the D-SACK.
    assert.equal(f.s.pollAt(), dsack ? 36 : 34);
  }
});

Deno.test("RACK: a lost retransmission is found once data sent after it is SACKed (no RTO)", () => {
  const f = conn({ txBufferSize: 1 << 20 });
  f.s.send(data(30 * MSS));
  assert.equal(f.out(20).length, 10);
  // 0 lost; 1…7 SACKed: IsLost(0), recovery, 0 resent at 30 with new data within cwnd − pipe.
  f.put(30, A, 1, 1, { sack: [[seg(1), seg(8)]] });
  const r = f.out(30);
  assert.equal(r[0][1], seg(0));
  assert.ok(r.length > 1 && r.slice(1).every((g) => g[1] >= seg(10)), `new data: ${r.map((g) => g[1])}`);
  const after = r[r.length - 1][1];
  // The resent 0 is lost again; everything else, the new data sent with it too, arrives.
  f.put(40, A, 1, 1, { sack: [[seg(1), after + MSS]] });
  const again = f.out(40);
  assert.equal(again[0]?.[1], seg(0), "0 resent again");
  assert.ok(f.s.stats.rackLosses >= 1);
  assert.equal(f.s.stats.timeouts, 0);
  assert.equal(f.s.stats.retransmits, 2);
});

Deno.test("TLP: the PTO counts the segment that just left (two out: 2·SRTT + 2, not the delayed-ACK wait)", () => {
  const f = conn();
  f.s.send(data(MSS));
  assert.equal(f.out(20).length, 1);
  assert.equal(f.s.pollAt(), 20 + 200, "one out: 2·SRTT + 200, capped at the RTO");
  f.s.send(data(MSS));
  assert.equal(f.out(25).length, 1);
  assert.equal(f.s.pollAt(), 25 + 22, "two out: 2·SRTT + 2 from the second");
  assert.deepEqual(f.out(47), [["PSH|ACK", seg(1), 1, MSS]], "both lost: the last segment again");
  assert.deepEqual([f.s.stats.tlpProbes, f.s.stats.timeouts], [1, 0]);
});

Deno.test("RACK-TLP: the option is validated and off without SACK", () => {
  assert.throws(() => conn({ rack: 1 as unknown as boolean }), /rack/);
  const f = synReceived({}, { mss: MSS }); // no SACK-permitted
  f.put(10, A, 1, 1);
  f.s.send(data(3 * MSS));
  f.out(20);
  f.put(30, A, 1, seg(1));
  assert.equal(f.s.pollAt(), 30 + 200, "no probe timer: the RTO");
});

Deno.test("RACK records: bounded (the last one grows when full), pipe, SACK marks, lost and resent", () => {
  const r = new RackRecords(4);
  const sb = new SackScoreboard(8);
  r.clear(100);
  for (let i = 0; i < 6; i++) r.sent(100 + 10 * i, 10, i); // six segments of 10 bytes at t = i
  assert.equal(r.count, 4, "the fourth record took segments 3…5 (sent at 5, the latest)");
  assert.equal(r.pipe(), 60, "every byte counted once");
  // The peer SACKs [120, 130) (segment 2, sent at 2) at t = 10: RACK.rtt 8.
  const h = new TcpHeader();
  h.sackCount = 1;
  h.sack[0] = 120;
  h.sack[1] = 130;
  sb.update(h, 100, 160);
  r.onAck(10, 100, sb, NaN, 5);
  assert.equal(r.pipe(), 50);
  assert.equal(r.detectLoss(7.5, 0), 0, "inside RACK.rtt still");
  assert.equal(r.timeout, 8, "segment 0: sent at 0, + RACK.rtt 8");
  assert.equal(r.detectLoss(10, 0), 2, "segments 0 and 1, sent before 2, lost after RACK.rtt");
  assert.equal(r.timeout, -1, "the merged record was sent after: no timer for it");
  assert.equal(r.pipe(), 30);
  assert.deepEqual([r.nextLost(100), r.lostEnd], [0, 10]);
  r.sent(100, 10, 11); // segment 0 resent
  assert.equal(r.pipe(), 40);
  assert.deepEqual([r.nextLost(100), r.lostEnd], [10, 20]);
  r.onTimeout();
  assert.equal(r.pipe(), 0, "after an RTO everything not SACKed is lost");
  r.onAck(20, 130, new SackScoreboard(1), NaN, 5);
  assert.deepEqual([r.count, r.pipe(), r.nextLost(130)], [1, 0, 0], "the cumulative ACK removed three");
});

Deno.test("RACK records: anyLost (a count kept by every change) agrees with a scan of the records", () => {
  // Random sends, resends (splitting records), SACKs, cumulative ACKs, RACK's and RFC 6675's
  // marks and timeouts; after each, anyLost must say what nextLost's scan finds.
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  let checks = 0, sawLost = 0;
  for (let round = 0; round < 40; round++) {
    const r = new RackRecords(8 + rnd(8));
    const sb = new SackScoreboard(8);
    let una = 1000, nxt = 1000, t = 0;
    r.clear(una);
    for (let step = 0; step < 200; step++) {
      t += 1 + rnd(3);
      const op = rnd(7);
      if (op <= 1) {
        const len = 10 * (1 + rnd(3));
        r.sent(nxt, len, t);
        nxt += len;
      } else if (op === 2 && nxt > una) {
        const at = una + rnd(nxt - una);
        r.sent(at, Math.min(1 + rnd(30), nxt - at), t); // a retransmission, maybe splitting a record
      } else if (op === 3 && nxt > una) {
        const h = new TcpHeader();
        const s = una + rnd(nxt - una);
        h.sackCount = 1;
        h.sack[0] = s;
        h.sack[1] = s + 1 + rnd(nxt - s);
        sb.update(h, una, nxt);
        r.onAck(t, una, sb, NaN, 1);
      } else if (op === 4 && nxt > una) {
        const ack = una + rnd(nxt - una + 1);
        sb.advance(ack - una);
        una = ack;
        r.onAck(t, una, sb, NaN, 1);
      } else if (op === 5) {
        r.detectLoss(t, rnd(4));
        r.markLostBelow(una, rnd(nxt - una + 1));
      } else if (rnd(8) === 0) r.onTimeout();
      const scan = r.nextLost(una) >= 0;
      assert.equal(r.anyLost, scan, `round ${round}, step ${step}, op ${op}`);
      checks++;
      if (scan) sawLost++;
    }
  }
  assert.ok(sawLost > 100 && sawLost < checks - 100, `both answers seen (${sawLost} of ${checks} lost)`);
});
