/**
 * TCP loss recovery against the Linux kernel over net_tap: 16 MiB each way (our connection → a
 * kernel socket, and a kernel socket → our listener) byte-exact with the kernel dropping 1 %, 5 %
 * and 10 % of the frames each way at random (nftables `numgen random`) behind a `tbf` bottleneck on
 * the tap; the handshakes, captured by tcpdump on the tap, show that the kernel and we both offer
 * SACK-permitted and timestamps, and the lossy transfers carry SACK blocks in ACKs. The kernel's
 * peer is a python3 process (its own socket, its own core), which checks the bytes it gets
 * (the examples' pattern, byte i = i % 251) and reports the kernel's view (TCP_INFO).
 */
import assert from "node:assert/strict";
import { type Device, FaultInjector, type Interface, type PortDevice, type TcpSocket } from "../mod.ts";
import { testEal } from "./_eal.ts";
import {
  type Capture,
  nftLoss,
  pattern,
  pollUntil,
  qdiscStats,
  tbf,
  tcpdump,
  u32,
  within,
} from "./_kernel.ts";
import { ipString } from "./_net.ts";
import { openTap, type Tap, tapInterface } from "./_tap.ts";

testEal();

const OUR_MAC = Uint8Array.of(0x02, 0x00, 0x5e, 0x10, 0x00, 0x14);
const SIZE = 16 << 20;
/**
 * Each transfer's bound. Measured on a loaded 2-core machine (us → kernel / kernel → us): 1 %
 * 4.2 s / 0.9 s, 5 % 41 s / 1.0 s, 10 % 136–162 s / 1.5–2.4 s. Our sender's time is ≈ 500
 * retransmission timeouts of ≥ 200 ms at 10 % (its SACK recovery falls back to RTO; with
 * minRto 20 it takes ≈ 24 s), the kernel's sender has none to speak of. The times are printed.
 */
const TRANSFER_MS = 300_000;
/** Our sockets' rings: 1 MiB each way (the rest of the configuration is the default). */
const SOCKET = { rxBufferSize: 1 << 20, txBufferSize: 1 << 20 };

/**
 * The kernel's side: `sink HOST` listens on HOST (port printed as {"port": P}), takes one
 * connection, reads to its end and checks every byte against the pattern; `source HOST PORT N`
 * connects to us, sends N bytes of the pattern and half-closes, then reads to the end. Both print
 * a JSON line: bytes, whether they matched, and TCP_INFO's options (1 timestamps, 2 SACK, 4 window
 * scaling) and total retransmits.
 */
const PEER = String.raw`
import socket, sys, json, struct, time
PAT = bytes(range(251))
def info(s):
    t = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return {"options": t[5], "retrans": struct.unpack_from("I", t, 100)[0]}
def check(buf, at):
    k = at % 251
    want = (PAT[k:] + PAT * (len(buf) // 251 + 2))[:len(buf)]
    return buf == want
mode = sys.argv[1]
if mode == "sink":
    l = socket.socket(); l.bind((sys.argv[2], 0)); l.listen(1)
    print(json.dumps({"port": l.getsockname()[1]}), flush=True)
    c, _ = l.accept()
    got, ok = 0, True
    while True:
        b = c.recv(1 << 20)
        if not b: break
        ok = ok and check(b, got)
        got += len(b)
    out = {"bytes": got, "ok": ok, **info(c)}
    c.close()
else:
    c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=60)
    n = int(sys.argv[4])
    data = (PAT * (n // 251 + 1))[:n]
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    while c.recv(65536): pass
    out = {"bytes": n, "ok": True, **info(c)}
    c.close()
print(json.dumps(out), flush=True)
`;

/** The peer as a child process: its JSON lines as they come, its end bounded by `ms`. */
function peer(args: string[]) {
  const child = new Deno.Command("python3", { args: ["-c", PEER, ...args], stdout: "piped", stderr: "piped" })
    .spawn();
  const lines: Record<string, number | boolean>[] = [];
  let text = "";
  const reading = (async () => {
    for await (const s of child.stdout.pipeThrough(new TextDecoderStream())) {
      text += s;
      for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n")) {
        lines.push(JSON.parse(text.slice(0, i)));
        text = text.slice(i + 1);
      }
    }
  })();
  const stderr = new Response(child.stderr).text();
  let exited = false;
  const status = child.status.then((s) => (exited = true, s));
  return {
    lines,
    get exited() {
      return exited;
    },
    async finish(ms: number) {
      const s = await within(status, ms, "the kernel's peer to exit").catch((e) => {
        if (!exited) child.kill("SIGKILL"); // our child, by its pid
        throw e;
      });
      await reading;
      assert.equal(s.code, 0, await stderr);
      return lines[lines.length - 1];
    },
    kill() {
      if (!exited) child.kill("SIGKILL"); // our child, by its pid
    },
  };
}

interface Result {
  ms: number;
  socket: TcpSocket;
  kernel: Record<string, number | boolean>;
}

