/**
 * The TCP wire format from segments the Linux kernel sent (checksums computed by the kernel, not
 * by us): field-by-field known answers, byte-exact re-emission, every malformed case typed, and a
 * fuzz loop over mutated kernel segments and random headers.
 *
 * Fuzz iterations: MELIN_FUZZ_ITERATIONS (default 100k), seed: MELIN_FUZZ_SEED.
 */
import assert from "node:assert/strict";
import {
  emitTcp,
  IPPROTO_TCP,
  Ipv4Header,
  l4Checksum,
  parseIpv4,
  parseTcp,
  seqAdd,
  seqDiff,
  sumView,
  sumWords,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TcpHeader,
  tcpHeaderLength,
  WireError,
  type WireErrorKind,
} from "../mod.ts";
import {
  LINUX_ACK,
  LINUX_DATA,
  LINUX_DATA_BACK,
  LINUX_FIN,
  LINUX_RST,
  LINUX_SACK,
  LINUX_SYN,
  LINUX_SYN_ACK,
  LINUX_TCP_FRAMES,
} from "./_tcp_fixtures.ts";

const ITERATIONS = Number(Deno.env.get("MELIN_FUZZ_ITERATIONS") ?? 100_000);
const SEED = Number(Deno.env.get("MELIN_FUZZ_SEED") ?? 0x7c9);

const ip = new Ipv4Header();

/** Parses a captured frame's IPv4 and TCP headers; returns [tcp offset, payload offset, end]. */
function parseFrame(f: Uint8Array, h: TcpHeader, end = f.length): [number, number, number] {
  const l4 = parseIpv4(f, 14, end, ip);
  assert.equal(ip.protocol, IPPROTO_TCP);
  const segEnd = 14 + ip.totalLength;
  return [l4, parseTcp(f, l4, segEnd, ip.src, ip.dst, h), segEnd];
}

function kindOf(f: () => unknown): WireErrorKind {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof WireError, `expected a WireError, got ${e}`);
    return e.kind;
  }
  assert.fail("expected a WireError, nothing was thrown");
}

/** Re-emits a parsed frame's TCP segment into a copy whose segment bytes were zeroed. */
function reemit(f: Uint8Array, h: TcpHeader): Uint8Array {
  const [l4, payload, end] = parseFrame(f, h);
  const out = f.slice();
  out.fill(0, l4, end);
  out.set(f.subarray(payload, end), l4 + tcpHeaderLength(h));
  assert.equal(emitTcp(out, l4, end, ip.src, ip.dst, h, end - payload), end);
  return out;
}

Deno.test("TCP: the kernel's SYN and SYN-ACK parse field by field, options included", () => {
  const h = new TcpHeader();
  const [, payload, end] = parseFrame(LINUX_SYN, h);
  assert.equal(payload, end, "no payload");
  assert.deepEqual(
    [h.srcPort, h.dstPort, h.seq, h.ack, h.flags, h.window, h.headerLength],
    [47125, 47123, 2668789234, 0, TCP_SYN, 64240, 40],
  );
  assert.deepEqual(
    [h.mss, h.windowScale, h.sackPermitted, h.hasTimestamps, h.tsVal, h.tsEcr, h.sackCount],
    [1460, 10, true, true, 1148073811, 0, 0],
  );
  parseFrame(LINUX_SYN_ACK, h);
  assert.equal(h.flags, TCP_SYN | TCP_ACK);
  assert.ok(h.has(TCP_SYN | TCP_ACK) && !h.has(TCP_FIN));
  assert.deepEqual([h.seq, h.ack, h.window, h.mss, h.windowScale], [2218225938, 2668789235, 65160, 1460, 10]);
  assert.deepEqual([h.tsVal, h.tsEcr], [907371414, 1148073811]);
});

