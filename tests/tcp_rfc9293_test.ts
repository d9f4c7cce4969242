/**
 * RFC 9293 conformance, segment by segment (smoltcp's style: a socket put in a state, a segment
 * fed at a virtual time, the exact segments it emits asserted): the acceptability test's four
 * cases, the processing order of §3.10.7.4, a SYN in SYN-RECEIVED, MSS with options, window
 * scaling, silly-window avoidance on the sender, zero-window probes answered, the RTO's bounds
 * and RFC 6298 §5.7, Nagle switched at run time, urgent data delivered in line. Sequence numbers
 * are relative: ours to our ISS, the peer's to REMOTE_ISS.
 */
import assert from "node:assert/strict";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from "../src/net/wire/mod.ts";
import {
  data,
  established,
  fixture,
  inState,
  kindOf,
  LOCAL_IP,
  LOCAL_PORT,
  REMOTE_IP,
  REMOTE_PORT,
  SYNCHRONIZED,
  synReceived,
} from "./_tcp_harness.ts";

const A = TCP_ACK;

Deno.test("§3.10.7.4 acceptability: zero-length segments, window open and window zero", () => {
  const f = established({ rxBufferSize: 1000, ackDelay: 0 });
  // Length 0, window 1000: RCV.NXT ≤ SEG.SEQ < RCV.NXT + RCV.WND.
  f.put(1, A, 1, 1);
  f.put(1, A, 1000, 1);
  assert.deepEqual(f.out(1), [], "acceptable: no answer");
  f.put(2, A, 1001, 1);
  assert.deepEqual(f.out(2), [["ACK", 1, 1, 0]], "at the right edge: unacceptable, an ACK");
  f.put(3, A, 0, 1);
  assert.deepEqual(f.out(3), [["ACK", 1, 1, 0]], "below RCV.NXT: unacceptable, an ACK");
  assert.equal(f.s.stats.dropOutOfWindow, 2);
  // Length 0, window 0: only SEG.SEQ = RCV.NXT.
  f.put(4, A, 1, 1, { payload: data(1000) });
  const [full] = f.raw(4);
  assert.deepEqual([full.ack - 10000, full.window], [1001, 0]);
  f.put(5, A, 1001, 1);
  assert.deepEqual(f.out(5), [], "window 0, SEG.SEQ = RCV.NXT: acceptable");
  f.put(6, A, 1002, 1);
  assert.deepEqual(f.out(6), [["ACK", 1, 1001, 0]], "window 0, beyond RCV.NXT: an ACK");
});

Deno.test("§3.10.7.4 acceptability: segments with data, window open (either end inside) and window zero", () => {
  const f = established({ rxBufferSize: 1000, ackDelay: 0 });
  f.put(1, A, 1, 1, { payload: data(100) });
  assert.deepEqual(f.out(1), [["ACK", 1, 101, 0]]);
  // Starts below RCV.NXT, ends inside: acceptable, the new 50 bytes taken.
  f.put(2, A, 51, 1, { payload: data(100) });
  assert.deepEqual(f.out(2), [["ACK", 1, 151, 0]]);
  assert.equal(f.s.recvQueue, 150);
  // Starts inside, ends beyond the window: acceptable, what fits taken (the rest counted).
  f.put(3, A, 151, 1, { payload: data(900) });
  assert.deepEqual(f.out(3), [["ACK", 1, 1001, 0]]);
  assert.equal(f.s.recvQueue, 1000);
  assert.equal(f.s.stats.dropWindowFull, 50);
  f.s.recv(new Uint8Array(1000));
  f.out(4); // the window update
  // Entirely beyond the window, entirely below RCV.NXT: unacceptable, an ACK, nothing taken.
  f.put(5, A, 2001, 1, { payload: data(10) });
  assert.deepEqual(f.out(5), [["ACK", 1, 1001, 0]]);
  f.put(6, A, 991, 1, { payload: data(10) });
  assert.deepEqual(f.out(6), [["ACK", 1, 1001, 0]]);
  assert.equal(f.s.recvQueue, 0);
  assert.equal(f.s.stats.dropOutOfWindow, 2);
});