/** Our connection sends SIZE bytes of the pattern to a kernel sink, which checks them. */
async function toKernel(tap: Tap, iface: Interface): Promise<Result> {
  const sink = peer(["sink", ipString(tap.kernelIp)]);
  try {
    await pollUntil(iface, () => sink.lines.length > 0 || sink.exited, 10_000);
    const port = sink.lines[0]?.port as number;
    assert.ok(port > 0, "the kernel sink listens");
    const t0 = performance.now();
    const s = iface.connectTcp(u32(tap.kernelIp), port, SOCKET);
    const data = pattern(SIZE);
    let sent = 0;
    await pollUntil(
      iface,
      () => {
        if (s.maySend && sent < SIZE) {
          sent += s.send(data, sent);
          if (sent === SIZE) s.close();
        }
        return sink.exited && (s.state === "TimeWait" || s.state === "Closed");
      },
      TRANSFER_MS,
      { every: 64 },
    );
    const ms = performance.now() - t0;
    const kernel = await sink.finish(1000);
    assert.equal(sent, SIZE, `sent ${sent} of ${SIZE} in ${ms | 0} ms; ${JSON.stringify(s.stats)}`);
    assert.deepEqual([kernel.bytes, kernel.ok], [SIZE, true], "the kernel got every byte, in order");
    return { ms, socket: s, kernel };
  } finally {
    sink.kill();
  }
}

/** A kernel client sends SIZE bytes of the pattern to our listener; every byte is checked here. */
async function fromKernel(tap: Tap, iface: Interface, port: number): Promise<Result> {
  using listener = iface.listenTcp(port, { backlog: 1, socket: SOCKET });
  const t0 = performance.now();
  const source = peer(["source", ipString(tap.ourIp), `${port}`, `${SIZE}`]);
  try {
    const want = pattern(SIZE);
    const buf = new Uint8Array(1 << 16);
    let s: TcpSocket | null = null;
    let got = 0;
    let bad = -1;
    let eof = false;
    await pollUntil(
      iface,
      () => {
        s ??= listener.accept();
        if (s === null) return source.exited;
        for (let n = s.recv(buf); n !== 0 && !eof; n = s.recv(buf)) {
          if (n < 0) {
            eof = true;
            s.close();
            break;
          }
          for (let i = 0; i < n && bad < 0; i++) if (buf[i] !== want[got + i]) bad = got + i;
          got += n;
        }
        return source.exited && eof;
      },
      TRANSFER_MS,
      { every: 64 },
    );
    const ms = performance.now() - t0;
    const kernel = await source.finish(1000);
    assert.ok(s !== null, "the kernel connected");
    assert.equal(
      got,
      SIZE,
      `got ${got} of ${SIZE} in ${ms | 0} ms; ${JSON.stringify((s as TcpSocket).stats)}`,
    );
    assert.equal(bad, -1, `byte ${bad} differs`);
    // Let our FIN's ACK and the last ACKs go out.
    await pollUntil(iface, () => (s as TcpSocket).state === "Closed", 1000);
    return { ms, socket: s, kernel };
  } finally {
    source.kill();
  }
}

