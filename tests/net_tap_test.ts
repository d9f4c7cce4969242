/**
 * The network stack against the Linux kernel through net_tap: the kernel's ping gets answers from
 * our interface, the kernel and our UDP sockets exchange datagrams both ways (1 byte up to the MTU),
 * and each side resolves the other by ARP. The kernel side is a tap interface made for the run.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { Interface, PortDevice } from "../mod.ts";
import { testEal } from "./_eal.ts";
import { pollUntil, runPolling, u32 } from "./_kernel.ts";
import { ipString, kernelLink } from "./_net.ts";
import { openTap, type Tap, tapInterface } from "./_tap.ts";

testEal();

const OUR_MAC = Uint8Array.of(0x02, 0x00, 0x5e, 0x10, 0x00, 0x02);

/** Polls `iface` until `done()` or `ms` pass, sleeping 1 ms between polls. */
function poll(iface: Interface, done: () => boolean, ms = 5000): Promise<void> {
  return pollUntil(iface, done, ms, { every: 1, sleepMs: 1 });
}

/** The kernel's `ping -c 3 -s size` of `ip`, run to its end while `iface` is polled. */
function ping(iface: Interface, ip: Uint8Array, size: number) {
  return runPolling(iface, "ping", ["-c", "3", "-i", "0.2", "-W", "2", "-s", `${size}`, ipString(ip)]);
}

/** A kernel UDP socket on the tap's kernel address; what it receives lands in `inbox`. */
async function kernelUdp(tap: Tap) {
  const sock = dgram.createSocket("udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once("error", reject);
      sock.bind(0, ipString(tap.kernelIp), () => resolve());
    });
  } catch (e) {
    sock.close();
    throw e;
  }
  const inbox: Uint8Array[] = [];
  sock.on("message", (m) => inbox.push(new Uint8Array(m)));
  return { sock, port: sock.address().port, inbox, [Symbol.dispose]: () => sock.close() };
}

Deno.test("the kernel's ping gets replies from our stack (the kernel resolves us by ARP)", async () => {
  using tap = await openTap({ tag: "mdn" });
  using s = tapInterface(tap, OUR_MAC);
  const iface = s.iface;
  const out = await ping(iface, tap.ourIp, 56);
  const text = out.stdout;
  assert.equal(out.success, true, `ping failed:\n${text}${out.stderr}`);
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
  using tap = await openTap({ tag: "mdn" });
  using s = tapInterface(tap, OUR_MAC);
  const iface = s.iface;
  using ours = iface.bindUdp(7000);
  using k = await kernelUdp(tap);
  const { sock: kernel, port: kernelPort, inbox } = k;
  for (const size of [1, 7, 512, 1471, 1472]) {
    const toUs = Uint8Array.from({ length: size }, (_, i) => (i * 31 + size) & 0xff);
    kernel.send(toUs, 7000, ipString(tap.ourIp));
    await poll(iface, () => ours.queued > 0);
    const got = ours.recvFrom();
    assert.ok(got, `kernel → us, ${size} bytes`);
    assert.deepEqual(got.data, toUs);
    assert.equal(got.ip, u32(tap.kernelIp));
    assert.equal(got.port, kernelPort);

    const toKernel = toUs.map((b) => b ^ 0x5a);
    assert.equal(ours.sendTo(toKernel, u32(tap.kernelIp), kernelPort), true);
    await poll(iface, () => inbox.length > 0);
    assert.deepEqual(inbox.shift(), toKernel, `us → kernel, ${size} bytes`);
  }
  assert.deepEqual(iface.neighbour(u32(tap.kernelIp)), tap.kernelMac, "we resolved the kernel by ARP");
  assert.equal(iface.stats.rxMalformed, 0);
});

Deno.test("the kernel's ping -s 3000 (fragmented both ways) gets its replies", async () => {
  using tap = await openTap({ tag: "mdn" });
  using s = tapInterface(tap, OUR_MAC);
  const iface = s.iface;
  const out = await ping(iface, tap.ourIp, 3000);
  const text = out.stdout;
  assert.equal(out.success, true, `ping failed:\n${text}${out.stderr}`);
  assert.match(text, /3 packets transmitted, 3 received/);
  assert.match(text, /3008 bytes from/, "whole replies, reassembled by the kernel");
  assert.equal(iface.stats.reassembled, 3);
  assert.equal(iface.stats.txFragments, 9, "each reply in 3 fragments");
});

