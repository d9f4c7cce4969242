/**
 * TCP headers over IPv4 (RFC 9293) with the options a stack negotiates: MSS, window scale and
 * timestamps (RFC 7323), SACK-permitted and SACK blocks (RFC 2018), NOP and EOL. Unknown options,
 * and known ones whose length does not fit their kind (as Linux), are skipped by their length.
 * The checksum covers the IPv4 pseudo-header.
 *
 * @module
 */
import { badArgument, isIntIn, isU32 } from "../args.ts";
import { foldChecksum, sumViewRaw } from "./checksum.ts";
import { dataView, need, needField, needHeader, u32, WireError } from "./error.ts";
import { IPPROTO_TCP, pseudoHeaderSumRaw } from "./ipv4.ts";

/** Length of a TCP header without options. */
export const TCP_HEADER_LENGTH = 20;
/** Longest TCP header: 15 words (40 bytes of options). */
export const TCP_MAX_HEADER_LENGTH = 60;
/** Most SACK blocks one header carries (4 × 8 + 2 bytes of the 40 option bytes). */
export const TCP_MAX_SACK_BLOCKS = 4;
/** Largest window scale shift (RFC 7323 §2.3). */
export const TCP_MAX_WINDOW_SCALE = 14;

/** FIN flag: no more data from the sender. */
export const TCP_FIN = 0x01;
/** SYN flag: synchronize sequence numbers. */
export const TCP_SYN = 0x02;
/** RST flag: reset the connection. */
export const TCP_RST = 0x04;
/** PSH flag: push. */
export const TCP_PSH = 0x08;
/** ACK flag: the acknowledgment field is significant. */
export const TCP_ACK = 0x10;
/** URG flag: the urgent pointer is significant. */
export const TCP_URG = 0x20;
/** ECE flag: ECN echo (RFC 3168). */
export const TCP_ECE = 0x40;
/** CWR flag: congestion window reduced (RFC 3168). */
export const TCP_CWR = 0x80;

const OPT_EOL = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;
const OPT_WSCALE = 3;
const OPT_SACK_PERMITTED = 4;
const OPT_SACK = 5;
const OPT_TIMESTAMPS = 8;
/** The first option word of a header carrying timestamps alone: NOP, NOP, kind 8, length 10. */
const TS_ONLY = ((OPT_NOP << 24) | (OPT_NOP << 16) | (OPT_TIMESTAMPS << 8) | 10) >>> 0;

/**
 * A TCP header and its options, filled in place by {@linkcode parseTcp} and written by
 * {@linkcode emitTcp}. Sequence numbers are unsigned 32-bit numbers. Absent options: `mss` and
 * `windowScale` are -1, `sackPermitted` and `hasTimestamps` false, `sackCount` 0.
 */
export class TcpHeader {
  /** Source port. */
  srcPort: number = 0;
  /** Destination port. */
  dstPort: number = 0;
  /** Sequence number. */
  seq: number = 0;
  /** Acknowledgment number (meaningful with {@linkcode TCP_ACK}). */
  ack: number = 0;
  /** Header length in bytes, options included (20–60). Set by parse and by emit. */
  headerLength: number = TCP_HEADER_LENGTH;
  /** The eight flag bits ({@linkcode TCP_FIN} … {@linkcode TCP_CWR}). */
  flags: number = 0;
  /** Window field, unscaled as on the wire. */
  window: number = 0;
  /** Checksum as received. {@linkcode emitTcp} computes its own. */
  checksum: number = 0;
  /** Urgent pointer. */
  urgent: number = 0;
  /** Maximum segment size option, or -1. */
  mss: number = -1;
  /** Window scale shift option, or -1. Parsed as sent (a peer may send more than 14; clamp it). */
  windowScale: number = -1;
  /** SACK-permitted option present. */
  sackPermitted: boolean = false;
  /** Timestamps option present. */
  hasTimestamps: boolean = false;
  /** Timestamp value (with `hasTimestamps`). */
  tsVal: number = 0;
  /** Timestamp echo reply (with `hasTimestamps`). */
  tsEcr: number = 0;
  /** Number of SACK blocks (0–4). */
  sackCount: number = 0;
  /** SACK blocks as `[left0, right0, left1, right1, …]`; the first `sackCount` pairs count. */
  readonly sack: Uint32Array = new Uint32Array(2 * TCP_MAX_SACK_BLOCKS);

