/**
 * Segment-level tests of the TCP state machine, in the style of smoltcp's `socket/tcp.rs`: a
 * socket is put in a state, segments are fed at a virtual time, and the exact segments it emits
 * are asserted (every one round-trips through emitTcp/parseTcp in the harness). Sequence numbers
 * in assertions are relative: ours to our ISS, the peer's to REMOTE_ISS.
 */
import assert from "node:assert/strict";
import { Assembler, ByteRing, TcpListener, tcpResetFor, TcpSocket, TcpTable } from "../src/net/socket/mod.ts";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TcpHeader } from "../src/net/wire/mod.ts";
import {
  data,
  established,
  feed,
  fixture,
  inState,
  kindOf,
  LOCAL_IP,
  LOCAL_PORT,
  type RecordingEgress,
  REMOTE_IP,
  REMOTE_ISS,
  REMOTE_PORT,
  SYNCHRONIZED,
  synReceived,
} from "./_tcp_harness.ts";

const A = TCP_ACK;

// ---- Opening ---------------------------------------------------------------------------------

Deno.test("passive open: LISTEN → SYN → SYN-ACK with our MSS and window scale → ACK → ESTABLISHED", () => {
  const f = fixture({ rxBufferSize: 262144 });
  f.s.listen(LOCAL_IP, LOCAL_PORT);
  assert.equal(f.s.state, "Listen");
  assert.equal(f.s.pollAt(), Infinity);
  f.put(0, TCP_SYN, 0, undefined, { mss: 1400, windowScale: 7 });
  assert.equal(f.s.pollAt(), 0);
  const [sa] = f.raw(0);
  f.iss = sa.seq;
  assert.deepEqual(
    [sa.flags, sa.ack, sa.mss, sa.windowScale, sa.window, sa.srcPort, sa.dstPort, sa.src, sa.dst],
    ["SYN|ACK", REMOTE_ISS + 1, 1460, 3, 65535, LOCAL_PORT, REMOTE_PORT, LOCAL_IP, REMOTE_IP],
  );
  assert.equal(f.s.remoteIp, REMOTE_IP);
  assert.equal(f.s.remotePort, REMOTE_PORT);
  f.put(1, A, 1, 1, { window: 100 });
  assert.equal(f.s.state, "Established");
  assert.equal(f.s.sendWindow, 100 << 7, "the peer's window scale applies after the handshake");
  assert.deepEqual(f.s.windowScales, [3, 7], "262144 >> 3 is the first to fit 16 bits");
  assert.equal(f.s.mss, 1400, "min(peer MSS, MTU - 40)");
  assert.deepEqual(
    f.out(1),
    [["ACK", 1, 1, 0]],
    "the window beyond the SYN-ACK's unscaled 65535 is announced",
  );
  // Our window field is scaled now: 262143 free >> 3.
  f.put(2, A | TCP_PSH, 1, 1, { payload: "x", window: 100 });
  const [ack] = f.raw(100);
  assert.equal(ack.window, (262144 - 1) >> 3);
});

Deno.test("LISTEN: an ACK draws an RST, an RST and non-SYN segments are ignored; no scaling unless offered", () => {
  const f = fixture();
  f.s.listen(0, LOCAL_PORT);
  feed(f.s, 0, { flags: A, seq: 5, ack: 777 });
  const [rst] = f.raw(0);
  assert.deepEqual([rst.flags, rst.seq, rst.dst, rst.dstPort], ["RST", 777, REMOTE_IP, REMOTE_PORT]);
  feed(f.s, 0, { flags: TCP_RST, seq: 5 });
  feed(f.s, 0, { flags: TCP_FIN, seq: 5 });
  assert.deepEqual(f.raw(0), []);
  assert.equal(f.s.state, "Listen");
  assert.equal(f.s.remoteIp, 0, "the RST did not bind the listener");
  f.put(1, TCP_SYN, 0); // no options: MSS 536, no window scale
  const [sa] = f.raw(1);
  assert.deepEqual([sa.flags, sa.windowScale, sa.mss], ["SYN|ACK", -1, 1460]);
  assert.equal(f.s.localIp, LOCAL_IP, "a wildcard listener takes the address the SYN was sent to");
  f.iss = sa.seq;
  f.put(1, A, 1, 1);
  assert.equal(f.s.mss, 536, "RFC 9293's default send MSS");
  assert.deepEqual(f.s.windowScales, [0, 0]);
});

Deno.test("SYN-RECEIVED: a retransmitted SYN resends the SYN-ACK; a bad ACK draws an RST; RST returns to LISTEN", () => {
  const f = synReceived();
  f.put(5, TCP_SYN, 0, undefined, { mss: 1460 });
  assert.deepEqual(f.out(5), [["SYN|ACK", 0, 1, 0]]);
  f.put(6, A, 1, 1000);
  assert.deepEqual(f.out(6), [["RST", 1000, 0, 0]]);
  assert.equal(f.s.state, "SynReceived");
  f.put(7, TCP_RST, 1);
  assert.equal(f.s.state, "Listen");
  assert.deepEqual(f.out(7), []);
});

