/**
 * `deno task bench`: each case runs the same work through the TypeScript API and against a
 * reference (C in csrc/bench.c, loaded into this process, or the kernel's UDP path), in alternating
 * rounds on the same EAL, pool, thread and lcore cache, and reports ns per op for both and their
 * ratio (ours ÷ the reference's; lower is better). Best of several rounds, so noise from the rest of
 * the machine mostly cancels.
 *
 * The references:
 * - packet I/O and mbuf cases: the same DPDK calls made inline from C;
 * - `udp_echo_stack_*`: a tuned C UDP echo doing the stack's per-datagram work on the same port
 *   and C peer (burst 32: ns per datagram; burst 1: ns per round trip, median and p99 over many
 *   rounds, stamped by the peer);
 * - `udp_echo_vs_kernel_*`: the kernel's UDP path over loopback from C (sendmmsg/recvmmsg at 32,
 *   sendto/recvfrom at 1), and `udp_echo_deno_socket_*` puts Deno's own `Deno.listenDatagram`
 *   against that same reference.
 *
 * Every case runs on two pool layouts (see MempoolOptions.packed): "packed", the library's default
 * without hugepages and the layout hugepage hosts get anyway, and "page", DPDK's own no-hugepage
 * layout of one mbuf per 4 KiB page, where every mbuf header shares the same L1 cache sets and
 * memory stalls dominate both sides. The kernel socket rows have no layout ("none").
 *
 *   deno task bench                    a table
 *   deno task bench -- --json          one JSON object per row: {layout, case, ref, c_ns, deno_ns,
 *                                      ratio, target} (latency rows add c_p50_ns, c_p99_ns,
 *                                      deno_p50_ns, deno_p99_ns)
 *   deno task bench -- --layout=packed only one layout (the kernel rows run either way)
 *   deno task bench -- --case=echo     only the measured cases whose name contains "echo"
 *                                      (comma-separated: any of them, e.g. --case=alloc,walk)
 *
 * @module
 */
import {
  ArpPacket,
  Eal,
  emitArp,
  emitEthernet,
  emitIpv4,
  emitUdp,
  EthernetHeader,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  Interface,
  IPPROTO_UDP,
  Ipv4Header,
  MbufBatch,
  Mempool,
  parseEthernet,
  parseIpv4,
  parseUdp,
  Port,
  PortDevice,
  UdpHeader,
  Vdev,
} from "../mod.ts";

const USAGE = "usage: deno task bench [-- [--json] [--layout=packed|page] [--case=SUBSTRING]]";
const LAYOUTS = ["packed", "page"] as const;
let json = false;
let layoutArg: string | undefined;
/** Only the cases whose name contains this (the kernel comparison rows need both of theirs). */
let caseArg = "";
for (const a of Deno.args) {
  if (a === "--") continue; // `deno task bench -- …` passes it through
  else if (a === "--json") json = true;
  else if (a.startsWith("--layout=")) layoutArg = a.slice("--layout=".length);
  else if (a.startsWith("--case=")) caseArg = a.slice("--case=".length);
  else throw new Error(`bench: unknown argument ${JSON.stringify(a)}\n${USAGE}`);
}
const layouts = LAYOUTS.filter((l) => layoutArg === undefined || l === layoutArg);
if (layouts.length === 0) {
  throw new Error(`bench: --layout must be packed or page, got ${layoutArg}\n${USAGE}`);
}
const ROUNDS = 7;
/** True when `name` contains one of --case's comma-separated substrings. */
function wanted(name: string): boolean {
  return caseArg.split(",").some((c) => name.includes(c));
}

