/**
 * TCP through the Interface against the Linux kernel over net_tap: the interface answers the
 * kernel's ARP, demultiplexes its segments to our connections and listeners and sends ours
 * through its egress. The kernel peers: `curl` fetching from a small HTTP server on our
 * listener, Deno.listen / Deno.connect (kernel sockets) as echo server and clients, and a port
 * nobody listens on (the kernel must see our RST as "connection refused").
 */
import assert from "node:assert/strict";
import type { Device, Interface, TcpSocket } from "../mod.ts";
import { testEal } from "./_eal.ts";
import { kernelEchoServer, kernelExchange, pattern, pollUntil, sendThenRead, u32 } from "./_kernel.ts";
import { ipString } from "./_net.ts";
import { openTap, type Tap, tapInterface } from "./_tap.ts";
import { assertBytes } from "./_tcp_harness.ts";

testEal();

const OUR_MAC = Uint8Array.of(0x02, 0x00, 0x5e, 0x10, 0x00, 0x0d);

function host(tap: Tap, loss = 0) {
  let lossy: LossyDevice | null = null;
  const h = tapInterface(tap, OUR_MAC, loss > 0 ? (d) => (lossy = new LossyDevice(d, loss)) : undefined);
  return { ...h, lossy: lossy as LossyDevice | null };
}

/**
 * Loses a seeded fraction of the frames each way: received ones are not handed on; sent ones
 * are written into a scratch buffer instead of a device buffer (the interface reads `txBytes`
 * after each `txSlot`), so they never leave.
 */
