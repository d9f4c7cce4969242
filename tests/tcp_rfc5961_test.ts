/**
 * RFC 5961 defences, segment by segment: an RST resets only at the exact sequence number (in the
 * window it draws a challenge ACK), a SYN in a synchronized state draws a challenge ACK, an ACK
 * outside [SND.UNA − MAX.SND.WND, SND.MAX] is dropped with one, and challenge ACKs are
 * rate-limited per second.
 */
import assert from "node:assert/strict";
import { IsnGenerator, SocketError, type TcpConfig, TcpSocket } from "../src/net/socket/mod.ts";
import { TCP_ACK, TCP_RST, TCP_SYN } from "../src/net/wire/mod.ts";
import { brief, feed, LOCAL_IP, LOCAL_PORT, RecordingEgress } from "./_tcp_harness.ts";

const REMOTE_ISS = 3000;
const isn = new IsnGenerator(new Uint8Array(16).fill(0x61));

function conn(cfg: TcpConfig = {}) {
  const s = new TcpSocket({ isn, timestamps: false, ...cfg });
  const eg = new RecordingEgress(1500);
  s.listen(LOCAL_IP, LOCAL_PORT);
  feed(s, 0, { flags: TCP_SYN, seq: REMOTE_ISS, mss: 1460, window: 20000 });
  s.dispatch(0, eg);
  const iss = eg.take()[0].seq;
  const put = (now: number, flags: number, seq: number, ack: number, payload?: string) =>
    feed(s, now, { flags, seq: REMOTE_ISS + 1 + seq, ack: (iss + 1 + ack) >>> 0, payload, window: 20000 });
  put(0, TCP_ACK, 0, 0);
  assert.equal(s.state, "Established");
  const out = (now: number) => {
    s.dispatch(now, eg);
    return brief(eg.take(), { seq: (iss + 1) >>> 0, ack: REMOTE_ISS + 1 });
  };
  return { s, put, out };
}

Deno.test("RFC 5961 §3: RST at RCV.NXT resets; in the window a challenge ACK; outside ignored", () => {
  const c = conn();
  c.put(1, TCP_RST, 100, 0);
  assert.equal(c.s.state, "Established");
  assert.deepEqual(c.out(1), [["ACK", 0, 0, 0]], "challenge ACK: our SND.NXT and RCV.NXT");
  c.put(2, TCP_RST, 1 << 20, 0);
  assert.deepEqual(c.out(2), [], "outside the window: nothing");
  assert.equal(c.s.stats.challengeAcks, 1);
  c.put(3, TCP_RST, 0, 0);
  assert.equal(c.s.state, "Closed");
  assert.equal(c.s.closeReason, "Reset");
});

Deno.test("RFC 5961 §4: a SYN in a synchronized state draws a challenge ACK, even at RCV.NXT", () => {
  const c = conn();
  c.put(1, TCP_SYN, 0, 0);
  assert.deepEqual(c.out(1), [["ACK", 0, 0, 0]]);
  assert.equal(c.s.state, "Established");
  assert.equal(c.s.stats.challengeAcks, 1);
});

Deno.test("RFC 5961 §5: an ACK beyond SND.MAX or below SND.UNA − MAX.SND.WND is dropped with a challenge ACK", () => {
  const c = conn();
  c.s.send(new Uint8Array(1000));
  c.out(1);
  c.put(2, TCP_ACK, 0, 5000, "abc");
  assert.equal(c.s.recvQueue, 0, "its data is not taken");
  assert.deepEqual(c.out(2), [["ACK", 1000, 0, 0]]);
  assert.equal(c.s.stats.dropBadAck, 1);
  // Too old: more than MAX.SND.WND (20000) below SND.UNA.
  c.put(3, TCP_ACK, 0, -30000, "abc");
  assert.equal(c.s.recvQueue, 0);
  assert.deepEqual(c.out(3), [["ACK", 1000, 0, 0]]);
  assert.equal(c.s.stats.dropBadAck, 2);
  assert.equal(c.s.stats.challengeAcks, 2);
  // Old but within MAX.SND.WND: acceptable (a duplicate ACK), its data taken.
  c.put(4, TCP_ACK, 0, -100, "abc");
  assert.equal(c.s.recvQueue, 3);
  assert.equal(c.s.stats.dropBadAck, 2);
});

Deno.test("RFC 5961 §7: challenge ACKs are rate-limited per second (challengeAckLimit)", () => {
  const c = conn({ challengeAckLimit: 3 });
  for (let i = 0; i < 10; i++) {
    c.put(100 + i, TCP_RST, 10 + i, 0);
    c.out(100 + i);
  }
  assert.equal(c.s.stats.challengeAcks, 3);
  assert.equal(c.s.stats.challengeAcksLimited, 7);
  c.put(1100, TCP_SYN, 0, 0);
  assert.deepEqual(c.out(1100), [["ACK", 0, 0, 0]], "a new second: allowed again");
  const none = conn({ challengeAckLimit: 0 });
  none.put(1, TCP_SYN, 0, 0);
  assert.deepEqual(none.out(1), []);
  assert.equal(new TcpSocket().stats.challengeAcks, 0);
  assert.throws(
    () => new TcpSocket({ challengeAckLimit: -1 }),
    (e) => e instanceof SocketError && e.kind === "InvalidArgument",
  );
});