const benchLib = Deno.dlopen(
  new URL("../build/libmelin_bench.so", import.meta.url),
  {
    mdb_alloc_free: { parameters: ["f64", "u32"], result: "f64" },
    mdb_bulk: { parameters: ["f64", "u32", "u32"], result: "f64" },
    mdb_walk: { parameters: ["buffer", "u32", "u32", "buffer"], result: "f64" },
    mdb_ring_burst: { parameters: ["u16", "f64", "u32", "u32", "u32", "buffer"], result: "f64" },
    mdb_wire_port: { parameters: ["u32"], result: "i32" },
    mdb_wire_free: { parameters: [], result: "void" },
    mdb_wire_set_frame: { parameters: ["buffer", "u32"], result: "i32" },
    mdb_wire_send: { parameters: ["f64", "u32"], result: "u32" },
    mdb_wire_receive: { parameters: [], result: "u32" },
    mdb_lat_begin: { parameters: ["u32"], result: "i32" },
    mdb_lat_mark: { parameters: [], result: "void" },
    mdb_lat_end: { parameters: ["buffer"], result: "u32" },
    mdb_echo_config: { parameters: ["buffer", "u32"], result: "void" },
    mdb_echo_c: { parameters: ["f64", "u16", "u32", "u32"], result: "f64" },
    mdb_echo_once: { parameters: ["f64", "u16", "u32"], result: "void" },
    mdb_wire_take: { parameters: ["buffer", "u32"], result: "u32" },
    mdb_kernel_echo: { parameters: ["u32", "u32", "u32"], result: "f64" },
  } as const,
);
const C = benchLib.symbols;

/** One side's figure from one round: ns per op, and for latency cases the spread over its rounds. */
interface Sample {
  /** ns per op (for a latency case: the mean round trip). */
  ns: number;
  /** Median and 99th percentile, ns per round trip (latency cases). */
  p50?: number;
  p99?: number;
}

interface Case {
  name: string;
  /** What the reference is. */
  ref: string;
  /** What one op is, for the table. */
  unit: string;
  iters: number;
  c(iters: number): Sample | Promise<Sample>;
  deno(iters: number): Sample | Promise<Sample>;
  /** Target: the largest acceptable ratio to the reference. */
  target: number;
  /** Compare medians (and show p99s): one op is a round trip. */
  latency?: boolean;
}

/** Times `body` (ns, through performance.now) and divides by the ops it did. */
function timeTs(opsPerIter: number, body: (iters: number) => void): (iters: number) => Sample {
  return (iters) => {
    const t0 = performance.now();
    body(iters);
    return { ns: (performance.now() - t0) * 1e6 / (iters * opsPerIter) };
  };
}

/** A C baseline's elapsed ns (negative: it failed) per op. */
function perOp(name: string, elapsed: number, ops: number): Sample {
  if (elapsed < 0) throw new Error(`bench: C case ${name} failed`);
  return { ns: elapsed / ops };
}

const latOut = new Float64Array(3);
/** Runs `body` with the peer stamping each round (csrc/bench.c: "Round-trip times"). */
function stamped(body: (iters: number) => void): (iters: number) => Sample {
  return (iters) => {
    if (C.mdb_lat_begin(iters + 1) !== 0) throw new Error("bench: no memory for latency stamps");
    body(iters);
    if (C.mdb_lat_end(latOut) !== iters) throw new Error(`bench: expected ${iters} stamped rounds`);
    return { ns: latOut[2], p50: latOut[0], p99: latOut[1] };
  };
}

/** Median and 99th percentile of per-round times (sorted in place). */
function spread(rounds: Float64Array): Sample {
  rounds.sort();
  let total = 0;
  for (const r of rounds) total += r;
  return {
    ns: total / rounds.length,
    p50: rounds[rounds.length >> 1],
    p99: rounds[Math.floor(rounds.length * 0.99)],
  };
}

interface Result {
  layout: string;
  case: string;
  ref: string;
  c: Sample;
  deno: Sample;
  ratio: number;
  unit: string;
  target: number;
  latency: boolean;
}

/** The figure a case's ratio and best-of compare: the median for latency cases, else ns per op. */
function figure(s: Sample, latency: boolean): number {
  return latency ? s.p50! : s.ns;
}