/** The handshakes and SACK blocks in a capture (tcpdump's text). */
function readCapture(lines: string[], ours: string, kernel: string) {
  const from = (l: string, a: string) => l.includes(` ${a}.`) && l.indexOf(` ${a}.`) < l.indexOf(" > ");
  const syns = lines.filter((l) => /Flags \[S\]/.test(l));
  const synAcks = lines.filter((l) => /Flags \[S\.\]/.test(l));
  const sacks = (a: string) => lines.filter((l) => from(l, a) && /sack \d+ \{/.test(l)).length;
  return { syns, synAcks, sacksFromUs: sacks(ours), sacksFromKernel: sacks(kernel), from };
}

/** `lines` (tcpdump's) hold a `who`, and every one offers SACK-permitted and carries a timestamp. */
function assertOffers(lines: string[], who: string): void {
  assert.ok(lines.length > 0, `${who} in the capture`);
  for (const l of lines) {
    assert.match(l, /sackOK/, `${who} offers SACK: ${l}`);
    assert.match(l, /TS val \d+ ecr \d+/, `${who} carries timestamps: ${l}`);
  }
}

/**
 * 16 MiB us → kernel, then 16 MiB kernel → us, through `percent` % nft loss each way and a tbf
 * bottleneck (kernel → us) on a fresh tap, our interface over the port's device or over what `wrap`
 * makes of it; the handshakes and SACK blocks checked in a tcpdump capture of the tap. Returns a
 * line with the measured times.
 */
async function lossyTransfers(
  percent: number,
  wrap?: (d: PortDevice) => Device,
): Promise<{ line: string; up: Result; down: Result }> {
  using tap = await openTap({ tag: "mkl" });
  using h = tapInterface(tap, OUR_MAC, wrap);
  const iface = h.iface;
  await using _tbf = await tbf(tap.iface, { rate: "400mbit", burst: 32_000, limit: 64_000 });
  const file = await Deno.makeTempFile({ suffix: ".pcap" });
  let cap: Capture | null = null;
  try {
    // SYNs, and segments whose header is longer than with timestamps alone (SACK blocks).
    cap = await tcpdump(tap.iface, file, ["tcp[tcpflags] & tcp-syn != 0 or (tcp[12] & 0xf0) > 0x80"]);
    await using _loss = await nftLoss(tap.iface, percent);
    const up = await toKernel(tap, iface);
    const down = await fromKernel(tap, iface, 5001);
    const q = await qdiscStats(tap.iface);
    await cap.stop();
    const ours = ipString(tap.ourIp);
    const c = readCapture(await cap.lines(), ours, ipString(tap.kernelIp));
    const line = `${percent} % loss: us → kernel ${(up.ms / 1000).toFixed(1)} s ` +
      `(retransmits ${up.socket.stats.retransmits}, timeouts ${up.socket.stats.timeouts}), ` +
      `kernel → us ${(down.ms / 1000).toFixed(1)} s (kernel retransmits ${down.kernel.retrans}); ` +
      `ACKs with SACK blocks: ${c.sacksFromUs} from us, ${c.sacksFromKernel} from the kernel; ` +
      `tbf sent ${q.packets}, dropped ${q.drops}`;
    console.log(line);
    // Both handshakes: our SYN and the kernel's SYN-ACK, then the kernel's SYN and our SYN-ACK.
    assertOffers(c.syns.filter((l) => c.from(l, ours)), "our SYN");
    assertOffers(c.syns.filter((l) => !c.from(l, ours)), "the kernel's SYN");
    assertOffers(c.synAcks.filter((l) => c.from(l, ours)), "our SYN-ACK");
    assertOffers(c.synAcks.filter((l) => !c.from(l, ours)), "the kernel's SYN-ACK");
    for (const r of [up, down]) {
      const opts = r.kernel.options as number;
      assert.equal(opts & 3, 3, `the kernel's TCP_INFO: timestamps and SACK in use (options ${opts})`);
      assert.ok(r.socket.stats.rttSamples > 0);
    }
    assert.ok(c.sacksFromKernel > 0, "the kernel's ACKs carried SACK blocks (our segments lost on the way)");
    assert.ok(c.sacksFromUs > 0, "our ACKs carried SACK blocks (the kernel's segments lost on the way)");
    const us = up.socket.stats;
    assert.ok(us.retransmits > 0 && us.sackRetransmits > 0, JSON.stringify(us));
    assert.ok(down.socket.stats.sackAcksOut > 0, JSON.stringify(down.socket.stats));
    assert.ok((down.kernel.retrans as number) > 0, "the kernel retransmitted");
    assert.ok(q.packets > 0 && q.kind === "tbf", "the kernel's frames to us went through the tbf");
    assert.equal(iface.stats.rxMalformed, 0);
    return { line, up, down };
  } finally {
    await cap?.stop();
    await Deno.remove(file).catch(() => {});
  }
}

Deno.test("TCP vs the kernel, nft loss and a tbf bottleneck on the tap: 16 MiB each way byte-exact at 1 %, 5 % and 10 % loss; SACK and timestamps negotiated (tcpdump)", async (t) => {
  const lines: string[] = [];
  for (const percent of [1, 5, 10]) {
    await t.step(
      `${percent} % loss each way`,
      async () => void lines.push((await lossyTransfers(percent)).line),
    );
  }
  console.log(lines.join("\n"));
});

Deno.test("TCP vs the kernel, 1 % nft loss and a tbf on the tap, and our FaultInjector around the port reordering and duplicating frames each way: 16 MiB each way byte-exact", async () => {
  let faults: FaultInjector | null = null;
  const wrap = (d: PortDevice) => {
    // 2 % of the frames each way held 2 ms (≈ a window's worth overtakes them), 1 % sent twice.
    const f = { reorder: 0.02, reorderMs: 2, duplicate: 0.01 };
    faults = new FaultInjector(d, { seed: 14, tx: f, rx: f });
    return faults;
  };
  const { line, up, down } = await lossyTransfers(1, wrap);
  const fi = faults as FaultInjector | null;
  assert.ok(fi !== null);
  const { tx, rx } = fi.stats;
  console.log(
    `${line}; injector: tx reordered ${tx.reordered}, duplicated ${tx.duplicated}; ` +
      `rx reordered ${rx.reordered}, duplicated ${rx.duplicated}; D-SACKs in ${up.socket.stats.dsacksIn}, ` +
      `out ${down.socket.stats.dsacksOut}`,
  );
  for (const d of [tx, rx]) assert.ok(d.reordered > 0 && d.duplicated > 0, JSON.stringify(d));
  assert.equal(
    tx.queueDrops + tx.heldOverflow + rx.queueDrops + rx.heldOverflow,
    0,
    "nothing lost in the injector",
  );
  // Duplicate segments are reported with D-SACK (RFC 2883) both ways: the injector's copies and the
  // retransmissions reordering made spurious.
  assert.ok(up.socket.stats.dsacksIn > 0, JSON.stringify(up.socket.stats));
  assert.ok(down.socket.stats.dsacksOut > 0, JSON.stringify(down.socket.stats));
});
