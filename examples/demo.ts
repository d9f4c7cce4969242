/**
 * Demo: start EAL without hugepages or NICs, create the default pool and a jumbo pool, print
 * their facts, show what bad input gets, then run live traffic: a net_tap port whose peer is the
 * Linux kernel (our side pings it in bursts), or a net_ring loopback where no tap can be made,
 * and let the kernel ping our TCP/IP stack and talk UDP to it.
 *
 *   deno task demo        (or scripts/run.sh demo on a fresh machine)
 *
 * `deno task demo` passes every permission the demo uses. Run with fewer, each part that lacks one
 * says which flag (or root) it needs and falls back or is skipped.
 */
import dgram from "node:dgram";
import {
  Eal,
  EalError,
  internetChecksum,
  MbufBatch,
  Mempool,
  MempoolError,
  Port,
  Stack,
  Vdev,
} from "../mod.ts";
import { lacking } from "./permissions.ts";
import { echoDatagrams } from "./udp_echo.ts";
import { serveHttpListener } from "./http_server.ts";

/** Our side's MAC on the tap (locally administered). */
const OUR_MAC = Uint8Array.of(0x02, 0x00, 0x5e, 0x10, 0x00, 0x02);

function section(title: string): void {
  console.log(`\n== ${title}`);
}

function facts(pool: Mempool): Record<string, unknown> {
  return {
    name: pool.name,
    capacity: pool.capacity,
    available: pool.available,
    inUse: pool.inUse,
    cacheSize: pool.cacheSize,
    dataRoomSize: pool.dataRoomSize,
    socketId: pool.socketId,
    packed: pool.packed,
    pointer: `0x${Deno.UnsafePointer.value(pool.pointer).toString(16)}`,
  };
}

function tryIt(label: string, f: () => unknown): void {
  try {
    f();
    console.log(`  ${label}: no error (unexpected)`);
  } catch (e) {
    if (e instanceof MempoolError) {
      const errno = e.errno === null ? "" : `, errno ${e.errno} (${e.errnoText})`;
      console.log(`  ${label}\n    → MempoolError ${e.kind}${errno}\n      ${e.message}`);
    } else if (e instanceof EalError) {
      console.log(`  ${label}\n    → EalError ${e.kind}\n      ${e.message}`);
    } else {
      throw e;
    }
  }
}

const cannot = lacking([{ name: "ffi" }]);
if (cannot !== null) {
  console.error(
    `The demo ${cannot} (DPDK is called through FFI); \`deno task demo\` passes every flag it uses.`,
  );
  Deno.exit(1);
}

section(`${Eal.version}: EAL in no-hugepage mode`);
using eal = Eal.init(Eal.devOptions());
console.log(`  args: ${eal.args.join(" ")}`);
console.log(
  `  lcores: ${eal.lcoreCount}, NUMA sockets: ${eal.socketCount}, this thread: lcore ${eal.lcoreId}`,
);

section("Pools");
using pool = Mempool.create("demo_default");
console.table(facts(pool));
using jumbo = Mempool.createForMtu("demo_jumbo", 8192, 9000);
console.table(facts(jumbo));
using small = Mempool.createWithSize("demo_small", 300);
console.log(`  a 300-mbuf pool gets cache ${small.cacheSize} (256 needs ≥ 384 mbufs)`);

section("Bad input gets a typed error");
tryIt('a second pool named "demo_default"', () => Mempool.create("demo_default"));
tryIt("an empty name", () => Mempool.create(""));
tryIt("a 30-byte name", () => Mempool.create("x".repeat(30)));
tryIt("MTU 70000 (data room beyond 16 bits)", () => Mempool.createForMtu("demo_bad_mtu", 1024, 70000));
tryIt("1,000,000 mbufs in 512 MB", () => Mempool.createWithSize("demo_too_big", 1_000_000));
tryIt("EAL again with other arguments", () => Eal.init(Eal.devOptions({ memoryMb: 64 })));
small[Symbol.dispose]();
tryIt("a pool used after dispose", () => small.available);

