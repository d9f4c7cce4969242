/**
 * Fuzzing the TCP state machine: sockets in every reachable state are fed random segments
 * (random flags, sequence numbers near and far from the window, random ACKs, windows, options
 * and payloads) at random times. `process`, `dispatch` and `pollAt` must never throw, every
 * emitted segment must be well-formed (the harness re-parses it), and the socket's numbers stay
 * sane. Iterations: MELIN_FUZZ_ITERATIONS / 5 (default 20k), seed: MELIN_FUZZ_SEED.
 */
import assert from "node:assert/strict";
import { IsnGenerator, TcpSocket } from "../src/net/socket/mod.ts";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../src/net/wire/mod.ts";
import { feed, LOCAL_IP, LOCAL_PORT, RecordingEgress, REMOTE_IP, REMOTE_PORT, rng } from "./_tcp_harness.ts";

const ITERATIONS = Number(Deno.env.get("MELIN_FUZZ_ITERATIONS") ?? 100_000) / 5;
const SEED = Number(Deno.env.get("MELIN_FUZZ_SEED") ?? 0x7c9);

Deno.test(`TCP socket fuzz: ${ITERATIONS} random segments never throw and keep the socket sane`, () => {
  const rand = rng(SEED);
  const int = (n: number) => Math.floor(rand() * n);
  const isn = new IsnGenerator(new Uint8Array(16));
  const states = new Set<string>();
  const sizes = [3000, 70000, 262144];
  let size = 3000;
  let s = new TcpSocket({ isn, rxBufferSize: size, txBufferSize: size, timeWait: 300, keepAlive: 500 });
  const eg = new RecordingEgress(1500);
  let now = 0;
  let peerSeq = 0;
  let ourSeq = 0;
  for (let n = 0; n < ITERATIONS; n++) {
    if (n % 200 === 0 || s.state === "Closed") {
      size = sizes[int(sizes.length)];
      s = new TcpSocket({ isn, rxBufferSize: size, txBufferSize: size, timeWait: 300, keepAlive: 500 });
      peerSeq = int(2 ** 32);
      if (rand() < 0.5) s.listen(LOCAL_IP, LOCAL_PORT);
      else s.connect(LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT, now);
      s.dispatch(now, eg);
      ourSeq = eg.sent.length > 0 ? (eg.sent[eg.sent.length - 1].seq + 1) >>> 0 : 0;
      eg.take();
    }
    // Mostly plausible segments (near the peer's sequence and our ISS), some wild ones.
    let flags = TCP_ACK;
    const r = rand();
    if (r < 0.08) flags = TCP_SYN;
    else if (r < 0.14) flags = TCP_SYN | TCP_ACK;
    else if (r < 0.2) flags = TCP_RST | (rand() < 0.5 ? TCP_ACK : 0);
    else if (r < 0.3) flags = TCP_FIN | TCP_ACK;
    else if (r < 0.33) flags = int(256) & ~(TCP_SYN | TCP_FIN) | (rand() < 0.5 ? TCP_SYN : TCP_FIN);
    if ((flags & TCP_SYN) && (flags & (TCP_FIN | TCP_RST))) flags &= ~TCP_SYN; // the wire refuses these
    const near = rand() < 0.85;
    const seq = near ? (rand() < 0.6 ? peerSeq : (peerSeq + int(4000) - 1000) >>> 0) : int(2 ** 32);
    const ack = near ? (rand() < 0.6 ? ourSeq : (ourSeq + int(4000) - 2000) >>> 0) : int(2 ** 32);
    const len = rand() < 0.5 ? 0 : int(1600);
    feed(s, now, {
      flags,
      seq,
      ack,
      window: rand() < 0.1 ? 0 : int(65536),
      mss: rand() < 0.3 ? int(65536) : -1,
      windowScale: rand() < 0.3 ? int(20) : -1,
      payload: new Uint8Array(len).fill(n & 0xff),
      sackPermitted: (flags & TCP_SYN) !== 0 && rand() < 0.6,
      // SACK blocks near what we sent (RACK, the scoreboard, D-SACK), some wild.
      sack: rand() < 0.3
        ? Array.from({ length: 1 + int(3) }, () => {
          const l = near ? (ourSeq + int(6000) - 3000) >>> 0 : int(2 ** 32);
          return [l, (l + int(3000)) >>> 0] as [number, number];
        })
        : [],
    });
    if (flags & TCP_SYN) peerSeq = (seq + 1) >>> 0;
    // The application side.
    const a = rand();
    try {
      if (a < 0.3 && s.maySend) s.send(new Uint8Array(int(4000)));
      else if (a < 0.5) s.recv(new Uint8Array(int(4000)));
      else if (a < 0.52) s.close();
      else if (a < 0.53) s.abort();
    } catch (e) {
      assert.fail(`seed ${SEED} input ${n}: the application call threw ${e}`);
    }
    now += rand() < 0.1 ? int(3000) : int(5);
    const sent = s.dispatch(now, eg);
    // After a dispatch whose every transmit succeeded, nothing is due at once (no busy loop).
    if (sent < 256) {
      assert.notEqual(s.pollAt(), 0, `seed ${SEED} input ${n}: pollAt 0 after dispatch in ${s.state}`);
    }
    const out = eg.take();
    const pureAcks = out.filter((g) => g.payload.length === 0 && g.flags === "ACK").length;
    assert.ok(pureAcks <= 17, `seed ${SEED} input ${n}: ${pureAcks} pure ACKs in one dispatch (${s.state})`);
    for (const g of out) {
      assert.ok(g.payload.length <= 1460, "never above our MSS");
      // Track what the socket expects: its next sequence number and its RCV.NXT.
      ourSeq = (g.seq + g.payload.length + (g.flags.includes("SYN") || g.flags.includes("FIN") ? 1 : 0)) >>>
        0;
      if (g.flags.includes("ACK")) peerSeq = g.ack;
    }
    const p = s.pollAt();
    assert.ok(p === 0 || p === Infinity || (Number.isFinite(p) && p > 0), `pollAt ${p}`);
    // Nothing left overdue either: a timer at or before `now` would make the caller spin.
    if (sent < 256) assert.ok(p > now, `seed ${SEED} input ${n}: pollAt ${p} ≤ now ${now} in ${s.state}`);
    assert.ok(s.recvQueue <= size && s.sendQueue <= size);
    assert.ok(Number.isFinite(s.rto) && s.rto >= 200 && s.rto <= 60000);
    states.add(s.state);
  }
  // Every state must have been visited (states are sampled after each dispatch).
  const all = ["Listen", "SynSent", "SynReceived", "Established", "FinWait1", "FinWait2", "CloseWait"];
  all.push("Closing", "LastAck", "TimeWait");
  for (const st of all) assert.ok(states.has(st), `never reached ${st}: ${[...states]}`);
});
