/**
 * Congestion control: the initial window (RFC 6928), slow start, NewReno fast recovery with
 * partial ACKs (RFC 5681 / RFC 6582), the timeout response, restart after idle, CUBIC's window
 * against RFC 9438's formulas, and the `"none"` mode; segment-level, on a virtual clock.
 */
import assert from "node:assert/strict";
import {
  Congestion,
  CUBIC_BETA,
  CUBIC_C,
  CWND_UNLIMITED,
  initialWindow,
  IsnGenerator,
  SocketError,
  type TcpConfig,
  TcpSocket,
} from "../src/net/socket/mod.ts";
import { TCP_ACK, TCP_SYN } from "../src/net/wire/mod.ts";
import { brief, feed, LOCAL_IP, LOCAL_PORT, RecordingEgress } from "./_tcp_harness.ts";

const REMOTE_ISS = 10000;
const MSS = 1460;
const isn = new IsnGenerator(new Uint8Array(16).fill(0x42));

interface Conn {
  s: TcpSocket;
  iss: number;
  /** Segments sent at `now`: [flags, relative seq, relative ack, payload length]. */
  out(now: number): [string, number, number, number][];
  /** An ACK from the peer acknowledging `ack` bytes of our data (relative to ISS + 1). */
  ack(now: number, ack: number, window?: number): void;
}

/** An established passive connection (the peer's MSS 1460, window 65535 unscaled) with `n` bytes queued. */
function conn(cfg: TcpConfig = {}, n = 0): Conn {
  const s = new TcpSocket({ isn, txBufferSize: 1 << 20, ...cfg });
  const eg = new RecordingEgress(1500);
  s.listen(LOCAL_IP, LOCAL_PORT);
  feed(s, 0, { flags: TCP_SYN, seq: REMOTE_ISS, mss: MSS });
  s.dispatch(0, eg);
  const iss = eg.take()[0].seq;
  const c: Conn = {
    s,
    iss,
    out(now) {
      s.dispatch(now, eg);
      return brief(eg.take(), { seq: (iss + 1) >>> 0, ack: REMOTE_ISS + 1 });
    },
    ack(now, ack, window = 65535) {
      feed(s, now, { flags: TCP_ACK, seq: REMOTE_ISS + 1, ack: (iss + 1 + ack) >>> 0, window });
    },
  };
  feed(s, 0, { flags: TCP_ACK, seq: REMOTE_ISS + 1, ack: (iss + 1) >>> 0, window: 65535 });
  assert.equal(s.state, "Established");
  if (n > 0) assert.equal(s.send(new Uint8Array(n)), n);
  return c;
}

/** Starts of the data segments in `segs`. */
const starts = (segs: [string, number, number, number][]) => segs.filter((g) => g[3] > 0).map((g) => g[1]);
const seg = (i: number) => i * MSS;