section("Live traffic");
await liveTraffic(pool);

section(
  "The TCP/IP stack via Stack.open: the kernel pings our interface, talks to a UDP echo server on it, " +
    "and its curl fetches from our HTTP server",
);
await kernelMeetsStack();

section("Done: ports, pools and EAL are freed in reverse order as `using` scopes end");

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
}

/** A kernel interface on a tap port, or null (with the reason printed) when none can be made here. */
async function tapPeer(pool: Mempool) {
  const iface = `mdemo${Deno.pid % 100000}`;
  const cannot = lacking([{ name: "run", command: "ip" }], true);
  if (cannot !== null) {
    console.log(`  a tap to the kernel ${cannot}; using a net_ring loopback instead`);
    return null;
  }
  let vdev: Vdev | undefined;
  let port: Port | undefined;
  try {
    vdev = Vdev.attach(`net_tap_demo${Deno.pid % 100000}`, `iface=${iface}`);
    port = Port.open(vdev.portId, pool, { promiscuous: true });
    await ip("link", "set", "dev", iface, "addrgenmode", "none"); // no IPv6 link-local chatter
    port.start();
    // 198.18.0.0/15 is reserved for benchmarking (RFC 2544): the traffic stays on this tap.
    const x = (Deno.pid % 250) + 1;
    await ip("addr", "add", `198.18.${x}.1/24`, "dev", iface);
    await ip("link", "set", "dev", iface, "up");
    const show = await new Deno.Command("ip", { args: ["-j", "link", "show", "dev", iface], stdout: "piped" })
      .output();
    const mac = (JSON.parse(new TextDecoder().decode(show.stdout))[0].address as string).split(":");
    return {
      iface,
      vdev,
      port,
      kernelMac: Uint8Array.from(mac.map((h) => parseInt(h, 16))),
      kernelIp: Uint8Array.of(198, 18, x, 1),
      ourIp: Uint8Array.of(198, 18, x, 2),
    };
  } catch (e) {
    console.log(`  no tap here (${e instanceof Error ? e.message : e}); using net_ring loopback instead`);
    port?.close();
    vdev?.detach();
    return null;
  }
}

/** An ARP request (42 bytes) or ICMP echo request (98 bytes) from us to the kernel, written at `o`. */
function writeFrame(
  b: Uint8Array,
  o: number,
  kind: "arp" | "ping",
  peer: { kernelMac: Uint8Array; kernelIp: Uint8Array; ourIp: Uint8Array },
  seq: number,
): void {
  const v = new DataView(b.buffer, b.byteOffset + o, kind === "arp" ? 42 : 98);
  const f = new Uint8Array(b.buffer, b.byteOffset + o, v.byteLength);
  f.set(kind === "arp" ? new Uint8Array(6).fill(0xff) : peer.kernelMac, 0);
  f.set(OUR_MAC, 6);
  if (kind === "arp") {
    v.setUint16(12, 0x0806);
    v.setUint32(14, 0x00010800); // Ethernet, IPv4
    v.setUint32(18, 0x06040001); // sizes 6 and 4, request
    f.set(OUR_MAC, 22);
    f.set(peer.ourIp, 28);
    f.fill(0, 32, 38);
    f.set(peer.kernelIp, 38);
    return;
  }
  v.setUint16(12, 0x0800);
  v.setUint32(14, 0x45000054); // IPv4, 20-byte header, total 84
  v.setUint32(18, (seq & 0xffff) << 16); // id, no fragment flags
  v.setUint32(22, 0x40010000); // TTL 64, ICMP, checksum 0
  f.set(peer.ourIp, 26);
  f.set(peer.kernelIp, 30);
  v.setUint16(24, internetChecksum(f, 14, 34));
  v.setUint32(34, 0x08000000); // echo request, checksum 0
  v.setUint32(38, 0x4d440000 | (seq & 0xffff)); // identifier "MD", sequence
  for (let i = 42; i < 98; i++) f[i] = i;
  v.setUint16(36, internetChecksum(f, 34, 98));
}

