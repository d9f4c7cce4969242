/**
 * Selective acknowledgments (RFC 2018) both ways: negotiation, the blocks we emit for given holes
 * (most recent first, 4 without timestamps, 3 with), D-SACK (RFC 2883) sent and received, and the
 * sender's RFC 6675 scoreboard: IsLost, pipe, NextSeg's choice of retransmission, and a timeout
 * that resends only what was not SACKed.
 */
import assert from "node:assert/strict";
import { IsnGenerator, SackScoreboard, type TcpConfig, TcpSocket } from "../src/net/socket/mod.ts";
import { TCP_ACK, TCP_SYN, TcpHeader } from "../src/net/wire/mod.ts";
import { feed, LOCAL_IP, LOCAL_PORT, RecordingEgress, type Seg } from "./_tcp_harness.ts";

const REMOTE_ISS = 7000;
const MSS = 1000;
const isn = new IsnGenerator(new Uint8Array(16).fill(0x5a));

interface Conn {
  s: TcpSocket;
  out(now: number): Seg[];
  /** Data from the peer at relative offset `off` (from REMOTE_ISS + 1). */
  data(now: number, off: number, n: number, ts?: [number, number]): void;
  /** An ACK of our data: cumulative `ack` and SACK blocks as relative [left, right) offsets. */
  ack(now: number, ack: number, sack?: [number, number][]): void;
  /** Our sent SACK blocks relative to REMOTE_ISS + 1. */
  blocks(g: Seg): [number, number][];
  /** Relative start of a data segment we sent. */
  rel(g: Seg): number;
}

function conn(
  cfg: TcpConfig = {},
  syn: { sackPermitted?: boolean; ts?: [number, number]; windowScale?: number } = { sackPermitted: true },
): Conn {
  const s = new TcpSocket({ isn, txBufferSize: 1 << 20, ...cfg });
  const eg = new RecordingEgress(MSS + 40);
  s.listen(LOCAL_IP, LOCAL_PORT);
  feed(s, 0, { flags: TCP_SYN, seq: REMOTE_ISS, mss: MSS, ...syn });
  s.dispatch(0, eg);
  const [sa] = eg.take();
  const iss = sa.seq;
  const base = REMOTE_ISS + 1;
  const c: Conn = {
    s,
    out(now) {
      s.dispatch(now, eg);
      return eg.take();
    },
    data(now, off, n, ts) {
      feed(s, now, {
        flags: TCP_ACK,
        seq: base + off,
        ack: (iss + 1) >>> 0,
        payload: new Uint8Array(n),
        ...(ts ? { ts } : {}),
      });
    },
    ack(now, ack, sack = []) {
      feed(s, now, {
        flags: TCP_ACK,
        seq: base,
        ack: (iss + 1 + ack) >>> 0,
        sack: sack.map(([l, r]) => [(iss + 1 + l) >>> 0, (iss + 1 + r) >>> 0]),
        ...(syn.ts ? { ts: [syn.ts[0] + 1, 0] as [number, number] } : {}),
      });
    },
    blocks: (g) => g.sack.map(([l, r]) => [(l - base) >>> 0, (r - base) >>> 0]),
    rel: (g) => (g.seq - iss - 1) >>> 0,
  };
  feed(s, 0, {
    flags: TCP_ACK,
    seq: base,
    ack: (iss + 1) >>> 0,
    ...(syn.ts ? { ts: [syn.ts[0], sa.ts![0]] } : {}),
  });
  assert.equal(s.state, "Established");
  void sa;
  return c;
}

Deno.test("SACK: negotiated by SACK-permitted in both SYNs, else off", () => {
  const s = new TcpSocket({ isn });
  const eg = new RecordingEgress(1500);
  s.listen(LOCAL_IP, LOCAL_PORT);
  feed(s, 0, { flags: TCP_SYN, seq: 1, mss: MSS, sackPermitted: true });
  s.dispatch(0, eg);
  assert.equal(eg.take()[0].sackPermitted, true, "the SYN-ACK answers SACK-permitted");
  assert.equal(s.sack, true);
  const off = conn({ sack: false });
  assert.equal(off.s.sack, false);
  const theirsOff = conn({}, {});
  assert.equal(theirsOff.s.sack, false);
  // Active open: offered.
  const a = new TcpSocket({ isn });
  a.connect(LOCAL_IP, 40000, 0x0a000002, 80, 0);
  a.dispatch(0, eg);
  assert.equal(eg.take()[0].sackPermitted, true);
});