Deno.test("congestion: the initial window is 10 segments (RFC 6928), then slow start", () => {
  assert.equal(initialWindow(1460), 14600);
  assert.equal(initialWindow(536), 5360);
  assert.equal(initialWindow(9000), 18000, "max(2·MSS, 14600) caps large MSS");
  const c = conn({}, 100 * MSS);
  assert.equal(c.s.cwnd, 14600);
  assert.equal(c.s.ssthresh, CWND_UNLIMITED);
  assert.deepEqual(starts(c.out(0)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(seg), "IW = 10 segments");
  assert.deepEqual(c.out(0), [], "the window is full");
  assert.equal(c.s.stats.cwnd, 14600, "the counters show cwnd");
  // An ACK of two segments: cwnd += min(acked, 2·SMSS) (RFC 3465, L = 2): four segments go.
  c.ack(10, seg(2));
  assert.equal(c.s.cwnd, 14600 + 2 * MSS);
  assert.deepEqual(starts(c.out(10)), [10, 11, 12, 13].map(seg));
  assert.equal(c.s.congestionState, "Open");
});

Deno.test("congestion: a SYN that had to be retransmitted leaves an initial window of one segment", () => {
  const s = new TcpSocket({ isn });
  const eg = new RecordingEgress(1500);
  s.connect(LOCAL_IP, 40000, 0x0a000002, 80, 0);
  s.dispatch(0, eg);
  s.dispatch(1000, eg); // the SYN again
  const [syn] = eg.take();
  feed(s, 1010, {
    flags: TCP_SYN | TCP_ACK,
    seq: REMOTE_ISS,
    ack: (syn.seq + 1) >>> 0,
    mss: MSS,
    srcPort: 80,
    dstPort: 40000,
  });
  assert.equal(s.state, "Established");
  assert.equal(s.cwnd, MSS);
});

/**
 * 10 segments out, the first lost: the first two duplicate ACKs send a new segment each (Limited
 * Transmit), the third starts fast recovery.
 */
function recovery(cfg: TcpConfig = {}): Conn {
  const c = conn(cfg, 100 * MSS);
  assert.equal(starts(c.out(0)).length, 10);
  c.ack(10, 0);
  assert.deepEqual(starts(c.out(10)), [seg(10)], "duplicate 1: one new segment");
  c.ack(10, 0);
  assert.deepEqual(starts(c.out(10)), [seg(11)], "duplicate 2: one new segment");
  c.ack(10, 0);
  return c;
}

Deno.test("NewReno: three duplicate ACKs: ssthresh = flight/2, cwnd = ssthresh + 3·SMSS, the hole again", () => {
  const c = recovery();
  assert.equal(
    c.s.ssthresh,
    5 * MSS,
    "FlightSize 10 segments halved (what Limited Transmit sent not counted)",
  );
  assert.equal(c.s.cwnd, 8 * MSS);
  assert.equal(c.s.congestionState, "Recovery");
  assert.equal(c.s.stats.recoveries, 1);
  assert.deepEqual(
    starts(c.out(10)),
    [0],
    "the first unacknowledged segment, nothing new (cwnd 8 < flight 12)",
  );
  // Each further duplicate inflates cwnd by one SMSS; above the flight size new data goes.
  for (let i = 0; i < 6; i++) c.ack(11, 0);
  assert.equal(c.s.cwnd, 14 * MSS);
  assert.deepEqual(starts(c.out(11)), [12, 13].map(seg), "cwnd 14 − flight 12 = 2 new segments");
});

Deno.test("NewReno: a partial ACK resends the next hole at once and deflates cwnd (RFC 6582)", () => {
  const c = recovery();
  c.out(10);
  for (let i = 0; i < 6; i++) c.ack(11, 0); // 9 duplicates in all: segments 1…9 arrived
  c.out(11); // segments 12, 13 (10 and 11 went by Limited Transmit)
  // The retransmission of segment 0 arrives; segment 4 was lost too: ACK up to it (partial).
  c.ack(20, seg(4));
  assert.equal(c.s.stats.partialAcks, 1);
  assert.equal(c.s.cwnd, 14 * MSS - 4 * MSS + MSS, "deflated by the bytes acknowledged, one SMSS back");
  assert.equal(c.s.congestionState, "Recovery");
  const o = c.out(20);
  assert.equal(o[0][1], seg(4), "the next hole goes first");
  assert.equal(o[0][3], MSS);
  assert.equal(c.s.stats.retransmits, 2);
  // The ACK of everything up to `recover` (SND.MAX at the loss, segment 12) ends recovery:
  // cwnd = min(ssthresh, max(flight, SMSS) + SMSS), flight = what is still out.
  c.ack(30, seg(12));
  assert.equal(c.s.congestionState, "Open");
  const flight = seg(14) + o.filter((g) => g[1] >= seg(14)).reduce((n, g) => n + g[3], 0) - seg(12);
  assert.equal(c.s.cwnd, Math.min(5 * MSS, flight + MSS));
  assert.equal(c.s.ssthresh, 5 * MSS);
});

Deno.test("NewReno: after a partial ACK each duplicate still inflates cwnd by one SMSS (RFC 6582 §3.2 step 4)", () => {
  const c = recovery();
  c.out(10);
  for (let i = 0; i < 6; i++) c.ack(11, 0);
  c.out(11); // segments 12, 13
  c.ack(20, seg(4)); // partial: cwnd 14 − 4 + 1 = 11, flight 10
  assert.equal(c.s.cwnd, 11 * MSS);
  assert.deepEqual(starts(c.out(20)), [seg(4), seg(14)], "the hole, then one new segment");
  c.ack(21, seg(4)); // a duplicate (segment 5 arrived)
  assert.equal(c.s.cwnd, 12 * MSS, "inflated, not counted as a first duplicate");
  assert.deepEqual(starts(c.out(21)), [seg(15)]);
  c.ack(22, seg(4));
  assert.deepEqual(starts(c.out(22)), [seg(16)]);
  assert.equal(c.s.stats.recoveries, 1, "no new recovery from these duplicates");
});

Deno.test("Limited Transmit (RFC 3042) without SACK: the first two duplicate ACKs each send one new segment, cwnd unchanged", async (t) => {
  await t.step("cwnd-limited with data queued", () => {
    const c = conn({ sack: false }, 40 * MSS);
    assert.equal(starts(c.out(0)).length, 10);
    const cwnd = c.s.cwnd;
    c.ack(5, 0);
    assert.deepEqual(starts(c.out(5)), [seg(10)], "duplicate 1");
    assert.deepEqual(c.out(5), [], "only one");
    c.ack(6, 0);
    assert.deepEqual(starts(c.out(6)), [seg(11)], "duplicate 2");
    assert.equal(c.s.cwnd, cwnd);
    assert.equal(c.s.congestionState, "Open");
    c.ack(7, 0);
    assert.deepEqual(starts(c.out(7)), [0], "duplicate 3: fast retransmit");
    assert.equal(c.s.ssthresh, 5 * MSS, "flight 10 segments, not 12");
  });
  await t.step("not beyond the peer's window, and only new data", () => {
    const c = conn({ sack: false }, 40 * MSS);
    c.out(0);
    c.ack(5, 0, 10 * MSS); // the window is full
    assert.deepEqual(c.out(5), []);
    const d = conn({ sack: false }, 10 * MSS);
    d.out(0);
    d.ack(5, 0);
    assert.deepEqual(d.out(5), [], "nothing new queued: nothing");
  });
});

Deno.test("NewReno: a timeout drops cwnd to one segment, goes back to SND.UNA, slow-starts; ssthresh halves once", () => {
  const c = conn({ initialRto: 1000 }, 100 * MSS);
  c.out(0);
  assert.deepEqual(starts(c.out(1000)), [0], "RTO: one segment from SND.UNA");
  assert.equal(c.s.cwnd, MSS);
  assert.equal(c.s.ssthresh, 5 * MSS);
  assert.equal(c.s.congestionState, "Loss");
  assert.deepEqual(starts(c.out(3000)), [0], "backoff: the same segment again");
  assert.equal(c.s.ssthresh, 5 * MSS, "not halved again for the same data (RFC 5681 §3.1)");
  c.ack(3010, seg(1));
  assert.equal(c.s.cwnd, 2 * MSS);
  assert.deepEqual(starts(c.out(3010)), [1, 2].map(seg), "go-back-N: the rest is resent in slow start");
  c.ack(3020, seg(3));
  assert.deepEqual(starts(c.out(3020)), [3, 4, 5, 6].map(seg));
  // Duplicates of data sent before the timeout do not start a fast recovery (below `recover`).
  for (let i = 0; i < 3; i++) c.ack(3021, seg(3));
  assert.equal(c.s.stats.recoveries, 0);
  assert.equal(c.s.congestionState, "Loss");
  c.ack(3030, seg(7));
  assert.equal(c.s.cwnd, 5 * MSS, "slow start stops at ssthresh");
  c.ack(3040, seg(10));
  c.out(3040);
  assert.equal(c.s.congestionState, "Open");
});

Deno.test("congestion: restart after idle (RFC 5681 §4.1) cuts cwnd back to IW, not before an RTO of silence", () => {
  const c = conn({ initialRto: 1000 }, 30 * MSS);
  let acked = 0;
  let t = 0, lastData = 0;
  for (; acked < 30 * MSS; t += 10) {
    if (starts(c.out(t)).length > 0) lastData = t;
    acked = Math.min(acked + 4 * MSS, 30 * MSS);
    c.ack(t + 5, acked);
  }
  const grown = c.s.cwnd;
  assert.ok(grown > 14600, `cwnd grew in slow start (${grown})`);
  const rto = c.s.rto;
  assert.equal(rto, 200, "the minimum RTO after 5 ms samples");
  // Within an RTO of the last send: no restart.
  const n = Math.floor(grown / MSS);
  c.s.send(new Uint8Array(n * MSS));
  t = lastData + rto - 20;
  assert.equal(starts(c.out(t)).length, n, "the grown window at once");
  assert.equal(c.s.stats.idleRestarts, 0);
  c.ack(t + 5, (30 + n) * MSS);
  // Idle longer than the RTO: back to IW.
  c.s.send(new Uint8Array(30 * MSS));
  assert.equal(starts(c.out(t + rto + 1)).length, 10, "IW again");
  assert.equal(c.s.cwnd, 14600);
  assert.equal(c.s.stats.idleRestarts, 1);
});

Deno.test('congestion "none": only the peer\'s window limits the sender, and loss changes nothing', () => {
  const c = conn({ congestionControl: "none" }, 100 * MSS);
  assert.equal(c.s.congestionControl, "none");
  assert.equal(starts(c.out(0)).length, Math.floor(65535 / MSS), "a whole receive window at once");
  for (let i = 0; i < 3; i++) c.ack(10, 0);
  assert.equal(c.s.cwnd, CWND_UNLIMITED);
  assert.deepEqual(starts(c.out(10)), [0], "fast retransmit still repairs the hole");
});

Deno.test("congestion: the option is validated", () => {
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => new TcpSocket({ congestionControl: "bbr" as any }),
    (e) => e instanceof SocketError && e.kind === "InvalidArgument" && /newreno/.test(e.message),
  );
  assert.equal(new TcpSocket().congestionControl, "newreno");
});

