/**
 * A SYN flood through the Linux kernel: `hping3 --rand-source -S -c 100000` sends 100 000 SYNs
 * from spoofed sources over a net_tap to our listener while a kernel client (Deno.connect)
 * connects and exchanges data. The listener's SYN queue fills at once and stays full (its
 * SYN-ACKs go to addresses with no route), so every later SYN is answered with a SYN cookie:
 * the interface's tables, the listener's queues and pool stay within their bounds, and the real
 * client's ACK carries a valid cookie and becomes an accepted connection.
 */
import assert from "node:assert/strict";
import { Interface, PortDevice, type TcpSocket } from "../mod.ts";
import { testEal } from "./_eal.ts";
import { ipString } from "./_net.ts";
import { openTap } from "./_tap.ts";

testEal();

const OUR_MAC = Uint8Array.of(0x02, 0x00, 0x5e, 0x10, 0x00, 0x0f);
const SYNS = 100_000;
const PORT = 7171;
const SYN_BACKLOG = 32;
const BACKLOG = 16;
const DEADLINE_MS = 90_000;

function u32(ip: Uint8Array): number {
  return ((ip[0] << 24) | (ip[1] << 16) | (ip[2] << 8) | ip[3]) >>> 0;
}

Deno.test("SYN flood: 100 000 spoofed SYNs (hping3, through the kernel) while a kernel client connects and talks", async () => {
  using tap = await openTap();
  using dev = new PortDevice(tap.port, tap.pool);
  const iface = new Interface(dev, { mac: OUR_MAC, addresses: [{ ip: u32(tap.ourIp), prefix: 24 }] });
  using listener = iface.listenTcp(PORT, { backlog: BACKLOG, synBacklog: SYN_BACKLOG });
  const start = Date.now();
  const flood = new Deno.Command("hping3", {
    args: [
      "-I",
      tap.iface,
      "-S",
      "-p",
      String(PORT),
      "--rand-source",
      "-c",
      String(SYNS),
      "-i",
      "u10",
      "-q",
      ipString(tap.ourIp),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let floodDone = false;
  const floodOut = flood.output().then((o) => {
    floodDone = true;
    return o;
  });
  const served: TcpSocket[] = [];
  try {
    const stats = listener.stats;
    const synsSeen = () => stats.synsAccepted + stats.synQueueOverflow;
    let maxTable = 0;
    let maxPending = 0;
    let maxReady = 0;
    let maxNeighbours = 0;
    let maxArpPending = 0;
    const sample = () => {
      const t = iface.tableSizes;
      maxTable = Math.max(maxTable, t.tcpConnections);
      maxNeighbours = Math.max(maxNeighbours, t.neighbors);
      maxArpPending = Math.max(maxArpPending, t.pending);
      maxPending = Math.max(maxPending, listener.pending);
      maxReady = Math.max(maxReady, listener.ready);
    };
    // Our side: echo every accepted connection until its peer closes.
    const buf = new Uint8Array(2048);
    const serve = () => {
      for (let s = listener.accept(); s !== null; s = listener.accept()) served.push(s);
      for (const s of served) {
        for (let n = s.recv(buf); n > 0; n = s.recv(buf)) s.send(buf, 0, n);
        if (s.state === "CloseWait") s.close();
      }
    };
    // The real client starts once the flood is well under way (the SYN queue long full).
    let client: Promise<string> | null = null;
    let clientDone = false;
    let clientAtSyns = 0;
    let clientEchoAtSyns = 0;
    const talk = async (): Promise<string> => {
      const conn = await Deno.connect({ hostname: ipString(tap.ourIp), port: PORT });
      try {
        const msg = new TextEncoder().encode("hello through the flood");
        await conn.write(msg);
        const got = new Uint8Array(64);
        let n = 0;
        while (n < msg.length) {
          const r = await conn.read(got.subarray(n));
          if (r === null) break;
          n += r;
        }
        clientEchoAtSyns = synsSeen();
        return new TextDecoder().decode(got.subarray(0, n));
      } finally {
        conn.close();
        clientDone = true;
      }
    };
    let polls = 0;
    while (Date.now() - start < DEADLINE_MS) {
      iface.poll(performance.now());
      serve();
      if (++polls % 16 === 0) {
        sample();
        await new Promise((r) => setTimeout(r, 0));
      }
      if (client === null && (synsSeen() >= 10_000 || floodDone)) {
        clientAtSyns = synsSeen();
        client = talk();
      }
      if (floodDone && clientDone) break;
    }
    sample();
    const elapsed = Date.now() - start;
    const out = await floodOut;
    const report = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.ok(
      floodDone && clientDone,
      `done within ${DEADLINE_MS} ms (flood ${floodDone}, client ${clientDone})`,
    );
    // hping3 exits 1 when nothing answered it (our SYN-ACKs go to the spoofed sources).
    assert.ok(out.code === 0 || out.code === 1, `hping3 exited ${out.code}: ${report}`);
    assert.match(report, new RegExp(`${SYNS} packets transmitted`), report);
    assert.equal(await client, "hello through the flood", "the real client's bytes came back");
    const seen = synsSeen();
    console.log(
      `flood: ${seen} of ${SYNS} SYNs reached the listener in ${elapsed} ms; cookies sent ` +
        `${stats.cookiesSent}, validated ${stats.cookiesValidated}, rejected ${stats.cookiesRejected}; ` +
        `client started after ${clientAtSyns} SYNs, echoed after ${clientEchoAtSyns}; max table ${maxTable}, SYN queue ${maxPending}, ` +
        `accept queue ${maxReady}, neighbours ${maxNeighbours}, ARP pending ${maxArpPending}; ` +
        `tcpSegmentsIn ${iface.stats.tcpSegmentsIn}, rxBadSource ${iface.stats.rxBadSource}, txDropped ${iface.stats.txDropped}, port imissed ${tap.port.stats().imissed}`,
    );
    // Most of the flood arrived (the tap may drop some while we poll; sources such as 224/4 or
    // 127/8 are refused as bad sources), and every SYN beyond the SYN queue was answered with a
    // cookie, the real client's included — while the flood went on.
    const arrived = seen + iface.stats.rxBadSource;
    assert.ok(arrived >= SYNS * 0.9, `${arrived} SYNs arrived`);
    assert.ok(clientEchoAtSyns < seen, "the flood went on after the client's exchange");
    assert.equal(stats.synsAccepted, SYN_BACKLOG, "the SYN queue filled once and stayed full");
    assert.ok(stats.cookiesSent >= seen - SYN_BACKLOG, `${stats.cookiesSent} cookies`);
    assert.ok(stats.cookiesValidated >= 1, "the real client came in on a cookie");
    assert.equal(stats.cookiesRejected, 0);
    assert.equal(served.length, stats.cookiesValidated);
    // Bounded: nothing grew with the number of SYNs.
    assert.ok(maxTable <= SYN_BACKLOG + 1, `connection table peaked at ${maxTable}`);
    assert.ok(maxPending <= SYN_BACKLOG);
    assert.ok(maxReady <= BACKLOG);
    assert.ok(listener.pooled <= BACKLOG + SYN_BACKLOG);
    assert.ok(maxNeighbours <= 8, `neighbour cache peaked at ${maxNeighbours}`);
  } finally {
    for (const s of served) s.abort();
    if (!floodDone) {
      try {
        flood.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
    }
    await floodOut;
  }
});