Deno.test("SACK blocks for given holes: the most recent first, merged ranges, at most 4", () => {
  const c = conn();
  const blocksAfter = (off: number, n: number) => {
    c.data(1, off, n);
    const segs = c.out(1);
    assert.equal(segs.length, 1);
    assert.equal(segs[0].ack, REMOTE_ISS + 1, "cumulative ACK stays at the hole");
    return c.blocks(segs[0]);
  };
  assert.deepEqual(blocksAfter(100, 100), [[100, 200]]);
  assert.deepEqual(blocksAfter(300, 100), [[300, 400], [100, 200]]);
  assert.deepEqual(blocksAfter(500, 100), [[500, 600], [300, 400], [100, 200]]);
  assert.deepEqual(
    blocksAfter(200, 100),
    [[100, 400], [500, 600]],
    "a segment joining two ranges: one block, first",
  );
  assert.deepEqual(blocksAfter(700, 100), [[700, 800], [100, 400], [500, 600]]);
  assert.deepEqual(blocksAfter(900, 100), [[900, 1000], [700, 800], [100, 400], [500, 600]]);
  assert.deepEqual(
    blocksAfter(1100, 100),
    [[1100, 1200], [900, 1000], [700, 800], [100, 400]],
    "four blocks without timestamps: the oldest report drops out",
  );
  c.data(2, 0, 100);
  const [filled] = c.out(2);
  assert.equal(filled.ack, REMOTE_ISS + 1 + 400, "the front hole filled");
  assert.deepEqual(c.blocks(filled), [[1100, 1200], [900, 1000], [700, 800], [500, 600]]);
  assert.ok(c.s.stats.sackAcksOut >= 8);
});

Deno.test("SACK blocks with many holes: the latest arrivals' ranges first whatever their index, each once", () => {
  const c = conn({ rxBufferSize: 1 << 20 });
  let last: Seg | undefined;
  for (let k = 0; k < 60; k++) {
    c.data(1, 200 * k + 100, 100); // 60 ranges, every other 100 bytes
    [last] = c.out(1);
  }
  assert.deepEqual(c.blocks(last!), [[11900, 12000], [11700, 11800], [11500, 11600], [11300, 11400]]);
  c.data(2, 11800, 100); // joins ranges 58 and 59
  const [g] = c.out(2);
  // The four latest arrivals lie in two ranges; then the lowest ones.
  assert.deepEqual(c.blocks(g), [[11700, 12000], [11500, 11600], [100, 200], [300, 400]]);
});

Deno.test("SACK scoreboard sized by the send ring: 40 SACKed ranges all kept, recovery resends the holes below IsLost", () => {
  const c = conn({ rack: false, txBufferSize: 256 << 10, congestionControl: "none" }, {
    sackPermitted: true,
    windowScale: 2,
  });
  c.s.send(new Uint8Array(81 * MSS));
  assert.equal(c.out(0).length, 81);
  // Every odd segment arrives: 40 ranges, one SACK block each (the newest first).
  for (let k = 0; k < 40; k++) c.ack(1, 0, [[(2 * k + 1) * MSS, (2 * k + 2) * MSS]]);
  assert.equal(c.s.congestionState, "Recovery");
  const resent = c.out(2).map(c.rel);
  // IsLost: a hole below the third range from the top (segment 75) is lost; 76, 78, 80 are not yet.
  assert.deepEqual(resent, Array.from({ length: 38 }, (_, i) => 2 * i * MSS));
  assert.equal(c.s.stats.retransmits, 38);
});

Deno.test("SACK blocks: three fit beside timestamps (40 option bytes)", () => {
  const c = conn({}, { sackPermitted: true, ts: [100, 0] });
  assert.equal(c.s.timestamps, true);
  for (const off of [100, 300, 500, 700]) c.data(1, off, 50, [101, 0]);
  const segs = c.out(1);
  const last = segs[segs.length - 1];
  assert.deepEqual(c.blocks(last), [[700, 750], [500, 550], [300, 350]]);
  assert.ok(last.ts);
});

