/**
 * The Linux kernel as a test peer, shared by the tap test files: the kernel side of a tap (address,
 * link up), random loss in an nftables table of our own, a `tbf` bottleneck, a `tcpdump` capture,
 * polling an interface while the kernel works, and examples run as child processes by their
 * command lines. Everything made here is removed by its dispose; processes are ended by their pid.
 */
import type { TcpSocket } from "../mod.ts";
import { interfaceExists, runTag, sh } from "./_net.ts";

const root = new URL("../", import.meta.url).pathname;
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** An IPv4 address as bytes → the u32 the interface takes. */
export function u32(ip: Uint8Array): number {
  return ((ip[0] << 24) | (ip[1] << 16) | (ip[2] << 8) | ip[3]) >>> 0;
}

/** `n` bytes of the examples' pattern: byte `i` is `(i + seed) % 251`. */
export function pattern(n: number, seed = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i + seed) % 251;
  return b;
}

/** `p`, or a rejection after `ms` naming `what` (the tests stay bounded in time). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Until `done()` holds (checked every 25 ms), or a rejection after `ms` naming `what`. */
export async function waitFor(
  done: () => Promise<boolean> | boolean,
  ms: number,
  what: string,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** How {@linkcode pollUntil} gives the event loop (where the kernel's side runs) its turn. */
export interface YieldOptions {
  /** Yield after this many polls (default 8). */
  every?: number;
  /** …for this many milliseconds (default 0: one macrotask). */
  sleepMs?: number;
}

/** Polls `iface` until `done()` or `ms` pass, yielding to the event loop as `opts` says. */
export async function pollUntil(
  iface: { poll(now: number): unknown },
  done: () => boolean,
  ms: number,
  opts: YieldOptions = {},
): Promise<void> {
  const every = opts.every ?? 8;
  const sleepMs = opts.sleepMs ?? 0;
  const deadline = Date.now() + ms;
  let n = 0;
  while (!done() && Date.now() < deadline) {
    iface.poll(performance.now());
    if (++n % every === 0) await new Promise((r) => setTimeout(r, sleepMs));
  }
}

/**
 * Configures the kernel side of tap `iface`: no IPv6 link-local address (the kernel would send
 * router solicitations and MLD), `cidr` as its address, link up. net_tap sets the link up itself
 * when its port starts, so the peer may send (ARP, a SYN) the moment the address exists: whatever
 * the kernel must have ready for that (a TCP listener) has to exist before the port starts.
 */
export async function kernelUp(iface: string, cidr: string): Promise<void> {
  await sh("ip", "link", "set", "dev", iface, "addrgenmode", "none");
  await sh("ip", "addr", "add", cidr, "dev", iface);
  await sh("ip", "link", "set", "dev", iface, "up");
}

let tableCounter = 0;
/**
 * Random loss on `tap`, `percent` % of the frames each way (frames from us on the input hook,
 * frames to us on the output hook: `numgen random mod 100 < percent drop`), in an nftables table
 * of our own; dispose deletes the table.
 */
export async function nftLoss(tap: string, percent: number): Promise<AsyncDisposable> {
  const table = `mdp${runTag()}_${tap}_${tableCounter++}`;
  await sh("nft", "add", "table", "inet", table);
  const dispose = async () => void (await sh("nft", "delete", "table", "inet", table).catch(() => ""));
  try {
    for (const [hook, dir] of [["output", "oifname"], ["input", "iifname"]]) {
      await sh("nft", "add", "chain", "inet", table, hook, `{ type filter hook ${hook} priority 0 ; }`);
      await sh(
        "nft",
        ...[
          "add",
          "rule",
          "inet",
          table,
          hook,
          dir,
          tap,
          "numgen",
          "random",
          "mod",
          "100",
          "<",
          `${percent}`,
        ],
        "drop",
      );
    }
  } catch (e) {
    await dispose();
    throw e;
  }
  return { [Symbol.asyncDispose]: dispose };
}

/**
 * A `tbf` bottleneck as the root qdisc of `tap` (the kernel's frames to us wait in it, and are
 * dropped when it is full): `rate` (tc's units, e.g. `"200mbit"`), `burst` and `limit` in bytes.
 * Dispose deletes it.
 */
export async function tbf(
  tap: string,
  opts: { rate: string; burst: number; limit: number },
): Promise<AsyncDisposable> {
  await sh(
    "tc",
    "qdisc",
    "add",
    "dev",
    tap,
    "root",
    "tbf",
    "rate",
    opts.rate,
    "burst",
    `${opts.burst}`,
    "limit",
    `${opts.limit}`,
  );
  return {
    [Symbol.asyncDispose]: async () =>
      void (await sh("tc", "qdisc", "del", "dev", tap, "root").catch(() => "")),
  };
}

/** The statistics of the root qdisc of `tap` (`tc -s -j qdisc`): sent packets, drops, overlimits. */
export async function qdiscStats(
  tap: string,
): Promise<{ kind: string; packets: number; drops: number; overlimits: number }> {
  const [q] = JSON.parse(await sh("tc", "-s", "-j", "qdisc", "show", "dev", tap, "root"));
  return { kind: q.kind, packets: q.packets, drops: q.drops, overlimits: q.overlimits };
}

/** A running `tcpdump` writing `file`; `stop()` ends it (SIGINT, by its pid) once it flushed. */
export interface Capture extends AsyncDisposable {
  /** Ends the capture; the file is complete when this resolves. */
  stop(): Promise<void>;
  /** The capture read back as tcpdump's text (`-nn -v`), one line per packet. */
  lines(): Promise<string[]>;
}

/** Starts `tcpdump -i tap` with `snapLength` bytes of each frame and `filter`, writing `file`. */
export async function tcpdump(
  tap: string,
  file: string,
  filter: string[],
  snapLength = 128,
): Promise<Capture> {
  const child = new Deno.Command("tcpdump", {
    args: ["-i", tap, "-U", "-n", "-s", `${snapLength}`, "-w", file, ...filter],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let err = "";
  const reading = (async () => {
    for await (const s of child.stderr.pipeThrough(new TextDecoderStream())) err += s;
  })();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const stop = async () => {
    if (!exited) child.kill("SIGINT"); // our child, by its pid
    await within(status, 10_000, "tcpdump to exit").catch(() => {
      if (!exited) child.kill("SIGKILL");
    });
    await reading;
  };
  try {
    await waitFor(() => exited || /listening on/.test(err), 10_000, `tcpdump on ${tap} to start`);
    if (exited) throw new Error(`tcpdump on ${tap} exited: ${err}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    stop,
    async lines() {
      const out = await sh("tcpdump", "-r", file, "-nn", "-v", "-tt");
      // -v puts the TCP part of an IPv4 packet on a continuation line: join them.
      return out.replace(/\n\s+(?=\S)/g, " ").split("\n").filter((l) => l.length > 0);
    },
    [Symbol.asyncDispose]: stop,
  };
}

/** The EAL runtime directory a child of ours named with its pid (`Eal.devOptions()`), removed. */
export async function removeRuntimeDir(pid: number): Promise<void> {
  await Deno.remove(`/var/run/dpdk/melin-dpdk-${pid}`, { recursive: true }).catch(() => {});
}

/** An example run as a child process by {@linkcode runExample}. */
export interface ExampleRun extends AsyncDisposable {
  /** The child (end it only by this handle: it is ours). */
  readonly child: Deno.ChildProcess;
  /** What it printed so far. */
  stdout(): string;
  /** True once it exited. */
  exited(): boolean;
  /** Resolves with the match once stdout matches `re`; rejects after `ms` (with its output) or when it exits first. */
  waitFor(re: RegExp, ms: number): Promise<RegExpExecArray>;
  /** Waits `ms` for it to exit (SIGKILL after that, and a rejection with its output). */
  finish(ms: number): Promise<{ code: number; signal: Deno.Signal | null; stdout: string; stderr: string }>;
}

/** Runs `examples/<name>.ts` with `args` (`deno run` with the examples' permissions), output collected. */
export function runExample(name: string, args: string[]): ExampleRun {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-read",
      "--allow-env",
      "--allow-sys=uid",
      `${root}examples/${name}.ts`,
      ...args,
    ],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const reading = Promise.all([
    (async () => {
      for await (const s of child.stdout.pipeThrough(new TextDecoderStream())) out += s;
    })(),
    (async () => {
      for await (const s of child.stderr.pipeThrough(new TextDecoderStream())) err += s;
    })(),
  ]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const run: ExampleRun = {
    child,
    stdout: () => out,
    exited: () => exited,
    async waitFor(re, ms) {
      let m: RegExpExecArray | null = null;
      await waitFor(() => (m = re.exec(out)) !== null || exited, ms, `${re} in ${name}'s output`).catch(
        (e) => {
          throw new Error(`${e.message}\nstdout:\n${out}\nstderr:\n${err}`);
        },
      );
      if (m === null) {
        throw new Error(`${name} exited before printing ${re}\nstdout:\n${out}\nstderr:\n${err}`);
      }
      return m;
    },
    async finish(ms) {
      const s = await within(status, ms, `${name} to exit`).catch((e) => {
        if (!exited) child.kill("SIGKILL"); // our child, by its pid
        throw new Error(`${e.message}\nstdout:\n${out}\nstderr:\n${err}`);
      });
      await reading;
      await removeRuntimeDir(child.pid);
      return { code: s.code, signal: s.signal, stdout: out, stderr: err };
    },
    async [Symbol.asyncDispose]() {
      if (!exited) child.kill("SIGTERM"); // our child, by its pid
      await run.finish(10_000).catch(() => {});
    },
  };
  return run;
}

/**
 * An example with `--tap TAP --ip CIDR` whose tap's kernel side is configured once the example
 * made it ({@linkcode kernelUp} with `kernelCidr`); dispose ends it (SIGTERM) and waits for it.
 */
export async function exampleOnTap(
  name: string,
  tap: string,
  net: { cidr: string; kernelCidr: string },
  args: string[],
): Promise<ExampleRun> {
  const run = runExample(name, ["--tap", tap, "--ip", net.cidr, ...args]);
  try {
    await waitFor(() => run.exited() || interfaceExists(tap), 20_000, `${name} to create ${tap}`);
    if (!run.exited()) await kernelUp(tap, net.kernelCidr);
  } catch (e) {
    await run[Symbol.asyncDispose]();
    throw e;
  }
  return run;
}

/** Runs `cmd args` to its end while polling `iface` (bounded by `ms`); its status and output. */
export async function runPolling(
  iface: { poll(now: number): unknown },
  cmd: string,
  args: string[],
  ms = 10_000,
  opts: YieldOptions = { every: 1, sleepMs: 1 },
): Promise<{ success: boolean; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).spawn();
  let finished = false;
  const status = child.output().then((o) => {
    finished = true;
    return o;
  });
  await pollUntil(iface, () => finished, ms, opts);
  if (!finished) child.kill("SIGKILL"); // our child, by its pid
  const out = await status;
  return { success: out.success, stdout: dec(out.stdout), stderr: dec(out.stderr) };
}

/** The parts joined into one array. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Everything a kernel connection delivers until the peer's FIN. */
export async function readAll(conn: Deno.Conn, bufferSize = 65536): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(bufferSize);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) parts.push(buf.slice(0, n));
  return concat(parts);
}