  /** True when every bit of `flag` (e.g. `TCP_SYN | TCP_ACK`) is set. */
  has(flag: number): boolean {
    return (this.flags & flag) === flag;
  }

  /** Clears every field and option, for building a header to emit. */
  reset(): void {
    this.srcPort = 0;
    this.dstPort = 0;
    this.seq = 0;
    this.ack = 0;
    this.headerLength = TCP_HEADER_LENGTH;
    this.flags = 0;
    this.window = 0;
    this.checksum = 0;
    this.urgent = 0;
    this.clearOptions();
  }

  /** Clears the options only. */
  clearOptions(): void {
    this.mss = -1;
    this.windowScale = -1;
    this.sackPermitted = false;
    this.hasTimestamps = false;
    this.tsVal = 0;
    this.tsEcr = 0;
    this.sackCount = 0;
  }
}

/**
 * Parses the TCP segment at `b[off .. end)` (`end`: the end of the IP payload) into `out` and
 * verifies its checksum under the pseudo-header of `src`/`dst`. Returns the payload offset; the
 * payload runs to `end`. With `verifyChecksum` false the caller checks the checksum itself.
 *
 * A known option whose length does not fit its kind (MSS ≠ 4, window scale ≠ 3, SACK-permitted
 * ≠ 2, timestamps ≠ 10, SACK not 2 + 8n) is skipped by its length and left absent in `out`.
 *
 * @throws {WireError} `Truncated` (shorter than 20 bytes or than its data offset), `BadLength`
 * (data offset below 5, an option length below 2 or running past the header), `BadChecksum`, `BadField` (port 0; SYN with FIN or RST);
 * `InvalidArgument` for a view, offset, address or header object of the wrong kind.
 */
export function parseTcp(
  b: Uint8Array,
  off: number,
  end: number,
  src: number,
  dst: number,
  out: TcpHeader,
  verifyChecksum: boolean = true,
): number {
  need(b, off, end, TCP_HEADER_LENGTH, "TCP");
  if (!(out instanceof TcpHeader)) needHeader("parseTcp", out, TcpHeader); // (instanceof a constant: inlined)
  needAddresses("parseTcp", src, dst);
  // Words read from the bytes (`u32`): loads the compiler always inlines, where a DataView's read
  // may stay a call whose result beyond 2^31 − 1 is a heap number allocated per read.
  const ports = u32(b, off);
  const w3 = u32(b, off + 12);
  const w4 = u32(b, off + 16);
  const hl = (w3 >>> 28) * 4;
  if (hl < TCP_HEADER_LENGTH) throw new WireError("BadLength", `TCP: data offset ${hl / 4} < 5`);
  if (off + hl > end) {
    throw new WireError("Truncated", `TCP: header length ${hl} runs past the segment (${end - off} bytes)`);
  }
  const flags = (w3 >>> 16) & 0xff;
  if ((flags & TCP_SYN) !== 0 && (flags & (TCP_FIN | TCP_RST)) !== 0) {
    throw new WireError("BadField", `TCP: SYN with ${flags & TCP_FIN ? "FIN" : "RST"}`);
  }
  const srcPort = ports >>> 16;
  const dstPort = ports & 0xffff;
  if (srcPort === 0 || dstPort === 0) throw new WireError("BadField", "TCP: port 0");
  if (verifyChecksum) {
    const sum = sumViewRaw(dataView(b), off, end, pseudoHeaderSumRaw(src, dst, IPPROTO_TCP, end - off));
    if (foldChecksum(sum) !== 0) throw new WireError("BadChecksum", "TCP: checksum");
  }
  out.clearOptions();
  if (hl === TCP_HEADER_LENGTH + 12 && u32(b, off + TCP_HEADER_LENGTH) === TS_ONLY) {
    // The options of nearly every segment once established: NOP, NOP, timestamps (RFC 7323
    // Appendix A's layout), what parseOptions would find in them, without its loop.
    out.hasTimestamps = true;
    out.tsVal = u32(b, off + TCP_HEADER_LENGTH + 4);
    out.tsEcr = u32(b, off + TCP_HEADER_LENGTH + 8);
  } else if (hl > TCP_HEADER_LENGTH) parseOptions(b, off + TCP_HEADER_LENGTH, off + hl, out);
  out.srcPort = srcPort;
  out.dstPort = dstPort;
  out.seq = u32(b, off + 4);
  out.ack = u32(b, off + 8);
  out.headerLength = hl;
  out.flags = flags;
  out.window = w3 & 0xffff;
  out.checksum = w4 >>> 16;
  out.urgent = w4 & 0xffff;
  return off + hl;
}

