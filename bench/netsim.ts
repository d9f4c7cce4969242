/**
 * Deterministic network simulation (as smoltcp's `tests/netsim.rs`): two of our stacks (two
 * {@linkcode Interface}s) over a {@linkcode LoopbackDevice} pair, each end wrapped in a
 * {@linkcode FaultInjector} that models its direction of the path: seeded random loss both ways,
 * a one-way delay both ways, and on the data direction a drop-tail bottleneck (token bucket and
 * queue). A virtual clock jumps from event to event: the earliest of both interfaces' `pollAt`
 * and both injectors' `nextEventAt` (the next frame's release). Nothing reads a real clock, the
 * ISNs come from a keyed generator, the faults from seeded ones: the same cell gives the same
 * numbers on every run and machine (up to the ephemeral port numbers, which no figure depends on).
 *
 * Used by tests/netsim_test.ts (the grid of tests/netsim/grid.md) and by the
 * `tcp_goodput_loss_1pct` row of bench/tcp_bench.ts.
 *
 * @module
 */
import {
  type FaultConfig,
  FaultInjector,
  Interface,
  IsnGenerator,
  LoopbackDevice,
  parseIpv4Address,
  type TcpConfig,
  type TcpSocket,
} from "../mod.ts";

/** One simulated run. */
export interface NetsimCell {
  /** Send and receive buffer of every socket, bytes. */
  bufferBytes: number;
  /** Probability that a frame is lost, each way. */
  loss: number;
  /** One-way delay, ms (each way). */
  delayMs: number;
  /** The bottleneck's rate on the data direction, bytes/s (default 1 250 000: 10 Mbit/s). */
  rateBytesPerSec?: number;
  /** Frames its drop-tail queue holds (default 64). */
  queueFrames?: number;
  /** Bytes each flow moves (default 4 MiB); Infinity with `durationMs`. */
  bytes?: number;
  /** Stop after this much virtual time, ms (default: when every flow is done). */
  durationMs?: number;
  /** Flows through the bottleneck, all from A to B (default 1). */
  flows?: number;
  /** Seed of the faults (default 1). */
  seed?: number;
  /** More faults on the data direction (reordering, duplication, corruption, jitter). */
  faults?: Pick<FaultConfig, "corrupt" | "duplicate" | "reorder" | "reorderMs" | "jitterMs">;
  /** Congestion control of the senders (default the socket's: NewReno). */
  congestionControl?: TcpConfig["congestionControl"];
}

/** What one flow did. */
export interface FlowResult {
  /** Bytes the receiver read (each checked against the pattern sent). */
  bytes: number;
  /** Virtual ms from the connection's establishment to the last byte read (or the end of the run). */
  ms: number;
  /** bytes / ms, as bytes per second. */
  goodput: number;
  /** The sender's counters. */
  retransmits: number;
  timeouts: number;
  fastRetransmits: number;
  recoveries: number;
}

/** What a run did. */
export interface NetsimResult {
  flows: FlowResult[];
  /** Virtual ms at the end. */
  elapsedMs: number;
  /** Data-direction frames lost at random, dropped by the full queue; ACK-direction frames lost. */
  lost: number;
  queueDrops: number;
  ackLost: number;
  /** Clock steps (events) the run took. */
  steps: number;
  /**
   * Steps where something was due but nothing moved, so the clock went on by 1 µs (a socket
   * whose pollAt is "now" while it waits on a window).
   */
  nudges: number;
}

const A_IP = parseIpv4Address("10.0.0.1");
const B_IP = parseIpv4Address("10.0.0.2");
const A_MAC = Uint8Array.of(2, 0, 0, 0, 0, 1);
const B_MAC = Uint8Array.of(2, 0, 0, 0, 0, 2);
const PORT = 5001;
/** The byte at stream offset i is i % 251 (a period prime to every buffer size). */
const PERIOD = 251;
const SRC = Uint8Array.from({ length: 65536 + PERIOD }, (_, i) => i % PERIOD);
const SINK = new Uint8Array(65536);
/** A fixed ISN key, so sequence numbers repeat from run to run. */
const ISN_KEY = Uint8Array.from({ length: 16 }, (_, i) => 0x40 + i);
/** A run that passes this much virtual time, or this many rounds at one instant, is stuck. */
const MAX_VIRTUAL_MS = 3_600_000;
const MAX_ROUNDS = 100_000;