/**
 * From the kernel: connects to `host:port`, sends `data` (in 64 KiB writes) while reading, then
 * half-closes and reads to the end; what came back.
 */
export async function kernelExchange(host: string, port: number, data: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: host, port });
  try {
    const writing = (async () => {
      for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off, off + 65536));
      await conn.closeWrite();
    })();
    const back = await readAll(conn);
    await writing;
    return back;
  } finally {
    conn.close();
  }
}

/**
 * A kernel echo server on `hostname` (port chosen by the kernel) for one connection: it echoes
 * every byte and closes after the peer's FIN. `served` resolves with the bytes it echoed.
 */
export function kernelEchoServer(hostname: string): { port: number; served: Promise<number> } & Disposable {
  const listener = Deno.listen({ hostname, port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(65536);
    let total = 0;
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      total += n;
      for (let w = 0; w < n;) w += await conn.write(buf.subarray(w, n));
    }
    conn.close();
    return total;
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    served,
    [Symbol.dispose]: () => listener.close(),
  };
}

/** A /28 on the tap: our address, the kernel's, and both with the prefix. */
export interface Subnet {
  ours: string;
  kernel: string;
  cidr: string;
  kernelCidr: string;
}

/**
 * The `n`-th (1–15) /28 of 198.19.X.0/24, X from this process's pid (198.18.0.0/15 is reserved
 * for benchmarking, RFC 2544; tests/_net.ts's tapAddresses takes 198.18.X.0/24): the kernel at .1
 * of it, we at .2. Each test file takes subnets of its own (stack_test 1–7, tcp_examples_test 8–15).
 */
