/**
 * The C copy-and-checksum (`mdp_copy_cksum`, `mdp_cksum` and their baseline forms in
 * csrc/shim_mbuf.c) against the TypeScript reference sum (src/net/wire/checksum.ts): the same
 * sum and the same bytes for every length 0 … 9000 and every alignment of source and destination,
 * on random, all-0xff and all-zero data, and nothing written outside the destination; and the
 * wrappers of src/net/copy.ts (`copySum`, `copyNative`, `sumNative`) with their view addresses.
 */
import assert from "node:assert/strict";
import { dpdk } from "../src/ffi.ts";
import { copyNative, copySum, sumNative } from "../src/net/copy.ts";
import { InterfaceError } from "../src/net/error.ts";
import { copyAndSumRaw, setNativeSum, sumViewRaw } from "../src/net/wire/checksum.ts";

/** xorshift32: the same data on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Folds a running sum to 16 bits (not complemented), as the C returns it. */
function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The reference: the words' sum of `src[from .. from + length)` by the TypeScript loop. */
function referenceSum(src: Uint8Array, from: number, length: number): number {
  const v = new DataView(src.buffer, src.byteOffset, src.byteLength);
  let sum = 0;
  // Byte by byte, big-endian words counted from `from`, an odd last byte as the high half.
  for (let i = 0; i + 1 < length; i += 2) sum += (src[from + i] << 8) | src[from + i + 1];
  if (length & 1) sum += src[from + length - 1] << 8;
  const viaView = fold(sumViewRawJs(v, from, length));
  assert.equal(fold(sum), viaView, `the two references differ at length ${length}`);
  return fold(sum);
}

/** sumViewRaw's JS loop: parts of 100 bytes, below its native threshold (128), never call C. */
function sumViewRawJs(v: DataView, from: number, length: number): number {
  let sum = 0;
  // Each part after the first starts at an even offset (100 is even): its words stay aligned.
  for (let at = from; at < from + length; at += 100) {
    sum = sumViewRaw(v, at, Math.min(at + 100, from + length), sum);
  }
  return sum;
}

function addressOf(b: Uint8Array): number {
  return Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b as Uint8Array<ArrayBuffer>)));
}

const GUARD = 0xa5;

type CopyForm = (dst: number, src: number, n: number) => number;
type SumForm = (src: number, n: number) => number;

const ffi = dpdk();
const FORMS: [string, CopyForm, SumForm][] = [
  ["dispatched", ffi.mdp_copy_cksum, ffi.mdp_cksum],
  ["baseline", ffi.mdp_copy_cksum_base, ffi.mdp_cksum_base],
];

const MAX_LEN = 9000;
const ALIGN = 64;
// Source and destination buffers, each with room for every alignment and guard bytes after.
const SRC = new Uint8Array(MAX_LEN + 2 * ALIGN);
const DST = new Uint8Array(MAX_LEN + 2 * ALIGN);
const SRC_AT = addressOf(SRC);
const DST_AT = addressOf(DST);

function fill(kind: "random" | "ones" | "zeros", next: () => number): void {
  for (let i = 0; i < SRC.length; i++) {
    SRC[i] = kind === "random" ? next() & 0xff : kind === "ones" ? 0xff : 0;
  }
}

/** Copies `length` bytes from SRC[from] to DST[to] with `copy`, checks the sum and every byte of DST. */
function checkCopy(
  name: string,
  copy: CopyForm,
  sum: SumForm,
  from: number,
  to: number,
  length: number,
): void {
  DST.fill(GUARD);
  const want = referenceSum(SRC, from, length);
  const got = copy(DST_AT + to, SRC_AT + from, length);
  const what = `${name}: length ${length}, source +${from}, destination +${to}`;
  if (got !== want) assert.fail(`${what}: sum 0x${got.toString(16)}, want 0x${want.toString(16)}`);
  for (let i = 0; i < DST.length; i++) {
    const inside = i >= to && i < to + length;
    const expect = inside ? SRC[from + i - to] : GUARD;
    if (DST[i] !== expect) {
      assert.fail(`${what}: byte ${i} is ${DST[i]}, want ${expect} (${inside ? "copied" : "untouched"})`);
    }
  }
  const only = sum(SRC_AT + from, length);
  if (only !== want) assert.fail(`${what}: sum-only 0x${only.toString(16)}, want 0x${want.toString(16)}`);
}

Deno.test("the dispatched form is the AVX2 one on a CPU with AVX2 (so both forms are tested here)", () => {
  // Deno reads /proc only with --allow-all; grep reads it for us (exit 0: found, 1: not).
  const grep = new Deno.Command("grep", { args: ["-qw", "avx2", "/proc/cpuinfo"] }).outputSync();
  assert.ok(grep.code === 0 || grep.code === 1, `grep /proc/cpuinfo failed (${grep.code})`);
  assert.equal(ffi.mdp_copy_cksum_level(), grep.code === 0 ? 2 : 0);
});

