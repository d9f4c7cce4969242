/**
 * Test harness for TCP sockets: an egress that emits every segment into bytes with `emitTcp`,
 * parses it back with `parseTcp` (so the checksum and the layout are checked on every segment)
 * and records it; segment builders; an in-memory pipe between two sockets with seeded loss.
 */
import assert from "node:assert/strict";
import {
  type ByteRing,
  IsnGenerator,
  SocketError,
  type TcpConfig,
  type TcpEgress,
  tcpFlagsToString,
  TcpSocket,
} from "../src/net/socket/mod.ts";
import {
  emitTcp,
  parseTcp,
  TCP_ACK,
  TCP_FIN,
  TCP_SYN,
  TcpHeader,
  tcpHeaderLength,
} from "../src/net/wire/mod.ts";

/** Our address in the segment tests. */
export const LOCAL_IP = 0x0a000001;
/** The peer's address. */
export const REMOTE_IP = 0x0a000002;
/** Our port. */
export const LOCAL_PORT = 80;
/** The peer's port. */
export const REMOTE_PORT = 49500;

/** A segment as sent, with its payload copied out. */
export interface Seg {
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  flags: string;
  seq: number;
  ack: number;
  window: number;
  mss: number;
  windowScale: number;
  /** Timestamps option: [TSval, TSecr], or null. */
  ts: [number, number] | null;
  sackPermitted: boolean;
  /** SACK blocks as [left, right] pairs. */
  sack: [number, number][];
  payload: Uint8Array;
}

/** Records what a socket sends; `refuse` makes transmit fail (no buffer). */
export class RecordingEgress implements TcpEgress {
  readonly sent: Seg[] = [];
  refuse = false;
  readonly #buf = new Uint8Array(70000);
  readonly #parsed = new TcpHeader();
  constructor(public mtu: number = 1500) {}