Deno.test("UDP of 8000 bytes both ways between a kernel socket and ours, whole", async () => {
  using tap = await openTap({ tag: "mdn" });
  using s = tapInterface(tap, OUR_MAC);
  const iface = s.iface;
  using ours = iface.bindUdp(7001, 8, 8000);
  using k = await kernelUdp(tap);
  const { sock: kernel, port: kernelPort, inbox } = k;
  const toUs = Uint8Array.from({ length: 8000 }, (_, i) => (i * 31 + 5) & 0xff);
  kernel.send(toUs, 7001, ipString(tap.ourIp));
  await poll(iface, () => ours.queued > 0);
  const got = ours.recvFrom();
  assert.ok(got, "kernel → us: 8000 bytes");
  assert.deepEqual(got.data, toUs);
  assert.equal(got.port, kernelPort);
  const toKernel = toUs.map((b) => b ^ 0xa5);
  assert.equal(ours.sendTo(toKernel, u32(tap.kernelIp), kernelPort), true);
  await poll(iface, () => inbox.length > 0);
  assert.deepEqual(inbox.shift(), toKernel, "us → kernel: 8000 bytes, reassembled by the kernel");
  assert.ok(iface.stats.reassembled >= 1);
  assert.equal(iface.stats.txFragments, 6);
  assert.equal(iface.stats.rxMalformed, 0);
});

/**
 * A VLAN 5 host on the kernel side of the tap, as a raw packet socket (this kernel is built without
 * 802.1Q, so `ip link add … type vlan` is "Unknown device type"): it sends a tagged ARP request and
 * then tagged echo requests, and prints what came back tagged for it (the kernel hands a received
 * tag to packet sockets apart from the frame: it is read back from the auxiliary data).
 */
const VLAN_PEER = String.raw`
import socket, struct, sys, time, json
ifname, mac, ip, target = sys.argv[1], bytes.fromhex(sys.argv[2]), socket.inet_aton(sys.argv[3]), socket.inet_aton(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((ifname, 0))
s.settimeout(0.2)
tag = struct.pack("!HH", 0x8100, 5)
def csum(b):
    if len(b) % 2: b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
s.setsockopt(263, 8, 1)  # SOL_PACKET, PACKET_AUXDATA: the kernel moves a received tag there
def recv():
    f, anc, _, _ = s.recvmsg(65535, socket.CMSG_SPACE(20))
    for level, kind, data in anc:
        if level == 263 and kind == 8:
            status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", data[:20])
            if status & 0x10:  # TP_STATUS_VLAN_VALID: put the tag back where it was on the wire
                f = f[:12] + struct.pack("!HH", tpid or 0x8100, tci) + f[12:]
    return f
def wait(pred, secs=2.0):
    end = time.time() + secs
    while time.time() < end:
        try:
            f = recv()
        except socket.timeout:
            continue
        if f[0:6] == mac and pred(f):
            return f
    return None
out = {}
arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + b"\0" * 6 + target
s.send(b"\xff" * 6 + mac + tag + b"\x08\x06" + arp)
r = wait(lambda f: f[12:18] == b"\x81\x00\x00\x05\x08\x06" and f[24:26] == b"\x00\x02")
out["arp"] = r is not None
if r is not None:
    theirs = r[6:12]
    replies = 0
    for seq in range(2):
        icmp = struct.pack("!BBHHH", 8, 0, 0, 0x77, seq) + b"vlan5" * 4
        icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
        h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), seq + 1, 0x4000, 64, 1, 0, ip, target)
        h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
        s.send(theirs + mac + tag + b"\x08\x00" + h + icmp)
        if wait(lambda f: f[12:18] == b"\x81\x00\x00\x05\x08\x00" and f[18 + 9] == 1 and f[38] == 0):
            replies += 1
    out["echo"] = replies
print(json.dumps(out))
`;

Deno.test("a VLAN 5 peer on the tap gets ARP and echo replies from our interface on VLAN 5, none without", async () => {
  using tap = await openTap({ tag: "mdn" });
  const peerMac = Array.from(
    Uint8Array.of(2, 0, 0x5e, 0x10, 0x05, 0x01),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  const x = tap.kernelIp[2];
  const ourVlanIp = Uint8Array.of(198, 19, x, 2);
  for (const vlan of [undefined, 5]) {
    const device = new PortDevice(tap.port, tap.pool);
    try {
      const iface = new Interface(device, {
        mac: OUR_MAC,
        addresses: [{ ip: u32(ourVlanIp), prefix: 24 }],
        vlan,
      });
      const args = ["-c", VLAN_PEER, tap.iface, peerMac, `198.19.${x}.1`, ipString(ourVlanIp)];
      const out = await runPolling(iface, "python3", args);
      assert.equal(out.success, true, out.stderr);
      const got = JSON.parse(out.stdout);
      if (vlan === 5) {
        assert.deepEqual(got, { arp: true, echo: 2 }, "VLAN 5: resolved and answered, replies tagged");
        assert.equal(iface.stats.echoReplies, 2);
      } else {
        assert.deepEqual(got, { arp: false }, "no VLAN: the tagged frames are not ours");
        assert.ok(iface.stats.rxOtherVlan > 0, "counted");
        assert.equal(iface.stats.txFrames, 0);
      }
    } finally {
      device[Symbol.dispose]();
    }
  }
});