for (const [name, copy, sum] of FORMS) {
  Deno.test(`${name} copy-and-sum: every length 0–300 and every alignment pair 0–${ALIGN - 1}`, () => {
    const next = rng(1);
    fill("random", next);
    for (let length = 0; length <= 300; length++) {
      // All 64 × 64 pairs for the lengths around the vector widths, a random pair for the others.
      const full = length <= 2 || (length >= 30 && length <= 34) || (length >= 62 && length <= 66) ||
        length === 129;
      for (let from = 0; from < ALIGN; from++) {
        for (let to = 0; to < ALIGN; to++) {
          if (full || (from === (next() & 63) && to === (next() & 63))) {
            checkCopy(name, copy, sum, from, to, length);
          }
        }
      }
      checkCopy(name, copy, sum, next() & 63, next() & 63, length);
    }
  });

  Deno.test(`${name} copy-and-sum: every length 0–${MAX_LEN} at random alignments, three kinds of data`, () => {
    const next = rng(2);
    for (const kind of ["random", "ones", "zeros"] as const) {
      fill(kind, next);
      for (const length of [1447, 1448, 1460, 1472, 1480, 8999, MAX_LEN]) {
        for (let from = 0; from < 4; from++) {
          for (let to = 0; to < 4; to++) checkCopy(name, copy, sum, from, to, length);
        }
      }
      if (kind === "random") {
        for (let length = 0; length <= MAX_LEN; length++) {
          checkCopy(name, copy, sum, next() & 63, next() & 63, length);
        }
      } else {
        for (let k = 0; k < 300; k++) {
          checkCopy(name, copy, sum, next() & 63, next() & 63, next() % (MAX_LEN + 1));
        }
      }
    }
  });

  Deno.test(`${name} copy-and-sum: 5 MiB of 0x00 and of 0xff bytes (the lanes are drained in time)`, () => {
    // The extremes of the vector lanes (each word is flipped by 0x8000 and added signed): a lane
    // drained too late would wrap past ±2³¹ on one of the two.
    const n = 5 * 1024 * 1024 + 3;
    const src = new Uint8Array(n + 1);
    const dst = new Uint8Array(n + 1);
    for (const byte of [0, 0xff]) {
      src.fill(byte);
      for (const from of [0, 1]) {
        const length = n - from;
        dst.fill(byte ^ 1);
        const got = copy(addressOf(dst), addressOf(src) + from, length);
        // 0xffff words are ≡ 0 modulo 0xffff and not zero: 0xffff whatever their count; an odd
        // last byte 0xff adds 0xff00.
        const want = byte === 0 ? 0 : fold((length >>> 1) * 0xffff + (length & 1 ? 0xff00 : 0));
        assert.equal(got, want, `${name}: ${length} bytes of ${byte}`);
        assert.equal(
          sum(addressOf(src) + from, length),
          want,
          `${name} sum-only: ${length} bytes of ${byte}`,
        );
        assert.equal(
          dst.indexOf(byte ^ 1),
          length,
          `${name}: copied ${dst.indexOf(byte ^ 1)} of ${length} bytes`,
        );
      }
    }
  });
}

Deno.test("copySum (JS below its C threshold, C above) equals the TypeScript copyAndSum on the same bytes", () => {
  const next = rng(3);
  fill("random", next);
  const sv = new DataView(SRC.buffer);
  const dv = new DataView(DST.buffer);
  const ref = new Uint8Array(DST.length);
  const rv = new DataView(ref.buffer);
  for (let length = 0; length <= 2100; length += 1 + (length >> 4)) {
    const from = next() & 63;
    const to = next() & 63;
    DST.fill(GUARD);
    ref.fill(GUARD);
    const got = copySum(dv, to, sv, from, length);
    const want = copyAndSumRaw(rv, to, sv, from, length);
    assert.equal(fold(got), fold(want), `length ${length}, source +${from}, destination +${to}`);
    assert.deepEqual(DST, ref, `length ${length}: the copies differ`);
  }
});

