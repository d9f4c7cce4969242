/** IPv4 reassembly on its own (src/net/iface/fragment.ts) and the wire helpers it uses. */
import assert from "node:assert/strict";
import { fragmentPayloadSize, ipv4OptionsError, WireError } from "../mod.ts";
import { FRAGMENT_OVERHEAD, MAX_FRAGMENTS, Reassembler } from "../src/net/iface/fragment.ts";
import { hex } from "./_fixtures.ts";

const HEADER = hex("45000000 1234 0000 40 11 0000 0a000001 0a000002");
const info = (offset: number, more: boolean, id = 0x1234) => ({
  src: 0x0a000001,
  dst: 0x0a000002,
  id,
  protocol: 17,
  headerLength: 20,
  fragmentOffset: offset,
  moreFragments: more,
});
/** A fragment's bytes: the header then `len` payload bytes numbered from `offset`. */
function frag(offset: number, len: number): Uint8Array {
  const f = new Uint8Array(20 + len);
  f.set(HEADER);
  for (let i = 0; i < len; i++) f[20 + i] = (offset + i) & 0xff;
  return f;
}
const payload = (n: number) => Uint8Array.from({ length: n }, (_, i) => i & 0xff);

function feed(r: Reassembler, parts: [number, number, boolean][], now = 0) {
  let out = null;
  for (const [off, len, more] of parts) {
    const f = frag(off, len);
    const got = r.add(info(off, more), f, 0, 20, f.length, true, now);
    if (got !== null) out = got;
  }
  return out;
}

Deno.test("reassembly: in order, out of order, with duplicates; the header comes from the first fragment", () => {
  for (
    const order of [
      [[0, 16, true], [16, 16, true], [32, 5, false]],
      [[32, 5, false], [0, 16, true], [16, 16, true]],
      [[16, 16, true], [16, 16, true], [32, 5, false], [0, 16, true]],
    ] as [number, number, boolean][][]
  ) {
    const r = new Reassembler(8, 1 << 20, 30_000);
    const out = feed(r, order);
    assert.ok(out, JSON.stringify(order));
    assert.equal(out.headerLength, 20);
    assert.deepEqual(out.bytes.subarray(20), payload(37));
    assert.equal((out.bytes[2] << 8) | out.bytes[3], 57, "total length rewritten");
    assert.equal(out.bytes[6], 0x00, "MF and offset cleared");
    assert.equal(r.size, 0);
    assert.equal(r.memory, 0);
    assert.equal(r.stats.reassembled, 1);
    assert.equal(r.stats.duplicates, order.length - 3);
  }
});

Deno.test("reassembly: overlaps drop the datagram; contradictions and > 65 535 bytes are dropped", () => {
  const r = new Reassembler(8, 1 << 20, 30_000);
  assert.equal(feed(r, [[0, 16, true], [8, 16, true], [24, 8, false]]), null);
  assert.equal(r.stats.overlaps, 1);
  assert.equal(r.size, 1, "the fragment after the overlap starts a new datagram");
  const q = new Reassembler(8, 1 << 20, 30_000);
  assert.equal(feed(q, [[0, 16, true], [32, 8, false], [16, 8, false]]), null, "two different ends");
  assert.equal(feed(q, [[0, 12, true]]), null, "a non-last fragment not a multiple of 8");
  assert.equal(feed(q, [[65520, 16, false]]), null, "past 65 535 bytes");
  assert.equal(q.stats.dropped, 3);
  assert.equal(q.stats.reassembled, 0);
});