Deno.test("SYN-RECEIVED: the SYN-ACK is retransmitted with backoff", () => {
  const f = synReceived();
  assert.equal(f.s.pollAt(), 1000);
  assert.deepEqual(f.out(999), []);
  assert.deepEqual(f.out(1000), [["SYN|ACK", 0, 1, 0]]);
  assert.equal(f.s.pollAt(), 3000);
  assert.deepEqual(f.out(3000), [["SYN|ACK", 0, 1, 0]]);
  assert.equal(f.s.stats.retransmits, 2);
  f.put(3001, A, 1, 1);
  assert.equal(f.s.state, "Established");
});

Deno.test("active open: SYN with MSS and window scale, SYN-ACK → ACK → ESTABLISHED", () => {
  const f = fixture();
  f.s.connect(LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT, 0);
  assert.equal(f.s.state, "SynSent");
  const [syn] = f.raw(0);
  f.iss = syn.seq;
  assert.deepEqual([syn.flags, syn.mss, syn.windowScale, syn.window], ["SYN", 1460, 1, 65535]);
  f.put(10, TCP_SYN | A, 0, 1, { mss: 1200, windowScale: 3, window: 1000 });
  assert.equal(f.s.state, "Established");
  assert.equal(f.s.sendWindow, 1000, "the window of a SYN-ACK is not scaled");
  assert.deepEqual(f.out(10), [["ACK", 1, 1, 0]]);
  assert.equal(f.s.mss, 1200);
  assert.equal(f.s.srtt, 10, "the handshake gives the first RTT sample");
});

Deno.test("SYN-SENT: a bad ACK draws an RST; RST with an acceptable ACK refuses; RST without ACK is ignored", () => {
  const f = fixture();
  f.s.connect(LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT, 0);
  f.iss = f.raw(0)[0].seq;
  f.put(1, TCP_SYN | A, 0, 5);
  assert.deepEqual(f.out(1), [["RST", 5, 0, 0]]);
  f.put(1, TCP_RST, 0);
  assert.equal(f.s.state, "SynSent");
  f.put(1, TCP_RST | A, 0, 0);
  assert.equal(f.s.state, "SynSent", "an RST whose ACK does not cover our SYN");
  f.put(2, TCP_RST | A, 0, 1);
  assert.equal(f.s.state, "Closed");
  assert.equal(f.s.closeReason, "Refused");
  assert.deepEqual(f.out(2), []);
});

Deno.test("SYN-SENT: SYN retransmission at 1 s, then 2 s, 4 s (RFC 6298 backoff)", () => {
  const f = fixture();
  f.s.connect(LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT, 0);
  f.iss = f.raw(0)[0].seq;
  assert.equal(f.s.pollAt(), 1000);
  assert.deepEqual(f.out(999), []);
  assert.deepEqual(f.out(1000), [["SYN", 0, 0, 0]]);
  assert.equal(f.s.pollAt(), 3000);
  assert.deepEqual(f.out(2999), []);
  assert.deepEqual(f.out(3000), [["SYN", 0, 0, 0]]);
  assert.equal(f.s.pollAt(), 7000);
  assert.equal(f.s.stats.timeouts, 2);
  // Karn: the SYN-ACK after retransmissions gives no RTT sample.
  f.put(3100, TCP_SYN | A, 0, 1);
  assert.equal(f.s.srtt, -1);
});

Deno.test("simultaneous open: SYN-SENT → SYN → SYN-ACK (same ISS) → SYN-ACK → ACK → ESTABLISHED", () => {
  const f = fixture();
  f.s.connect(LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT, 0);
  f.iss = f.raw(0)[0].seq;
  f.put(1, TCP_SYN, 0, undefined, { mss: 1460 });
  assert.equal(f.s.state, "SynReceived");
  assert.deepEqual(f.out(1), [["SYN|ACK", 0, 1, 0]]);
  // The peer's SYN-ACK (its SYN again): outside the window now, answered by a plain ACK.
  f.put(2, TCP_SYN | A, 0, 1);
  assert.deepEqual(f.out(2), [["ACK", 1, 1, 0]]);
  f.put(3, A, 1, 1);
  assert.equal(f.s.state, "Established");
});

// ---- RST and challenge ACKs in every synchronized state ---------------------------------------

Deno.test("RST in every synchronized state: exact sequence resets, in-window draws a challenge ACK, outside is ignored", async (t) => {
  for (const state of SYNCHRONIZED) {
    await t.step(state, () => {
      let { f, rcv } = inState(state);
      f.put(2, TCP_RST, rcv + 70000); // outside the window
      assert.equal(f.s.state, state);
      assert.deepEqual(f.out(2), state === "TimeWait" ? [] : [], "an RST is never answered out of window");
      f.put(2, TCP_RST, rcv + 10); // in the window, not exact
      assert.equal(f.s.state, state);
      const ch = f.out(2);
      assert.equal(ch.length, 1);
      assert.deepEqual([ch[0][0], ch[0][2]], ["ACK", rcv], "challenge ACK");
      assert.equal(f.s.stats.challengeAcks, 1);
      ({ f, rcv } = inState(state));
      f.put(3, TCP_RST, rcv);
      assert.equal(f.s.state, "Closed");
      assert.equal(
        f.s.closeReason,
        state === "TimeWait" || state === "Closing" || state === "LastAck" ? "Reset" : "Reset",
      );
      assert.deepEqual(f.out(3), []);
    });
  }
});

