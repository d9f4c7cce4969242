/**
 * The async TCP layer (`Stack.connect`, `Stack.listen`, `TcpConn`, `TcpListenerConn`) against the
 * Linux kernel over net_tap, in this process: kernel sockets (Deno.connect / Deno.listen bound to
 * the tap's kernel address) ↔ ours, both ways; half-close; web streams; typed errors for a refused
 * connection, a reset, bad arguments and use after close; teardown with connections open.
 */
import assert from "node:assert/strict";
import { Stack, StackError, type TcpConn } from "../mod.ts";
import { testEal } from "./_eal.ts";
import { runTag, sh } from "./_net.ts";

testEal();

const X = (Deno.pid % 250) + 1;
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function isStackError(kind: StackError["kind"]) {
  return (e: unknown) => {
    assert.ok(e instanceof StackError, `expected StackError ${kind}, got ${e}`);
    assert.equal(e.kind, kind, e.message);
    return true;
  };
}

/** A stack on a fresh tap whose kernel side is 198.19.X.241/28 (we are .242). */
async function tapStack() {
  const iface = `mdj${runTag()}`;
  const stack = Stack.open({ device: `net_tap_j${runTag()},iface=${iface}`, ip: `198.19.${X}.242/28` });
  try {
    await sh("ip", "link", "set", "dev", iface, "addrgenmode", "none");
    await sh("ip", "addr", "add", `198.19.${X}.241/28`, "dev", iface);
    await sh("ip", "link", "set", "dev", iface, "up");
    for (let i = 0; i < 100 && !stack.port.linkStatus.up; i++) await new Promise((r) => setTimeout(r, 20));
  } catch (e) {
    stack[Symbol.dispose]();
    throw e;
  }
  return { stack, kernel: `198.19.${X}.241` };
}

async function readAll(conn: TcpConn | Deno.Conn): Promise<string> {
  let s = "";
  const buf = new Uint8Array(4096);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) s += dec(buf.subarray(0, n));
  return s;
}