/**
 * Warms up both sides (caches; and several calls so that V8 compiles the TS body as a whole
 * function, not only on-stack-replacement code for one long loop), then alternates rounds and
 * keeps the best of each.
 */
async function measure(layout: string, k: Case): Promise<Result> {
  const lat = k.latency === true;
  const warm = Math.max(1, Math.floor(k.iters / 20));
  for (let w = 0; w < 5; w++) {
    await k.c(warm);
    await k.deno(warm);
  }
  let cBest: Sample = { ns: Infinity, p50: Infinity };
  let dBest: Sample = { ns: Infinity, p50: Infinity };
  for (let r = 0; r < ROUNDS; r++) {
    const c = await k.c(k.iters);
    if (figure(c, lat) < figure(cBest, lat)) cBest = c;
    const d = await k.deno(k.iters);
    if (figure(d, lat) < figure(dBest, lat)) dBest = d;
  }
  return {
    layout,
    case: k.name,
    ref: k.ref,
    c: cBest,
    deno: dBest,
    ratio: figure(dBest, lat) / figure(cBest, lat),
    unit: k.unit,
    target: k.target,
    latency: lat,
  };
}

let sink = 0;

const REF_INLINE = "C: the same DPDK calls inline";
const REF_ECHO = "C echo: same work, same port and peer, -O3";
const REF_KERNEL_32 = "kernel UDP, loopback, C sendmmsg/recvmmsg";
const REF_KERNEL_1 = "kernel UDP, loopback, C sendto/recvfrom";
/** UDP payload bytes of every echo case. */
const PAYLOAD = 32;