/** Acknowledges one window per RTT in MSS-sized ACKs spread over the RTT, from `from` to `to` ms. */
function drive(
  c: Congestion,
  mss: number,
  rtt: number,
  from: number,
  to: number,
  at: (t: number) => void,
): void {
  let now = from;
  while (now < to) {
    const n = Math.max(1, Math.floor(c.cwnd / mss));
    for (let i = 0; i < n; i++) c.onAck(now + (i * rtt) / n, mss, mss, rtt);
    now += rtt;
    at(now);
  }
}

Deno.test("CUBIC: W_max, ssthresh = β·flight, K and the window follow RFC 9438's W_cubic(t)", () => {
  const mss = 1000;
  const c = new Congestion("cubic");
  c.init(mss, false);
  c.cwnd = 100 * mss;
  c.ssthresh = 50 * mss; // in congestion avoidance
  c.onFastRetransmit(0, 100 * mss, mss);
  assert.equal(c.wMax, 100);
  assert.equal(c.ssthresh, 70 * mss, "β = 0.7");
  c.onRecoveryEnd(0, 69 * mss, mss);
  assert.equal(c.cwnd, 70 * mss);
  const K = Math.cbrt((100 * (1 - CUBIC_BETA)) / CUBIC_C);
  assert.ok(Math.abs(c.k - K) < 1e-9, `K = ${c.k}, expected ${K} (≈ 4.22 s)`);
  const wCubic = (t: number) => CUBIC_C * (t - K) ** 3 + 100;
  // W_est (§4.3): α = 3(1−β)/(1+β) per RTT until cwnd_prior (100), then 1 per RTT.
  const alpha = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
  const wEst = (t: number) => {
    const rtts = t / 0.1, toPrior = 30 / alpha;
    return rtts <= toPrior ? 70 + alpha * rtts : 100 + (rtts - toPrior);
  };
  // RTT 100 ms: cwnd = max(W_cubic(t), W_est(t)) — the cubic curve until ≈ 6 s, then Reno's.
  const seen: [number, number][] = [];
  drive(c, mss, 100, 0, 8000, (t) => {
    if (t % 1000 === 0) seen.push([t / 1000, c.cwnd / mss]);
  });
  for (const [t, w] of seen) {
    const want = Math.max(wCubic(t), wEst(t));
    assert.ok(
      Math.abs(w - want) <= 0.02 * want + 1,
      `t=${t}s: cwnd ${w.toFixed(2)} segments, W_cubic ${want.toFixed(2)}`,
    );
  }
  assert.ok(wCubic(2) > wEst(2) && wCubic(4) > wEst(4), "t = 2, 4 s lie in the cubic region");
  assert.ok(seen[3][1] < 100 && seen[3][1] > 99, "concave: the plateau near W_max around K");
  assert.ok(seen[7][1] > 110, "beyond W_max after K");
});