Deno.test("a SYN in a synchronized state draws a challenge ACK and changes nothing", () => {
  for (const state of ["Established", "FinWait2", "CloseWait"]) {
    const { f, rcv } = inState(state);
    f.put(5, TCP_SYN, rcv);
    assert.equal(f.s.state, state);
    const out = f.out(5);
    assert.deepEqual([out.length, out[0][0], out[0][2]], [1, "ACK", rcv]);
  }
});

Deno.test("abort sends RST in synchronized states only", () => {
  const f = established();
  f.s.send(data(10));
  f.out(0);
  f.s.abort();
  assert.equal(f.s.state, "Closed");
  assert.equal(f.s.closeReason, "Aborted");
  assert.deepEqual(f.out(0), [["RST", 11, 0, 0]]);
  const g = fixture();
  g.s.connect(LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT, 0);
  g.out(0);
  g.s.abort();
  assert.deepEqual(g.raw(0), [], "no RST for a SYN-SENT connection");
  assert.equal(g.s.pollAt(), Infinity);
});

// ---- Data ------------------------------------------------------------------------------------

Deno.test("receive: one small segment is ACKed after the delay, every second full segment at once", () => {
  const f = established();
  f.put(1, A | TCP_PSH, 1, 1, { payload: "hello" });
  assert.equal(f.s.pollAt(), 41);
  assert.deepEqual(f.out(40), []);
  assert.deepEqual(f.out(41), [["ACK", 1, 6, 0]]);
  f.put(50, A, 6, 1, { payload: data(1460) });
  assert.deepEqual(f.out(50), [], "the first full segment waits");
  f.put(51, A, 1466, 1, { payload: data(1460) });
  assert.deepEqual(f.out(51), [["ACK", 1, 2926, 0]], "the second goes at once");
  const buf = new Uint8Array(4000);
  assert.equal(f.s.recv(buf), 2925);
  assert.equal(new TextDecoder().decode(buf.subarray(0, 5)), "hello");
  assert.equal(f.s.recv(buf), 0, "nothing more now");
  const g = established({ ackDelay: 0 });
  g.put(1, A, 1, 1, { payload: "x" });
  assert.deepEqual(g.out(1), [["ACK", 1, 2, 0]], "ackDelay 0: every segment at once");
});

Deno.test("receive: out-of-order segments are kept, each draws a duplicate ACK, the hole fills them in", () => {
  const f = established({ maxOutOfOrder: 2 });
  f.put(1, A, 101, 1, { payload: data(100) });
  f.put(1, A, 301, 1, { payload: data(100) });
  assert.deepEqual(f.out(1), [["ACK", 1, 1, 0], ["ACK", 1, 1, 0]], "one duplicate ACK per segment");
  assert.equal(f.s.stats.outOfOrder, 2);
  f.put(2, A, 501, 1, { payload: data(100) });
  assert.equal(f.s.stats.dropAssemblerFull, 1, "a third range does not fit: dropped and counted");
  assert.deepEqual(f.out(2), [["ACK", 1, 1, 0]]);
  f.put(3, A, 201, 1, { payload: data(100) }); // joins the two ranges
  f.put(4, A, 1, 1, { payload: data(100) });
  assert.deepEqual(f.out(4), [["ACK", 1, 401, 0]], "the duplicate ACK still owed is overtaken");
  assert.equal(f.s.recvQueue, 400);
  const buf = new Uint8Array(400);
  f.s.recv(buf);
  for (let i = 0; i < 400; i++) assert.equal(buf[i], i % 100, `byte ${i}`);
});

Deno.test("receive: by default a range per two full segments of the receive ring (every other segment of a window lost)", () => {
  for (const [rx, ranges] of [[16 << 10, 8], [64 << 10, 23], [256 << 10, 90]]) {
    const f = synReceived({ rxBufferSize: rx, ackDelay: 0 }, { mss: 1460, windowScale: 7 });
    f.put(0, A, 1, 1);
    f.out(0); // the scaled window's update
    // Segments 1, 3, 5, … arrive, 0, 2, 4, … are lost: a range each.
    const arrive = (k: number) => f.put(1, A, 1 + (2 * k + 1) * 500, 1, { payload: data(500) });
    for (let k = 0; k < ranges; k++) arrive(k);
    f.out(1);
    assert.equal(f.s.stats.dropAssemblerFull, 0, `${rx} B: ${ranges} ranges kept`);
    assert.equal(f.s.stats.outOfOrder, ranges);
    arrive(ranges);
    assert.equal(f.s.stats.dropAssemblerFull, 1, `${rx} B: range ${ranges + 1} does not fit`);
  }
});

Deno.test("receive: segments outside the window and old duplicates are answered with an ACK and dropped", () => {
  const f = established({ rxBufferSize: 1000 });
  f.put(1, A, 5000, 1, { payload: "far" });
  assert.deepEqual(f.out(1), [["ACK", 1, 1, 0]]);
  f.put(1, A, 1, 1, { payload: data(10) });
  f.out(100);
  f.put(101, A, 1, 1, { payload: data(10) }); // a retransmission of what we have
  assert.deepEqual(f.out(101), [["ACK", 1, 11, 0]]);
  assert.equal(f.s.stats.dropOutOfWindow, 2);
  // Overlapping the left edge: the new part is taken.
  f.put(102, A, 6, 1, { payload: data(10) });
  assert.equal(f.s.recvQueue, 15);
  // Beyond the right edge: trimmed to the free space.
  f.put(103, A, 16, 1, { payload: data(2000) });
  assert.equal(f.s.recvQueue, 1000);
  assert.equal(f.s.stats.dropWindowFull, 1015);
});