/** Runs every DPDK case on a pool of the given layout. */
async function suite(layout: "packed" | "page"): Promise<Result[]> {
  using pool = Mempool.createWithOptions(`bench_${layout}`, { packed: layout === "packed" });
  const poolAddr = pool.address;
  const BURST = 32;

  const batch = new MbufBatch(BURST);
  const walkBatch = new MbufBatch(BURST);
  if (!pool.allocBulk(walkBatch, BURST)) throw new Error("bench pool too small");
  for (let i = 0; i < BURST; i++) walkBatch.append(i, 64);
  if (walkBatch.columns().start.some((s) => s < 0)) {
    throw new Error("bench: walk batch outside the columns' chunk");
  }
  const sumOut = new BigUint64Array(1);

  using ring = Vdev.attach(`net_ring_${layout}`);
  using port = Port.open(ring.portId, pool);
  port.start();
  const txBatch = new MbufBatch(BURST);
  const rxBatch = new MbufBatch(BURST);
  const FRAME = 64;

  const cases: Case[] = [
    {
      name: "alloc_free_single",
      ref: REF_INLINE,
      unit: "alloc+free",
      iters: 2_000_000,
      c: (n) => perOp("alloc_free_single", C.mdb_alloc_free(poolAddr, n), n),
      deno: timeTs(1, (n) => {
        for (let i = 0; i < n; i++) {
          const m = pool.alloc()!;
          m.free();
        }
      }),
      target: 3,
    },
    {
      name: "bulk32_alloc_free",
      ref: REF_INLINE,
      unit: "mbuf",
      iters: 200_000,
      c: (n) => perOp("bulk32_alloc_free", C.mdb_bulk(poolAddr, n, BURST), n * BURST),
      deno: timeTs(BURST, (n) => {
        for (let i = 0; i < n; i++) {
          pool.allocBulk(batch, BURST);
          pool.freeBulk(batch);
        }
      }),
      target: 1.1,
    },
    {
      name: "walk_touch_32",
      ref: REF_INLINE,
      unit: "packet",
      iters: 200_000,
      c: (n) => perOp("walk_touch_32", C.mdb_walk(walkBatch.addresses, BURST, n, sumOut), n * BURST),
      deno: timeTs(BURST, (n) => {
        let sum = 0;
        for (let r = 0; r < n; r++) {
          for (let i = 0; i < BURST; i++) {
            const p = walkBatch.at(i);
            p.bytes[p.start]++;
            sum += p.length;
          }
        }
        sink += sum;
      }),
      target: 3,
    },
    {
      // The same walk through the batch's layout columns (no call per packet): the fastest walk.
      name: "walk_columns_32",
      ref: REF_INLINE,
      unit: "packet",
      iters: 200_000,
      c: (n) => perOp("walk_columns_32", C.mdb_walk(walkBatch.addresses, BURST, n, sumOut), n * BURST),
      deno: timeTs(BURST, (n) => {
        let sum = 0;
        for (let r = 0; r < n; r++) {
          const c = walkBatch.columns();
          const bytes = c.bytes;
          const start = c.start;
          const length = c.length;
          for (let i = 0; i < BURST; i++) {
            bytes[start[i]]++; // every entry is in the first chunk here (one-chunk pool)
            sum += length[i];
          }
        }
        sink += sum;
      }),
      target: Infinity,
    },
    {
      name: "ring_burst_32",
      ref: REF_INLINE,
      unit: "packet",
      iters: 100_000,
      c: (n) =>
        perOp("ring_burst_32", C.mdb_ring_burst(port.id, poolAddr, n, BURST, FRAME, sumOut), n * BURST),
      deno: timeTs(BURST, (n) => {
        let sum = 0;
        for (let r = 0; r < n; r++) {
          pool.allocBulk(txBatch, BURST, FRAME);
          const t = txBatch.columns();
          for (let i = 0; i < BURST; i++) {
            const st = t.start[i];
            if (st >= 0) t.bytes[st] = i;
            else {
              const p = txBatch.at(i);
              p.bytes[p.start] = i;
            }
          }
          port.txBurst(0, txBatch);
          if (txBatch.length > 0) pool.freeBulk(txBatch);
          port.rxBurst(0, rxBatch);
          const c = rxBatch.columns();
          for (let i = 0; i < rxBatch.length; i++) {
            const st = c.start[i];
            if (st >= 0) sum += c.bytes[st] + c.length[i];
            else {
              const p = rxBatch.at(i);
              sum += p.bytes[p.start] + p.length;
            }
          }
          pool.freeBulk(rxBatch);
        }
        sink += sum;
      }),
      target: 1.25,
    },
  ];

  // UDP echo through the stack. The port is a net_ring port over two rings whose far ends C holds
  // (csrc/bench.c, "wire"): C plays the NIC and the peer, putting request frames on the wire per
  // round and taking the replies off it (checking each is the echo of the request). The stack
  // receives, verifies and delivers each datagram to a bound socket; the application takes it in
  // place (recvView) and sends it back; the stack writes the reply into a tx mbuf. The time
  // counted is all of that, the C peer's share included. The reference is the C echo
  // (csrc/bench.c, "C reference for the stack's UDP echo") on the same port, pool and peer.
  const wirePortId = C.mdb_wire_port(layout === "packed" ? 0 : 1);
  if (wirePortId < 0) throw new Error("bench: could not create the wire port (rte_eth_from_rings)");
  using _wire = { [Symbol.dispose]: () => C.mdb_wire_free() }; // after the port closes
  using wirePort = Port.open(wirePortId, pool);
  wirePort.start();
  const PEER_IP = 0xc612c801; // 198.18.200.1
  const OUR_IP = 0xc612c802; // 198.18.200.2
  const PEER_MAC = Uint8Array.of(2, 0, 0, 0, 0, 1);
  const OUR_MAC = Uint8Array.of(2, 0, 0, 0, 0, 2);
  using device = new PortDevice(wirePort, pool);
  const iface = new Interface(device, { mac: OUR_MAC, addresses: [{ ip: OUR_IP, prefix: 24 }] });
  C.mdb_echo_config(OUR_MAC, OUR_IP);
  const echo = iface.bindUdp(7, 256);
  function frameTemplate(kind: "arp" | "udp", dstIp = OUR_IP): Uint8Array<ArrayBuffer> {
    const eth = new EthernetHeader();
    eth.dst.set(OUR_MAC);
    eth.src.set(PEER_MAC);
    eth.etherType = kind === "arp" ? ETHERTYPE_ARP : ETHERTYPE_IPV4;
    if (kind === "arp") {
      const f = new Uint8Array(42);
      emitEthernet(f, 0, 14, eth);
      const a = new ArpPacket();
      a.senderMac.set(PEER_MAC);
      a.senderIp = PEER_IP;
      a.targetIp = OUR_IP;
      emitArp(f, 14, 42, a);
      return f;
    }
    const f = new Uint8Array(14 + 20 + 8 + PAYLOAD);
    emitEthernet(f, 0, 14, eth);
    const ip = new Ipv4Header();
    Object.assign(ip, { totalLength: 28 + PAYLOAD, protocol: IPPROTO_UDP, src: PEER_IP, dst: dstIp });
    emitIpv4(f, 14, 34, ip);
    const udp = new UdpHeader();
    Object.assign(udp, { srcPort: 9000, dstPort: 7, length: 8 + PAYLOAD });
    for (let i = 42; i < f.length; i++) f[i] = i;
    emitUdp(f, 34, f.length, PEER_IP, dstIp, udp);
    return f;
  }
  function wireFrame(frame: Uint8Array<ArrayBuffer>): void {
    if (C.mdb_wire_set_frame(frame, frame.length) !== 0) {
      throw new Error("bench: frame too long for the wire");
    }
  }
  wireFrame(frameTemplate("arp"));
  if (C.mdb_wire_send(poolAddr, 1) !== 1) throw new Error("bench: the wire did not take the ARP request");
  iface.poll(0); // the interface learns the peer (and answers)
  C.mdb_wire_receive();
  // Both echoes must answer with frames a host accepts (checksums verified by the wire parsers),
  // and the C echo must refuse what the stack refuses, or the reference does less than the stack.
  const request = frameTemplate("udp");
  const replyBuf = new Uint8Array(2048);
  function checkReply(who: string): void {
    const n = C.mdb_wire_take(replyBuf, replyBuf.length);
    const f = replyBuf.subarray(0, n);
    const eth = new EthernetHeader();
    const ip = new Ipv4Header();
    const udp = new UdpHeader();
    const l3 = parseEthernet(f, 0, n, eth);
    const l4 = parseIpv4(f, l3, n, ip);
    const data = parseUdp(f, l4, l3 + ip.totalLength, ip.src, ip.dst, udp);
    const ok = n === request.length && eth.dst.every((b, i) => b === PEER_MAC[i]) && ip.src === OUR_IP &&
      ip.dst === PEER_IP && udp.srcPort === 7 && udp.dstPort === 9000 && udp.checksum !== 0 &&
      f.subarray(data).every((b, i) => b === request[42 + i]);
    if (!ok) throw new Error(`bench: the ${who}'s reply is not the echo of the request`);
  }
  wireFrame(request);
  C.mdb_echo_once(poolAddr, wirePortId, 1);
  checkReply("C echo");
  C.mdb_wire_send(poolAddr, 1);
  iface.poll(0);
  for (let n = echo.recvView(); n >= 0; n = echo.recvView()) {
    echo.sendTo(echo.rxBytes, echo.lastIp, echo.lastPort, echo.rxStart, n);
  }
  iface.poll(0);
  checkReply("stack");
  const corrupt = (at: number) => request.map((b, i) => i === at ? b ^ 1 : b);
  for (
    const [what, bad] of [
      ["another destination MAC", corrupt(5)],
      ["a bad IPv4 checksum", corrupt(24)],
      ["a bad UDP checksum", corrupt(40)],
      ["another destination address", frameTemplate("udp", OUR_IP + 1)],
    ] as const
  ) {
    wireFrame(bad);
    if (C.mdb_echo_c(poolAddr, wirePortId, 1, 1) >= 0) throw new Error(`bench: the C echo answered ${what}`);
  }
  wireFrame(request);
  let echoed = 0;
  let requested = 0;
  /**
   * One round of the stack's echo: `burst` requests in, their replies out. The clock stays at 0
   * (the neighbour learned at 0 stays fresh; the C echo reads no clock either).
   */
  function stackRound(burst: number): void {
    requested += C.mdb_wire_send(poolAddr, burst);
    iface.poll(0);
    for (let n = echo.recvView(); n >= 0; n = echo.recvView()) {
      echo.sendTo(echo.rxBytes, echo.lastIp, echo.lastPort, echo.rxStart, n);
    }
    iface.flush(); // the replies out now, not at the next poll
    echoed += C.mdb_wire_receive();
  }

  cases.push({
    name: "udp_echo_stack_32",
    ref: REF_ECHO,
    unit: "datagram",
    iters: 5_000,
    c: (n) => perOp("udp_echo_stack_32 (C echo)", C.mdb_echo_c(poolAddr, wirePortId, n, BURST), n * BURST),
    deno: timeTs(BURST, (n) => {
      for (let r = 0; r < n; r++) stackRound(BURST);
    }),
    target: 2.5,
  }, {
    // One request per round: the peer sends it only once the previous reply is back.
    name: "udp_echo_stack_1",
    ref: REF_ECHO + ", burst 1",
    unit: "round trip",
    iters: 200_000,
    c: stamped((n) => {
      if (C.mdb_echo_c(poolAddr, wirePortId, n, 1) < 0) throw new Error("bench: C echo failed");
    }),
    deno: stamped((n) => {
      for (let r = 0; r < n; r++) stackRound(1);
      C.mdb_lat_mark();
    }),
    target: 3.5,
    latency: true,
  });

  const results: Result[] = [];
  for (const k of cases) if (wanted(k.name)) results.push(await measure(layout, k));
  pool.freeBulk(walkBatch);
  // Every request must have come back as its echo, or the stack case measured the wrong thing.
  if (echoed !== requested || iface.stats.rxMalformed !== 0) {
    throw new Error(
      `bench: ${requested} UDP requests, ${echoed} echoes, ${iface.stats.rxMalformed} malformed`,
    );
  }
  return results;
}