Deno.test("Stack.connect / Stack.listen with the kernel as the peer", async (t) => {
  const { stack, kernel } = await tapStack();
  await using _s = stack;
  await t.step("connect to a kernel listener: write, closeWrite, read to the end; addresses", async () => {
    using l = Deno.listen({ hostname: kernel, port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    const served = (async () => {
      const c = await l.accept();
      const got = await readAll(c);
      await c.write(enc(`got ${got.length}: ${got}`));
      c.close();
      return (c.remoteAddr as Deno.NetAddr).port;
    })();
    using conn = await within(stack.connect({ hostname: kernel, port }), 10_000, "connect");
    assert.deepEqual(conn.remoteAddr, { transport: "tcp", hostname: kernel, port });
    assert.equal(conn.localAddr.hostname, stack.ip);
    assert.ok(conn.localAddr.port >= 49152);
    assert.equal(await conn.write(enc("hello")), 5);
    await conn.closeWrite();
    await assert.rejects(conn.write(enc("more")), isStackError("Closed"));
    assert.equal(await within(readAll(conn), 10_000, "read"), "got 5: hello");
    assert.equal(await served, conn.localAddr.port);
  });
  await t.step("listen: kernel clients, for await, readable.pipeTo(writable) echoes and closes", async () => {
    using listener = stack.listen({ port: 7100, backlog: 8 });
    assert.deepEqual(listener.addr, { transport: "tcp", hostname: stack.ip, port: 7100 });
    const server = (async () => {
      let n = 0;
      for await (const conn of listener) {
        n++;
        conn.readable.pipeTo(conn.writable).catch(() => conn.close());
      }
      return n;
    })();
    for (let i = 0; i < 3; i++) {
      const c = await Deno.connect({ hostname: stack.ip, port: 7100 });
      await c.write(enc(`ping ${i}`));
      await c.closeWrite();
      assert.equal(await within(readAll(c), 10_000, "echo"), `ping ${i}`);
      c.close();
    }
    listener.close();
    assert.equal(await server, 3);
    await assert.rejects(listener.accept(), isStackError("Closed"));
  });
  await t.step("a port nobody listens on: ConnectionRefused", async () => {
    const l = Deno.listen({ hostname: kernel, port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    await assert.rejects(
      within(stack.connect({ hostname: kernel, port }), 10_000, "refusal"),
      isStackError("ConnectionRefused"),
    );
  });
  await t.step("the kernel resets: a waiting read rejects with ConnectionReset", async () => {
    using l = Deno.listen({ hostname: kernel, port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    const accepted = l.accept();
    using conn = await stack.connect({ hostname: kernel, port });
    const k = await accepted;
    await conn.write(enc("unread")); // unread data at close: Linux answers with RST
    await new Promise((r) => setTimeout(r, 100));
    k.close();
    await assert.rejects(
      within(conn.read(new Uint8Array(10)), 10_000, "reset"),
      isStackError("ConnectionReset"),
    );
  });
  await t.step("bad arguments and use after close are typed", async () => {
    await assert.rejects(stack.connect({ hostname: "nope", port: 80 }), isStackError("InvalidArgument"));
    await assert.rejects(stack.connect({ hostname: kernel, port: 0 }), isStackError("InvalidArgument"));
    await assert.rejects(
      stack.connect({ hostname: kernel, port: 80, bogus: 1 } as never),
      isStackError("InvalidArgument"),
    );
    await assert.rejects(stack.connect(null as never), isStackError("InvalidArgument"));
    assert.throws(() => stack.listen({ port: 70000 }), isStackError("InvalidArgument"));
    assert.throws(() => stack.listen({ port: 7101, backlog: 0 }), isStackError("InvalidArgument"));
    assert.throws(
      () => stack.listen({ port: 7101, transport: "udp" as never }),
      isStackError("InvalidArgument"),
    );
    using l = Deno.listen({ hostname: kernel, port: 0 });
    const accepted = l.accept();
    const conn = await stack.connect({ hostname: kernel, port: (l.addr as Deno.NetAddr).port });
    const k = await accepted;
    await assert.rejects(conn.read("x" as never), isStackError("InvalidArgument"));
    await assert.rejects(conn.write([1, 2] as never), isStackError("InvalidArgument"));
    const waiting = conn.read(new Uint8Array(10));
    conn.close();
    await assert.rejects(waiting, isStackError("Closed"));
    await assert.rejects(conn.read(new Uint8Array(10)), isStackError("Closed"));
    await assert.rejects(conn.write(enc("x")), isStackError("Closed"));
    conn.close(); // idempotent
    assert.equal(await within(readAll(k), 10_000, "our FIN"), "");
    k.close();
  });
  await t.step(
    "a write bigger than the send ring waits for room (backpressure) and arrives whole",
    async () => {
      using l = Deno.listen({ hostname: kernel, port: 0 });
      const accepted = l.accept();
      using conn = await stack.connect({
        hostname: kernel,
        port: (l.addr as Deno.NetAddr).port,
        socket: { txBufferSize: 4096 },
      });
      const k = await accepted;
      const data = new Uint8Array(1 << 20).map((_, i) => i % 251);
      const writing = conn.write(data).then((n) => conn.closeWrite().then(() => n));
      let total = 0;
      let ok = true;
      const buf = new Uint8Array(65536);
      for (let n = await k.read(buf); n !== null; n = await k.read(buf)) {
        for (let i = 0; i < n; i++) if (buf[i] !== (total + i) % 251) ok = false;
        total += n;
      }
      assert.equal(await writing, data.length);
      assert.equal(total, data.length);
      assert.ok(ok, "byte-exact");
      k.close();
    },
  );
  await t.step("dispose with connections open: waiting reads reject with Closed", async () => {
    const { stack: s2 } = { stack };
    using l = Deno.listen({ hostname: kernel, port: 0 });
    const accepted = l.accept();
    const conn = await s2.connect({ hostname: kernel, port: (l.addr as Deno.NetAddr).port });
    const k = await accepted;
    const waiting = conn.read(new Uint8Array(10));
    stack[Symbol.dispose]();
    await assert.rejects(waiting, isStackError("Closed"));
    await assert.rejects(stack.connect({ hostname: kernel, port: 1 }), isStackError("Closed"));
    assert.throws(() => stack.listen({ port: 7 }), isStackError("Closed"));
    k.close();
  });
});