Deno.test("reassembly: bounded in datagrams and bytes; timeouts in arrival order, one comparison when idle", () => {
  const r = new Reassembler(2, 3 * FRAGMENT_OVERHEAD + 40, 1000);
  const f = frag(0, 16);
  assert.equal(r.add(info(0, true, 1), f, 0, 20, 36, true, 0), null);
  assert.equal(r.add(info(0, true, 2), f, 0, 20, 36, false, 10), null);
  assert.equal(r.add(info(0, true, 3), f, 0, 20, 36, true, 20), null);
  assert.equal(r.stats.dropped, 1, "a third datagram: over the limit");
  const g = frag(16, 16);
  assert.equal(r.add(info(16, true, 1), g, 0, 20, 36, true, 30), null);
  assert.equal(r.stats.dropped, 2, "48 bytes of payload would exceed 40");
  const timedOut: [Uint8Array, boolean][] = [];
  r.expire(999, (q, u) => timedOut.push([q, u]));
  assert.equal(timedOut.length, 0);
  r.expire(1000, (q, u) => timedOut.push([q, u]));
  assert.equal(timedOut.length, 1);
  assert.deepEqual(timedOut[0][0], f.subarray(0, 28), "quote: header and 8 bytes of the first fragment");
  r.expire(1010, (q, u) => timedOut.push([q, u]));
  assert.equal(timedOut[1][1], false, "the first fragment's link-layer kind is kept");
  assert.equal(r.stats.timeouts, 2);
  assert.equal(r.memory, 0);
  // A timed-out datagram without its first fragment: counted, no ICMP.
  r.add(info(8, true, 9), f, 0, 20, 36, true, 2000);
  r.expire(5000, () => assert.fail("no first fragment, no quote"));
  assert.equal(r.stats.timeouts, 3);
});

Deno.test("wire: ipv4OptionsError points at the bad option; fragmentPayloadSize is a multiple of 8", () => {
  const h = (opts: string) => {
    const o = hex(opts);
    const b = new Uint8Array(20 + o.length);
    b[0] = 0x40 | (b.length / 4);
    b.set(o, 20);
    return b;
  };
  assert.equal(ipv4OptionsError(h("01010100"), 0, 24), -1, "NOPs and EOL");
  assert.equal(ipv4OptionsError(h("00ffffff"), 0, 24), -1, "after EOL: padding");
  assert.equal(ipv4OptionsError(h("07030401"), 0, 24), -1, "a 3-byte option then NOP");
  assert.equal(ipv4OptionsError(h("01010107"), 0, 24), 23, "no room for the length byte");
  assert.equal(ipv4OptionsError(h("44010000"), 0, 24), 20, "length 1");
  assert.equal(ipv4OptionsError(h("01440800"), 0, 24), 21, "runs past the header");
  assert.equal(fragmentPayloadSize(1500), 1480);
  assert.equal(fragmentPayloadSize(576, 24), 552);
  assert.equal(fragmentPayloadSize(68), 48);
  assert.throws(() => fragmentPayloadSize(27), WireError);
});

Deno.test("reassembly: tiny fragments are charged their overhead; at most MAX_FRAGMENTS per datagram", () => {
  const r = new Reassembler(8, 100 * (8 + FRAGMENT_OVERHEAD), 1000);
  const f = frag(0, 8);
  for (let i = 0; i < 150; i++) r.add(info(8 * (2 * i + 1), true, 1), f, 0, 20, 28, true, 0);
  assert.equal(r.memory, 100 * (8 + FRAGMENT_OVERHEAD), "100 fragments fill the budget");
  assert.equal(r.stats.dropped, 50);
  const q = new Reassembler(8, 1 << 30, 1000);
  for (let i = 0; i <= MAX_FRAGMENTS; i++) q.add(info(8 * i, true, 2), f, 0, 20, 28, true, 0);
  assert.equal(q.stats.dropped, 1, "the fragment past the limit drops the datagram");
  assert.equal(q.size, 0);
  assert.equal(q.memory, 0);
});

Deno.test("reassembly: nextDeadline is the oldest datagram's timeout, Infinity when none", () => {
  const r = new Reassembler(8, 1 << 20, 1000);
  assert.equal(r.nextDeadline, Infinity);
  const f = frag(0, 16);
  r.add(info(0, true, 1), f, 0, 20, f.length, true, 50);
  r.add(info(0, true, 2), f, 0, 20, f.length, true, 70);
  assert.equal(r.nextDeadline, 1050);
  r.expire(1050, () => {});
  assert.equal(r.nextDeadline, 1070);
  const last = frag(16, 8);
  r.add(info(16, false, 2), last, 0, 20, last.length, true, 80); // completes datagram 2
  assert.equal(r.nextDeadline, Infinity);
});