Deno.test("CUBIC after a timeout: the first congestion avoidance stage has K = 0, W_max = cwnd at its start (RFC 9438 §4.8)", () => {
  const mss = 1000;
  const c = new Congestion("cubic");
  c.init(mss, false);
  c.cwnd = 100 * mss;
  c.ssthresh = 50 * mss;
  c.onFastRetransmit(0, 100 * mss, mss);
  c.onRecoveryEnd(0, 50 * mss, mss); // cwnd 51 segments, W_max 100
  c.onTimeout(1000, 60 * mss, mss, true);
  assert.equal(c.ssthresh, 42 * mss, "β · flight");
  assert.equal(c.cwnd, mss);
  c.cwnd = c.ssthresh; // slow start done at t = 5 s
  const rtt = 500, t0 = 5000, w0 = 42;
  c.onAck(t0, mss, mss, rtt); // the stage begins
  assert.equal(c.k, 0);
  assert.ok(Math.abs(c.wMax - w0) < 1e-9, `W_max ${c.wMax}, the cwnd at the stage's start ${w0}`);
  // W_cubic(t) = C·t³ + W_max; each RTT cwnd moves toward W_cubic(t + RTT).
  const wCubic = (t: number) => CUBIC_C * t ** 3 + w0;
  drive(c, mss, rtt, t0, t0 + 5000, (now) => {
    const t = (now - t0) / 1000, w = c.cwnd / mss;
    if (t % 1 !== 0) return;
    assert.ok(
      w >= wCubic(t) - 1 && w <= wCubic(t + rtt / 1000) + 1,
      `t=${t}s: cwnd ${w.toFixed(2)} segments, W_cubic ${wCubic(t).toFixed(2)} … ${
        wCubic(t + rtt / 1000).toFixed(2)
      }`,
    );
  });
  // The next loss: W_max and K as usual again.
  const w = c.cwnd / mss;
  c.onFastRetransmit(t0 + 5000, c.cwnd, mss);
  c.onRecoveryEnd(t0 + 5000, c.ssthresh, mss);
  assert.equal(c.wMax, w);
  assert.ok(Math.abs(c.k - Math.cbrt((w - c.cwnd / mss) / CUBIC_C)) < 1e-9);
});

