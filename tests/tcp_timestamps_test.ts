/**
 * Timestamps (RFC 7323): negotiation in SYN and SYN-ACK, TSval/TSecr on every segment (and the
 * 12 bytes they take off the payload), an RTT sample from every ACK that moves SND.UNA (even for
 * retransmitted data, which Karn's rule leaves unsampled without them), TS.Recent's update rule
 * and PAWS.
 */
import assert from "node:assert/strict";
import { IsnGenerator, type TcpConfig, TcpSocket } from "../src/net/socket/mod.ts";
import { TCP_ACK, TCP_RST, TCP_SYN } from "../src/net/wire/mod.ts";
import {
  feed,
  LOCAL_IP,
  LOCAL_PORT,
  RecordingEgress,
  REMOTE_IP,
  REMOTE_PORT,
  type Seg,
} from "./_tcp_harness.ts";

const REMOTE_ISS = 5000;
const MSS = 1460;
const isn = new IsnGenerator(new Uint8Array(16).fill(0x17));

interface Conn {
  s: TcpSocket;
  iss: number;
  eg: RecordingEgress;
  out(now: number): Seg[];
  /** A segment from the peer: relative seq (from REMOTE_ISS + 1) and ack (from ISS + 1). */
  put(
    now: number,
    seq: number,
    ack: number,
    ts?: [number, number],
    more?: { flags?: number; payload?: string },
  ): void;
}

/** A passive connection whose peer's SYN carried TSval `peerTs` (or no timestamps with null). */
function conn(peerTs: number | null, cfg: TcpConfig = {}): Conn {
  const s = new TcpSocket({ isn, txBufferSize: 1 << 20, ...cfg });
  const eg = new RecordingEgress(1500);
  s.listen(LOCAL_IP, LOCAL_PORT);
  feed(s, 0, { flags: TCP_SYN, seq: REMOTE_ISS, mss: MSS, ...(peerTs === null ? {} : { ts: [peerTs, 0] }) });
  s.dispatch(0, eg);
  const iss = eg.sent[0].seq;
  const c: Conn = {
    s,
    iss,
    eg,
    out(now) {
      s.dispatch(now, eg);
      return eg.take();
    },
    put(now, seq, ack, ts, more = {}) {
      feed(s, now, {
        flags: more.flags ?? TCP_ACK,
        seq: REMOTE_ISS + 1 + seq,
        ack: (iss + 1 + ack) >>> 0,
        payload: more.payload,
        ...(ts ? { ts } : {}),
      });
    },
  };
  return c;
}

Deno.test("timestamps: negotiated when both SYNs carry them; every segment then has TSval/TSecr", () => {
  const c = conn(777);
  const [synAck] = c.out(0);
  assert.ok(synAck.ts, "the SYN-ACK answers with timestamps");
  assert.equal(synAck.ts![1], 777, "…echoing the SYN's TSval");
  const ourTs0 = synAck.ts![0];
  c.put(10, 0, 0, [780, ourTs0]);
  assert.equal(c.s.state, "Established");
  assert.equal(c.s.timestamps, true);
  c.s.send(new Uint8Array(3 * MSS));
  const segs = c.out(20);
  assert.ok(segs.length >= 3);
  for (const g of segs) {
    assert.deepEqual(g.ts, [(ourTs0 + 20) >>> 0, 780], "TSval in ms of our clock, TSecr = TS.Recent");
  }
  assert.equal(segs[0].payload.length, MSS - 12, "the option's 12 bytes come off the payload (RFC 6691)");
});

Deno.test("timestamps: none when the peer's SYN has none, or when we do not offer them", () => {
  const c = conn(null);
  const [synAck] = c.out(0);
  assert.equal(synAck.ts, null);
  c.put(10, 0, 0);
  assert.equal(c.s.timestamps, false);
  c.s.send(new Uint8Array(MSS));
  const [d] = c.out(20);
  assert.equal(d.ts, null);
  assert.equal(d.payload.length, MSS);
  const off = conn(777, { timestamps: false });
  assert.equal(off.out(0)[0].ts, null, "not offered: the SYN-ACK has none");
  // Active open: the SYN offers them with TSecr 0.
  const s = new TcpSocket({ isn });
  const eg = new RecordingEgress(1500);
  s.connect(LOCAL_IP, 40000, REMOTE_IP, REMOTE_PORT, 0);
  s.dispatch(5, eg);
  const [syn] = eg.take();
  assert.ok(syn.ts);
  assert.equal(syn.ts![1], 0);
  feed(s, 30, {
    flags: TCP_SYN | TCP_ACK,
    seq: REMOTE_ISS,
    ack: (syn.seq + 1) >>> 0,
    mss: MSS,
    ts: [9000, syn.ts![0]],
    srcPort: REMOTE_PORT,
    dstPort: 40000,
  });
  assert.equal(s.state, "Established");
  assert.equal(s.timestamps, true);
  assert.equal(s.srtt, 25, "the SYN-ACK's echo gives the first RTT sample");
});