export function subnet28(n: number): Subnet {
  const x = (Deno.pid % 250) + 1;
  const base = 16 * n;
  return {
    ours: `198.19.${x}.${base + 2}`,
    kernel: `198.19.${x}.${base + 1}`,
    cidr: `198.19.${x}.${base + 2}/28`,
    kernelCidr: `198.19.${x}.${base + 1}/28`,
  };
}

/** Resolves once `run` printed `listening on IP:PORT` (any port when none is given), within 20 s. */
export function listening(run: ExampleRun, ip: string, port?: number): Promise<RegExpExecArray> {
  return run.waitFor(new RegExp(`^listening on ${ip.replaceAll(".", "\\.")}:${port ?? "\\d+"}`, "m"), 20_000);
}

/**
 * A client on one of our TCP sockets: `step()` (call it in a poll loop) sends `data` once the
 * connection is established, then our FIN, and reads what comes back into `got` until the peer's
 * FIN; true once that came and the socket is in TIME-WAIT or closed.
 */
export function sendThenRead(s: TcpSocket, data: Uint8Array, got: Uint8Array) {
  const c = {
    sent: 0,
    received: 0,
    eof: false,
    step(): boolean {
      if (s.isEstablished && s.maySend && c.sent < data.length) {
        c.sent += s.send(data, c.sent);
        if (c.sent === data.length) s.close();
      }
      for (let n = s.recv(got, c.received); n !== 0; n = s.recv(got, c.received)) {
        if (n < 0) {
          c.eof = true;
          break;
        }
        c.received += n;
      }
      return c.eof && (s.state === "TimeWait" || s.state === "Closed");
    },
  };
  return c;
}