  transmit(src: number, dst: number, h: TcpHeader, payload: ByteRing, from: number, length: number): boolean {
    if (this.refuse) return false;
    assert.ok(
      20 + tcpHeaderLength(h) + length <= this.mtu,
      `segment of ${length} bytes exceeds the MTU ${this.mtu}`,
    );
    const hl = tcpHeaderLength(h);
    const sum = payload.peekAndSum(from, new DataView(this.#buf.buffer), hl, length);
    const end = emitTcp(this.#buf, 0, this.#buf.length, src, dst, h, length, sum);
    const p = this.#parsed;
    const at = parseTcp(this.#buf, 0, end, src, dst, p); // verifies the checksum
    this.sent.push({
      src,
      dst,
      srcPort: p.srcPort,
      dstPort: p.dstPort,
      flags: tcpFlagsToString(p.flags),
      seq: p.seq,
      ack: p.ack,
      window: p.window,
      mss: p.mss,
      windowScale: p.windowScale,
      ts: p.hasTimestamps ? [p.tsVal, p.tsEcr] : null,
      sackPermitted: p.sackPermitted,
      sack: Array.from(
        { length: p.sackCount },
        (_, i) => [p.sack[2 * i], p.sack[2 * i + 1]] as [number, number],
      ),
      payload: this.#buf.slice(at, end),
    });
    return true;
  }

  /** The segments sent since the last call. */
  take(): Seg[] {
    return this.sent.splice(0);
  }
}

/** Fields of a segment to feed a socket. */
export interface SegIn {
  flags: number;
  seq: number;
  ack?: number;
  window?: number;
  mss?: number;
  windowScale?: number;
  /** Timestamps option [TSval, TSecr]. */
  ts?: [number, number];
  sackPermitted?: boolean;
  /** SACK blocks as [left, right] pairs (absolute). */
  sack?: [number, number][];
  payload?: Uint8Array | string;
  srcPort?: number;
  dstPort?: number;
  /** The urgent pointer (with TCP_URG in `flags`). */
  urgent?: number;
}

const inHeader = new TcpHeader();

/** Feeds `s` one segment from the peer at `now`. */
export function feed(s: TcpSocket, now: number, seg: SegIn): void {
  const h = inHeader;
  h.reset();
  h.srcPort = seg.srcPort ?? REMOTE_PORT;
  h.dstPort = seg.dstPort ?? LOCAL_PORT;
  h.seq = seg.seq >>> 0;
  h.ack = (seg.ack ?? 0) >>> 0;
  h.flags = seg.flags;
  h.window = seg.window ?? 65535;
  h.urgent = seg.urgent ?? 0;
  h.mss = seg.mss ?? -1;
  h.windowScale = Math.min(seg.windowScale ?? -1, 14); // the wire refuses more; set below
  if (seg.ts) {
    h.hasTimestamps = true;
    h.tsVal = seg.ts[0] >>> 0;
    h.tsEcr = seg.ts[1] >>> 0;
  }
  h.sackPermitted = seg.sackPermitted ?? false;
  const blocks = seg.sack ?? [];
  h.sackCount = blocks.length;
  blocks.forEach(([l, r], i) => {
    h.sack[2 * i] = l >>> 0;
    h.sack[2 * i + 1] = r >>> 0;
  });
  const p = typeof seg.payload === "string"
    ? new TextEncoder().encode(seg.payload)
    : seg.payload ?? new Uint8Array(0);
  // Round trip through the wire format, as the interface would deliver it.
  const buf = new Uint8Array(60 + p.length + 8);
  const hl = tcpHeaderLength(h);
  buf.set(p, 4 + hl);
  const end = emitTcp(buf, 4, buf.length, REMOTE_IP, LOCAL_IP, h, p.length);
  const at = parseTcp(buf, 4, end, REMOTE_IP, LOCAL_IP, h);
  if ((seg.windowScale ?? -1) > 14) h.windowScale = seg.windowScale!; // as a peer may send
  s.process(now, REMOTE_IP, LOCAL_IP, h, buf, at, end - at);
}

/** A compact form of sent segments for `assert.deepEqual`: [flags, seq, ack, payload length]. */
export function brief(segs: Seg[], base = { seq: 0, ack: 0 }): [string, number, number, number][] {
  return segs.map((
    g,
  ) => [
    g.flags,
    (g.seq - base.seq) >>> 0,
    g.flags.includes("ACK") ? (g.ack - base.ack) >>> 0 : 0,
    g.payload.length,
  ]);
}

/** xorshift32. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** TCP_ACK re-exported for brevity in tests. */
export const ACK = TCP_ACK;

/** Asserts two byte arrays are equal, naming the first difference (no huge diff for MiBs). */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${what}: byte ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

// ---- Fixtures of the segment-level tests (relative sequence numbers) --------------------------

/** Options of a fed segment beside flags and numbers (`sack` blocks relative to our ISS). */
export interface PutMore {
  window?: number;
  payload?: string | Uint8Array;
  mss?: number;
  windowScale?: number;
  ts?: [number, number];
  sack?: [number, number][];
  urgent?: number;
}

/** Options of the peer's SYN. */
export interface SynOptions {
  mss?: number;
  windowScale?: number;
  window?: number;
  sackPermitted?: boolean;
  ts?: [number, number];
}

const A = TCP_ACK;

/** The peer's ISS in the fixtures (sequence numbers in assertions are relative to it). */
export const REMOTE_ISS = 10000;
const fixtureIsn = new IsnGenerator(new Uint8Array(16).fill(0x42));
/** A socket with a recording egress, and segments in and out with relative sequence numbers. */
export interface Fixture {
  s: TcpSocket;
  eg: RecordingEgress;
  iss: number;
  /** Sent segments since the last call, relative to the ISNs: [flags, seq, ack, payload length]. */
  out(now: number): [string, number, number, number][];
  /** Feeds a segment with relative numbers: seq from REMOTE_ISS, ack from our ISS. */
  put(
    now: number,
    flags: number,
    seq: number,
    ack?: number,
    more?: PutMore,
  ): void;
  raw(now: number): Seg[];
}

/** A closed socket (`cfg` over a fixed ISN key) and an egress of `mtu`. */
export function fixture(cfg: TcpConfig = {}, mtu = 1500): Fixture {
  const s = new TcpSocket({ isn: fixtureIsn, ...cfg });
  const eg = new RecordingEgress(mtu);
  const f: Fixture = {
    s,
    eg,
    iss: 0,
    out(now) {
      s.dispatch(now, eg);
      return brief(eg.take(), { seq: f.iss, ack: REMOTE_ISS });
    },
    raw(now) {
      s.dispatch(now, eg);
      return eg.take();
    },
    put(now, flags, seq, ack, more = {}) {
      feed(s, now, {
        flags,
        seq: (REMOTE_ISS + seq) >>> 0,
        ack: ack === undefined ? 0 : (f.iss + ack) >>> 0,
        ...more,
        sack: more.sack?.map(([l, r]) => [(f.iss + l) >>> 0, (f.iss + r) >>> 0] as [number, number]),
      });
    },
  };
  return f;
}

/** LISTEN → SYN → SYN-RECEIVED (the SYN-ACK taken). */
export function synReceived(
  cfg: TcpConfig = {},
  syn: SynOptions = { mss: 1460 },
): Fixture {
  const f = fixture(cfg);
  f.s.listen(LOCAL_IP, LOCAL_PORT);
  f.put(0, TCP_SYN, 0, undefined, syn);
  const [synAck] = f.raw(0);
  f.iss = synAck.seq;
  assert.equal(f.s.state, "SynReceived");
  return f;
}

/** An established connection (passive open), at t=0, the peer's window 65535 unscaled. */
export function established(
  cfg: TcpConfig = {},
  syn: SynOptions = { mss: 1460 },
): Fixture {
  const f = synReceived(cfg, syn);
  f.put(0, A, 1, 1, { window: syn.window ?? 65535 });
  assert.equal(f.s.state, "Established");
  assert.deepEqual(f.out(0), []);
  return f;
}

/** Data of `n` bytes: byte i = i & 0xff. */
export function data(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => i & 0xff);
}

/** The kind of the SocketError `fn` throws. */
export function kindOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SocketError, `expected a SocketError, got ${e}`);
    return e.kind;
  }
  assert.fail("nothing thrown");
}