Deno.test("§3.8.6.1 a zero-window probe is answered with an ACK of the zero window, its byte dropped", () => {
  const f = established({ rxBufferSize: 1000, ackDelay: 0 });
  f.put(1, A, 1, 1, { payload: data(1000) });
  f.out(1);
  f.put(200, A, 1001, 1, { payload: "p" });
  const [ack] = f.raw(200);
  assert.deepEqual([ack.flags, ack.ack - 10000, ack.window, ack.payload.length], ["ACK", 1001, 0, 0]);
  assert.equal(f.s.recvQueue, 1000);
  assert.equal(f.s.stats.dropWindowFull, 1);
});

Deno.test("§3.10.7.4 processing order: sequence, RST, SYN, ACK, (URG), text, FIN", async (t) => {
  await t.step(
    "sequence before RST, RST before ACK: an RST outside the window is ignored, one at RCV.NXT resets whatever its ACK",
    () => {
      const f = established();
      f.put(1, TCP_RST | A, 70000, 1);
      assert.deepEqual([f.s.state, f.s.stats.dropOutOfWindow], ["Established", 1]);
      assert.deepEqual(f.out(1), []);
      f.put(2, TCP_RST | A, 1, 9999);
      assert.deepEqual([f.s.state, f.s.closeReason], ["Closed", "Reset"]);
    },
  );
  await t.step("SYN before ACK and text: a challenge ACK, its data not taken", () => {
    // (SYN with RST or FIN never reaches a socket: parseTcp refuses those flag sets.)
    const f = established();
    f.put(1, TCP_SYN | A, 1, 1, { payload: "abc" });
    assert.deepEqual(f.out(1), [["ACK", 1, 1, 0]]);
    assert.deepEqual([f.s.state, f.s.recvQueue, f.s.stats.challengeAcks], ["Established", 0, 1]);
  });
  await t.step("no ACK bit: dropped before text and FIN", () => {
    const f = established();
    f.put(1, TCP_FIN | TCP_PSH, 1, undefined, { payload: "abc" });
    assert.deepEqual(f.out(1), []);
    assert.deepEqual([f.s.state, f.s.recvQueue, f.s.stats.dropBadAck], ["Established", 0, 1]);
  });
  await t.step("an ACK of unsent data: dropped before text (challenge ACK, RFC 5961 §5)", () => {
    const f = established();
    f.put(1, A | TCP_FIN, 1, 500, { payload: "abc" });
    assert.deepEqual(f.out(1), [["ACK", 1, 1, 0]]);
    assert.deepEqual([f.s.state, f.s.recvQueue], ["Established", 0]);
  });
  await t.step(
    "ACK, then text, then FIN: one segment moves SND.UNA, queues its data and closes the peer's half",
    () => {
      const f = established();
      f.s.send(data(10));
      f.out(0);
      f.put(1, A | TCP_FIN, 1, 11, { payload: "abc" });
      assert.deepEqual([f.s.state, f.s.recvQueue, f.s.sendQueue], ["CloseWait", 3, 0]);
      assert.deepEqual(f.out(1), [["ACK", 11, 5, 0]], "the FIN after the 3 bytes");
    },
  );
});

Deno.test("§3.10.7.4 SYN in SYN-RECEIVED: a passive open returns to LISTEN, an active one draws a challenge ACK", () => {
  const f = synReceived();
  f.put(1, TCP_SYN, 100, undefined, { mss: 1460 }); // in the window, not the retransmitted SYN
  assert.equal(f.s.state, "Listen");
  assert.deepEqual(f.out(1), [], "nothing sent");
  // Simultaneous open (SYN-RECEIVED from SYN-SENT): a synchronized-state SYN rule.
  const g = fixture();
  g.s.connect(LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT, 0);
  g.iss = g.raw(0)[0].seq;
  g.put(1, TCP_SYN, 0, undefined, { mss: 1460 });
  g.out(1);
  g.put(2, TCP_SYN, 100, undefined, { mss: 1460 });
  assert.equal(g.s.state, "SynReceived");
  assert.deepEqual(g.out(2), [["ACK", 1, 1, 0]]);
  assert.equal(g.s.stats.challengeAcks, 1);
});