Deno.test("timestamps: an RTT sample from every ACK, retransmissions included (RFC 7323 §4)", () => {
  const c = conn(100);
  const ts0 = c.out(0)[0].ts![0];
  c.put(0, 0, 0, [100, ts0]);
  c.s.send(new Uint8Array(4 * (MSS - 12)));
  const segs = c.out(0);
  assert.equal(segs.length, 4);
  const before = c.s.stats.rttSamples;
  c.put(40, 0, 2 * (MSS - 12), [140, segs[0].ts![0]]);
  c.put(50, 0, 4 * (MSS - 12), [150, segs[2].ts![0]]);
  assert.equal(c.s.stats.rttSamples - before, 2, "two ACKs, two samples");
  assert.ok(c.s.srtt > 5 && c.s.srtt < 50, `srtt ${c.s.srtt}: from 0 (the handshake) toward 40–50`);
  // A retransmission timed by its own TSval: Karn would give no sample here.
  c.s.send(new Uint8Array(100));
  c.out(100);
  const rto = c.s.rto;
  const [again] = c.out(100 + rto);
  assert.equal(again.payload.length, 100);
  assert.equal(c.s.stats.retransmits, 1);
  const n = c.s.stats.rttSamples;
  c.put(100 + rto + 30, 0, 4 * (MSS - 12) + 100, [300, again.ts![0]]);
  assert.equal(c.s.stats.rttSamples, n + 1, "the ACK of the retransmission is sampled");
});

Deno.test("PAWS: a segment with an older TSval is dropped and answered with an ACK (RFC 7323 §5)", () => {
  const c = conn(1000);
  const ts0 = c.out(0)[0].ts![0];
  c.put(0, 0, 0, [1000, ts0]);
  c.put(10, 0, 0, [2000, ts0], { payload: "new" });
  assert.equal(c.s.recvQueue, 3);
  c.out(100); // (the ACK: Last.ACK.sent moves past these bytes)
  // An old duplicate of the next bytes: in the window, but its TSval is from the past.
  c.put(20, 3, 0, [1500, ts0], { payload: "old" });
  assert.equal(c.s.stats.dropPaws, 1);
  assert.equal(c.s.recvQueue, 3, "its data is not taken");
  const [ack] = c.out(20);
  assert.equal(ack.flags, "ACK");
  assert.deepEqual(ack.ts, [(ts0 + 20) >>> 0, 2000], "TS.Recent unchanged");
  // Wrapped comparison: a TSval 2^31 − 1 ahead is newer.
  c.put(30, 3, 0, [(2000 + 0x7fffffff) >>> 0, ts0], { payload: "ok!" });
  assert.equal(c.s.recvQueue, 6);
  assert.equal(c.s.stats.dropPaws, 1);
  // An RST is never PAWS-dropped (RFC 7323 §5.3 R1): exact sequence resets.
  c.put(40, 6, 0, [5, ts0], { flags: TCP_RST });
  assert.equal(c.s.state, "Closed");
});

Deno.test("timestamps: TS.Recent only from segments at or before the last ACK sent (RFC 7323 §4.3)", () => {
  const c = conn(1000);
  const ts0 = c.out(0)[0].ts![0];
  c.put(0, 0, 0, [1000, ts0]);
  c.out(0);
  // Out of order (beyond Last.ACK.sent): kept, but its TSval is not echoed.
  c.put(10, 100, 0, [1100, ts0], { payload: "later" });
  const [dup] = c.out(10);
  assert.deepEqual(dup.ts![1], 1000);
  // The hole filled (seq = Last.ACK.sent): its TSval is.
  c.put(20, 0, 0, [1200, ts0], { payload: "x".repeat(100) });
  const [ack] = c.out(20);
  assert.equal(ack.ts![1], 1200);
});

Deno.test("timestamps: TS.Recent only from a segment that passed the RST, SYN and ACK checks (RFC 5961 drops set nothing)", () => {
  const c = conn(1000, { ackDelay: 0 });
  const ts0 = c.out(0)[0].ts![0];
  c.put(0, 0, 0, [1000, ts0]);
  c.put(1, 0, 0, [1001, ts0], { payload: "0123456789" });
  assert.equal(c.out(1)[0].ts![1], 1001);
  const far = 1001 + 0x7ffffff0;
  // Spoofed: seq inside what was just received (≤ Last.ACK.sent), an ACK far outside
  // [SND.UNA − MAX.SND.WND, SND.MAX] (RFC 5961 §5.2), a TSval far ahead.
  c.put(2, 4, 0x40000000, [far, 0], { payload: "0123456789" });
  const [challenge] = c.out(2);
  assert.equal(challenge.ts![1], 1001, "the challenge ACK echoes the old TS.Recent");
  assert.equal(c.s.stats.challengeAcks, 1);
  // A SYN at RCV.NXT (RFC 5961 §4) with a TSval far ahead: a challenge ACK, TS.Recent unchanged.
  c.put(3, 10, 0, [far, 0], { flags: TCP_SYN });
  assert.equal(c.out(3)[0].ts![1], 1001);
  assert.equal(c.s.stats.challengeAcks, 2);
  // The real peer's next segment is not taken for an old duplicate (PAWS).
  c.put(4, 10, 0, [1002, ts0], { payload: "abcdefghij" });
  const [ack] = c.out(4);
  assert.equal(c.s.stats.dropPaws, 0);
  assert.equal(c.s.recvQueue, 20);
  assert.equal(ack.ack, (REMOTE_ISS + 1 + 20) >>> 0);
  assert.equal(ack.ts![1], 1002);
});