/** Puts an established fixture into `state` (relative: the peer's next seq 1, ours 1 or 2). */
export function inState(state: string): { f: Fixture; rcv: number } {
  const f = established({ timeWait: 500 });
  let rcv = 1;
  switch (state) {
    case "Established":
      break;
    case "FinWait1":
      f.s.close();
      f.out(0);
      break;
    case "FinWait2":
      f.s.close();
      f.out(0);
      f.put(1, A, 1, 2);
      break;
    case "CloseWait":
      f.put(1, TCP_FIN | A, 1, 1);
      f.out(1);
      rcv = 2;
      break;
    case "Closing":
      f.s.close();
      f.out(0);
      f.put(1, TCP_FIN | A, 1, 1);
      f.out(1);
      rcv = 2;
      break;
    case "LastAck":
      f.put(1, TCP_FIN | A, 1, 1);
      f.s.close();
      f.out(1);
      rcv = 2;
      break;
    case "TimeWait":
      f.s.close();
      f.out(0);
      f.put(1, TCP_FIN | A, 1, 2);
      f.out(1);
      rcv = 2;
      break;
  }
  assert.equal(f.s.state, state);
  return { f, rcv };
}

/** The synchronized states. */
export const SYNCHRONIZED = [
  "Established",
  "FinWait1",
  "FinWait2",
  "CloseWait",
  "Closing",
  "LastAck",
  "TimeWait",
];