Deno.test("MSS (RFC 9293 §3.7.1, RFC 6691): never above the peer's MSS or our MTU, options off the payload", () => {
  const f = established({}, { mss: 1460, ts: [5, 0] });
  assert.ok(f.s.timestamps);
  f.s.send(data(3000));
  assert.deepEqual(f.out(0), [["ACK", 1, 1, 1448], ["ACK", 1449, 1, 1448], ["PSH|ACK", 2897, 1, 104]]);
  const g = established({}, { mss: 1460, ts: [5, 0] });
  g.eg.mtu = 1000;
  g.s.send(data(2000));
  assert.deepEqual(g.out(0), [["ACK", 1, 1, 948], ["ACK", 949, 1, 948], ["PSH|ACK", 1897, 1, 104]]);
  const h = established({}, { mss: 600 });
  h.s.send(data(1000));
  assert.deepEqual(h.out(0), [["ACK", 1, 1, 600], ["PSH|ACK", 601, 1, 400]], "the peer's MSS below our MTU");
});

Deno.test("window scaling (RFC 7323 §2): the SYN's window unscaled, later ones shifted by the peer's scale", () => {
  const f = synReceived({ rxBufferSize: 262144 }, { mss: 1460, windowScale: 2, window: 1000 });
  assert.equal(f.s.sendWindow, 1000);
  f.put(0, A, 1, 1, { window: 1000 });
  assert.equal(f.s.sendWindow, 4000);
  assert.deepEqual(f.s.windowScales, [3, 2]);
  f.s.send(data(5000));
  assert.deepEqual(f.out(0), [["ACK", 1, 1, 1460], ["ACK", 1461, 1, 1460]], "1080 left: SWS holds it");
  f.put(1, A, 1, 2921, { window: 2 });
  assert.equal(f.s.sendWindow, 8);
  f.put(2, A, 1, 2921, { window: 0xffff });
  assert.equal(f.s.sendWindow, 0xffff << 2);
  const g = fixture({ rxBufferSize: 262144 });
  g.s.listen(LOCAL_IP, LOCAL_PORT);
  g.put(0, TCP_SYN, 0, undefined, { mss: 1460 }); // no scale offered: none used either way
  g.iss = g.raw(0)[0].seq;
  g.put(0, A, 1, 1, { window: 1000 });
  assert.deepEqual([g.s.sendWindow, ...g.s.windowScales], [1000, 0, 0]);
});

Deno.test("§3.8.6.2.1 sender SWS: no runt into a small window while the queue is larger, the persist timer overrides", () => {
  const f = established({}, { mss: 1000, window: 4000 });
  f.s.send(data(5000));
  assert.equal(f.out(0).length, 4);
  f.put(10, A, 1, 4001, { window: 300 }); // 300 < MSS, < half the largest window, < the 1000 queued
  assert.deepEqual(f.out(10), []);
  assert.equal(f.s.pollAt(), 10 + f.s.rto, "the override timer");
  assert.deepEqual(f.out(10 + f.s.rto), [["ACK", 4001, 1, 300]]);
  assert.equal(f.s.stats.windowProbes, 0, "a window of 300 is no zero-window probe");
  f.put(300, A, 1, 4301, { window: 2000 }); // half the largest window: sent, and the rest as a whole
  assert.deepEqual(f.out(300), [["PSH|ACK", 4301, 1, 700]]);
  // A runt that is all the queue goes out at once (nothing to wait for).
  const g = established({}, { mss: 1000, window: 4000 });
  g.s.send(data(4000));
  g.out(0);
  g.put(10, A, 1, 4001, { window: 300 });
  g.s.send(data(200));
  assert.deepEqual(g.out(10), [["PSH|ACK", 4001, 1, 200]]);
});

Deno.test("RFC 6298 §2.4–2.5: the RTO is clamped to [minRto, maxRto] through backoff", () => {
  const f = established({ minRto: 100, maxRto: 500, initialRto: 500 });
  assert.equal(f.s.rto, 100, "a 0 ms handshake sample: the floor");
  f.s.send(data(10));
  f.out(0);
  const at: number[] = [];
  for (let now = 0, i = 0; i < 5; i++) {
    now = f.s.pollAt();
    at.push(now);
    assert.deepEqual(f.out(now), [["PSH|ACK", 1, 1, 10]]);
  }
  assert.deepEqual(at, [100, 300, 700, 1200, 1700], "100, 200, 400, then 500 each");
  assert.equal(f.s.rto, 500);
});