function parseOptions(b: Uint8Array, at: number, end: number, out: TcpHeader): void {
  while (at < end) {
    const kind = b[at];
    if (kind === OPT_EOL) return;
    if (kind === OPT_NOP) {
      at++;
      continue;
    }
    if (at + 1 >= end) throw new WireError("BadLength", `TCP: option ${kind} has no length byte`);
    const len = b[at + 1];
    if (len < 2) throw new WireError("BadLength", `TCP: option ${kind} length ${len} < 2`);
    if (at + len > end) throw new WireError("BadLength", `TCP: option ${kind} runs past the header`);
    // A known option with the wrong length for its kind is skipped by its length, as if absent
    // (as Linux's tcp_parse_options does): the rest of the segment still counts.
    switch (kind) {
      case OPT_MSS:
        if (len === 4) out.mss = (b[at + 2] << 8) | b[at + 3];
        break;
      case OPT_WSCALE:
        if (len === 3) out.windowScale = b[at + 2];
        break;
      case OPT_SACK_PERMITTED:
        if (len === 2) out.sackPermitted = true;
        break;
      case OPT_TIMESTAMPS:
        if (len === 10) {
          const v = dataView(b);
          out.hasTimestamps = true;
          out.tsVal = v.getUint32(at + 2);
          out.tsEcr = v.getUint32(at + 6);
        }
        break;
      case OPT_SACK:
        if (len > 2 && (len - 2) % 8 === 0) {
          const v = dataView(b);
          const n = (len - 2) / 8; // ≤ 4: 40 option bytes at most
          for (let i = 0; i < n; i++) {
            out.sack[2 * i] = v.getUint32(at + 2 + 8 * i);
            out.sack[2 * i + 1] = v.getUint32(at + 6 + 8 * i);
          }
          out.sackCount = n;
        }
        break;
      default:
        break; // unknown: skipped by its length
    }
    at += len;
  }
}

/**
 * The header length {@linkcode emitTcp} writes for `h`: 20 plus its options, each padded with NOPs
 * to whole words the way Linux lays them out. Write the payload at `off + tcpHeaderLength(h)`.
 *
 * @throws {WireError} `BadField` when the options do not fit in 40 bytes or `sackCount` is out of
 * range; `InvalidArgument` when `h` is not a TcpHeader.
 */
export function tcpHeaderLength(h: TcpHeader): number {
  if (!(h instanceof TcpHeader)) needHeader("tcpHeaderLength", h, TcpHeader);
  const n = h.sackCount;
  if (!(typeof n === "number" && (n >>> 0) === n && n <= TCP_MAX_SACK_BLOCKS)) {
    throw new WireError("BadField", `TCP emit: sackCount ${n} (0–${TCP_MAX_SACK_BLOCKS})`);
  }
  let len = TCP_HEADER_LENGTH;
  if (h.mss >= 0) len += 4;
  // SACK-permitted alone is padded to a word; with timestamps it takes their two NOPs' place.
  if (h.hasTimestamps) len += 12;
  else if (h.sackPermitted) len += 4;
  if (h.windowScale >= 0) len += 4;
  if (n > 0) len += 4 + 8 * n;
  if (len > TCP_MAX_HEADER_LENGTH) {
    throw new WireError("BadField", `TCP emit: options need ${len - 20} bytes, at most 40 fit`);
  }
  return len;
}

