/**
 * A UDP echo server on the DPDK side of a tap: `Stack.open` brings the host up, a
 * `DatagramConn` sends every datagram back, and everything is torn down on exit.
 *
 *   deno run --allow-ffi --allow-read --allow-env --allow-sys=uid examples/udp_echo.ts \
 *     --tap dtap0 --ip 198.18.0.2/24 [--port 7] [--seconds S]
 *
 * `--tap` creates the kernel interface; configure its side while the server runs
 * (`ip addr add 198.18.0.1/24 dev dtap0 && ip link set dtap0 up`), then ping 198.18.0.2 or send
 * UDP to its port. Prints `listening on IP:PORT` once serving; runs until SIGINT/SIGTERM or for S
 * seconds.
 *
 * @module
 */
import { type DatagramConn, Stack, StackError } from "../mod.ts";
import { exampleArgs, tapDevice, untilStopped } from "./_args.ts";
import { lacking } from "./permissions.ts";

/** Sends every datagram `conn` receives back to its sender, until `conn` closes. Returns how many. */
export async function echoDatagrams(conn: DatagramConn): Promise<number> {
  let echoed = 0;
  try {
    for await (const [data, from] of conn) {
      if (await conn.send(data, from) > 0) echoed++;
    }
  } catch (e) {
    if (!(e instanceof StackError && e.kind === "Closed")) throw e; // closed between receive and send
  }
  return echoed;
}

if (import.meta.main) {
  const args = exampleArgs("udp_echo", Deno.args, ["tap", "ip", "port", "seconds"], ["tap", "ip"]);
  const cannot = lacking([{ name: "ffi" }, { name: "read" }, { name: "env" }], true);
  if (cannot !== null) {
    console.error(`udp_echo ${cannot} (DPDK through FFI, and a tap interface)`);
    Deno.exit(2);
  }
  const stopped = untilStopped(args.seconds);
  await using stack = Stack.open({ device: tapDevice(args.tap!), ip: args.ip! });
  using conn = stack.listenDatagram({ port: args.port ?? 7 });
  stopped.addEventListener("abort", () => conn.close(), { once: true });
  console.log(`listening on ${stack.ip}:${conn.addr.port} (UDP echo on ${args.tap}, mac ${stack.mac})`);
  const echoed = await echoDatagrams(conn);
  console.log(
    `echoed ${echoed} datagrams (${stopped.reason?.message}); interface counters:`,
    stack.iface.stats,
  );
}