Deno.test("RFC 6298 §5.7: after a SYN timeout and no RTT sample, data starts with an RTO of 3 s", async (t) => {
  await t.step("active open", () => {
    const f = fixture({ timestamps: false });
    f.s.connect(LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT, 0);
    f.iss = f.raw(0)[0].seq;
    assert.deepEqual(f.out(1000), [["SYN", 0, 0, 0]]);
    f.put(1100, TCP_SYN | A, 0, 1);
    assert.deepEqual([f.s.state, f.s.srtt, f.s.rto], ["Established", -1, 3000]);
    f.s.send(data(10));
    f.out(1100);
    assert.equal(f.s.pollAt(), 4100);
  });
  await t.step("passive open", () => {
    const f = synReceived({ timestamps: false });
    assert.deepEqual(f.out(1000), [["SYN|ACK", 0, 1, 0]]);
    f.put(1001, A, 1, 1);
    assert.deepEqual([f.s.state, f.s.rto], ["Established", 3000]);
  });
  await t.step("a sample from the handshake (timestamps) wins", () => {
    const f = fixture();
    f.s.connect(LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT, 0);
    f.iss = f.raw(0)[0].seq;
    const [syn] = f.raw(1000);
    f.put(1010, TCP_SYN | A, 0, 1, { ts: [1, syn.ts![0]] });
    assert.deepEqual([f.s.srtt, f.s.rto], [10, 200]);
  });
});

Deno.test("Nagle (RFC 896 / RFC 9293 §3.7.4): off by default, switchable on a live socket", () => {
  const f = established();
  assert.equal(f.s.nagle, false);
  f.s.nagle = true;
  f.s.send(data(10));
  assert.deepEqual(f.out(0), [["PSH|ACK", 1, 1, 10]]);
  f.s.send(data(10));
  assert.deepEqual(f.out(1), [], "held: 10 bytes in flight");
  f.s.nagle = false;
  assert.deepEqual(f.out(2), [["PSH|ACK", 11, 1, 10]], "switched off: sent at once");
  assert.equal(kindOf(() => (f.s.nagle = 1 as unknown as boolean)), "InvalidArgument");
});

Deno.test("urgent data (RFC 9293 §3.8.5, RFC 6093): delivered in line, the connection goes on", () => {
  const f = established({ ackDelay: 0 });
  f.put(1, A | TCP_URG | TCP_PSH, 1, 1, { payload: "hello", urgent: 3 });
  assert.deepEqual(f.out(1), [["ACK", 1, 6, 0]]);
  f.put(2, A, 6, 1, { payload: "world" });
  assert.deepEqual(f.out(2), [["ACK", 1, 11, 0]]);
  const buf = new Uint8Array(10);
  assert.equal(f.s.recv(buf), 10);
  assert.equal(new TextDecoder().decode(buf), "helloworld");
  f.put(3, A | TCP_URG | TCP_FIN, 11, 1, { urgent: 0 });
  assert.equal(f.s.state, "CloseWait");
});

Deno.test("§3.10.5 ABORT: an RST in SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT; none in CLOSING, LAST-ACK, TIME-WAIT", () => {
  const resets = ["Established", "FinWait1", "FinWait2", "CloseWait"];
  for (const state of SYNCHRONIZED) {
    const { f } = inState(state);
    f.s.abort();
    assert.equal(f.s.state, "Closed", state);
    assert.equal(f.s.closeReason, "Aborted", state);
    const out = f.out(5);
    assert.deepEqual(out.map((g) => g[0]), resets.includes(state) ? ["RST"] : [], state);
    assert.equal(f.s.pollAt(), Infinity, state);
  }
  const g = synReceived();
  g.s.abort();
  assert.deepEqual(g.out(1), [["RST", 1, 0, 0]], "SYN-RECEIVED");
});