Deno.test("receive: a full ring advertises a zero window, reading reopens it with a window update", () => {
  const f = established({ rxBufferSize: 4000, ackDelay: 0 });
  f.put(1, A, 1, 1, { payload: data(4000) });
  const [ack] = f.raw(1);
  assert.deepEqual([ack.ack - REMOTE_ISS, ack.window], [4001, 0]);
  // A segment into a zero window: its ACK is taken, the data is not.
  f.put(2, A, 4001, 1, { payload: "z" });
  assert.equal(f.s.recvQueue, 4000);
  f.put(2, A | TCP_FIN, 4001, 1, { payload: "z" });
  assert.equal(f.s.state, "Established", "a FIN behind dropped bytes is not taken");
  f.out(2);
  const buf = new Uint8Array(4000);
  f.s.recv(buf, 0, 100);
  assert.deepEqual(f.out(3), [], "100 bytes: below the SWS threshold, no update");
  f.s.recv(buf, 0, 1900);
  const [upd] = f.raw(4);
  assert.deepEqual([upd.flags, upd.window], ["ACK", 2000]);
});

Deno.test("send: segments of at most the MSS, never above the peer's window, PSH on the last", () => {
  const f = established({}, { mss: 1000, window: 2500 });
  assert.equal(f.s.send(data(4000)), 4000);
  assert.deepEqual(
    f.out(1),
    [["ACK", 1, 1, 1000], ["ACK", 1001, 1, 1000]],
    "2500-byte window: no 500-byte runt (SWS)",
  );
  f.put(2, A, 1, 2001, { window: 2500 });
  assert.deepEqual(f.out(2), [["ACK", 2001, 1, 1000], ["PSH|ACK", 3001, 1, 1000]]);
  const g = established({}, { mss: 1460 });
  g.eg.mtu = 576;
  g.s.send(data(1000));
  assert.deepEqual(g.out(0), [["ACK", 1, 1, 536], ["PSH|ACK", 537, 1, 464]], "our MTU bounds segments too");
});

Deno.test("send: Nagle holds a small segment while data is in flight (off by default)", () => {
  const f = established({ nagle: true });
  f.s.send(data(10));
  assert.deepEqual(f.out(0), [["PSH|ACK", 1, 1, 10]]);
  f.s.send(data(10));
  assert.deepEqual(f.out(1), [], "held");
  f.put(2, A, 1, 11);
  assert.deepEqual(f.out(2), [["PSH|ACK", 11, 1, 10]]);
  f.s.send(data(5));
  assert.deepEqual(f.out(3), [], "held behind the unacknowledged 10 bytes");
  f.s.close();
  assert.deepEqual(f.out(3), [["FIN|PSH|ACK", 21, 1, 5]], "the last runt goes with the FIN");
  const g = established();
  g.s.send(data(10));
  g.out(0);
  g.s.send(data(10));
  assert.deepEqual(g.out(1), [["PSH|ACK", 11, 1, 10]], "Nagle off: sent at once");
});

Deno.test("send: zero-copy sendView/sendCommit and recvView/recvRelease", () => {
  const f = established({ txBufferSize: 100, rxBufferSize: 100 });
  const n = f.s.sendView();
  assert.equal(n, 100);
  f.s.txBytes.set(data(30), f.s.txOffset);
  f.s.sendCommit(30);
  assert.equal(kindOf(() => f.s.sendCommit(71)), "InvalidArgument");
  assert.deepEqual(f.out(0), [["PSH|ACK", 1, 1, 30]]);
  f.put(1, A | TCP_PSH, 1, 31, { payload: data(20) });
  const m = f.s.recvView();
  assert.equal(m, 20);
  assert.deepEqual(f.s.rxBytes.subarray(f.s.rxOffset, f.s.rxOffset + m), data(20));
  f.s.recvRelease(15);
  assert.equal(f.s.recvQueue, 5);
  assert.equal(kindOf(() => f.s.recvRelease(6)), "InvalidArgument");
});

// ---- Retransmission --------------------------------------------------------------------------

Deno.test("retransmission: RTO from the RTT sample, backoff doubles it, Karn skips retransmitted samples", () => {
  const f = established();
  f.s.send(data(100));
  assert.deepEqual(f.out(0), [["PSH|ACK", 1, 1, 100]]);
  assert.equal(f.s.srtt, 0, "the handshake's sample: its ACK came at once");
  f.put(50, A, 1, 101);
  assert.equal(f.s.srtt, 6.25, "7/8 × 0 + 1/8 × 50");
  assert.equal(f.s.rto, 200, "6.25 + 4 × 12.5, raised to the 200 ms floor");
  f.s.send(data(100));
  assert.deepEqual(f.out(100), [["PSH|ACK", 101, 1, 100]]);
  assert.equal(f.s.pollAt(), 300);
  assert.deepEqual(f.out(299), []);
  assert.deepEqual(f.out(300), [["PSH|ACK", 101, 1, 100]]);
  assert.equal(f.s.pollAt(), 700, "backoff: 400");
  assert.deepEqual(f.out(700), [["PSH|ACK", 101, 1, 100]]);
  assert.equal(f.s.pollAt(), 1500, "backoff: 800");
  assert.deepEqual([f.s.stats.retransmits, f.s.stats.timeouts], [2, 2]);
  f.put(800, A, 1, 201);
  assert.equal(f.s.srtt, 6.25, "no sample from a retransmitted segment");
  assert.equal(f.s.pollAt(), Infinity);
});

