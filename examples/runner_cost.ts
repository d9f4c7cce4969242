/**
 * What the runner costs: CPU while idle, and UDP echo rates through the runner against a bare poll
 * loop, between two stacks over a net_memif pair (no kernel in the way) and over net_tap (a kernel
 * UDP client in a child process). Prints one line per case; the README quotes them.
 *
 *   deno run -A examples/runner_cost.ts [--seconds S]
 *
 * @module
 */
import process from "node:process";
import { Stack, type UdpSocket } from "../mod.ts";
import { exampleArgs } from "./_args.ts";

const args = exampleArgs("runner_cost", Deno.args, ["seconds"]);
const SECONDS = args.seconds ?? 3;
const WINDOW = 32;

/** CPU% of this process (user + system, of one core) while `f` runs. */
async function cpuWhile(f: () => Promise<void>): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) / 1000 / (performance.now() - t0)) * 100;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let n = 0;
const ring = () => `net_ring_r${n++}_${Deno.pid % 1000}`;

function report(what: string, fields: Record<string, string | number>): void {
  console.log(`${what.padEnd(44)} ${Object.entries(fields).map(([k, v]) => `${k} ${v}`).join("  ")}`);
}

// --- Idle: nothing arrives; the runner sleeps between polls.
for (const runner of [{}, { maxSleepMs: 5 }, { idleSpinMs: 0, maxSleepMs: 10 }]) {
  await using s = Stack.open({ device: ring(), ip: "198.18.210.2/24", runner });
  s.start();
  await sleep(200);
  const polls = s.runner.stats.polls;
  const cpu = await cpuWhile(() => sleep(SECONDS * 1000));
  report(`idle, net_ring, runner ${JSON.stringify(runner)}`, {
    "cpu%": cpu.toFixed(2),
    "polls/s": ((s.runner.stats.polls - polls) / SECONDS).toFixed(0),
  });
}

// --- Load over net_ring: socket A keeps WINDOW datagrams in flight to socket B, which echoes.
/** Sends what `from` has queued back to its sender; returns how many. */
function echo(s: UdpSocket): number {
  let k = 0;
  for (let len = s.recvView(); len >= 0; len = s.recvView()) {
    s.sendTo(s.rxBytes, s.lastIp, s.lastPort, s.rxStart, len);
    k++;
  }
  return k;
}

const payload = new Uint8Array(32);

/** Two stacks wired through a net_memif server/client pair (a host drops datagrams from itself). */
async function memifPair() {
  const socket = `/tmp/mdp_runner_cost_${Deno.pid}_${n++}.sock`;
  const a = Stack.open({ device: `net_memif_ra${n},role=server,socket=${socket}`, ip: "198.18.211.1/24" });
  const b = Stack.open({ device: `net_memif_rb${n},role=client,socket=${socket}`, ip: "198.18.211.2/24" });
  while (!(a.port.linkStatus.up && b.port.linkStatus.up)) await sleep(10);
  return {
    a,
    b,
    async [Symbol.asyncDispose]() {
      // Both runners stop before either side closes: DPDK 22.11's net_memif frees a device's
      // regions on its interrupt thread when the peer hangs up, racing a burst still running on it.
      await Promise.all([a.stop(), b.stop()]);
      await b[Symbol.asyncDispose]();
      await a[Symbol.asyncDispose]();
      await Deno.remove(socket).catch(() => {});
    },
  };
}

function loadReport(what: string, done: number, cpu: number): void {
  report(what, {
    "echoes/s": (done / SECONDS).toFixed(0),
    "cpu%": cpu.toFixed(0),
    "per CPU-second": (done / SECONDS / (cpu / 100)).toFixed(0),
  });
}