class LossyDevice implements Device {
  lostIn = 0;
  lostOut = 0;
  readonly #scratch = new Uint8Array(65536);
  #losing = false;
  #seed = 12345;
  constructor(readonly inner: Device, readonly loss: number) {}
  get mtu(): number {
    return this.inner.mtu;
  }
  get txBytes(): Uint8Array {
    return this.#losing ? this.#scratch : this.inner.txBytes;
  }
  #lose(): boolean {
    this.#seed = (Math.imul(this.#seed, 1103515245) + 12345) >>> 0;
    return (this.#seed >>> 8) / (1 << 24) < this.loss;
  }
  receive(onFrame: (bytes: Uint8Array, start: number, length: number) => void): number {
    return this.inner.receive((b, s, l) => {
      if (this.#lose()) this.lostIn++;
      else onFrame(b, s, l);
    });
  }
  txSlot(length: number): number {
    this.#losing = this.#lose();
    if (!this.#losing) return this.inner.txSlot(length);
    this.lostOut++;
    return 0;
  }
  flush(): number {
    return this.inner.flush();
  }
}

/**
 * A server on our side: every connection of `listener` gets what `answer` makes of the bytes it
 * received once they end with a blank line (an HTTP request without a body), then a close.
 */
function httpServer(listener: ReturnType<Interface["listenTcp"]>) {
  const conns: { s: TcpSocket; req: string; out: Uint8Array | null; at: number }[] = [];
  const buf = new Uint8Array(4096);
  let served = 0;
  return {
    get served() {
      return served;
    },
    step(): void {
      for (let s = listener.accept(); s !== null; s = listener.accept()) {
        conns.push({ s, req: "", out: null, at: 0 });
      }
      for (const c of conns) {
        if (c.out === null) {
          const n = c.s.recv(buf);
          if (n > 0) c.req += new TextDecoder().decode(buf.subarray(0, n));
          if (c.req.includes("\r\n\r\n")) {
            const m = /^GET \/bytes\/(\d+) HTTP\/1\.1/.exec(c.req);
            const body = m ? pattern(Number(m[1])) : new TextEncoder().encode("not found\n");
            const head = new TextEncoder().encode(
              `HTTP/1.1 ${m ? "200 OK" : "404 Not Found"}\r\nContent-Length: ${body.length}\r\n` +
                `Connection: close\r\n\r\n`,
            );
            c.out = new Uint8Array(head.length + body.length);
            c.out.set(head);
            c.out.set(body, head.length);
          }
        }
        if (c.out !== null && c.at < c.out.length && c.s.maySend) {
          c.at += c.s.send(c.out, c.at);
          if (c.at === c.out.length) {
            c.s.close();
            served++;
          }
        }
      }
    },
  };
}

Deno.test("TCP over the interface vs the kernel: curl fetches 0 B … 4 MiB from our listener", async () => {
  using tap = await openTap({ tag: "mdi" });
  using h = host(tap);
  using listener = h.iface.listenTcp(8080, { backlog: 16 });
  const server = httpServer(listener);
  const dir = await Deno.makeTempDir();
  try {
    for (const size of [0, 1, 1460, 100_000, 4 << 20]) {
      const file = `${dir}/out`;
      const curl = new Deno.Command("curl", {
        args: ["-sS", "--max-time", "20", "-o", file, `http://${ipString(tap.ourIp)}:8080/bytes/${size}`],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      let status: Deno.CommandStatus | null = null;
      const waiting = curl.output().then((o) => {
        status = o;
        return o;
      });
      await pollUntil(h.iface, () => {
        server.step();
        return status !== null;
      }, 25_000);
      const out = await waiting;
      assert.ok(out.success, `curl ${size}: ${new TextDecoder().decode(out.stderr)}`);
      assertBytes(await Deno.readFile(file), pattern(size), `curl body of ${size} bytes`);
    }
    assert.equal(server.served, 5);
    assert.equal(h.iface.stats.rxMalformed, 0, "every kernel segment parsed, checksums included");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TCP over the interface vs the kernel: connectTcp to a kernel echo server, 1 B … 16 MiB byte-exact", async (t) => {
  using tap = await openTap({ tag: "mdi" });
  using h = host(tap);
  for (const size of [1, 1461, 1 << 20, 16 << 20]) {
    await t.step(`${size} bytes`, async () => void await echoThroughKernel(tap, h, size));
  }
  assert.equal(h.iface.stats.rxMalformed, 0);
});

Deno.test("TCP over the interface vs the kernel: 4 MiB echoed byte-exact with 2 % of frames lost each way", async () => {
  using tap = await openTap({ tag: "mdi" });
  using h = host(tap, 0.02);
  const s = await echoThroughKernel(tap, h, 4 << 20);
  assert.ok(
    h.lossy!.lostIn > 0 && h.lossy!.lostOut > 0,
    `lost ${h.lossy!.lostIn} in, ${h.lossy!.lostOut} out`,
  );
  assert.ok(s.stats.retransmits > 0, JSON.stringify(s.stats));
});

async function echoThroughKernel(tap: Tap, h: ReturnType<typeof host>, size: number): Promise<TcpSocket> {
  using server = kernelEchoServer(ipString(tap.kernelIp));
  const { port, served } = server;
  const s = h.iface.connectTcp(u32(tap.kernelIp), port, { rxBufferSize: 65536, txBufferSize: 65536 });
  const data = pattern(size, size);
  const got = new Uint8Array(size);
  const c = sendThenRead(s, data, got);
  await pollUntil(h.iface, c.step, 60_000);
  assert.equal(await served, size, "the kernel received every byte");
  assert.equal(c.received, size, `state ${s.state}, sent ${c.sent}`);
  assertBytes(got, data, "echo");
  assert.equal(s.mss, 1460, "the kernel's MSS for a 1500-byte link");
  return s;
}

Deno.test("TCP over the interface vs the kernel: 100 concurrent kernel clients to our echo listener", async () => {
  using tap = await openTap({ tag: "mdi" });
  using h = host(tap);
  using listener = h.iface.listenTcp(7070, { backlog: 128 });
  const clients = Array.from({ length: 100 }, async (_, i) => {
    const data = pattern(1000 + i, i);
    const got = await kernelExchange(ipString(tap.ourIp), 7070, data);
    assertBytes(got, data, `client ${i}`);
    return got.length;
  });
  let done = 0;
  let failed: unknown = null;
  for (const c of clients) c.then(() => done++, (e) => failed ??= e);
  const conns: TcpSocket[] = [];
  const buf = new Uint8Array(4096);
  await pollUntil(h.iface, () => {
    for (let s = listener.accept(); s !== null; s = listener.accept()) conns.push(s);
    for (const s of conns) {
      if (!s.maySend) continue;
      const room = Math.min(buf.length, s.sendCapacity);
      const n = room > 0 ? s.recv(buf, 0, room) : 0;
      if (n > 0) s.send(buf, 0, n);
      else if (n < 0) s.close(); // the client's FIN, everything echoed
    }
    return done === 100 || failed !== null;
  }, 30_000);
  if (failed !== null) throw failed;
  assert.equal(done, 100);
  assert.equal(conns.length, 100);
  assert.equal(listener.stats.synQueueOverflow + listener.stats.acceptQueueOverflow, 0);
  // Let the last FINs and ACKs go out before the tap closes.
  await pollUntil(h.iface, () => false, 50);
});

Deno.test("TCP over the interface vs the kernel: a port nobody listens on refuses (our RST)", async () => {
  using tap = await openTap({ tag: "mdi" });
  using h = host(tap);
  let outcome: unknown = null;
  Deno.connect({ hostname: ipString(tap.ourIp), port: 9 }).then(
    (c) => {
      c.close();
      outcome = "connected";
    },
    (e) => outcome = e,
  );
  await pollUntil(h.iface, () => outcome !== null, 10_000);
  assert.ok(outcome instanceof Deno.errors.ConnectionRefused, `got ${outcome}`);
  assert.equal(h.iface.stats.tcpResetsSent, 1);
  assert.equal(h.iface.stats.tcpNoConnection, 1);
});