Deno.test("retransmission: three duplicate ACKs trigger a fast retransmit; partial ACKs resend the next hole", () => {
  const f = established({}, { mss: 100 });
  f.s.send(data(600));
  assert.equal(f.out(0).length, 6);
  f.put(10, A, 1, 1);
  f.put(10, A, 1, 1);
  assert.deepEqual(f.out(10), []);
  f.put(11, A, 1, 1);
  assert.deepEqual(f.out(11), [["ACK", 1, 1, 100]]);
  assert.equal(f.s.stats.fastRetransmits, 1);
  assert.equal(f.s.stats.duplicateAcks, 3);
  f.put(12, A, 1, 1);
  assert.deepEqual(f.out(12), [], "a fourth duplicate in recovery sends nothing more");
  f.put(20, A, 1, 301); // partial: 301 .. 600 outstanding, 301 lost too
  assert.deepEqual(f.out(20), [["ACK", 301, 1, 100]]);
  f.put(30, A, 1, 601);
  assert.deepEqual(f.out(30), []);
  assert.equal(f.s.pollAt(), Infinity);
});

Deno.test("retransmission: the user timeout aborts a connection whose data stays unacknowledged", () => {
  const f = established({ userTimeout: 5000 });
  f.s.send(data(10));
  f.out(0);
  for (let t = 0; t <= 5000; t += 100) f.out(t);
  assert.equal(f.s.state, "Closed");
  assert.equal(f.s.closeReason, "TimedOut");
});

Deno.test("zero window: nothing sent, probes at the RTO with backoff, data flows when it opens", () => {
  const f = established({}, { mss: 1460, window: 0 });
  f.s.send(data(100));
  assert.deepEqual(f.out(0), []);
  assert.equal(f.s.pollAt(), 200, "the persist timer (the RTO)");
  assert.deepEqual(f.out(199), []);
  assert.deepEqual(f.out(200), [["ACK", 1, 1, 1]], "a one-byte probe");
  assert.equal(f.s.stats.windowProbes, 1);
  f.put(201, A, 1, 1, { window: 0 }); // probe refused
  assert.deepEqual(f.out(201), []);
  assert.equal(f.s.pollAt(), 200 + 400, "probe again after twice the RTO");
  assert.deepEqual(f.out(600), [["ACK", 1, 1, 1]]);
  assert.equal(f.s.pollAt(), 600 + 800);
  assert.equal(f.s.stats.duplicateAcks, 0, "ACKs of probes are not duplicate ACKs");
  f.put(601, A, 1, 2, { window: 1000 }); // accepted, window open
  assert.deepEqual(f.out(601), [["PSH|ACK", 2, 1, 99]]);
  assert.equal(f.s.state, "Established");
});

Deno.test("keep-alive: probes after the idle time, an answer resets them, silence aborts", () => {
  const f = established({ keepAlive: 1000, keepAliveInterval: 100, keepAliveProbes: 3 });
  assert.equal(f.s.pollAt(), 1000);
  assert.deepEqual(f.out(1000), [["ACK", 0, 1, 0]], "seq SND.NXT − 1: the peer must answer");
  f.put(1010, A, 1, 1);
  assert.equal(f.s.pollAt(), 2010);
  assert.deepEqual(f.out(2010), [["ACK", 0, 1, 0]]);
  assert.deepEqual(f.out(2110), [["ACK", 0, 1, 0]]);
  assert.deepEqual(f.out(2210), [["ACK", 0, 1, 0]]);
  assert.equal(f.s.stats.keepAlives, 4);
  f.out(2310);
  assert.equal(f.s.state, "Closed");
  assert.equal(f.s.closeReason, "TimedOut");
});

// ---- Closing ---------------------------------------------------------------------------------

Deno.test("active close: FIN-WAIT-1 → FIN-WAIT-2 (still receiving: half-close) → TIME-WAIT → CLOSED after 2 MSL", () => {
  const f = established({ timeWait: 500 });
  f.s.send(data(10));
  f.s.close();
  assert.equal(f.s.state, "FinWait1");
  assert.equal(kindOf(() => f.s.send(data(1))), "InvalidState");
  assert.deepEqual(f.out(0), [["FIN|PSH|ACK", 1, 1, 10]], "the FIN rides on the last data");
  f.put(1, A, 1, 12);
  assert.equal(f.s.state, "FinWait2");
  f.put(2, A | TCP_PSH, 1, 12, { payload: "still open" });
  assert.equal(f.s.recvQueue, 10);
  f.put(3, TCP_FIN | A, 11, 12);
  assert.equal(f.s.state, "TimeWait");
  assert.deepEqual(f.out(3), [["ACK", 12, 12, 0]]);
  assert.equal(f.s.pollAt(), 503);
  // A retransmitted FIN is ACKed again and restarts the timer.
  f.put(100, TCP_FIN | A, 11, 12);
  assert.deepEqual(f.out(100), [["ACK", 12, 12, 0]]);
  assert.equal(f.s.pollAt(), 600);
  assert.deepEqual(f.out(599), []);
  f.out(600);
  assert.equal(f.s.state, "Closed");
  assert.equal(f.s.closeReason, "Closed");
  const buf = new Uint8Array(20);
  assert.equal(f.s.recv(buf), 10, "received data outlives the connection");
  assert.equal(f.s.recv(buf), -1);
});

