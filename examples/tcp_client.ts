/**
 * A TCP client on the DPDK side of a tap: connects to `--connect IP:PORT`, sends `--send N` bytes
 * of the pattern `i % 251`, closes its half, reads until the peer closes, and prints
 * `sent N received M sha256 HEX` (of the bytes received); exit status 0 when all of that worked.
 *
 *   deno run --allow-ffi --allow-read --allow-env --allow-sys=uid examples/tcp_client.ts \
 *     --tap dtap0 --ip 198.18.0.2/24 --connect 198.18.0.1:7 --send 1000000 [--seconds S]
 *
 * `--tap` creates the kernel interface: configure its side within a few seconds (the SYN is
 * retransmitted meanwhile). `--seconds S` bounds the whole run (exit status 1 when it ends first).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { Stack, type TcpConn } from "../mod.ts";
import { exampleArgs, tapDevice, untilStopped } from "./_args.ts";
import { lacking } from "./permissions.ts";

/** 256 periods of the pattern: chunks of it start at a multiple of 251, so they line up. */
const PATTERN = Uint8Array.from({ length: 251 * 256 }, (_, i) => i % 251);

/** Writes `n` bytes of `i % 251` to `conn`. */
export async function sendPattern(conn: TcpConn, n: number): Promise<void> {
  for (let left = n; left > 0; left -= PATTERN.length) {
    await conn.write(left >= PATTERN.length ? PATTERN : PATTERN.subarray(0, left));
  }
}

/** Reads `conn` to its end; resolves to [bytes, sha256 hex]. */
export async function readAll(conn: TcpConn): Promise<[number, string]> {
  const hash = createHash("sha256");
  const buf = new Uint8Array(65536);
  let total = 0;
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    hash.update(buf.subarray(0, n));
    total += n;
  }
  return [total, hash.digest("hex")];
}

if (import.meta.main) {
  const args = exampleArgs(
    "tcp_client",
    Deno.args,
    ["tap", "ip", "connect", "send", "seconds"],
    ["tap", "ip", "connect", "send"],
  );
  const cannot = lacking([{ name: "ffi" }, { name: "read" }, { name: "env" }], true);
  if (cannot !== null) {
    console.error(`tcp_client ${cannot} (DPDK through FFI, and a tap interface)`);
    Deno.exit(2);
  }
  const stopped = untilStopped(args.seconds);
  let code = 0;
  {
    await using stack = Stack.open({ device: tapDevice(args.tap!), ip: args.ip! });
    const aborted = new Promise<never>((_, reject) =>
      stopped.addEventListener("abort", () => reject(stopped.reason), { once: true })
    );
    aborted.catch(() => {});
    try {
      // The kernel side of a fresh tap comes up when its caller configures it: wait for the link.
      for (let i = 0; i < 200 && !stack.port.linkStatus.up && !stopped.aborted; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      using conn = await Promise.race([stack.connect(args.connect!), aborted]);
      const [, [received, hex]] = await Promise.race([
        Promise.all([sendPattern(conn, args.send!).then(() => conn.closeWrite()), readAll(conn)]),
        aborted,
      ]);
      console.log(`sent ${args.send} received ${received} sha256 ${hex}`);
    } catch (e) {
      console.error(`tcp_client: ${e instanceof Error ? e.message : e}`);
      code = 1;
    }
  }
  Deno.exit(code);
}