Deno.test("TCP: data, FIN, RST and SACK segments from the kernel parse; options reset between parses", () => {
  const h = new TcpHeader();
  parseFrame(LINUX_SYN, h);
  let [, payload, end] = parseFrame(LINUX_DATA, h);
  assert.equal(new TextDecoder().decode(LINUX_DATA.subarray(payload, end)), "hello from linux");
  assert.deepEqual([h.flags, h.seq, h.ack, h.window], [TCP_PSH | TCP_ACK, 2668789235, 2218225939, 63]);
  assert.deepEqual([h.mss, h.windowScale, h.sackPermitted], [-1, -1, false], "the SYN's options are gone");
  assert.deepEqual([h.hasTimestamps, h.tsVal, h.tsEcr], [true, 1148073812, 907371414]);
  [, payload, end] = parseFrame(LINUX_DATA_BACK, h);
  assert.equal(new TextDecoder().decode(LINUX_DATA_BACK.subarray(payload, end)), "hello back");
  parseFrame(LINUX_FIN, h);
  assert.deepEqual([h.flags, h.seq, h.ack], [TCP_FIN | TCP_ACK, 2668789251, 2218225949]);
  parseFrame(LINUX_RST, h);
  assert.deepEqual([h.flags, h.seq, h.ack, h.window, h.headerLength], [
    TCP_RST | TCP_ACK,
    0,
    3256671553,
    0,
    20,
  ]);
  assert.equal(h.hasTimestamps, false);
  parseFrame(LINUX_SACK, h);
  assert.equal(h.sackCount, 1);
  assert.deepEqual([h.sack[0], h.sack[1]], [2405790441, 2405791889]);
  assert.equal(h.hasTimestamps, true);
  parseFrame(LINUX_ACK, h);
  assert.equal(h.sackCount, 0);
});

Deno.test("TCP: every kernel segment re-emits byte for byte (our checksum equals the kernel's)", () => {
  const h = new TcpHeader();
  for (const f of LINUX_TCP_FRAMES) assert.deepEqual(reemit(f, h), f);
  // With the payload's sum given, the same bytes.
  const [l4, payload, end] = parseFrame(LINUX_DATA, h);
  const out = LINUX_DATA.slice();
  out.fill(0, l4 + 16, l4 + 18);
  emitTcp(out, l4, end, ip.src, ip.dst, h, end - payload, sumWords(LINUX_DATA, payload, end));
  assert.deepEqual(out, LINUX_DATA);
});

Deno.test("TCP: options Linux does not lay out itself round-trip (SACK-permitted alone, 4 SACK blocks, unknown kinds)", () => {
  const h = new TcpHeader();
  h.srcPort = 1;
  h.dstPort = 65535;
  h.seq = 0xffffffff;
  h.ack = 0x80000000;
  h.flags = TCP_ACK;
  h.window = 0xffff;
  h.sackPermitted = true;
  h.mss = 536;
  assert.equal(tcpHeaderLength(h), 28);
  const b = new Uint8Array(100);
  b.set([7, 8, 9], 28);
  assert.equal(emitTcp(b, 0, 100, 0x0a000001, 0x0a000002, h, 3), 31);
  assert.equal(
    Array.from(b.subarray(20, 28), (x) => x.toString(16).padStart(2, "0")).join(""),
    "020402180101" + "0402",
  );
  const p = new TcpHeader();
  assert.equal(parseTcp(b, 0, 31, 0x0a000001, 0x0a000002, p), 28);
  assert.deepEqual([p.seq, p.ack, p.mss, p.sackPermitted, p.window], [
    0xffffffff,
    0x80000000,
    536,
    true,
    0xffff,
  ]);

  h.reset();
  Object.assign(h, { srcPort: 9, dstPort: 10, flags: TCP_ACK, sackCount: 4 });
  for (let i = 0; i < 8; i++) h.sack[i] = 0xfffffff0 + i;
  assert.equal(tcpHeaderLength(h), 56);
  emitTcp(b, 0, 100, 1, 2, h, 0);
  parseTcp(b, 0, 56, 1, 2, p);
  assert.equal(p.sackCount, 4);
  assert.deepEqual(Array.from(p.sack), Array.from(h.sack));

  // Unknown options (kind 30 length 6, kind 254 length 4) are skipped; EOL ends the list.
  const u = new Uint8Array(40);
  u.set([0, 1, 0, 2, 0, 0, 0, 5, 0, 0, 0, 0, 0xa0, 0x10, 0, 100, 0, 0, 0, 0]);
  u.set([30, 6, 1, 2, 3, 4, 254, 4, 9, 9, 3, 3, 7, 0, 2, 4, 1, 1, 1, 1], 20);
  const ck = l4Checksum(u, 0, 40, 1, 2, IPPROTO_TCP);
  u[16] = ck >>> 8;
  u[17] = ck & 0xff;
  parseTcp(u, 0, 40, 1, 2, p);
  assert.deepEqual([p.windowScale, p.mss, p.seq], [7, -1, 5], "options after EOL are not read");
});