Deno.test("passive close: CLOSE-WAIT (we may still send) → LAST-ACK → CLOSED; data after the FIN is dropped", () => {
  const f = established();
  f.put(1, A | TCP_FIN, 1, 1, { payload: "bye" });
  assert.equal(f.s.state, "CloseWait");
  assert.deepEqual(f.out(1), [["ACK", 1, 5, 0]]);
  f.put(2, A, 5, 1, { payload: "late" });
  assert.equal(f.s.stats.dropAfterFin, 1);
  const buf = new Uint8Array(10);
  assert.equal(f.s.recv(buf), 3);
  assert.equal(f.s.recv(buf), -1, "end of stream");
  f.s.send(data(5));
  assert.deepEqual(f.out(3), [["PSH|ACK", 1, 5, 5]]);
  f.put(3, A, 5, 6);
  f.s.close();
  assert.equal(f.s.state, "LastAck");
  assert.deepEqual(f.out(4), [["FIN|ACK", 6, 5, 0]]);
  assert.equal(f.s.pollAt(), 4 + 200, "the FIN is retransmitted");
  assert.deepEqual(f.out(204), [["FIN|ACK", 6, 5, 0]]);
  f.put(205, A, 5, 7);
  assert.equal(f.s.state, "Closed");
  assert.equal(f.s.closeReason, "Closed");
});

Deno.test("simultaneous close: FIN-WAIT-1 → CLOSING → TIME-WAIT", () => {
  const f = established({ timeWait: 100 });
  f.s.close();
  assert.deepEqual(f.out(0), [["FIN|ACK", 1, 1, 0]]);
  f.put(1, TCP_FIN | A, 1, 1);
  assert.equal(f.s.state, "Closing");
  assert.deepEqual(f.out(1), [["ACK", 2, 2, 0]]);
  f.put(2, A, 2, 2);
  assert.equal(f.s.state, "TimeWait");
  f.out(102);
  assert.equal(f.s.state, "Closed");
});

Deno.test("FIN-WAIT-1: a FIN that also acknowledges ours goes straight to TIME-WAIT", () => {
  const f = established();
  f.s.close();
  f.out(0);
  f.put(1, TCP_FIN | A, 1, 2);
  assert.equal(f.s.state, "TimeWait");
  assert.deepEqual(f.out(1), [["ACK", 2, 2, 0]]);
});

Deno.test("close before the handshake ends: LISTEN and SYN-SENT close at once; SYN-RECEIVED sends FIN once established", () => {
  const f = fixture();
  f.s.listen(LOCAL_IP, LOCAL_PORT);
  f.s.close();
  assert.equal(f.s.state, "Closed");
  const g = synReceived();
  g.s.close();
  assert.equal(g.s.state, "SynReceived");
  g.put(1, A, 1, 1);
  assert.equal(g.s.state, "FinWait1");
  assert.deepEqual(g.out(1), [["FIN|ACK", 1, 1, 0]]);
});

// ---- Robustness and API ----------------------------------------------------------------------

Deno.test("a refused transmit changes nothing: the segment goes out on the next dispatch", () => {
  const f = established();
  f.s.send(data(10));
  f.eg.refuse = true;
  assert.equal(f.s.dispatch(0, f.eg), 0);
  assert.equal(f.s.pollAt(), 0);
  f.eg.refuse = false;
  assert.deepEqual(f.out(1), [["PSH|ACK", 1, 1, 10]]);
  assert.equal(f.s.stats.retransmits, 0);
});

Deno.test("ACKs of unsent data are answered and ignored; segments without ACK are dropped", () => {
  const f = established();
  f.put(1, A, 1, 500);
  assert.deepEqual(f.out(1), [["ACK", 1, 1, 0]]);
  assert.equal(f.s.stats.dropBadAck, 1);
  f.put(1, TCP_PSH, 1, undefined, { payload: "noack" });
  assert.equal(f.s.recvQueue, 0);
  assert.equal(f.s.stats.dropBadAck, 2);
});

Deno.test("sequence numbers wrap modulo 2^32", () => {
  const f = fixture();
  f.s.listen(LOCAL_IP, LOCAL_PORT);
  feed(f.s, 0, { flags: TCP_SYN, seq: 0xffffff00, mss: 1460 });
  const [sa] = f.raw(0);
  feed(f.s, 1, { flags: A, seq: 0xffffff01, ack: (sa.seq + 1) >>> 0 });
  for (let i = 0; i < 4; i++) {
    feed(f.s, 2, {
      flags: A,
      seq: (0xffffff01 + 100 * i) >>> 0,
      ack: (sa.seq + 1) >>> 0,
      payload: data(100),
    });
  }
  assert.equal(f.s.recvQueue, 400);
  const [ack] = f.raw(100);
  assert.equal(ack.ack, (0xffffff01 + 400) >>> 0);
});