Deno.test("copyNative and sumNative: views at offsets of one buffer, in both directions, overlapping", () => {
  // Views of one buffer at several offsets: each view's address is its buffer's plus its offset,
  // whichever view of the buffer was seen first.
  const next = rng(4);
  const buf = new ArrayBuffer(20000);
  const bytes = new Uint8Array(buf);
  const views = [0, 1, 7, 4096, 9001].map((o) => new DataView(buf, o, 10000));
  for (let k = 0; k < 3000; k++) {
    for (let i = 0; i < bytes.length; i++) bytes[i] = next() & 0xff;
    const model = bytes.slice();
    const dv = views[next() % views.length];
    const sv = views[next() % views.length];
    const length = next() % 3000;
    const to = next() % (10000 - length);
    const from = next() % (10000 - length);
    const what = `${length} bytes from +${sv.byteOffset + from} to +${dv.byteOffset + to}`;
    const want = referenceSum(bytes, sv.byteOffset + from, length);
    assert.equal(sumNative(sv, from, length), want, `sumNative of ${what}`);
    copyNative(dv, to, sv, from, length);
    // memmove: as if through a temporary copy, whatever the overlap.
    model.copyWithin(dv.byteOffset + to, sv.byteOffset + from, sv.byteOffset + from + length);
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] !== model[i]) {
        assert.fail(`copyNative of ${what}: byte ${i} is ${bytes[i]}, want ${model[i]}`);
      }
    }
  }
});

Deno.test("the copy wrappers refuse a detached buffer and a range past a view (no address reaches C)", () => {
  const buf = new ArrayBuffer(4096);
  const v = new DataView(buf);
  const other = new DataView(new ArrayBuffer(4096));
  assert.equal(copySum(other, 0, v, 0, 1000), 0); // both views' addresses are known now
  structuredClone(buf, { transfer: [buf] }); // detaches buf: its memory is gone
  for (
    const f of [
      () => copySum(other, 0, v, 0, 1000),
      () => copySum(v, 0, other, 0, 1000),
      () => copyNative(other, 0, v, 0, 1000),
      () => copyNative(v, 0, other, 0, 1000),
      () => sumNative(v, 0, 1000),
      () => copySum(other, 3500, other, 0, 1000),
      () => copyNative(other, 0, other, 3500, 1000),
      () => sumNative(other, -1, 100),
    ]
  ) {
    assert.throws(f, (e) => e instanceof InterfaceError && e.kind === "InvalidArgument");
  }
});

Deno.test("sumViewRaw with the native summer (sumNative) installed equals its JS loop, and uses it for long ranges", () => {
  const next = rng(6);
  fill("random", next);
  const v = new DataView(SRC.buffer);
  let calls = 0;
  let longest = 0;
  setNativeSum((w, start, length) => {
    calls++;
    longest = Math.max(longest, length);
    return sumNative(w, start, length);
  });
  try {
    for (let length = 0; length <= 2000; length += 1 + (length >> 5)) {
      const from = next() & 63;
      const running = next() & 0xffffff; // a pseudo-header's sum before the payload
      const got = fold(sumViewRaw(v, from, from + length, running));
      const want = fold(running + referenceSum(SRC, from, length));
      assert.equal(got, want, `length ${length} from +${from}`);
    }
  } finally {
    setNativeSum(null);
  }
  assert.ok(
    calls > 0 && longest >= 1900,
    `the native summer took ${calls} ranges, the longest ${longest} bytes`,
  );
});

Deno.test("copyAndSumRaw (the JS loop copySum takes below 64 bytes) against the byte-wise reference: lengths 0–80, every source and destination offset 0–15", () => {
  const sv = new DataView(SRC.buffer);
  const dv = new DataView(DST.buffer);
  for (const kind of ["random", "ones"] as const) {
    fill(kind, rng(7));
    for (let length = 0; length <= 80; length++) {
      for (let from = 0; from < 16; from++) {
        for (let to = 0; to < 16; to++) {
          DST.fill(GUARD);
          const what = `${kind}: length ${length}, source +${from}, destination +${to}`;
          assert.equal(copySum(dv, to, sv, from, length), referenceSum(SRC, from, length), what);
          for (let i = 0; i < to + length + 8; i++) {
            const want = i >= to && i < to + length ? SRC[from + i - to] : GUARD;
            if (DST[i] !== want) assert.fail(`${what}: byte ${i} is ${DST[i]}, want ${want}`);
          }
        }
      }
    }
  }
});

Deno.test("the JS sums stay exact past a 2^32 running total: 1 MiB of 0xff and of random bytes", () => {
  const big = new Uint8Array(1 << 20);
  const next = rng(11);
  for (const kind of ["ones", "random"]) {
    for (let i = 0; i < big.length; i++) big[i] = kind === "ones" ? 0xff : next() & 0xff;
    const want = referenceSum(big, 0, big.length);
    const v = new DataView(big.buffer);
    assert.equal(sumViewRaw(v, 0, big.length, 0), want, `${kind}: sumViewRaw`);
    const out = new DataView(new ArrayBuffer(big.length));
    assert.equal(copyAndSumRaw(out, 0, v, 0, big.length), want, `${kind}: copyAndSumRaw`);
  }
});
