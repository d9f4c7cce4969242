/**
 * Our TCP sockets against the Linux kernel's TCP over net_tap, before the interface knows TCP: a
 * minimal host in this file (answers ARP, frames IPv4, demultiplexes by port) drives TcpSocket
 * over a PortDevice. The kernel's side is Deno.listen/Deno.connect on the tap's kernel address,
 * so the kernel negotiates MSS and window scaling with us, checks our checksums and sequence
 * numbers, and we check its.
 */
import assert from "node:assert/strict";
import { PortDevice } from "../mod.ts";
import { type ByteRing, type TcpEgress, TcpSocket } from "../src/net/socket/mod.ts";
import {
  ARP_REPLY,
  ARP_REQUEST,
  ArpPacket,
  emitArp,
  emitEthernet,
  emitIpv4,
  emitTcp,
  EthernetHeader,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  IPPROTO_TCP,
  Ipv4Header,
  parseArp,
  parseEthernet,
  parseIpv4,
  parseTcp,
  TcpHeader,
  tcpHeaderLength,
  WireError,
} from "../src/net/wire/mod.ts";
import { testEal } from "./_eal.ts";
import { kernelEchoServer, kernelExchange, pattern, pollUntil, sendThenRead, u32 } from "./_kernel.ts";
import { ipString } from "./_net.ts";
import { openTap, type Tap } from "./_tap.ts";
import { assertBytes, rng } from "./_tcp_harness.ts";

testEal();

const OUR_MAC = Uint8Array.of(0x02, 0x00, 0x5e, 0x10, 0x00, 0x07);

/** The smallest host that carries TCP: ARP replies, IPv4 framing, one socket per local port. */
class MiniHost implements TcpEgress, Disposable {
  readonly dev: PortDevice;
  readonly mtu: number;
  readonly sockets = new Map<number, TcpSocket>();
  readonly ip: number;
  readonly #kernelMac: Uint8Array;
  readonly #eth = new EthernetHeader();
  readonly #ipHdr = new Ipv4Header();
  readonly #tcp = new TcpHeader();
  readonly #arp = new ArpPacket();
  #id = 0;
  dropped = 0;
  /** Fraction of frames lost each way (seeded), and how many were. */
  loss = 0;
  lost = 0;
  #rand = rng(0x1055);

  constructor(tap: Tap) {
    this.dev = new PortDevice(tap.port, tap.pool);
    this.mtu = this.dev.mtu;
    this.ip = u32(tap.ourIp);
    this.#kernelMac = tap.kernelMac;
  }