/**
 * The kernel's UDP path over loopback, client and server in this process, `PAYLOAD`-byte
 * datagrams: from C (csrc/bench.c, "kernel's UDP path") and through `Deno.listenDatagram`.
 */
async function kernelSuite(): Promise<Result[]> {
  const open = () => Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const srv = open();
  const cli = open();
  const srvAddr = srv.addr;
  const payload = new Uint8Array(PAYLOAD).map((_, i) => i + 42);
  const check = (d: Uint8Array) => {
    if (d.length !== PAYLOAD || d[0] !== payload[0] || d[PAYLOAD - 1] !== payload[PAYLOAD - 1]) {
      throw new Error(`bench: Deno socket echo came back wrong (${d.length} bytes)`);
    }
  };
  /** `burst` datagrams out from the client, echoed by the server, back in at the client. */
  async function denoRound(burst: number): Promise<void> {
    const sends: Promise<number>[] = [];
    for (let j = 0; j < burst; j++) sends.push(cli.send(payload, srvAddr));
    await Promise.all(sends);
    const replies: Promise<number>[] = [];
    for (let j = 0; j < burst; j++) {
      const [d, from] = await srv.receive();
      replies.push(srv.send(d, from));
    }
    await Promise.all(replies);
    for (let j = 0; j < burst; j++) check((await cli.receive())[0]);
  }
  const kernelC = (burst: number) => (n: number) =>
    perOp(`kernel echo ${burst}`, C.mdb_kernel_echo(n, burst, PAYLOAD), n * burst);
  const cases: Case[] = [{
    name: "udp_echo_deno_socket_32",
    ref: REF_KERNEL_32,
    unit: "datagram",
    iters: 300,
    c: kernelC(32),
    deno: async (n) => {
      const t0 = performance.now();
      for (let r = 0; r < n; r++) await denoRound(32);
      return { ns: (performance.now() - t0) * 1e6 / (n * 32) };
    },
    target: Infinity,
  }, {
    name: "udp_echo_deno_socket_1",
    ref: REF_KERNEL_1,
    unit: "round trip",
    iters: 3_000,
    c: stamped((n) => kernelC(1)(n)),
    deno: async (n) => {
      const rounds = new Float64Array(n);
      for (let r = 0; r < n; r++) {
        const t0 = performance.now();
        await denoRound(1);
        rounds[r] = (performance.now() - t0) * 1e6;
      }
      return spread(rounds);
    },
    target: Infinity,
    latency: true,
  }];
  try {
    const results: Result[] = [];
    for (const k of cases) if (wanted(k.name)) results.push(await measure("none", k));
    return results;
  } finally {
    srv.close();
    cli.close();
  }
}

