/**
 * Gaps found by the review of issues 10 and 12: each test fails on the reviewed code and says
 * what is expected instead.
 */
import assert from "node:assert/strict";
import { Interface, InterfaceError, LoopbackDevice, MbufBatch, Mempool, parseIpv4Address } from "../mod.ts";
import { testEal, uniqueName } from "./_eal.ts";

testEal();

const CFG = { mac: Uint8Array.of(2, 0, 0, 0, 0, 1) };

Deno.test("Gap: an interface address must be a unicast host address", () => {
  for (const bad of ["0.0.0.0", "255.255.255.255", "224.0.0.1", "127.0.0.1", "240.0.0.1"]) {
    const lo = new LoopbackDevice();
    assert.throws(
      () => new Interface(lo, { ...CFG, addresses: [{ ip: parseIpv4Address(bad), prefix: 24 }] }),
      (e) => e instanceof InterfaceError && e.kind === "InvalidArgument",
      `addresses[0].ip ${bad} accepted`,
    );
  }
});

Deno.test("Gap: UdpSocket.sendTo with a detached buffer is InvalidArgument, not a TypeError", () => {
  const lo = new LoopbackDevice();
  const iface = new Interface(lo, { ...CFG, addresses: [{ ip: parseIpv4Address("10.0.0.1"), prefix: 24 }] });
  using s = iface.bindUdp(9000);
  const data = new Uint8Array(4);
  structuredClone(data.buffer, { transfer: [data.buffer] });
  assert.throws(
    () => s.sendTo(data, parseIpv4Address("10.0.0.2"), 9),
    (e) => e instanceof InterfaceError && e.kind === "InvalidArgument",
  );
});