Deno.test("D-SACK (RFC 2883): a duplicate is reported in the first block; a received one is counted", () => {
  const c = conn();
  c.data(1, 0, 500);
  c.out(1);
  c.data(2, 200, 100); // already received
  const [dup] = c.out(2);
  assert.deepEqual(c.blocks(dup), [[200, 300]]);
  assert.equal(c.s.stats.dsacksOut, 1);
  assert.deepEqual(c.out(3), [], "reported once");
  // Partly old: the old part is the D-SACK, with the out-of-order block after it.
  c.data(4, 800, 100);
  c.out(4);
  c.data(5, 400, 200);
  const [part] = c.out(5);
  assert.equal(part.ack, REMOTE_ISS + 1 + 600);
  assert.deepEqual(c.blocks(part), [[400, 500], [800, 900]]);
  // The sender's side: a D-SACK block below the cumulative ACK.
  const d = conn();
  d.s.send(new Uint8Array(3 * MSS));
  d.out(10);
  d.ack(20, 2 * MSS, [[0, MSS]]);
  assert.equal(d.s.stats.dsacksIn, 1);
  d.ack(21, 2 * MSS, [[2 * MSS, 3 * MSS]]);
  assert.equal(d.s.stats.dsacksIn, 1, "an ordinary block is not");
});

Deno.test("RFC 6675 scoreboard: IsLost, pipe and NextSeg by hand", () => {
  const h = new TcpHeader();
  const una = 0xfffffe00; // across the wrap
  const sackOf = (blocks: [number, number][]) => {
    h.sackCount = blocks.length;
    blocks.forEach(([l, r], i) => {
      h.sack[2 * i] = (una + l) >>> 0;
      h.sack[2 * i + 1] = (una + r) >>> 0;
    });
    return h;
  };
  const max = (una + 1000) >>> 0;
  const sb = new SackScoreboard();
  sb.update(sackOf([[200, 300]]), una, max);
  assert.equal(sb.lostEnd(100), 0, "one segment above the hole: not lost yet");
  assert.equal(sb.pipe(1000, 0, 100), 900);
  sb.update(sackOf([[400, 500], [200, 300]]), una, max);
  assert.equal(sb.lostEnd(100), 0, "two ranges, 2·SMSS: not yet");
  sb.update(sackOf([[600, 700], [400, 500], [200, 300]]), una, max);
  assert.equal(sb.lostEnd(100), 200, "DupThresh ranges above [0, 200): lost; [300, 400) has two above: not");
  assert.equal(sb.pipe(1000, 0, 100), 1000 - 300 - 200, "lost bytes leave the pipe");
  assert.equal(sb.nextHole(0, sb.lostEnd(100)), 0);
  assert.equal(sb.holeEnd, 200);
  assert.equal(sb.pipe(1000, 100, 100), 600, "a retransmitted lost byte counts again");
  assert.equal(sb.nextHole(200, 200), -1, "nothing lost above HighRxt 200");
  sb.update(sackOf([[700, 1000]]), una, max);
  assert.equal(sb.lostEnd(100), 600, "now [300, 400) and [500, 600) are lost too (4·SMSS above)");
  assert.equal(sb.nextHole(100, sb.lostEnd(100)), 100);
  assert.equal(sb.nextHole(200, sb.lostEnd(100)), 300);
  assert.equal(sb.holeEnd, 400);
  assert.equal(sb.update(sackOf([[2000, 2100]]), una, max), 0, "beyond SND.MAX: ignored");
  assert.equal(sb.sackedBytes, 600);
  sb.advance(500);
  assert.equal(sb.sackedBytes, 400);
  assert.equal(sb.start(0), 100, "renumbered from the new SND.UNA");
});

