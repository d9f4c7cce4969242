/**
 * Test harness for TCP sockets: an egress that emits every segment into bytes with `emitTcp`,
 * parses it back with `parseTcp` (so the checksum and the layout are checked on every segment)
 * and records it; segment builders; an in-memory pipe between two sockets with seeded loss.
 */
import assert from "node:assert/strict";
import { type ByteRing, type TcpEgress, tcpFlagsToString, type TcpSocket } from "../src/net/socket/mod.ts";
import { emitTcp, parseTcp, TCP_ACK, TcpHeader, tcpHeaderLength } from "../src/net/wire/mod.ts";

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
  payload?: Uint8Array | string;
  srcPort?: number;
  dstPort?: number;
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
  h.mss = seg.mss ?? -1;
  h.windowScale = Math.min(seg.windowScale ?? -1, 14); // the wire refuses more; set below
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