Deno.test("TCP: malformed segments are typed WireErrors", async (t) => {
  const h = new TcpHeader();
  const mutate = (src: Uint8Array, at: number, v: number) => {
    const c = src.slice();
    c[at] = v;
    return c;
  };
  /** Parses without the checksum, so a mutation is judged on its own. */
  const parse = (f: Uint8Array, end = f.length, verify = false) => {
    parseIpv4(f, 14, f.length, ip);
    return parseTcp(f, 34, end, ip.src, ip.dst, h, verify);
  };
  /** LINUX_SYN (a 40-byte header) with its 20 option bytes replaced by `opts`. */
  const synOptions = (opts: number[]) => {
    assert.equal(opts.length, 20);
    const c = LINUX_SYN.slice();
    c.set(opts, 54);
    return c;
  };
  await t.step("every truncation of every kernel segment", () => {
    for (const f of LINUX_TCP_FRAMES) {
      for (let end = 34; end < 34 + 20 + (f[46] >>> 4) * 4 - 20; end++) {
        assert.equal(kindOf(() => parse(f, end)), "Truncated", `end ${end}`);
      }
    }
  });
  await t.step("data offset, checksum, ports, flag combinations", () => {
    assert.equal(kindOf(() => parse(mutate(LINUX_SYN, 46, 0x40))), "BadLength", "data offset 4");
    assert.equal(kindOf(() => parse(mutate(LINUX_ACK, 46, 0xf0))), "Truncated", "data offset past the end");
    assert.equal(kindOf(() => parse(mutate(LINUX_DATA, 60, 0x48), LINUX_DATA.length, true)), "BadChecksum");
    assert.equal(kindOf(() => parse(mutate(mutate(LINUX_ACK, 34, 0), 35, 0))), "BadField", "src port 0");
    assert.equal(kindOf(() => parse(mutate(mutate(LINUX_ACK, 36, 0), 37, 0))), "BadField", "dst port 0");
    assert.equal(kindOf(() => parse(mutate(LINUX_SYN, 47, TCP_SYN | TCP_FIN))), "BadField", "SYN+FIN");
    assert.equal(kindOf(() => parse(mutate(LINUX_SYN, 47, TCP_SYN | TCP_RST))), "BadField", "SYN+RST");
  });
  await t.step("bad option lengths", () => {
    // LINUX_SYN options at 54: mss(54) sackOK(58) TS(60) nop(70) wscale(71).
    assert.equal(kindOf(() => parse(mutate(LINUX_SYN, 55, 1))), "BadLength", "length 1");
    assert.equal(kindOf(() => parse(mutate(LINUX_SYN, 55, 0))), "BadLength", "length 0");
    assert.equal(kindOf(() => parse(mutate(LINUX_SYN, 72, 4))), "BadLength", "wscale past the header");
    assert.equal(kindOf(() => parse(mutate(LINUX_SYN, 61, 15))), "BadLength", "timestamps past the header");
    const last = mutate(mutate(mutate(LINUX_SYN, 71, 1), 72, 1), 73, 3);
    assert.equal(kindOf(() => parse(last)), "BadLength", "kind 3 as the last byte");
    // A wrong length for its kind that runs past the header is still an error; within it, skipped.
    const nops = Array(12).fill(1);
    assert.equal(
      parse(synOptions([...nops, 8, 8, 0, 0, 0, 0, 0, 0])),
      74,
      "timestamps 8 as the last 8 bytes",
    );
    assert.equal(h.hasTimestamps, false);
    assert.equal(
      kindOf(() => parse(synOptions([...nops, 1, 1, 1, 1, 1, 1, 8, 10]))),
      "BadLength",
      "timestamps 10 past",
    );
    assert.equal(
      kindOf(() => parse(synOptions([...nops, 1, 1, 1, 1, 1, 1, 2, 4]))),
      "BadLength",
      "MSS 4 past",
    );
    assert.equal(
      kindOf(() => parse(synOptions([...nops, 1, 1, 1, 1, 1, 1, 3, 5]))),
      "BadLength",
      "wscale 5 past",
    );
  });
  await t.step("a known option with the wrong length is skipped, the segment kept (as Linux)", () => {
    const TS = [8, 10, 0, 0, 0, 1, 0, 0, 0, 2];
    const MSS = [2, 4, 0x05, 0xb4];
    const cases: [string, number[], Partial<TcpHeader>][] = [
      ["timestamps length 8", [...MSS, 8, 8, 1, 2, 3, 4, 5, 6, 3, 3, 7, 4, 2, 1, 1, 1], {
        mss: 1460,
        hasTimestamps: false,
        windowScale: 7,
        sackPermitted: true,
      }],
      ["window scale length 4", [...MSS, 3, 4, 7, 0, 4, 2, ...TS], {
        mss: 1460,
        windowScale: -1,
        sackPermitted: true,
        hasTimestamps: true,
        tsVal: 1,
        tsEcr: 2,
      }],
      ["SACK-permitted length 4", [4, 4, 0, 0, ...MSS, ...TS, 1, 1], {
        sackPermitted: false,
        mss: 1460,
        hasTimestamps: true,
      }],
      ["SACK-permitted length 3", [4, 3, 0, 1, ...MSS, ...TS, 1, 1], {
        sackPermitted: false,
        mss: 1460,
        tsEcr: 2,
      }],
      ["SACK with no blocks", [5, 2, ...MSS, ...TS, 1, 1, 1, 1], { sackCount: 0, mss: 1460, tsVal: 1 }],
      ["SACK length 6", [5, 6, 0, 0, 0, 1, ...TS, 3, 3, 7, 0], { sackCount: 0, windowScale: 7, tsVal: 1 }],
    ];
    for (const mssLength of [2, 3, 5, 6, 8]) {
      const bad = [2, mssLength, ...Array(mssLength - 2).fill(0x05)];
      const opts = [...bad, ...TS];
      while (opts.length < 20) opts.push(1);
      cases.push([`MSS length ${mssLength}`, opts, { mss: -1, hasTimestamps: true, tsVal: 1, tsEcr: 2 }]);
    }
    for (const [name, opts, want] of cases) {
      const f = synOptions(opts);
      assert.equal(parse(f), 74, name);
      for (const [k, v] of Object.entries(want)) assert.equal(h[k as keyof TcpHeader], v, `${name}: ${k}`);
      assert.equal(h.flags, LINUX_SYN[47], name);
    }
  });
  await t.step("emit refuses values the header cannot hold", () => {
    const b = new Uint8Array(200);
    for (
      const bad of [
        { srcPort: 0x10000 },
        { dstPort: -1 },
        { seq: 2 ** 32 },
        { ack: 1.5 },
        { flags: 0x100 },
        { window: 0x10000 },
        { urgent: -1 },
        { mss: 0x10000 },
        { windowScale: 15 },
        { hasTimestamps: true, tsVal: -1 },
        { sackCount: 5 },
        { sackCount: 1.5 },
        { sackCount: 4, mss: 1460, windowScale: 1 },
        { sackCount: 4, hasTimestamps: true },
        // What the one-pass check of every field must refuse as the field-by-field one does.
        { seq: 5n as unknown as number },
        { window: "5" as unknown as number },
        { srcPort: NaN },
        { flags: 1.5 },
        { flags: -1 },
        { hasTimestamps: true, tsEcr: 2 ** 32 },
        { hasTimestamps: true, tsVal: 0.5 },
        { windowScale: -2 },
        { mss: -2 },
        { mss: 1.5 },
        { urgent: Infinity },
      ]
    ) {
      const e = Object.assign(new TcpHeader(), { srcPort: 1, dstPort: 2 }, bad);
      assert.equal(kindOf(() => emitTcp(b, 0, 200, 1, 2, e, 0)), "BadField", Deno.inspect(bad));
    }
    const e = Object.assign(new TcpHeader(), { srcPort: 1, dstPort: 2, sackCount: 3, hasTimestamps: true });
    assert.equal(tcpHeaderLength(e), 60, "timestamps and three SACK blocks fill the 40 bytes exactly");
    assert.equal(kindOf(() => emitTcp(b, 0, 200, 1, 2, e, -1)), "BadField", "negative payload");
    assert.equal(kindOf(() => emitTcp(b, 0, 200, 1, 2, e, 0xffff)), "BadField", "payload beyond 16 bits");
    assert.equal(kindOf(() => emitTcp(b, 0, 200, 1, 2, e, 141)), "Truncated", "past the view");
    assert.equal(kindOf(() => emitTcp(b, 150, 200, 1, 2, e, 0)), "Truncated", "header past the view");
  });
  await t.step("arguments of the wrong kind are InvalidArgument", () => {
    const b = new Uint8Array(100);
    const e = Object.assign(new TcpHeader(), { srcPort: 1, dstPort: 2 });
    const f = LINUX_ACK.subarray(34);
    assert.equal(kindOf(() => parseTcp(f, 0, f.length, 1, 2, {} as TcpHeader)), "InvalidArgument", "header");
    assert.equal(kindOf(() => parseTcp(f, 0, f.length, -1, 2, h)), "InvalidArgument", "src");
    assert.equal(kindOf(() => parseTcp(f, 0, f.length, 1, 2 ** 32, h)), "InvalidArgument", "dst");
    assert.equal(kindOf(() => parseTcp(f, 0.5, f.length, 1, 2, h)), "InvalidArgument", "offset");
    assert.equal(
      kindOf(() => parseTcp([] as unknown as Uint8Array, 0, 0, 1, 2, h)),
      "InvalidArgument",
      "bytes",
    );
    assert.equal(kindOf(() => emitTcp(b, 0, 100, 1, 2, e, 0, -2)), "InvalidArgument", "payload sum");
    assert.equal(
      kindOf(() => emitTcp(b, 0, 100, 1, 2, e, 0, 2 ** 31)),
      "InvalidArgument",
      "payload sum 2^31",
    );
    assert.equal(kindOf(() => emitTcp(b, 0, 100, 1, 2, e, 0, 1.5)), "InvalidArgument", "payload sum 1.5");
    assert.equal(kindOf(() => emitTcp(b, 0, 100, 1, 2 ** 32, e, 0)), "InvalidArgument", "dst");
    assert.equal(kindOf(() => emitTcp(b, 0, 100, 1, 2, e, 0.5)), "BadField", "payload length 0.5");
    assert.equal(kindOf(() => emitTcp(b, 0, 100, 1.5, 2, e, 0)), "InvalidArgument", "src");
    assert.equal(kindOf(() => tcpHeaderLength(new Ipv4Header() as unknown as TcpHeader)), "InvalidArgument");
  });
});

