/**
 * A TCP echo server on the DPDK side of a tap: `Stack.open` brings the host up, `stack.listen`
 * accepts connections, each one gets every byte back, and is closed once the peer closes its half.
 *
 *   deno run --allow-ffi --allow-read --allow-env --allow-sys=uid examples/tcp_echo.ts \
 *     --tap dtap0 --ip 198.18.0.2/24 [--port 7] [--seconds S]
 *
 * `--tap` creates the kernel interface; configure its side while the server runs
 * (`ip addr add 198.18.0.1/24 dev dtap0 && ip link set dtap0 up`), then
 * `socat - TCP:198.18.0.2:7`. Prints `listening on IP:PORT` once serving; runs until
 * SIGINT/SIGTERM or for S seconds.
 *
 * @module
 */
import { Stack, StackError, type TcpConn, type TcpListenerConn } from "../mod.ts";
import { exampleArgs, tapDevice, untilStopped } from "./_args.ts";
import { lacking } from "./permissions.ts";

/** Echoes every byte of `conn` until the peer closes its half, then closes. Returns the bytes echoed. */
export async function echoConnection(conn: TcpConn): Promise<number> {
  const buf = new Uint8Array(65536);
  let echoed = 0;
  try {
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      await conn.write(buf.subarray(0, n));
      echoed += n;
    }
    await conn.closeWrite();
  } catch (e) {
    if (!(e instanceof StackError)) throw e; // reset, timed out, closed: this connection is over
  } finally {
    conn.close();
  }
  return echoed;
}

/** Accepts connections until `listener` closes, echoing each; resolves to [connections, bytes]. */
export async function serveEcho(listener: TcpListenerConn): Promise<[number, number]> {
  let conns = 0;
  let bytes = 0;
  const running = new Set<Promise<void>>();
  for await (const conn of listener) {
    conns++;
    const p = echoConnection(conn).then((n) => void (bytes += n));
    running.add(p);
    p.finally(() => running.delete(p));
  }
  await Promise.allSettled([...running]);
  return [conns, bytes];
}

if (import.meta.main) {
  const args = exampleArgs("tcp_echo", Deno.args, ["tap", "ip", "port", "seconds"], ["tap", "ip"]);
  const cannot = lacking([{ name: "ffi" }, { name: "read" }, { name: "env" }], true);
  if (cannot !== null) {
    console.error(`tcp_echo ${cannot} (DPDK through FFI, and a tap interface)`);
    Deno.exit(2);
  }
  const stopped = untilStopped(args.seconds);
  await using stack = Stack.open({ device: tapDevice(args.tap!), ip: args.ip! });
  using listener = stack.listen({ port: args.port ?? 7 });
  stopped.addEventListener("abort", () => listener.close(), { once: true });
  console.log(`listening on ${stack.ip}:${listener.addr.port} (TCP echo on ${args.tap}, mac ${stack.mac})`);
  const serving = serveEcho(listener);
  await new Promise((r) => stopped.addEventListener("abort", r, { once: true }));
  // Connections still open when we stop are reset by the stack's teardown.
  const [conns, bytes] = await Promise.race([
    serving,
    new Promise<[number, number]>((r) => setTimeout(() => r([-1, -1]), 200)),
  ]);
  console.log(
    `echoed ${bytes < 0 ? "?" : bytes} bytes on ${
      conns < 0 ? "?" : conns
    } connections (${stopped.reason?.message})`,
  );
}