Deno.test("API: arguments are validated, states enforced, dispose is idempotent", () => {
  assert.equal(kindOf(() => new TcpSocket({ rxBufferSize: 0 })), "InvalidArgument");
  assert.equal(kindOf(() => new TcpSocket({ ackDelay: 501 })), "InvalidArgument");
  assert.equal(kindOf(() => new TcpSocket({ minRto: 0 })), "InvalidArgument");
  assert.equal(kindOf(() => new TcpSocket({ maxOutOfOrder: 0 })), "InvalidArgument");
  const s = new TcpSocket();
  assert.equal(kindOf(() => s.connect(1, 0, 2, 80, 0)), "InvalidArgument");
  assert.equal(kindOf(() => s.connect(1, 1000, 2, 80, -1)), "InvalidArgument");
  assert.equal(kindOf(() => s.listen(1, 70000)), "InvalidArgument");
  assert.equal(kindOf(() => s.send(new Uint8Array(1))), "InvalidState");
  assert.equal(kindOf(() => s.recv(new Uint8Array(1), 2)), "InvalidArgument");
  s.listen(0, 80);
  assert.equal(kindOf(() => s.connect(1, 1000, 2, 80, 0)), "InvalidState");
  assert.equal(s.recv(new Uint8Array(1)), 0, "a listener may still receive");
  s[Symbol.dispose]();
  s[Symbol.dispose]();
  assert.equal(kindOf(() => s.listen(0, 80)), "Disposed");
  assert.equal(kindOf(() => s.recv(new Uint8Array(1))), "Disposed");
});

Deno.test("API: process and dispatch refuse a payload range outside the buffer and a bad time", () => {
  const f = established();
  const h = new TcpHeader();
  assert.equal(
    kindOf(() => f.s.process(0, REMOTE_IP, LOCAL_IP, h, new Uint8Array(10), 5, 6)),
    "InvalidArgument",
  );
  assert.equal(
    kindOf(() => f.s.process(NaN, REMOTE_IP, LOCAL_IP, h, new Uint8Array(10), 0, 0)),
    "InvalidArgument",
  );
  assert.equal(kindOf(() => f.s.dispatch(NaN, f.eg)), "InvalidArgument");
  assert.equal(f.s.state, "Established");
});

Deno.test("data queued while connecting goes out once established, in the segment after the handshake's ACK", () => {
  const f = fixture();
  f.s.connect(LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT, 0);
  f.iss = f.raw(0)[0].seq;
  assert.equal(f.s.send(data(3000)), 3000);
  assert.deepEqual(f.out(1), [], "nothing but the SYN before the SYN-ACK");
  f.put(10, TCP_SYN | A, 0, 1, { mss: 1460 });
  assert.deepEqual(f.out(10), [["ACK", 1, 1, 1460], ["ACK", 1461, 1, 1460], ["PSH|ACK", 2921, 1, 80]]);
});

Deno.test("the handshake is given up after synRetries: SYN-SENT closes, a passive SYN-RECEIVED listens again", () => {
  const f = fixture({ synRetries: 2 });
  f.s.connect(LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT, 0);
  f.iss = f.raw(0)[0].seq;
  assert.deepEqual(f.out(1000), [["SYN", 0, 0, 0]]);
  assert.deepEqual(f.out(3000), [["SYN", 0, 0, 0]]);
  assert.equal(f.s.pollAt(), 7000);
  assert.deepEqual(f.out(7000), []);
  assert.deepEqual([f.s.state, f.s.closeReason], ["Closed", "TimedOut"]);
  const g = synReceived({ synRetries: 1 });
  assert.deepEqual(g.out(1000), [["SYN|ACK", 0, 1, 0]]);
  assert.deepEqual(g.out(3000), []);
  assert.equal(g.s.state, "Listen");
  assert.equal(g.s.pollAt(), Infinity);
});

Deno.test("API: the storage classes and the socket refuse arguments of the wrong kind", () => {
  const f = established();
  const p = new Uint8Array(4);
  assert.equal(
    kindOf(() => f.s.process(0, REMOTE_IP, LOCAL_IP, {} as TcpHeader, p, 0, 0)),
    "InvalidArgument",
  );
  assert.equal(
    kindOf(() => f.s.process(0, REMOTE_IP, LOCAL_IP, new TcpHeader(), [] as unknown as Uint8Array, 0, 0)),
    "InvalidArgument",
  );
  assert.equal(kindOf(() => f.s.dispatch(0, {} as RecordingEgress)), "InvalidArgument");
  const r = new ByteRing(8);
  assert.equal(kindOf(() => r.write(p, 2, 3)), "InvalidArgument");
  assert.equal(kindOf(() => r.writeAt(6, p, 0, 4)), "InvalidArgument");
  assert.equal(kindOf(() => r.consume(1)), "InvalidArgument");
  assert.equal(kindOf(() => r.commit(9)), "InvalidArgument");
  assert.equal(kindOf(() => r.peek(0, p, 1, 4)), "InvalidArgument");
  const a = new Assembler(2);
  assert.equal(kindOf(() => a.add(-1, 5)), "InvalidArgument");
  assert.equal(kindOf(() => a.add(0, 0)), "InvalidArgument");
  assert.equal(kindOf(() => a.advance(-1)), "InvalidArgument");
});