async function pairLoad(mode: "bare" | "runner+hook" | "runner+DatagramConn"): Promise<void> {
  await using pair = await memifPair();
  const { a: sa, b: sb } = pair;
  const what = `echo, net_memif pair, ${mode}`;
  let done = 0;
  let cpu = 0;
  if (mode === "runner+DatagramConn") {
    using a = sa.listenDatagram({ port: 9, capacity: 256 });
    using b = sb.listenDatagram({ port: 10, capacity: 256 });
    const to = { hostname: sb.ip, port: 10 };
    const server = (async () => {
      for await (const [d, from] of b) await b.send(d, from);
    })().catch(() => {}); // closed between receive and send
    const client = (async () => {
      for (let i = 0; i < WINDOW; i++) await a.send(payload, to);
      for await (const [d] of a) {
        done++;
        await a.send(d, to);
      }
    })().catch(() => {});
    await sleep(300); // warm up: ARP, JIT
    done = 0;
    cpu = await cpuWhile(() => sleep(SECONDS * 1000));
    const total = done;
    a.close();
    b.close();
    await Promise.all([server, client]);
    loadReport(what, total, cpu);
    return;
  }
  const them = sb.iface.ip;
  using a = sa.iface.bindUdp(9, 256);
  using b = sb.iface.bindUdp(10, 256);
  /** A's side: count the echoes and send each again; true when it moved anything. */
  const client = () => {
    let k = 0;
    for (let len = a.recvView(); len >= 0; len = a.recvView()) {
      done++;
      k++;
      a.sendTo(a.rxBytes, them, 10, a.rxStart, len);
    }
    return k > 0;
  };
  const server = () => echo(b) > 0;
  if (mode === "bare") {
    // ARP first (the neighbour queue holds 16), then the window.
    a.sendTo(payload, them, 10);
    const run = (ms: number) => {
      for (const end = performance.now() + ms; performance.now() < end;) {
        const now = performance.now();
        sa.iface.poll(now);
        client();
        sb.iface.poll(now);
        server();
      }
    };
    run(100);
    for (let i = 1; i < WINDOW; i++) a.sendTo(payload, them, 10);
    run(200);
    done = 0;
    cpu = await cpuWhile(() => Promise.resolve(run(SECONDS * 1000)));
  } else {
    using _ha = sa.runner.onPoll(client);
    using _hb = sb.runner.onPoll(server);
    sa.start();
    sb.start();
    a.sendTo(payload, them, 10);
    await sleep(100);
    for (let i = 1; i < WINDOW; i++) a.sendTo(payload, them, 10);
    await sleep(200);
    done = 0;
    cpu = await cpuWhile(() => sleep(SECONDS * 1000));
  }
  loadReport(what, done, cpu);
}

for (const mode of ["bare", "runner+hook", "runner+DatagramConn"] as const) await pairLoad(mode);

// --- Load over net_tap: a kernel UDP client (a child process) keeps WINDOW datagrams in flight.
const CLIENT = `
import dgram from "node:dgram";
const [ip, port, seconds, window] = Deno.args;
const sock = dgram.createSocket("udp4");
await new Promise((r) => sock.bind(0, Deno.args[4], r));
let n = 0, counting = false;
const data = new Uint8Array(32);
sock.on("message", () => { if (counting) n++; sock.send(data, +port, ip); });
for (let i = 0; i < +window; i++) sock.send(data, +port, ip);
await new Promise((r) => setTimeout(r, 300));
counting = true;
await new Promise((r) => setTimeout(r, +seconds * 1000));
counting = false;
console.log(n / +seconds);
sock.close();
`;

async function ip(...a: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args: a, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`ip ${a.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

async function tapLoad(mode: "bare" | "runner+hook" | "runner+DatagramConn"): Promise<void> {
  const name = `mdrc${Deno.pid % 10000}${n++}`;
  await using s = Stack.open({
    device: `net_tap_rc${Deno.pid % 10000}${n},iface=${name}`,
    ip: "198.19.250.2/24",
  });
  await ip("addr", "add", "198.19.250.1/24", "dev", name);
  await ip("link", "set", "dev", name, "up");
  const client = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--allow-net", CLIENT, s.ip, "7", String(SECONDS), String(WINDOW), "198.19.250.1"],
    stdout: "piped",
  }).spawn();
  let cpu = 0;
  if (mode === "bare") {
    using sock = s.iface.bindUdp(7, 256);
    const end = performance.now() + (SECONDS + 0.6) * 1000;
    // The client is another process: spin here without yielding at all.
    cpu = await cpuWhile(() => {
      while (performance.now() < end) {
        s.iface.poll(performance.now());
        echo(sock);
      }
      return Promise.resolve();
    });
  } else if (mode === "runner+hook") {
    using sock = s.iface.bindUdp(7, 256);
    using _hook = s.runner.onPoll(() => echo(sock) > 0);
    s.start();
    cpu = await cpuWhile(() => sleep((SECONDS + 0.6) * 1000));
  } else {
    using conn = s.listenDatagram({ port: 7, capacity: 256 });
    const server = (async () => {
      for await (const [d, from] of conn) await conn.send(d, from);
    })();
    cpu = await cpuWhile(() => sleep((SECONDS + 0.6) * 1000));
    conn.close();
    await server;
  }
  const out = new TextDecoder().decode((await client.output()).stdout).trim();
  loadReport(`echo, net_tap ↔ kernel client, ${mode}`, Number(out) * SECONDS, cpu);
}

if (Deno.uid() === 0) {
  for (const mode of ["bare", "runner+hook", "runner+DatagramConn"] as const) await tapLoad(mode);
  // Idle on a tap: every poll is a read() on the tap's file descriptor.
  const name = `mdrc${Deno.pid % 10000}${n++}`;
  await using s = Stack.open({
    device: `net_tap_rc${Deno.pid % 10000}${n},iface=${name}`,
    ip: "198.19.251.2/24",
  });
  s.start();
  await sleep(200);
  const cpu = await cpuWhile(() => sleep(SECONDS * 1000));
  report("idle, net_tap, runner {}", { "cpu%": cpu.toFixed(2) });
}