async function liveTraffic(pool: Mempool): Promise<void> {
  const peer = await tapPeer(pool);
  using ring = peer === null ? Vdev.attach("net_ring0") : null;
  const port = peer?.port ?? Port.open(ring!.portId, pool);
  if (peer === null) port.start();
  try {
    const info = port.info();
    console.log(
      peer
        ? `  port ${port.id} (${info.driverName}) ↔ kernel interface ${peer.iface} ` +
          `${peer.kernelIp.join(".")}; we are ${peer.ourIp.join(".")}: pinging it in bursts of 32`
        : `  port ${port.id} (${info.driverName}): frames loop back from tx to rx`,
    );
    const tx = new MbufBatch(32);
    const rx = new MbufBatch(64);
    if (peer) {
      pool.allocBulk(tx, 1, 42);
      const c = tx.columns();
      writeFrame(c.bytes, c.start[0], "arp", peer, 0);
      port.txBurst(0, tx);
    }
    port.resetStats();
    const seconds = 3;
    const t0 = performance.now();
    let seq = 0, sent = 0, received = 0, unsent = 0, last = t0, lastSent = 0, lastReceived = 0;
    while (performance.now() - t0 < seconds * 1000) {
      if (pool.allocBulk(tx, tx.free, peer ? 98 : 64)) {
        const c = tx.columns();
        for (let i = 0; i < tx.length; i++) {
          if (peer) writeFrame(c.bytes, c.start[i], "ping", peer, seq++);
          else c.bytes[c.start[i]] = seq++ & 0xff;
        }
      }
      sent += port.txBurst(0, tx);
      if (tx.length > 0) { // the driver's queue was full: count the drop and give the mbufs back
        unsent += tx.length;
        pool.freeBulk(tx);
      }
      received += port.rxBurst(0, rx);
      pool.freeBulk(rx);
      if (peer) await new Promise((r) => setTimeout(r, 0)); // let the kernel side breathe
      const now = performance.now();
      if (now - last >= 500) {
        const s = port.stats();
        const dt = (now - last) / 1000;
        console.log(
          `  t=${((now - t0) / 1000).toFixed(1)}s  tx ${
            ((sent - lastSent) / dt).toFixed(0).padStart(8)
          } pkt/s` +
            `  rx ${
              ((received - lastReceived) / dt).toFixed(0).padStart(8)
            } pkt/s  drops: unsent ${unsent}, ` +
            `imissed ${s.imissed}, rx errors ${s.ierrors}, no mbuf ${s.rxNombuf}`,
        );
        last = now;
        lastSent = sent;
        lastReceived = received;
      }
    }
    const s = port.stats();
    console.log(`  total: sent ${sent}, received ${received}; port counters: ${JSON.stringify(s)}`);
  } finally {
    port.close();
    peer?.vdev.detach();
  }
}

async function kernelMeetsStack(): Promise<void> {
  const cannot = lacking([{ name: "run", command: "ip" }], true);
  if (cannot !== null) {
    console.log(`  a tap to the kernel ${cannot}; skipped`);
    return;
  }
  // One call: pool, net_tap device (which creates the kernel interface), port, interface.
  const iface = `mdst${Deno.pid % 100000}`;
  const x = (Deno.pid % 250) + 1; // 198.18.0.0/15: reserved for benchmarking (RFC 2544)
  let opened: Stack;
  try {
    opened = Stack.open({ device: `net_tap_st${Deno.pid % 100000},iface=${iface}`, ip: `198.18.${x}.2/24` });
  } catch (e) {
    console.log(`  no tap here (${e instanceof Error ? e.message : e}); skipped`);
    return;
  }
  await using stack = opened; // runner stopped, then interface, port, device and pool freed in order
  await ip("addr", "add", `198.18.${x}.1/24`, "dev", iface); // the kernel's side of the wire
  await ip("link", "set", "dev", iface, "up");
  console.log(
    `  Stack.open: we are ${stack.ip}/${stack.prefix} (mac ${stack.mac}) on port ${stack.port.id}; ` +
      `the kernel is 198.18.${x}.1 on ${iface}`,
  );
  const conn = stack.listenDatagram({ port: 7 }); // starts the runner that polls the interface
  const server = echoDatagrams(conn);
  const http = stack.listen({ port: 80 }); // examples/http_server.ts's handler, over DPDK
  const httpServer = serveHttpListener(http);
  try {
    await kernelPings(stack.ip);
    await kernelTalksUdp(`198.18.${x}.1`, stack.ip);
    await kernelCurls(stack.ip);
  } finally {
    http.close();
    const [httpConns] = await httpServer;
    console.log(`  HTTP: served ${httpConns} connection(s)`);
    conn.close();
    console.log(
      `  echoed ${await server} datagram(s); interface counters: ${JSON.stringify(stack.iface.stats)}`,
    );
  }
}

