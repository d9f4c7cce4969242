/** Addresses, routes and the RFC 1122 source rules, on their own. */
import assert from "node:assert/strict";
import { InterfaceError, parseIpv4Address as ip } from "../mod.ts";
import { MAX_ROUTES, Routes } from "../src/net/iface/route.ts";
import { thrown } from "./_assert.ts";

Deno.test("Routes: on-link, longest prefix, gateway, source per next hop", () => {
  const r = new Routes(
    [{ ip: ip("10.0.0.2"), prefix: 24 }, { ip: ip("10.1.0.2"), prefix: 16 }],
    [
      { ip: ip("192.0.2.0"), prefix: 24, via: ip("10.0.0.7") },
      { ip: ip("192.0.2.128"), prefix: 25, via: ip("10.1.9.9") },
    ],
    ip("10.0.0.1"),
  );
  assert.equal(r.nextHop(ip("10.0.0.99")), ip("10.0.0.99"), "on-link: itself");
  assert.equal(r.nextHop(ip("192.0.2.5")), ip("10.0.0.7"));
  assert.equal(r.nextHop(ip("192.0.2.200")), ip("10.1.9.9"), "the longer prefix wins");
  assert.equal(r.nextHop(ip("8.8.8.8")), ip("10.0.0.1"), "the gateway takes the rest");
  assert.equal(r.sourceFor(ip("10.1.9.9")), ip("10.1.0.2"));
  assert.equal(r.sourceFor(ip("10.0.0.1")), ip("10.0.0.2"));
  assert.equal(new Routes([{ ip: ip("10.0.0.2"), prefix: 24 }]).nextHop(ip("8.8.8.8")), -1, "no gateway");
});

Deno.test("Routes: who is a unicast peer (RFC 1122 3.2.1.3)", () => {
  const r = new Routes([{ ip: ip("10.0.0.2"), prefix: 24 }, { ip: ip("10.9.9.9"), prefix: 31 }]);
  for (
    const bad of [
      "0.0.0.0",
      "0.1.2.3",
      "127.0.0.1",
      "224.0.0.1",
      "239.1.1.1",
      "240.0.0.1",
      "255.255.255.255",
      "10.0.0.255",
      "10.0.0.2",
      "10.9.9.9",
    ]
  ) {
    assert.equal(r.isUnicastPeer(ip(bad)), false, bad);
  }
  for (const ok of ["10.0.0.1", "10.0.0.254", "10.9.9.8", "8.8.8.8", "10.0.1.255", "223.255.255.254"]) {
    assert.equal(r.isUnicastPeer(ip(ok)), true, ok);
  }
  assert.equal(r.isBroadcast(ip("10.0.0.255")), true);
  assert.equal(r.isBroadcast(ip("10.9.9.9")), false, "a /31 has no broadcast (RFC 3021)");
});

Deno.test("Routes: bad configuration is InvalidArgument naming the field", () => {
  const a = [{ ip: ip("10.0.0.2"), prefix: 24 }];
  const cases: [string, () => unknown][] = [
    ["addresses", () => new Routes([])],
    ["addresses", () => new Routes("10.0.0.2")],
    ["addresses[0].prefix", () => new Routes([{ ip: 1, prefix: 33 }])],
    ["addresses[0].ip", () => new Routes([{ ip: -1, prefix: 8 }])],
    ["addresses[0].ip", () => new Routes([{ ip: 1n, prefix: 8 }])],
    ["routes[0].via", () => new Routes(a, [{ ip: 0, prefix: 0, via: ip("192.0.2.1") }])],
    ["routes[0].prefix", () => new Routes(a, [{ ip: 0, prefix: NaN, via: ip("10.0.0.1") }])],
    ["routes", () => new Routes(a, Array(MAX_ROUTES + 1).fill({ ip: 0, prefix: 0, via: ip("10.0.0.1") }))],
    ["gateway", () => new Routes(a, [], ip("192.0.2.1"))],
    ["gateway", () => new Routes(a, [], "10.0.0.1")],
  ];
  for (const [name, f] of cases) {
    const e = thrown(f, InterfaceError);
    assert.equal(e.kind, "InvalidArgument");
    assert.ok(e.message.includes(name), `${name}: ${e.message}`);
  }
});
