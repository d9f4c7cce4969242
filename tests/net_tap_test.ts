/**
 * The network stack against the Linux kernel through net_tap: the kernel's ping gets answers from
 * our interface, the kernel and our UDP sockets exchange datagrams both ways (1 byte up to the MTU),
 * and each side resolves the other by ARP. The kernel side is a tap interface made for the run.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { Interface, PortDevice } from "../mod.ts";
import { testEal } from "./_eal.ts";
import { ipString, kernelLink } from "./_net.ts";
import { openTap, type Tap } from "./_tap.ts";

testEal();

function u32(ip: Uint8Array): number {
  return ((ip[0] << 24) | (ip[1] << 16) | (ip[2] << 8) | ip[3]) >>> 0;
}

const OUR_MAC = Uint8Array.of(0x02, 0x00, 0x5e, 0x10, 0x00, 0x02);

/** Polls `iface` until `done()` or `ms` pass, yielding to the event loop between polls. */
async function pollUntil(iface: Interface, done: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) {
    iface.poll(performance.now());
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Our interface on the tap's port; disposing it returns the device's spare mbufs. */
function stack(tap: Tap): { iface: Interface } & Disposable {
  const device = new PortDevice(tap.port, tap.pool);
  const iface = new Interface(device, { mac: OUR_MAC, addresses: [{ ip: u32(tap.ourIp), prefix: 24 }] });
  return { iface, [Symbol.dispose]: () => device[Symbol.dispose]() };
}

Deno.test("the kernel's ping gets replies from our stack (the kernel resolves us by ARP)", async () => {
  using tap = await openTap();
  using s = stack(tap);
  const iface = s.iface;
  const ping = new Deno.Command("ping", {
    args: ["-c", "3", "-i", "0.2", "-W", "2", "-s", "56", ipString(tap.ourIp)],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let finished = false;
  const status = ping.output().then((o) => {
    finished = true;
    return o;
  });
  await pollUntil(iface, () => finished, 10_000);
  const out = await status;
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.success, true, `ping failed:\n${text}${new TextDecoder().decode(out.stderr)}`);
  assert.match(text, /3 packets transmitted, 3 received/);
  assert.equal(iface.stats.echoReplies, 3);
  const link = await kernelLink(tap.iface);
  assert.ok(link);
  const neigh = await new Deno.Command("ip", {
    args: ["-j", "neigh", "show", "dev", tap.iface],
    stdout: "piped",
  })
    .output();
  const entries = JSON.parse(new TextDecoder().decode(neigh.stdout)) as { dst: string; lladdr?: string }[];
  const us = entries.find((e) => e.dst === ipString(tap.ourIp));
  assert.equal(us?.lladdr, "02:00:5e:10:00:02", "the kernel learned our MAC by ARP");
});

Deno.test("UDP both ways between a kernel socket and our socket, 1 byte up to the MTU", async () => {
  using tap = await openTap();
  using s = stack(tap);
  const iface = s.iface;
  using ours = iface.bindUdp(7000);
  const kernel = dgram.createSocket("udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      kernel.once("error", reject);
      kernel.bind(0, ipString(tap.kernelIp), () => resolve());
    });
    const kernelPort = kernel.address().port;
    const inbox: Uint8Array[] = [];
    kernel.on("message", (m) => inbox.push(new Uint8Array(m)));

    for (const size of [1, 7, 512, 1471, 1472]) {
      const toUs = Uint8Array.from({ length: size }, (_, i) => (i * 31 + size) & 0xff);
      kernel.send(toUs, 7000, ipString(tap.ourIp));
      await pollUntil(iface, () => ours.queued > 0);
      const got = ours.recvFrom();
      assert.ok(got, `kernel → us, ${size} bytes`);
      assert.deepEqual(got.data, toUs);
      assert.equal(got.ip, u32(tap.kernelIp));
      assert.equal(got.port, kernelPort);

      const toKernel = toUs.map((b) => b ^ 0x5a);
      assert.equal(ours.sendTo(toKernel, u32(tap.kernelIp), kernelPort), true);
      await pollUntil(iface, () => inbox.length > 0);
      assert.deepEqual(inbox.shift(), toKernel, `us → kernel, ${size} bytes`);
    }
    assert.deepEqual(iface.neighbour(u32(tap.kernelIp)), tap.kernelMac, "we resolved the kernel by ARP");
    assert.equal(iface.stats.rxMalformed, 0);
  } finally {
    kernel.close();
  }
});