/** The kernel's `ping` sends four echo requests to our stack. */
async function kernelPings(ourIp: string): Promise<void> {
  const cannot = lacking([{ name: "run", command: "ping" }]);
  if (cannot !== null) {
    console.log(`  the kernel's ping ${cannot}; skipped`);
    return;
  }
  const ping = await new Deno.Command("ping", {
    args: ["-c", "4", "-i", "0.2", "-W", "2", ourIp],
    stdout: "piped",
    stderr: "piped",
  }).output().catch((e) => ({
    success: false,
    stdout: new TextEncoder().encode(String(e)),
    stderr: new Uint8Array(),
  }));
  for (const line of new TextDecoder().decode(ping.stdout).trim().split("\n")) console.log(`  | ${line}`);
}

/** A kernel UDP socket sends a datagram to our echo server on port 7 and waits for it to come back. */
async function kernelTalksUdp(kernelIp: string, ourIp: string): Promise<void> {
  const cannot = lacking([{ name: "net" }]);
  if (cannot !== null) {
    console.log(`  a kernel UDP socket ${cannot}; skipped`);
    return;
  }
  const sock = dgram.createSocket("udp4");
  try {
    await new Promise<void>((r) => sock.bind(0, kernelIp, () => r()));
    const reply = new Promise<string>((resolve) =>
      sock.once("message", (m) => resolve(new TextDecoder().decode(m)))
    );
    sock.send(new TextEncoder().encode("hello, userspace stack"), 7, ourIp);
    const text = await Promise.race([
      reply,
      new Promise<string>((r) => setTimeout(() => r("(no reply)"), 2000)),
    ]);
    console.log(`  kernel UDP socket sent "hello, userspace stack" to ${ourIp}:7 and got back "${text}"`);
  } finally {
    sock.close();
  }
}

/** The kernel's `curl` fetches `/` and 1 MiB of `/bytes/N` from our HTTP server on port 80. */
async function kernelCurls(ourIp: string): Promise<void> {
  const cannot = lacking([{ name: "run", command: "curl" }]);
  if (cannot !== null) {
    console.log(`  the kernel's curl ${cannot}; skipped`);
    return;
  }
  for (const path of ["/", "/bytes/1048576"]) {
    const out = await new Deno.Command("curl", {
      args: [
        "-sS",
        "--max-time",
        "10",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download} bytes in %{time_total} s",
        `http://${ourIp}${path}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output().catch((e) => ({
      success: false,
      stdout: new Uint8Array(),
      stderr: new TextEncoder().encode(String(e)),
    }));
    const text = new TextDecoder().decode(out.success ? out.stdout : out.stderr).trim();
    console.log(`  curl http://${ourIp}${path} → ${text}`);
  }
  const hello = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "10", `http://${ourIp}/`],
    stdout: "piped",
    stderr: "null",
  })
    .output().then((o) => new TextDecoder().decode(o.stdout).trim(), () => "");
  if (hello !== "") console.log(`  | ${hello}`);
}