/**
 * Writes the TCP header and options of `h` at `b[off ..]` for a segment of `payloadLength` bytes
 * that already sit at `b[off + tcpHeaderLength(h) ..]`, with the checksum under the pseudo-header
 * of `src`/`dst`. `payloadSum`, when given (≥ 0), is the payload's running sum as `sumView` or
 * `copyAndSum` computes it, and saves a pass over the payload. Sets `h.headerLength`; returns
 * the offset after the segment.
 *
 * @throws {WireError} `Truncated` when the segment does not fit `b[off .. end)`; `BadField` for a
 * value the header cannot hold (ports, window and urgent beyond 16 bits, sequence numbers beyond
 * 32, flags beyond 8, MSS beyond 16 bits, a window scale above 14, options beyond 40 bytes);
 * `InvalidArgument` for a view, offset, address, payload sum or header object of the wrong kind.
 */
export function emitTcp(
  b: Uint8Array,
  off: number,
  end: number,
  src: number,
  dst: number,
  h: TcpHeader,
  payloadLength: number,
  payloadSum: number = -1,
): number {
  const hl = tcpHeaderLength(h);
  // Every field at once in a few bit tests (each whole and in range, no BigInt); only a segment
  // that fails them takes the checks one by one, which say which field and why.
  if (!emitFieldsFit(h, hl, src, dst, payloadLength, payloadSum)) {
    checkEmitFields(h, hl, src, dst, payloadLength, payloadSum);
  }
  need(b, off, end, hl + payloadLength, "TCP emit");
  const v = emitView(b);
  v.setUint32(off, (h.srcPort << 16) | h.dstPort);
  v.setUint32(off + 4, h.seq);
  v.setUint32(off + 8, h.ack);
  v.setUint32(off + 12, ((hl / 4) << 28) | (h.flags << 16) | h.window);
  v.setUint32(off + 16, h.urgent); // checksum 0 while summing
  let at = off + TCP_HEADER_LENGTH;
  if (h.mss >= 0) {
    v.setUint32(at, (OPT_MSS << 24) | (4 << 16) | h.mss);
    at += 4;
  }
  if (h.hasTimestamps) {
    v.setUint32(
      at,
      h.sackPermitted
        ? (OPT_SACK_PERMITTED << 24) | (2 << 16) | (OPT_TIMESTAMPS << 8) | 10
        : (OPT_NOP << 24) | (OPT_NOP << 16) | (OPT_TIMESTAMPS << 8) | 10,
    );
    v.setUint32(at + 4, h.tsVal);
    v.setUint32(at + 8, h.tsEcr);
    at += 12;
  } else if (h.sackPermitted) {
    v.setUint32(at, (OPT_NOP << 24) | (OPT_NOP << 16) | (OPT_SACK_PERMITTED << 8) | 2);
    at += 4;
  }
  if (h.windowScale >= 0) {
    v.setUint32(at, (OPT_NOP << 24) | (OPT_WSCALE << 16) | (3 << 8) | h.windowScale);
    at += 4;
  }
  if (h.sackCount > 0) {
    v.setUint32(at, (OPT_NOP << 24) | (OPT_NOP << 16) | (OPT_SACK << 8) | (2 + 8 * h.sackCount));
    at += 4;
    for (let i = 0; i < 2 * h.sackCount; i++, at += 4) v.setUint32(at, h.sack[i]);
  }
  const segEnd = off + hl + payloadLength;
  let sum = sumViewRaw(v, off, off + hl, pseudoHeaderSumRaw(src, dst, IPPROTO_TCP, hl + payloadLength));
  sum = payloadSum >= 0 ? sum + payloadSum : sumViewRaw(v, off + hl, segEnd, sum);
  v.setUint16(off + 16, foldChecksum(sum));
  h.headerLength = hl;
  return segEnd;
}

// emitTcp's views of the last two arrays it wrote into: two interfaces in one process (a pair of
// stacks, each sending into its peer's memory) alternate between two, which a one-entry cache (the
// parsers' `dataView`) would miss every time. A hit stores nothing (a store of an object into a
// module variable costs a write barrier); a miss replaces the entry not replaced last.
let emitBytes0: Uint8Array | null = null;
let emitView0: DataView = new DataView(new ArrayBuffer(0));
let emitBytes1: Uint8Array | null = null;
let emitView1: DataView = emitView0;
let emitNext = 0;