Deno.test("RFC 6675 recovery on a socket: the holes resent in order, SACKed data never, new data within cwnd − pipe", () => {
  const c = conn({ rack: false }); // RFC 6675 alone (RACK: tcp_recovery_test.ts)
  c.s.send(new Uint8Array(30 * MSS));
  const first = c.out(0);
  assert.equal(first.length, 10, "IW");
  // Segments 0 and 5 lost; the peer SACKs 1…4 as they arrive.
  c.ack(10, 0, [[MSS, 2 * MSS]]);
  c.ack(10, 0, [[MSS, 3 * MSS]]);
  assert.equal(c.s.congestionState, "Open", "no recovery before IsLost / three duplicates");
  assert.deepEqual(
    c.out(10).map(c.rel),
    [10 * MSS, 11 * MSS],
    "SACKed segments left the network: two new ones (as limited transmit, RFC 3042)",
  );
  c.ack(10, 0, [[MSS, 4 * MSS]]);
  assert.equal(c.s.congestionState, "Recovery", "3 SMSS SACKed above 0: IsLost(SND.UNA)");
  assert.equal(c.s.ssthresh, 6 * MSS, "FlightSize 12 halved");
  assert.equal(c.s.cwnd, 6 * MSS, "RFC 6675: cwnd = ssthresh, no inflation");
  assert.deepEqual(c.out(10).map(c.rel), [0], "the first hole at once; pipe 12 − 3 − 1 + 1 = 9 > cwnd");
  // 4 and 6…11 arrive: 5 is lost too; pipe = 12 − 10 SACKed − 2 lost + 1 retransmitted = 1
  // segment, cwnd 6: hole 5 goes (NextSeg rule 1), then new data while cwnd − pipe ≥ 1 SMSS.
  c.ack(11, 0, [[6 * MSS, 12 * MSS], [MSS, 5 * MSS]]);
  assert.deepEqual(
    c.out(11).map(c.rel),
    [5, 12, 13, 14, 15].map((i) => i * MSS),
    "hole 5, then four new segments",
  );
  assert.equal(c.s.stats.sackRetransmits, 1);
  assert.equal(c.s.stats.retransmits, 2, "nothing SACKed was resent");
  // The retransmission of 0 arrives: a partial ACK up to 5, nothing resent again.
  c.ack(20, 5 * MSS, [[6 * MSS, 12 * MSS]]);
  const r3 = c.out(20);
  assert.ok(r3.every((g) => c.rel(g) >= 16 * MSS), `only new data: ${r3.map(c.rel)}`);
  assert.equal(c.s.stats.retransmits, 2);
  c.ack(21, 16 * MSS);
  assert.equal(c.s.congestionState, "Open", "recovery ends at the recovery point");
});

Deno.test("SACK: after a timeout, go-back-N skips what the peer SACKed", () => {
  const c = conn({ initialRto: 1000, rack: false });
  c.s.send(new Uint8Array(10 * MSS));
  c.out(0);
  c.ack(10, 0, [[2 * MSS, 4 * MSS]]); // one SACK, not enough for IsLost
  assert.equal(c.s.congestionState, "Open");
  const r = c.out(1000);
  assert.deepEqual(r.map(c.rel), [0], "RTO: cwnd one segment");
  c.ack(1010, MSS, [[2 * MSS, 4 * MSS]]);
  const r2 = c.out(1010);
  assert.deepEqual(r2.map(c.rel), [MSS, 4 * MSS], "segment 1, then past the SACKed 2 and 3");
});

Deno.test("RFC 6675 IsLost: more than (DupThresh − 1)·SMSS SACKed bytes above, or DupThresh ranges", () => {
  const h = new TcpHeader();
  const sack = (sb: SackScoreboard, blocks: [number, number][]) => {
    h.sackCount = blocks.length;
    blocks.forEach(([l, r], i) => {
      h.sack[2 * i] = 5000 + l;
      h.sack[2 * i + 1] = 5000 + r;
    });
    sb.update(h, 5000, 5000 + 10000);
  };
  const a = new SackScoreboard();
  sack(a, [[1000, 3000]]); // exactly 2·SMSS (1000)
  assert.equal(a.lostEnd(1000), 0, "2·SMSS: not more than (DupThresh − 1)·SMSS");
  const b = new SackScoreboard();
  sack(b, [[1000, 3001]]);
  assert.equal(b.lostEnd(1000), 1000, "one byte more: the hole below is lost");
  const c = new SackScoreboard();
  sack(c, [[1000, 1001], [2000, 2001], [3000, 3001]]);
  assert.equal(c.lostEnd(1000), 1000, "three 1-byte ranges: DupThresh discontiguous SACKed sequences");
  assert.equal(c.pipe(10000, 0, 1000), 10000 - 3 - 1000, "pipe: the lost hole [0, 1000) leaves it");
  assert.equal(c.pipe(10000, 1000, 1000), 10000 - 3, "resent (below HighRxt): counted again");
});