Deno.test("TCP sequence arithmetic wraps modulo 2^32", () => {
  assert.equal(seqDiff(5, 0xfffffffb), 10);
  assert.equal(seqDiff(0xfffffffb, 5), -10);
  assert.equal(seqAdd(0xffffffff, 2), 1);
  assert.equal(seqDiff(0x7fffffff, 0), 0x7fffffff);
});

/** xorshift32: deterministic, so a failure can be replayed from its seed and index. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function describe(b: Uint8Array, off: number, end: number, h: TcpHeader): string {
  try {
    const p = parseTcp(b, off, end, 0xc6126301, 0xc6126302, h);
    return `ok ${h.srcPort} ${h.dstPort} ${h.seq} ${h.ack} ${h.flags} ${h.window} ${h.urgent} ${h.mss} ` +
      `${h.windowScale} ${h.sackPermitted} ${h.hasTimestamps} ${h.tsVal} ${h.tsEcr} ${h.sackCount} ` +
      `${h.sack.subarray(0, 2 * h.sackCount)} ${b.subarray(p, end)}`;
  } catch (e) {
    if (e instanceof WireError) return `error ${e.kind}`;
    throw e;
  }
}

Deno.test(`TCP fuzz: ${ITERATIONS} mutated kernel segments and random headers`, () => {
  const rand = rng(SEED);
  const int = (n: number) => Math.floor(rand() * n);
  const low = new Uint8Array(128);
  const high = new Uint8Array(128);
  const h = new TcpHeader();
  const e = new TcpHeader();
  const p = new TcpHeader();
  const buf = new Uint8Array(128);
  const outcomes = new Map<string, number>();
  for (let n = 0; n < ITERATIONS; n++) {
    if (n % 4 === 3) {
      // A random valid header round-trips field for field.
      e.reset();
      e.srcPort = 1 + int(0xffff);
      e.dstPort = 1 + int(0xffff);
      e.seq = int(2 ** 32);
      e.ack = int(2 ** 32);
      e.flags = int(256) & ~(rand() < 0.5 ? TCP_SYN : TCP_FIN | TCP_RST);
      e.window = int(0x10000);
      e.urgent = int(0x10000);
      if (rand() < 0.3) e.mss = int(0x10000);
      if (rand() < 0.3) e.windowScale = int(15);
      e.sackPermitted = rand() < 0.3;
      if (rand() < 0.5) {
        e.hasTimestamps = true;
        e.tsVal = int(2 ** 32);
        e.tsEcr = int(2 ** 32);
      }
      const room = 40 - (tcpHeaderLength(e) - 20);
      e.sackCount = Math.min(int(5), Math.floor((room - 4) / 8));
      if (e.sackCount < 0) e.sackCount = 0;
      for (let i = 0; i < 8; i++) e.sack[i] = int(2 ** 32);
      const len = int(20);
      const hl = tcpHeaderLength(e);
      for (let i = 0; i < len; i++) buf[hl + i] = int(256);
      const end = emitTcp(buf, 0, buf.length, 0xc6126301, 0xc6126302, e, len);
      assert.equal(parseTcp(buf, 0, end, 0xc6126301, 0xc6126302, p), hl, `seed ${SEED} input ${n}`);
      for (
        const k of [
          "srcPort",
          "dstPort",
          "seq",
          "ack",
          "flags",
          "window",
          "urgent",
          "mss",
          "windowScale",
        ] as const
      ) {
        assert.equal(p[k], e[k], `seed ${SEED} input ${n}: ${k}`);
      }
      assert.deepEqual(
        [p.sackPermitted, p.hasTimestamps, p.tsVal, p.tsEcr, p.sackCount],
        [e.sackPermitted, e.hasTimestamps, e.tsVal, e.tsEcr, e.sackCount],
      );
      assert.deepEqual(p.sack.subarray(0, 2 * p.sackCount), e.sack.subarray(0, 2 * e.sackCount));
      outcomes.set("roundtrip", (outcomes.get("roundtrip") ?? 0) + 1);
      continue;
    }
    let seg: Uint8Array;
    if (n % 4 === 0) {
      seg = Uint8Array.from({ length: int(80) }, () => int(256));
      if (seg.length >= 13 && rand() < 0.7) seg[12] = (5 + int(11)) << 4;
    } else {
      const base = LINUX_TCP_FRAMES[int(LINUX_TCP_FRAMES.length)].subarray(34);
      seg = base.slice(0, base.length - (rand() < 0.3 ? int(base.length) : 0));
      const flips = 1 + int(4);
      for (let k = 0; k < flips && seg.length > 0; k++) {
        // Mostly the options and offset byte: where the parser branches.
        const at = rand() < 0.7 ? Math.min(seg.length - 1, 12 + int(seg.length)) : int(seg.length);
        seg[at] = int(256);
      }
      if (rand() < 0.5 && seg.length >= 18) {
        // Fix the checksum so the options are reached.
        seg[16] = 0;
        seg[17] = 0;
        const ck = l4Checksum(seg, 0, seg.length, 0xc6126301, 0xc6126302, IPPROTO_TCP);
        seg[16] = ck >>> 8;
        seg[17] = ck & 0xff;
      }
    }
    low.fill(0);
    high.fill(0xff);
    low.set(seg, 7);
    high.set(seg, 7);
    let a: string;
    let b: string;
    try {
      a = describe(low, 7, 7 + seg.length, h);
      b = describe(high, 7, 7 + seg.length, h);
    } catch (err) {
      assert.fail(`seed ${SEED} input ${n}: untyped exception ${err} for ${Array.from(seg)}`);
    }
    assert.equal(a, b, `seed ${SEED} input ${n}: the outcome depends on bytes past the view`);
    const kind = a.split(" ").slice(0, 2).join(" ");
    outcomes.set(
      kind.startsWith("ok") ? "ok" : kind,
      (outcomes.get(kind.startsWith("ok") ? "ok" : kind) ?? 0) + 1,
    );
  }
  for (
    const reached of [
      "ok",
      "roundtrip",
      "error BadChecksum",
      "error BadLength",
      "error Truncated",
      "error BadField",
    ]
  ) {
    assert.ok((outcomes.get(reached) ?? 0) > 0, `never reached ${reached}: ${JSON.stringify([...outcomes])}`);
  }
});

Deno.test("TCP: segments of every length verify through the native summer as through the JS loop", () => {
  // The interface installs C's summer for long ranges (≥ 256 bytes); the JS loop is the reference.
  const rand = rng(31);
  const b = new Uint8Array(70000);
  const v = new DataView(b.buffer);
  const h = new TcpHeader();
  const out = Object.assign(new TcpHeader(), {
    srcPort: 5001,
    dstPort: 40000,
    seq: 7,
    ack: 9,
    flags: TCP_ACK,
  });
  const reference = (start: number, end: number) => {
    let s = 0;
    for (let i = start; i < end; i += 2) s += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
    return s;
  };
  for (const len of [0, 1, 200, 235, 236, 237, 1000, 1460, 1461, 8959, 65495]) {
    for (const off of [0, 1, 54]) {
      for (let i = 0; i < 20 + len; i++) b[off + i] = Math.floor(rand() * 256);
      const end = emitTcp(b, off, b.length, 0x0a000001, 0x0a000002, out, len);
      const fold = (s: number) => {
        while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
        return s;
      };
      assert.equal(fold(sumView(v, off, end)), fold(reference(off, end)), `sum of ${len} at ${off}`);
      assert.equal(
        parseTcp(b, off, end, 0x0a000001, 0x0a000002, h),
        off + 20,
        `${len} bytes at ${off} parse`,
      );
      const at = off + 20 + Math.floor(rand() * len);
      if (len === 0) continue;
      b[at] ^= 0x40; // one bit flipped in the payload: refused
      assert.equal(
        kindOf(() => parseTcp(b, off, end, 0x0a000001, 0x0a000002, h)),
        "BadChecksum",
        `${len} at ${off}`,
      );
      b[at] ^= 0x40;
    }
  }
});

Deno.test("TCP: timestamps alone (NOP, NOP, TS: parseTcp's shortcut) parse as the same options laid out otherwise", () => {
  // One header, options in three layouts: the shortcut's (NOP NOP TS), TS first (the general
  // loop), and the shortcut's first word with more options after it (the general loop too).
  const layouts = [
    [1, 1, 8, 10, 0xfe, 0xdc, 0xba, 0x98, 0x01, 0x02, 0x03, 0x04],
    [8, 10, 0xfe, 0xdc, 0xba, 0x98, 0x01, 0x02, 0x03, 0x04, 1, 1],
    [1, 1, 8, 10, 0xfe, 0xdc, 0xba, 0x98, 0x01, 0x02, 0x03, 0x04, 1, 3, 3, 5],
  ];
  const seen: unknown[] = [];
  for (const opts of layouts) {
    const hl = 20 + opts.length;
    const b = new Uint8Array(hl + 3);
    b.set([
      0x13,
      0x89,
      0x9c,
      0x40,
      0xb2,
      0xd0,
      0x5e,
      0x00,
      0,
      1,
      0xe2,
      0x40,
      (hl / 4) << 4,
      TCP_ACK,
      0xff,
      0xff,
    ]);
    b.set(opts, 20);
    b.set([7, 8, 9], hl);
    const ck = l4Checksum(b, 0, b.length, 0x0a000001, 0x0a000002, IPPROTO_TCP);
    b[16] = ck >>> 8;
    b[17] = ck & 0xff;
    const p = new TcpHeader();
    p.mss = 1460; // left over from an earlier segment: cleared by the parse
    p.sackCount = 2;
    assert.equal(parseTcp(b, 0, b.length, 0x0a000001, 0x0a000002, p), hl);
    assert.deepEqual(
      [p.hasTimestamps, p.tsVal, p.tsEcr, p.mss, p.sackCount, p.sackPermitted],
      [true, 0xfedcba98, 0x01020304, -1, 0, false],
      `layout ${opts.slice(0, 4)}`,
    );
    seen.push({
      ...p,
      headerLength: 0,
      checksum: 0,
      sack: null,
      windowScale: hl === 36 ? -1 : p.windowScale,
    });
  }
  assert.equal(seen.length, 3);
  assert.deepEqual(seen[0], seen[1], "the shortcut gives what the general loop gives");
  assert.deepEqual(seen[0], seen[2]);
});