function emitView(b: Uint8Array): DataView {
  if (b === emitBytes0) return emitView0;
  if (b === emitBytes1) return emitView1;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (emitNext === 0) {
    emitBytes0 = b;
    emitView0 = v;
  } else {
    emitBytes1 = b;
    emitView1 = v;
  }
  emitNext ^= 1;
  return v;
}

/** True when `x` is a whole number 0 … 2^16 − 1. */
function isU16(x: unknown): boolean {
  return typeof x === "number" && (x & 0xffff) === x;
}

/** True when `x` is a whole number 0 … 2^32 − 1. */
function isU32Fast(x: unknown): boolean {
  return typeof x === "number" && (x >>> 0) === x;
}

/** emitTcp's checks, all passed (the hot path): see {@linkcode checkEmitFields} for what each one is. */
function emitFieldsFit(
  h: TcpHeader,
  hl: number,
  src: number,
  dst: number,
  payloadLength: number,
  payloadSum: number,
): boolean {
  return isU16(h.srcPort) && isU16(h.dstPort) && isU32Fast(h.seq) && isU32Fast(h.ack) &&
    typeof h.flags === "number" && (h.flags & 0xff) === h.flags && isU16(h.window) && isU16(h.urgent) &&
    (h.mss === -1 || isU16(h.mss)) &&
    (h.windowScale === -1 || (isU16(h.windowScale) && h.windowScale <= TCP_MAX_WINDOW_SCALE)) &&
    (!h.hasTimestamps || (isU32Fast(h.tsVal) && isU32Fast(h.tsEcr))) &&
    isU32Fast(src) && isU32Fast(dst) && isU16(payloadLength) && payloadLength <= 0xffff - hl &&
    (payloadSum === -1 || (typeof payloadSum === "number" && (payloadSum & 0x7fffffff) === payloadSum));
}

/** Throws the typed error of the first field emitTcp cannot write. */
function checkEmitFields(
  h: TcpHeader,
  hl: number,
  src: number,
  dst: number,
  payloadLength: number,
  payloadSum: number,
): void {
  needField("emitTcp", "payloadLength", payloadLength, 0, 0xffff - hl);
  needField("emitTcp", "srcPort", h.srcPort, 0, 0xffff);
  needField("emitTcp", "dstPort", h.dstPort, 0, 0xffff);
  needField("emitTcp", "seq", h.seq, 0, 0xffffffff);
  needField("emitTcp", "ack", h.ack, 0, 0xffffffff);
  needField("emitTcp", "flags", h.flags, 0, 0xff);
  needField("emitTcp", "window", h.window, 0, 0xffff);
  needField("emitTcp", "urgent", h.urgent, 0, 0xffff);
  if (h.mss !== -1) needField("emitTcp", "mss", h.mss, 0, 0xffff);
  if (h.windowScale !== -1) needField("emitTcp", "windowScale", h.windowScale, 0, TCP_MAX_WINDOW_SCALE);
  if (h.hasTimestamps) {
    needField("emitTcp", "tsVal", h.tsVal, 0, 0xffffffff);
    needField("emitTcp", "tsEcr", h.tsEcr, 0, 0xffffffff);
  }
  needAddresses("emitTcp", src, dst);
  if (payloadSum !== -1 && !isIntIn(payloadSum, 0, 0x7fffffff)) {
    throw new WireError(
      "InvalidArgument",
      badArgument("emitTcp", "payloadSum", payloadSum, "-1 or a running sum 0–2³¹−1"),
    );
  }
}

function needAddresses(what: string, src: unknown, dst: unknown): void {
  if (!isU32(src)) {
    throw new WireError("InvalidArgument", badArgument(what, "src", src, "a u32 IPv4 address"));
  }
  if (!isU32(dst)) {
    throw new WireError("InvalidArgument", badArgument(what, "dst", dst, "a u32 IPv4 address"));
  }
}

/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4): the signed distance from `b` to `a`,
 * positive when `a` is after `b`. Both are unsigned 32-bit numbers (or their int32 forms).
 */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** `a + n` modulo 2^32, unsigned. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