Deno.test("§3.10.7.4 a FIN beyond a hole is held and taken when the hole fills", async (t) => {
  await t.step("data+FIN beyond a hole, the hole filled: the FIN acknowledged, CLOSE-WAIT", () => {
    const f = established({ ackDelay: 0 });
    f.put(1, A | TCP_FIN, 101, 1, { payload: data(100) });
    assert.deepEqual(f.out(1), [["ACK", 1, 1, 0]], "a duplicate ACK");
    assert.equal(f.s.state, "Established");
    f.put(2, A, 1, 1, { payload: data(100) });
    assert.deepEqual(f.out(2), [["ACK", 1, 202, 0]], "the data and the FIN");
    assert.equal(f.s.state, "CloseWait");
    const buf = new Uint8Array(300);
    assert.equal(f.s.recv(buf), 200);
    assert.equal(f.s.recv(buf), -1, "the end of the stream");
  });
  await t.step("a bare FIN beyond a hole in FIN-WAIT-2: TIME-WAIT once the hole fills", () => {
    const { f } = inState("FinWait2");
    f.put(2, A, 51, 2, { payload: data(50) });
    f.put(2, A | TCP_FIN, 101, 2);
    f.out(2);
    assert.equal(f.s.state, "FinWait2");
    f.put(3, A, 1, 2, { payload: data(50) });
    assert.deepEqual(f.out(3), [["ACK", 2, 102, 0]]);
    assert.equal(f.s.state, "TimeWait");
  });
  await t.step("a bare FIN beyond a hole in ESTABLISHED: taken when in-order data fills it", () => {
    const f = established({ ackDelay: 0, timestamps: false, sack: false }); // header prediction's case
    f.put(1, A | TCP_FIN, 101, 1); // nothing out of order held but the FIN
    assert.deepEqual(f.out(1), [["ACK", 1, 1, 0]], "a duplicate ACK");
    f.put(2, A, 1, 1, { payload: data(100) }); // next in order
    assert.deepEqual(f.out(2), [["ACK", 1, 102, 0]], "the data and the FIN");
    assert.equal(f.s.state, "CloseWait");
  });
  await t.step("a FIN beyond the window is not held", () => {
    const f = established({ ackDelay: 0, rxBufferSize: 1000 });
    f.put(1, A | TCP_FIN, 901, 1, { payload: data(100) }); // its data fits the window, the FIN does not
    f.out(1);
    f.put(2, A, 1, 1, { payload: data(900) });
    assert.deepEqual(f.out(2), [["ACK", 1, 1001, 0]], "the data, not the FIN");
    assert.equal(f.s.state, "Established");
  });
});

Deno.test("§3.8.6.1 persist: refused zero-window probes are no loss (cwnd, ssthresh, state stay); the window reopens → full segments at once", () => {
  for (const sackPermitted of [false, true]) {
    const f = established({ txBufferSize: 1 << 16 }, { mss: 1460, sackPermitted });
    f.s.send(data(20000));
    const burst = f.out(0);
    assert.equal(burst.length, 10, "the initial window");
    f.put(10, A, 1, 14601, { window: 0 }); // all acknowledged, the window closed
    const [cwnd, ssthresh, rto] = [f.s.cwnd, f.s.ssthresh, f.s.rto];
    assert.deepEqual(f.out(10), []);
    let at = f.s.pollAt();
    for (let probe = 0; probe < 2; probe++) {
      assert.deepEqual(f.out(at), [["ACK", 14601, 1, 1]], `probe ${probe + 1}`);
      f.put(at + 1, A, 1, 14601, { window: 0 }); // refused
      assert.deepEqual(f.out(at + 1), []);
      const next = f.s.pollAt();
      assert.equal(next - at, rto * 2 ** (probe + 1), "the probes back off");
      at = next;
    }
    assert.deepEqual(
      [f.s.cwnd, f.s.ssthresh, f.s.congestionState],
      [cwnd, ssthresh, "Open"],
      `sack ${sackPermitted}: no loss response`,
    );
    f.put(at - 5, A, 1, 14601, { window: 65535 }); // the window opens (the probe byte not taken)
    const out = f.out(at - 5);
    assert.deepEqual(out[0], ["ACK", 14602, 1, 1460], "a full MSS at once");
    assert.equal(out.length, 4, "what cwnd allows: the rest of the queue");
    assert.equal(f.s.cwnd, cwnd);
    assert.equal(f.s.rto, rto, "the backoff of the probes is over");
    assert.equal(f.s.stats.windowProbes, 2);
  }
});