Deno.test("a window scale above 14 is taken as 14 (RFC 7323 §2.3); an MSS option of 0 as the default 536", () => {
  const f = established({}, { mss: 0, windowScale: 20, window: 65535 });
  assert.deepEqual(f.s.windowScales[1], 14);
  f.put(1, A, 1, 1, { window: 2 });
  assert.equal(f.s.sendWindow, 2 << 14);
  assert.equal(f.s.mss, 536);
});

Deno.test("a tiny peer MSS is raised to 48; segments for another port or peer are ignored", () => {
  const f = established({}, { mss: 10 });
  assert.equal(f.s.mss, 48);
  f.s.send(data(100));
  assert.deepEqual(f.out(0), [["ACK", 1, 1, 48], ["ACK", 49, 1, 48], ["PSH|ACK", 97, 1, 4]]);
  feed(f.s, 1, { flags: TCP_RST, seq: REMOTE_ISS + 1, dstPort: LOCAL_PORT + 1 });
  feed(f.s, 1, { flags: TCP_RST, seq: REMOTE_ISS + 1, srcPort: REMOTE_PORT + 1 });
  assert.equal(f.s.state, "Established");
  assert.equal(f.s.stats.dropIgnored, 2);
  feed(f.s, 1, { flags: TCP_RST, seq: REMOTE_ISS + 1 });
  assert.equal(f.s.state, "Closed", "the same RST from the peer");
});

Deno.test("a ring larger than an unscaled window: 65535 is advertised, and no endless window updates", () => {
  const f = established({ rxBufferSize: 262144, ackDelay: 0 }, { mss: 1460 }); // the peer offers no scaling
  assert.deepEqual(f.s.windowScales, [0, 0]);
  assert.equal(f.s.pollAt(), Infinity);
  f.put(1, A, 1, 1, { payload: data(1000) });
  const [ack] = f.raw(1);
  assert.equal(ack.window, 65535);
  assert.equal(f.s.pollAt(), Infinity, "nothing more to say");
  f.s.recv(new Uint8Array(1000));
  assert.deepEqual(f.out(2), [], "reading cannot widen a window that is already at its maximum");
});

Deno.test("tcpResetFor: the RST answering a segment no connection takes (RFC 9293 §3.10.7.1)", () => {
  const h = new TcpHeader();
  const out = new TcpHeader();
  Object.assign(h, { srcPort: 1234, dstPort: 80, seq: 1000, ack: 5000, flags: TCP_ACK | TCP_PSH });
  assert.equal(tcpResetFor(h, 10, out), true);
  assert.deepEqual([out.srcPort, out.dstPort, out.seq, out.ack, out.flags], [80, 1234, 5000, 0, TCP_RST]);
  Object.assign(h, { seq: 0xffffffff, flags: TCP_SYN });
  tcpResetFor(h, 0, out);
  assert.deepEqual([out.seq, out.ack, out.flags], [0, 0, TCP_RST | TCP_ACK], "SYN: ack = seq + 1, wrapped");
  Object.assign(h, { seq: 7, flags: TCP_FIN });
  tcpResetFor(h, 3, out);
  assert.equal(out.ack, 11, "payload and FIN count");
  h.flags = TCP_RST;
  assert.equal(tcpResetFor(h, 0, out), false, "an RST is never answered");
  const s = new TcpSocket();
  feed(s, 0, { flags: TCP_SYN, seq: 1 });
  assert.deepEqual([s.state, s.stats.dropIgnored], ["Closed", 1], "a closed socket takes nothing");
});

Deno.test("tcpResetFor refuses arguments of the wrong kind", () => {
  assert.equal(kindOf(() => tcpResetFor({} as TcpHeader, 0, new TcpHeader())), "InvalidArgument");
  assert.equal(kindOf(() => tcpResetFor(new TcpHeader(), -1, new TcpHeader())), "InvalidArgument");
});

Deno.test("API: BigInts and other non-numbers are InvalidArgument, never a TypeError from inside", () => {
  const f = established();
  const h = new TcpHeader();
  const big = 1n as unknown as number;
  const p = new Uint8Array(4);
  assert.equal(kindOf(() => f.s.process(0, REMOTE_IP, LOCAL_IP, h, p, big, 1)), "InvalidArgument");
  assert.equal(kindOf(() => f.s.process(big, REMOTE_IP, LOCAL_IP, h, p, 0, 0)), "InvalidArgument");
  assert.equal(kindOf(() => f.s.dispatch(big, f.eg)), "InvalidArgument");
  assert.equal(kindOf(() => f.s.send(p, big)), "InvalidArgument");
  assert.equal(kindOf(() => f.s.recv(p, 0, big)), "InvalidArgument");
  assert.equal(kindOf(() => f.s.connect(big, 1, 2, 3, 0)), "InvalidState");
  assert.equal(kindOf(() => new TcpSocket({ rxBufferSize: big })), "InvalidArgument");
  assert.equal(kindOf(() => new TcpTable<number>(4).get(big, 1, 2, 3)), "InvalidArgument");
  assert.equal(kindOf(() => new TcpListener(0, 80).onSyn(0, 1, 2, {} as TcpHeader)), "InvalidArgument");
});