/** The stack's figure against the kernel C echo's, per layout: `udp_echo_vs_kernel_{32,1}`. */
function versusKernel(stack: Result[], kernel: Result[]): Result[] {
  const out: Result[] = [];
  for (const [burst, ref] of [[32, REF_KERNEL_32], [1, REF_KERNEL_1]] as const) {
    const k = kernel.find((r) => r.case === `udp_echo_deno_socket_${burst}`);
    if (k === undefined) continue; // filtered out
    for (const s of stack.filter((r) => r.case === `udp_echo_stack_${burst}`)) {
      out.push({
        layout: s.layout,
        case: `udp_echo_vs_kernel_${burst}`,
        ref,
        c: k.c,
        deno: s.deno,
        ratio: figure(s.deno, s.latency) / figure(k.c, k.latency),
        unit: s.unit,
        target: 0.05,
        latency: s.latency,
      });
    }
  }
  return out;
}

Eal.init(Eal.devOptions());
const stack: Result[] = [];
for (const l of layouts) stack.push(...await suite(l));
const kernel = await kernelSuite();
const results = [...stack, ...versusKernel(stack, kernel), ...kernel];

const f2 = (x: number | undefined) => x === undefined ? undefined : +x.toFixed(2);
if (json) {
  for (const r of results) {
    const lat = r.latency
      ? {
        c_p50_ns: f2(r.c.p50),
        c_p99_ns: f2(r.c.p99),
        deno_p50_ns: f2(r.deno.p50),
        deno_p99_ns: f2(r.deno.p99),
      }
      : {};
    console.log(JSON.stringify({
      layout: r.layout,
      case: r.case,
      ref: r.ref,
      c_ns: f2(figure(r.c, r.latency)),
      deno_ns: f2(figure(r.deno, r.latency)),
      ratio: +r.ratio.toPrecision(3),
      target: Number.isFinite(r.target) ? r.target : null,
      unit: r.unit,
      ...lat,
    }));
  }
} else {
  console.log(`${Eal.version}, Deno ${Deno.version.deno}, best of ${ROUNDS} rounds, ns per op`);
  console.log("(latency rows: median, p99 in brackets, of the round with the best median)\n");
  console.log("| layout | case | per | reference | ref ns | Deno ns | ratio | target |");
  console.log("|---|---|---|---|---|---|---|---|");
  const cell = (s: Sample, lat: boolean) =>
    lat ? `${s.p50!.toFixed(1)} (p99 ${s.p99!.toFixed(1)})` : s.ns.toFixed(2);
  for (const r of results) {
    const target = Number.isFinite(r.target)
      ? `≤ ${r.target}× (${r.ratio <= r.target ? "met" : "missed"})`
      : "—";
    console.log(
      `| ${r.layout} | ${r.case} | ${r.unit} | ${r.ref} | ${cell(r.c, r.latency)} | ${
        cell(r.deno, r.latency)
      } | ` +
        `${r.ratio.toFixed(r.ratio < 0.1 ? 3 : 2)}× | ${target} |`,
    );
  }
}
if (sink === -1) console.log(sink);
