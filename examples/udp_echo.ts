/**
 * A UDP echo server on the DPDK side: a net_tap port, our poll-driven IPv4 interface on it, and a
 * socket that sends every datagram back. The kernel side of the tap gets 198.18.X.1/24 (198.18.0.0/15
 * is reserved for benchmarking, so nothing real answers); the server is 198.18.X.2.
 *
 *   deno run --allow-ffi --allow-read --allow-env --allow-run=ip --allow-sys=uid examples/udp_echo.ts [seconds]
 *
 * Then, from the same machine: ping 198.18.X.2, or send UDP to 198.18.X.2 port 7.
 *
 * @module
 */
import { Eal, Interface, Mempool, Port, PortDevice, Vdev } from "../mod.ts";
import { lacking } from "./permissions.ts";

/** Serves UDP echo on `port` of `iface` until `signal` aborts; polls in a loop. Returns datagrams echoed. */
export async function serveUdpEcho(iface: Interface, port: number, signal: AbortSignal): Promise<number> {
  using socket = iface.bindUdp(port);
  let echoed = 0;
  while (!signal.aborted) {
    iface.poll(performance.now());
    // Each datagram is read in place in the socket's ring and copied once, into the reply.
    for (let n = socket.recvView(); n >= 0; n = socket.recvView()) {
      if (socket.sendTo(socket.rxBytes, socket.lastIp, socket.lastPort, socket.rxStart, n)) echoed++;
    }
    // Yield to the event loop (timers, child processes). A dedicated server would spin instead.
    await new Promise((r) => setTimeout(r, 0));
  }
  return echoed;
}

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
}

/** A started net_tap port with the kernel side at 198.18.X.1/24, and our interface at 198.18.X.2. */
export async function tapWithStack(pool: Mempool, tag: string) {
  const iface = `md${tag}${Deno.pid % 100000}`.slice(0, 15);
  const vdev = Vdev.attach(`net_tap_${tag}${Deno.pid % 100000}`, `iface=${iface}`);
  const port = Port.open(vdev.portId, pool, { promiscuous: true });
  try {
    await ip("link", "set", "dev", iface, "addrgenmode", "none"); // no IPv6 link-local chatter
    port.start();
    const x = (Deno.pid % 250) + 1;
    await ip("addr", "add", `198.18.${x}.1/24`, "dev", iface);
    await ip("link", "set", "dev", iface, "up");
    const device = new PortDevice(port, pool);
    const stack = new Interface(device, {
      mac: Uint8Array.of(0x02, 0x00, 0x5e, 0x10, 0x00, 0x02),
      addresses: [{ ip: ((198 << 24) | (18 << 16) | (x << 8) | 2) >>> 0, prefix: 24 }],
    });
    return {
      iface,
      stack,
      kernelIp: `198.18.${x}.1`,
      ourIp: `198.18.${x}.2`,
      [Symbol.dispose]() {
        device[Symbol.dispose](); // its spare mbufs go back before the port closes
        port.close();
        vdev.detach();
      },
    };
  } catch (e) {
    port.close();
    vdev.detach();
    throw e;
  }
}

if (import.meta.main) {
  const cannot = lacking([{ name: "ffi" }, { name: "run", command: "ip" }], true);
  const seconds = Number(Deno.args[0] ?? 30);
  if (cannot !== null || !(seconds > 0 && seconds <= 86400)) {
    console.error(
      cannot === null
        ? `udp_echo: the duration must be 1 to 86400 seconds, not ${JSON.stringify(Deno.args[0])}`
        : `udp_echo ${cannot} (DPDK through FFI, a tap whose kernel side \`ip\` configures)`,
    );
    Deno.exit(2);
  }
  using _eal = Eal.init(Eal.devOptions());
  using pool = Mempool.createWithSize("echo_pool", 4096);
  using tap = await tapWithStack(pool, "echo");
  console.log(`UDP echo on ${tap.ourIp}:7 for ${seconds} s (kernel side ${tap.iface}, ${tap.kernelIp})`);
  const n = await serveUdpEcho(tap.stack, 7, AbortSignal.timeout(seconds * 1000));
  console.log(`echoed ${n} datagrams; interface counters:`, tap.stack.stats);
}