  transmit(src: number, dst: number, h: TcpHeader, payload: ByteRing, from: number, length: number): boolean {
    if (this.loss > 0 && this.#rand() < this.loss) {
      this.lost++;
      return true; // "sent", lost on the way
    }
    const hl = tcpHeaderLength(h);
    const at = this.dev.txSlot(14 + 20 + hl + length);
    if (at < 0) return false;
    const b = this.dev.txBytes;
    const eth = this.#eth;
    eth.dst.set(this.#kernelMac);
    eth.src.set(OUR_MAC);
    eth.etherType = ETHERTYPE_IPV4;
    eth.vlanId = -1;
    emitEthernet(b, at, at + 14, eth);
    const ip = this.#ipHdr;
    ip.totalLength = 20 + hl + length;
    ip.id = this.#id++ & 0xffff;
    ip.protocol = IPPROTO_TCP;
    ip.ttl = 64;
    ip.src = src;
    ip.dst = dst;
    emitIpv4(b, at + 14, at + 34, ip);
    const end = at + 34 + hl + length;
    const sum = payload.peekAndSum(
      from,
      new DataView(b.buffer, b.byteOffset, b.byteLength),
      at + 34 + hl,
      length,
    );
    emitTcp(b, at + 34, end, src, dst, h, length, sum);
    return true;
  }

  /** One round: receive a burst, run every socket, send. */
  poll(now: number): void {
    this.dev.receive((bytes, start, length) => this.#frame(now, bytes, start, start + length));
    for (const s of this.sockets.values()) s.dispatch(now, this);
    this.dev.flush();
  }

  #frame(now: number, b: Uint8Array, start: number, end: number): void {
    try {
      const l3 = parseEthernet(b, start, end, this.#eth);
      if (this.#eth.etherType === ETHERTYPE_ARP) {
        const a = this.#arp;
        parseArp(b, l3, end, a);
        if (a.operation !== ARP_REQUEST || a.targetIp !== this.ip) return;
        const at = this.dev.txSlot(42);
        if (at < 0) return;
        const tx = this.dev.txBytes;
        const eth = this.#eth;
        eth.dst.set(a.senderMac);
        eth.src.set(OUR_MAC);
        eth.etherType = ETHERTYPE_ARP;
        eth.vlanId = -1;
        emitEthernet(tx, at, at + 14, eth);
        a.operation = ARP_REPLY;
        a.targetMac.set(a.senderMac);
        a.targetIp = a.senderIp;
        a.senderMac.set(OUR_MAC);
        a.senderIp = this.ip;
        emitArp(tx, at + 14, at + 42, a);
        return;
      }
      if (this.#eth.etherType !== ETHERTYPE_IPV4) return;
      if (this.loss > 0 && this.#rand() < this.loss) {
        this.lost++;
        return;
      }
      const ip = this.#ipHdr;
      const l4 = parseIpv4(b, l3, end, ip);
      if (ip.protocol !== IPPROTO_TCP || ip.dst !== this.ip || ip.isFragment) return;
      const segEnd = l3 + ip.totalLength;
      const p = parseTcp(b, l4, segEnd, ip.src, ip.dst, this.#tcp);
      const s = this.sockets.get(this.#tcp.dstPort);
      if (s === undefined) return;
      s.process(now, ip.src, ip.dst, this.#tcp, b, p, segEnd - p);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.dropped++;
    }
  }

  [Symbol.dispose](): void {
    this.dev[Symbol.dispose]();
  }
}

Deno.test("TCP against the kernel: our client sends 1 B … 16 MiB to a kernel echo server and gets it back byte-exact", async (t) => {
  for (const size of [1, 1460, 1461, 100_000, 16 << 20]) {
    await t.step(`${size} bytes`, async () => void await echoThroughKernel(size, 0));
  }
});

Deno.test("TCP against the kernel: 4 MiB echoed byte-exact with 2 % of frames lost each way", async () => {
  const host = await echoThroughKernel(4 << 20, 0.02);
  assert.ok(host.lost > 0);
});

async function echoThroughKernel(size: number, loss: number): Promise<{ lost: number }> {
  using tap = await openTap({ tag: "mdk" });
  using host = new MiniHost(tap);
  host.loss = loss;
  // The kernel echoes everything, then closes after our FIN.
  using server = kernelEchoServer(ipString(tap.kernelIp));
  const { port, served } = server;
  const s = new TcpSocket({ rxBufferSize: 65536, txBufferSize: 65536 });
  host.sockets.set(41000, s);
  s.connect(host.ip, 41000, u32(tap.kernelIp), port, performance.now());
  const data = pattern(size);
  const got = new Uint8Array(size);
  const c = sendThenRead(s, data, got);
  await pollUntil(host, c.step, 30_000);
  assert.equal(await served, size, "the kernel received every byte");
  assert.equal(c.received, size, `state ${s.state}, sent ${c.sent}, stats ${JSON.stringify(s.stats)}`);
  assertBytes(got, data, "echo");
  assert.equal(s.mss, host.mtu - 40, "the kernel's MSS for this link");
  assert.ok(s.windowScales[1] > 0, "the kernel scales its window");
  assert.equal(host.dropped, 0, "every kernel segment parsed, checksums included");
  if (loss > 0) assert.ok(s.stats.retransmits > 0 && s.stats.outOfOrder > 0, JSON.stringify(s.stats));
  s.abort();
  return { lost: host.lost };
}

Deno.test("TCP against the kernel: a kernel client sends 256 KiB to our listening socket, which echoes and closes", async () => {
  using tap = await openTap({ tag: "mdk" });
  using host = new MiniHost(tap);
  const s = new TcpSocket({ rxBufferSize: 32768, txBufferSize: 32768 });
  s.listen(host.ip, 7007);
  host.sockets.set(7007, s);
  const data = pattern(256 << 10);
  const client = kernelExchange(ipString(tap.ourIp), 7007, data);
  let done = false;
  client.finally(() => done = true);
  const buf = new Uint8Array(8192);
  let pending = 0; // bytes read but not yet queued back
  let echoed = 0;
  await pollUntil(host, () => {
    if (s.isEstablished) {
      if (pending === 0) {
        const n = s.recv(buf);
        if (n > 0) pending = n;
        else if (n < 0 && s.maySend) s.close(); // the kernel's FIN, all echoed
      }
      if (pending > 0 && s.maySend) {
        const w = s.send(buf, 0, pending);
        if (w > 0) buf.copyWithin(0, w, pending);
        pending -= w;
        echoed += w;
      }
    }
    return done;
  }, 20_000);
  const back = await client;
  assert.equal(echoed, data.length);
  assertBytes(back, data, "echo");
  // A kernel retransmission of data we already have (its RTO fires on a loaded machine) is out of
  // the window by definition: it is answered with an ACK and counted, never taken twice.
  assert.ok(
    s.stats.dropBadAck + s.stats.dropOutOfWindow <= s.stats.segmentsIn / 100,
    `drops ${s.stats.dropBadAck} bad ACK + ${s.stats.dropOutOfWindow} out of window of ${s.stats.segmentsIn}`,
  );
  await pollUntil(host, () => s.state === "Closed", 2000);
  assert.equal(s.state, "Closed", "LAST-ACK → CLOSED once the kernel ACKs our FIN");
  assert.equal(s.closeReason, "Closed");
});

Deno.test("TCP against the kernel: a slow reader with a 4 KiB window stalls the kernel (zero window) without losing a byte", async () => {
  using tap = await openTap({ tag: "mdk" });
  using host = new MiniHost(tap);
  const s = new TcpSocket({ rxBufferSize: 4096, txBufferSize: 4096 });
  s.listen(host.ip, 7008);
  host.sockets.set(7008, s);
  const data = pattern(200_000);
  let done = false;
  const client = (async () => {
    const conn = await Deno.connect({ hostname: ipString(tap.ourIp), port: 7008 });
    let w = 0;
    while (w < data.length) w += await conn.write(data.subarray(w));
    conn.close();
  })().finally(() => done = true);
  const got = new Uint8Array(data.length);
  let n = 0;
  let eof = false;
  let zeroWindows = 0;
  let lastRead = 0;
  await pollUntil(host, () => {
    if (s.recvQueue === 4096) zeroWindows++;
    // Read at most 4 KiB every 5 ms: the kernel's sender keeps finding our window closed.
    if (performance.now() - lastRead >= 5) {
      lastRead = performance.now();
      const r = s.recv(got, n, Math.min(4096, got.length - n));
      if (r < 0) eof = true;
      else n += r;
    }
    return done && eof;
  }, 20_000);
  await client;
  assert.equal(n, data.length, JSON.stringify(s.stats));
  assertBytes(got, data, "slow read");
  assert.ok(zeroWindows > 0, "the window closed");
});
