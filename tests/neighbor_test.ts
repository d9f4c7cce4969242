/** The neighbour cache and the table of neighbours being resolved, on their own. */
import assert from "node:assert/strict";
import { NeighborCache, PendingTable } from "../src/net/iface/neighbor.ts";

const OURS = Uint8Array.of(2, 0xaa, 0, 0, 0, 1);
const mac = (n: number) => Uint8Array.of(2, 0, 0, 0, n >> 8, n & 0xff);

Deno.test("NeighborCache: entries expire; a refresh keeps the entry object and moves its expiry", () => {
  const c = new NeighborCache(OURS, 4, 100);
  const n = c.fill(7, mac(7), 0);
  assert.equal(c.lookup(7, 99), n);
  assert.equal(c.lookup(7, 100), undefined, "expired at now + expiry");
  assert.equal(c.has(7), true, "an expired entry is still known (RFC 826 refresh)");
  const again = c.fill(7, mac(8), 150);
  assert.equal(again, n, "updated in place");
  assert.deepEqual(n.mac, mac(8));
  assert.equal(c.lookup(7, 200), n);
  // The Ethernet header words: their MAC, then our first two bytes.
  assert.equal(n.head0, 0x02000000);
  assert.equal(n.head1, 0x000802aa);
});

Deno.test("NeighborCache: bounded; the entry refreshed longest ago is evicted and marked expired", () => {
  const c = new NeighborCache(OURS, 3, 1000);
  const first = c.fill(1, mac(1), 0);
  c.fill(2, mac(2), 1);
  c.fill(3, mac(3), 2);
  c.fill(1, mac(1), 3); // refreshed: 2 is now the oldest
  c.fill(4, mac(4), 4);
  assert.equal(c.size, 3);
  assert.equal(c.evictions, 1);
  assert.equal(c.has(2), false, "2 was evicted");
  assert.equal(c.lookup(1, 5), first);
  for (let i = 10; i < 100_010; i++) c.fill(i, mac(i & 0xffff), i);
  assert.equal(c.size, 3, "a flood of senders never grows it");
  assert.equal(first.expires, -Infinity, "an evicted entry held elsewhere reads as expired");
});

Deno.test("PendingTable: bounded entries; requests every interval; given up after maxRequests", () => {
  const t = new PendingTable(2, 4, 1000, 100, 3);
  const asked: number[] = [];
  const ask = (ip: number) => asked.push(ip);
  const a = t.open(10)!;
  assert.equal(a.requests, 0, "a new entry: the caller sends the first request");
  t.requested(a, 0);
  assert.equal(t.enqueue(a, { dst: 10, src: 1, protocol: 17, segment: new Uint8Array(1) }), true);
  assert.equal(t.full(a, 1000), true, "1 + 1000 bytes would pass the byte limit");
  assert.equal(t.enqueue(a, { dst: 10, src: 1, protocol: 17, segment: new Uint8Array(1000) }), false);
  for (let i = 0; i < 3; i++) t.enqueue(a, { dst: 10, src: 1, protocol: 17, segment: new Uint8Array(1) });
  assert.equal(t.full(a, 1), true, "4 packets: the packet limit");
  assert.equal(a.bytes, 4);
  assert.equal(t.open(10), a, "the same entry");
  t.requested(t.open(11)!, 50);
  assert.equal(t.open(12), undefined, "full");
  assert.equal(t.overflows, 1);
  assert.equal(t.due(99, ask), 0);
  assert.deepEqual(asked, [], "nothing due before the interval");
  t.due(100, ask);
  assert.deepEqual(asked, [10]);
  t.due(150, ask);
  assert.deepEqual(asked, [10, 11]);
  t.due(200, ask);
  assert.deepEqual(asked, [10, 11, 10], "the third request for 10");
  assert.equal(t.due(300, ask), 4, "10 gave up after 3 requests: its four packets dropped");
  assert.equal(t.gaveUp, 1);
  assert.equal(t.get(10), undefined);
  assert.deepEqual(asked, [10, 11, 10, 11], "11's third request, sent late (polls are at 300)");
  assert.equal(t.due(399, ask), 0);
  assert.equal(t.gaveUp, 1);
  assert.equal(t.due(400, ask), 0, "11 gave up too (no packets)");
  assert.equal(t.gaveUp, 2);
  assert.equal(t.size, 0);
  assert.equal(t.take(11), undefined);
});

Deno.test("PendingTable: an idle table costs one comparison, however much it held before", () => {
  const t = new PendingTable(1000, 1, 1000, 10, 1);
  for (let i = 0; i < 1000; i++) t.requested(t.open(i)!, 0);
  let asked = 0;
  t.due(10, () => asked++);
  assert.equal(asked, 0);
  assert.equal(t.size, 0, "all given up after 1 request each");
  // Nothing is due: due() must not call back or iterate (measured as calls, not time).
  for (let now = 11; now < 10_000; now++) assert.equal(t.due(now, () => asked++), 0);
  assert.equal(asked, 0);
});

Deno.test("PendingTable.nextDue: the next request or give-up; Infinity when empty; never late", () => {
  const t = new PendingTable(4, 4, 1000, 100, 2);
  assert.equal(t.nextDue, Infinity);
  t.requested(t.open(1)!, 0);
  assert.equal(t.nextDue, 100);
  t.requested(t.open(2)!, 30);
  assert.equal(t.nextDue, 100, "the earlier entry first");
  t.due(100, () => {});
  assert.equal(t.nextDue, 130, "1 asked again at 100 (due 200); 2 is due at 130");
  t.take(2); // resolved: the stale time may stay, it is never later than the truth
  assert.ok(t.nextDue <= 200);
  t.due(t.nextDue, () => {});
  assert.equal(t.nextDue, 200, "recomputed by due");
  t.due(200, () => {});
  assert.equal(t.size, 0, "given up after 2 requests");
  assert.equal(t.nextDue, Infinity);
});