Deno.test("CUBIC: with a short RTT the Reno-friendly estimate W_est leads (RFC 9438 §4.3)", () => {
  const mss = 1000;
  const c = new Congestion("cubic");
  c.init(mss, false);
  c.cwnd = 100 * mss;
  c.ssthresh = 50 * mss;
  c.onFastRetransmit(0, 100 * mss, mss);
  c.onRecoveryEnd(0, 69 * mss, mss);
  // RTT 10 ms: W_est grows α = 3(1−β)/(1+β) per RTT up to cwnd_prior (100), then 1 per RTT.
  const alpha = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
  let w = 0;
  drive(c, mss, 10, 0, 1000, () => w = c.cwnd / mss);
  const rttsToPrior = 30 / alpha;
  const west = 100 + (100 - rttsToPrior);
  const wCubic = CUBIC_C * (1 - c.k) ** 3 + 100;
  assert.ok(wCubic < west, "the formula's window is below Reno's here");
  assert.ok(Math.abs(w - west) < 3, `after 1 s: cwnd ${w.toFixed(2)} segments, W_est ${west.toFixed(2)}`);
});

Deno.test("CUBIC: fast convergence lowers W_max when a loss comes below the previous one", () => {
  const mss = 1000;
  const c = new Congestion("cubic");
  c.init(mss, false);
  c.cwnd = 100 * mss;
  c.onFastRetransmit(0, 100 * mss, mss);
  c.onRecoveryEnd(0, 69 * mss, mss);
  c.cwnd = 80 * mss;
  c.onFastRetransmit(1000, 80 * mss, mss);
  assert.equal(c.wMax, (80 * (1 + CUBIC_BETA)) / 2);
  assert.equal(c.ssthresh, 56 * mss);
});

Deno.test("CUBIC on a socket: a fast retransmit cuts ssthresh to 0.7 × flight", () => {
  const c = recovery({ congestionControl: "cubic" });
  assert.equal(c.s.congestionControl, "cubic");
  assert.equal(c.s.ssthresh, Math.floor(10 * MSS * CUBIC_BETA));
  assert.equal(c.s.cwnd, c.s.ssthresh + 3 * MSS);
});