/** Runs one cell; throws when a transfer stalls or a byte arrives wrong. */
export function simulate(cell: NetsimCell): NetsimResult {
  const nFlows = cell.flows ?? 1;
  const bytes = cell.bytes ?? 4 << 20;
  const duration = cell.durationMs ?? Infinity;
  if (bytes === Infinity && duration === Infinity) {
    throw new Error("netsim: unlimited bytes need a durationMs");
  }
  const seed = cell.seed ?? 1;
  let now = 0;
  const clock = () => now;
  const [da, db] = LoopbackDevice.pair(1500, 1 << 16);
  const fa = new FaultInjector(da, {
    seed,
    clock,
    tx: {
      drop: cell.loss,
      delayMs: cell.delayMs,
      rateBytesPerSec: cell.rateBytesPerSec ?? 1_250_000,
      queueFrames: cell.queueFrames ?? 64,
      ...cell.faults,
    },
  });
  const fb = new FaultInjector(db, {
    seed: (seed + 0x51ed27) >>> 0,
    clock,
    tx: { drop: cell.loss, delayMs: cell.delayMs },
  });
  const a = new Interface(fa, {
    mac: A_MAC,
    addresses: [{ ip: A_IP, prefix: 24 }],
    arpExpiryMs: MAX_VIRTUAL_MS,
  });
  const b = new Interface(fb, {
    mac: B_MAC,
    addresses: [{ ip: B_IP, prefix: 24 }],
    arpExpiryMs: MAX_VIRTUAL_MS,
  });
  const socket: TcpConfig = {
    rxBufferSize: cell.bufferBytes,
    txBufferSize: cell.bufferBytes,
    isn: new IsnGenerator(ISN_KEY),
    ...(cell.congestionControl === undefined ? {} : { congestionControl: cell.congestionControl }),
  };
  using listener = b.listenTcp(PORT, { backlog: nFlows, socket });
  const clients: TcpSocket[] = [];
  for (let i = 0; i < nFlows; i++) clients.push(a.connectTcp(B_IP, PORT, socket));
  // Servers in accept order; the SYNs leave in connect order, so server i is client i's peer
  // (checked by the ports below).
  const servers: TcpSocket[] = [];
  const sent = new Array<number>(nFlows).fill(0);
  const rcvd = new Array<number>(nFlows).fill(0);
  const started = new Array<number>(nFlows).fill(-1);
  const finished = new Array<number>(nFlows).fill(-1);
  let done = 0;
  let steps = 0;
  let nudges = 0;

  /** One instant: app work and polls until nothing moves. */
  const settle = () => {
    for (let round = 0;; round++) {
      if (round > MAX_ROUNDS) throw new Error(`netsim: no quiescence at ${now} ms`);
      let work = false;
      for (let i = 0; i < nFlows; i++) {
        const c = clients[i];
        if (started[i] < 0 && c.isEstablished) started[i] = now;
        if (started[i] < 0) continue;
        while (sent[i] < bytes) {
          const want = Math.min(bytes - sent[i], 65536);
          const n = c.send(SRC, sent[i] % PERIOD, want);
          if (n === 0) break;
          sent[i] += n;
          work = true;
        }
      }
      const moved = fa.stats.tx.passed + fb.stats.tx.passed;
      if (a.poll(now)) work = true;
      if (b.poll(now)) work = true;
      if (fa.stats.tx.passed + fb.stats.tx.passed !== moved) work = true;
      for (let s = listener.accept(); s !== null; s = listener.accept()) {
        const k = servers.length;
        if (k >= nFlows) throw new Error("netsim: more connections than flows");
        if (s.remotePort !== clients[k].localPort) {
          throw new Error("netsim: accept order differs from connect");
        }
        servers.push(s);
        work = true;
      }
      for (let i = 0; i < servers.length; i++) {
        const s = servers[i];
        for (;;) {
          const n = s.recv(SINK);
          if (n <= 0) {
            if (n < 0) throw new Error(`netsim: flow ${i} ended after ${rcvd[i]} bytes`);
            break;
          }
          const base = rcvd[i];
          for (let k = 0; k < n; k++) {
            if (SINK[k] !== (base + k) % PERIOD) {
              throw new Error(`netsim: flow ${i}: wrong byte at ${base + k}`);
            }
          }
          rcvd[i] += n;
          work = true;
          if (rcvd[i] === bytes) {
            finished[i] = now;
            done++;
          }
        }
      }
      if (!work) return;
    }
  };

  while (done < nFlows && now < duration) {
    settle();
    steps++;
    if (done === nFlows) break;
    let next = Math.min(
      a.pollAt(now) ?? Infinity,
      b.pollAt(now) ?? Infinity,
      fa.nextEventAt() ?? Infinity,
      fb.nextEventAt() ?? Infinity,
    );
    if (next === Infinity) throw new Error(`netsim: nothing scheduled at ${now} ms, ${rcvd} bytes read`);
    // Due now but nothing moved (a socket waiting on a window): the next instant on a µs grid.
    if (next <= now) {
      next = now + 0.001;
      nudges++;
    }
    if (next > duration) next = duration;
    now = next;
    if (now > MAX_VIRTUAL_MS) throw new Error(`netsim: stalled (${rcvd} of ${bytes} bytes per flow read)`);
  }
  const end = now;
  const flows = clients.map((c, i): FlowResult => {
    const ms = (finished[i] >= 0 ? finished[i] : end) - started[i];
    return {
      bytes: rcvd[i],
      ms,
      goodput: rcvd[i] * 1000 / ms,
      retransmits: c.stats.retransmits,
      timeouts: c.stats.timeouts,
      fastRetransmits: c.stats.fastRetransmits,
      recoveries: c.stats.recoveries,
    };
  });
  for (const c of clients) c.abort();
  for (const s of servers) s.abort();
  a.poll(now);
  b.poll(now);
  return {
    flows,
    elapsedMs: end,
    lost: fa.stats.tx.dropped,
    queueDrops: fa.stats.tx.queueDrops,
    ackLost: fb.stats.tx.dropped,
    steps,
    nudges,
  };
}

/** Jain's fairness index of `xs`: (Σx)² / (n · Σx²), 1 when all are equal, 1/n when one has all. */
export function jain(xs: number[]): number {
  const s = xs.reduce((a, x) => a + x, 0);
  const q = xs.reduce((a, x) => a + x * x, 0);
  return q === 0 ? 1 : (s * s) / (xs.length * q);
}
