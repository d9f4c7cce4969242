import assert from "node:assert/strict";
import { Eal, EalError, type EalErrorKind, type EalOptions } from "../mod.ts";
import { ealArgs } from "../src/eal.ts";
import { thrown } from "./_assert.ts";
import { runChild } from "./_child.ts";
import { testEal } from "./_eal.ts";

Deno.test("Eal.init starts once and returns the running instance for the same arguments", () => {
  const eal = testEal();
  assert.equal(Eal.state, "running");
  assert.equal(testEal(), eal);
  assert.equal(Eal.current, eal);
  assert.equal(Eal.init([...eal.args]), eal, "a raw argv equal to the running one is the same init");
  assert.ok(eal.args.includes("--no-huge"));
  assert.ok(eal.args.includes(`--file-prefix=melin-dpdk-${Deno.pid}`));
  assert.match(Eal.version, /^DPDK \d+\.\d+/);
  assert.ok(eal.lcoreCount >= 1);
  assert.ok(eal.socketCount >= 1);
});

Deno.test("this test file's thread is registered with DPDK and has an lcore id", () => {
  const eal = testEal();
  const id = eal.lcoreId;
  assert.ok(Number.isInteger(id) && id >= 0 && id < 128, `lcore id ${id}`);
  assert.equal(eal.lcoreId, id, "the id is stable for the thread");
});

Deno.test("Eal.now: a monotonic ms clock from the TSC that keeps real time", async () => {
  testEal();
  let prev = Eal.now();
  assert.ok(prev >= 0 && Number.isFinite(prev));
  for (let i = 0; i < 100_000; i++) {
    const t = Eal.now();
    assert.ok(t >= prev, `went back: ${prev} then ${t}`);
    prev = t;
  }
  // Its rate against the system's clock over a sleep: a wrong scale (cycles, µs or s instead of
  // ms) is off by orders of magnitude; scheduling noise shifts both clocks by the same amount.
  const e0 = Eal.now(), p0 = performance.now();
  await new Promise((r) => setTimeout(r, 200));
  const eal = Eal.now() - e0, sys = performance.now() - p0;
  assert.ok(sys >= 190, `slept ${sys} ms`);
  assert.ok(
    Math.abs(eal - sys) < 0.05 * sys,
    `Eal.now advanced ${eal} ms while performance.now advanced ${sys}`,
  );
});

Deno.test("Eal.init with different arguments is a ConflictingArgs error naming both", () => {
  testEal();
  const e = thrown(() => Eal.init(Eal.devOptions({ memoryMb: 256 })), EalError);
  assert.equal(e.kind, "ConflictingArgs");
  assert.match(e.message, /-m 512/);
  assert.match(e.message, /-m 256/);
  assert.equal(Eal.state, "running", "the running EAL is untouched");
});

Deno.test("invalid options are InvalidArgument errors and reach no DPDK call", async (t) => {
  testEal();
  const cases: [string, () => unknown][] = [
    ["memoryMb -1", () => Eal.init({ memoryMb: -1 })],
    ["memoryMb 1.5", () => Eal.init({ memoryMb: 1.5 })],
    ["filePrefix with a space", () => Eal.init({ filePrefix: "a b" })],
    ["empty lcores", () => Eal.init({ lcores: "" })],
    ["vdev with NUL", () => Eal.init({ vdevs: ["net_ring0\0"] })],
    ["empty argv", () => Eal.init([])],
    ["argv with NUL", () => Eal.init(["prog", "--no-huge\0"])],
  ];
  for (const [name, f] of cases) {
    await t.step(name, () => {
      assert.throws(f, (e: unknown) => e instanceof EalError && e.kind === "InvalidArgument");
    });
  }
});

Deno.test("ealArgs maps each option to its EAL argument", () => {
  assert.deepEqual(
    ealArgs({
      noHuge: true,
      noPci: true,
      noShconf: true,
      noTelemetry: true,
      memoryMb: 64,
      lcores: "0@(0-1)",
      filePrefix: "p1",
      logLevel: ["*:error", "pmd.net.tap:debug"],
      vdevs: ["net_ring0", "net_null0"],
      extraArgs: ["--huge-unlink"],
    }),
    [
      "melin-dpdk",
      "--lcores=0@(0-1)",
      "--no-huge",
      "--no-pci",
      "--no-shconf",
      "--no-telemetry",
      "-m",
      "64",
      "--file-prefix=p1",
      "--log-level=*:error",
      "--log-level=pmd.net.tap:debug",
      "--vdev=net_ring0",
      "--vdev=net_null0",
      "--huge-unlink",
    ],
  );
  assert.deepEqual(ealArgs({}), ["melin-dpdk"]);
});

Deno.test("devOptions work without hugepages or NICs and are unique to the process", () => {
  const o = Eal.devOptions();
  assert.equal(o.noHuge, true);
  assert.equal(o.noPci, true);
  assert.equal(o.filePrefix, `melin-dpdk-${Deno.pid}`);
  assert.equal(Eal.devOptions({ memoryMb: 64 }).memoryMb, 64, "overrides win");
});

Deno.test("EalError kinds are a closed union", () => {
  // Type-level: this switch must stay exhaustive (deno check fails if a kind is added unhandled).
  const describe = (k: EalErrorKind): string => {
    switch (k) {
      case "InitFailed":
      case "ConflictingArgs":
      case "NotInitialized":
      case "CleanedUp":
      case "InvalidArgument":
      case "PreviousInitFailed":
      case "ThreadRegisterFailed":
        return k;
      default: {
        const never: never = k;
        return never;
      }
    }
  };
  const e = new EalError("InitFailed", "x", { errno: 13, errnoText: "Permission denied", hint: "h" });
  assert.equal(describe(e.kind), "InitFailed");
  assert.equal(e.message, "x (rte_errno 13: Permission denied). h");
  assert.ok(e instanceof Error);
});

Deno.test("before Eal.init: pool creation and lookup throw typed errors (child process)", async () => {
  const r = await runChild("before-init");
  assert.equal(r.code, 0, r.stderr);
  const by = Object.fromEntries(r.reports.map((x) => [x.label, x]));
  assert.equal(by.state.value, "not-initialized");
  assert.equal(by.current.value, null);
  assert.equal(by.create.class, "MempoolError");
  assert.equal(by.create.kind, "CreateFailed");
  assert.equal(by.create.errno, 1002, "E_RTE_NO_CONFIG");
  assert.equal(by.create.errnoText, "Missing rte_config structure");
  assert.equal(by.create.causeKind, "NotInitialized");
  assert.match(by.create.message as string, /Eal\.init\(\)/);
  assert.equal(by.lookup.class, "EalError");
  assert.equal(by.lookup.kind, "NotInitialized");
  assert.equal(by.now.class, "EalError");
  assert.equal(by.now.kind, "NotInitialized", "Eal.now before EAL started");
});

Deno.test("after Eal.cleanup: every use throws and init cannot start again (child process)", async () => {
  const r = await runChild("after-cleanup");
  assert.equal(r.code, 0, r.stderr);
  const by = Object.fromEntries(r.reports.map((x) => [x.label, x]));
  assert.equal(by["available-before"].value, 1024);
  const after = by["clock-after-cleanup"].value as number;
  assert.ok(after >= 0 && after < 10_000, `Eal.now still runs, monotonic, after cleanup: ${after}`);
  assert.equal(by.state.value, "cleaned-up");
  assert.equal(by.current.value, null);
  assert.equal(by.disposed.value, true);
  for (const op of ["available", "pointer"]) {
    assert.equal(by[op].class, "MempoolError", op);
    assert.equal(by[op].kind, "Disposed", op);
  }
  assert.equal(by.create.kind, "CreateFailed");
  assert.equal(by.create.causeKind, "CleanedUp");
  assert.equal(by.lookup.class, "EalError");
  assert.equal(by.lookup.kind, "CleanedUp");
  assert.equal(by.init.class, "EalError");
  assert.equal(by.init.kind, "CleanedUp");
  assert.equal(by["cleanup-again"].returned, "undefined", "a second cleanup is a no-op");
  assert.equal(by["dispose-after-cleanup"].value, "ok");
});

Deno.test("EAL init failures report rte_errno, DPDK's text and a hint (child processes)", async (t) => {
  await t.step("without --no-huge on a machine without hugepages: EACCES, hint noHuge", async () => {
    const r = await runChild("init", [JSON.stringify({ noHuge: false })]);
    assert.equal(r.code, 0, r.stderr);
    const init = r.reports.find((x) => x.label === "init")!;
    assert.equal(init.class, "EalError");
    assert.equal(init.kind, "InitFailed");
    assert.equal(init.errno, 13);
    assert.equal(init.errnoText, "Permission denied");
    assert.match(init.hint as string, /noHuge: true/);
  });
  await t.step("an unknown vdev driver: ENODEV, hint on vdev names", async () => {
    const r = await runChild("init", [JSON.stringify({ vdevs: ["net_bogus0"] })]);
    const init = r.reports.find((x) => x.label === "init")!;
    assert.equal(init.kind, "InitFailed");
    assert.equal(init.errno, 19);
    assert.equal(init.errnoText, "No such device");
    assert.match(init.hint as string, /vdev/);
  });
  await t.step("a file prefix held by another primary process: hint names the prefix", async () => {
    const prefix = `melin-held-${Deno.pid}`;
    const holder = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-ffi",
        "--allow-env",
        "--allow-read",
        new URL("./child/scenarios.ts", import.meta.url).pathname,
        "hold-prefix",
        prefix,
      ],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    try {
      const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      const deadline = Date.now() + 20_000;
      while (!seen.includes('"ready"') && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
      assert.match(seen, /"ready"/, "the holder process started EAL");
      const r = await runChild("init", [JSON.stringify({ filePrefix: prefix, memoryMb: 64 })]);
      const init = r.reports.find((x) => x.label === "init")!;
      assert.equal(init.kind, "InitFailed", JSON.stringify(init));
      assert.match(init.hint as string, new RegExp(prefix));
      assert.ok(Deno.statSync(`/var/run/dpdk/${prefix}/config`).isFile, "the loser left the holder's files");
      reader.releaseLock();
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
      // Killed, so it could not remove its runtime files itself.
      await Deno.remove(`/var/run/dpdk/${prefix}`, { recursive: true }).catch(() => {});
      await holder.stderr.cancel();
      await holder.stdout.cancel().catch(() => {});
    }
  });
});

Deno.test("a Worker joins the running EAL and gets its own lcore id (child process)", async () => {
  const r = await runChild("worker-lcore");
  assert.equal(r.code, 0, r.stderr);
  const by = Object.fromEntries(r.reports.map((x) => [x.label, x]));
  const worker = by.worker.value as { sameArgs: boolean; lcore: number; avail: number };
  assert.equal(by["main-lcore"].value, 0, "the thread that started EAL is lcore 0");
  assert.equal(worker.sameArgs, true);
  assert.ok(worker.lcore > 0, `worker lcore ${worker.lcore} is a newly registered one`);
  assert.equal(worker.avail, 512);
  assert.ok((by["lcore-count"].value as number) >= 2, "the registered worker thread counts as an lcore");
});

/** The reports of a child scenario by label (Worker reports are labelled `worker-…`). */
async function childReports(scenario: string, args: string[] = [], timeoutMs = 60_000) {
  const r = await runChild(scenario, args, timeoutMs);
  assert.equal(r.code, 0, `${scenario} exited with ${r.code} (SIGSEGV is 139): ${r.stderr.slice(-2000)}`);
  return Object.fromEntries(r.reports.map((x) => [x.label, x])) as Record<string, Record<string, unknown>>;
}

Deno.test("a Worker's Eal.cleanup ends only its own use: the main thread's pool, view, port, socket and hot loop go on (child process)", async () => {
  const by = await childReports("worker-cleanup");
  assert.equal(by["worker-done"].value, true);
  assert.equal(by["loops-after"].value, 20_000, "the alloc loop kept running after the Worker left");
  assert.equal(by["worker-state"].value, "cleaned-up", "the Worker sees its own cleanup");
  assert.equal(by["worker-pool-disposed"].value, true, "the Worker's pool went with its cleanup");
  assert.equal(by["worker-alloc"].kind, "Disposed");
  assert.equal(by["worker-init-again"].kind, "CleanedUp");
  assert.match(by["worker-init-again"].message as string, /other isolates still use EAL/);
  assert.equal(by.state.value, "running", "EAL still runs for the main thread");
  assert.equal(by.view.value, 5, "a view taken before reads the same bytes");
  assert.equal(by.data.value, 5);
  assert.equal(by.send.value, true);
  assert.equal(by.tx.value, 1, "the socket's datagram (behind ARP) left through the port");
  assert.equal(by["pool-full"].value, true);
  assert.equal(by["state-end"].value, "cleaned-up", "the last user's cleanup ends EAL");
});

Deno.test("after Eal.cleanup, a batch's at/dataLen/columns/setDataLen/pop and an Mbuf throw PoolDisposed (child process)", async () => {
  const by = await childReports("batch-after-cleanup");
  for (const b of ["batch", "filled"]) {
    for (const op of ["at", "dataLen", "pktLen", "columns", "setDataLen", "data", "pop"]) {
      const x = by[`${b}-${op}`];
      assert.equal(x.class, "MbufError", `${b}.${op}: ${JSON.stringify(x)}`);
      assert.equal(x.kind, "PoolDisposed", `${b}.${op}: ${JSON.stringify(x)}`);
    }
  }
  assert.equal(by["mbuf-dataLen"].kind, "PoolDisposed");
  assert.equal(by["view-length"].value, 0, "views are detached");
});

Deno.test("Mempool.lookup from a Worker follows the pool: disposed by its owner, every use throws Disposed (child process)", async () => {
  const by = await childReports("lookup-across-isolates");
  assert.equal(by["worker-owned"].value, false);
  assert.equal(by["worker-alloc-bulk"].value, true);
  assert.equal(by["worker-available"].value, 512);
  assert.equal(by["dispose-held"].kind, "InUse", "an mbuf out in the Worker keeps the pool");
  assert.equal(by["dispose-held"].inUse, 1);
  assert.equal(by["in-use-held"].value, 1, "the refused dispose changed nothing");
  assert.equal(by.dispose.returned, "undefined", "the owner's dispose works once the Worker freed its mbufs");
  assert.equal(by["worker-disposed"].value, true, "the borrowed handle sees the owner's dispose");
  for (const op of ["available-after", "alloc-after", "alloc-bulk-after", "alloc-later"]) {
    assert.equal(by[`worker-${op}`].class, "MempoolError", op);
    assert.equal(by[`worker-${op}`].kind, "Disposed", op);
  }
  assert.equal(by["worker-lookup-after"].value, null, "a freed pool is not found again");
  assert.equal(by["worker-disposed-later"].value, true, "a later pool does not revive the stale handle");
  assert.equal(by["same-address"].value, false, "the freed memory stays until the last handle let go");
  assert.equal(by["next-full"].value, true, "nothing was taken from the new pool through the stale handle");
  assert.equal(by.recreate.returned, "512", "the name is free once every handle let go");
});

Deno.test("a port is open in one isolate at a time: a Worker's open is InUse (child process)", async () => {
  const by = await childReports("port-two-isolates");
  assert.equal(by["worker-open"].class, "PortError");
  assert.equal(by["worker-open"].kind, "InUse");
  assert.match(by["worker-open"].message as string, /another isolate/);
  assert.equal(by["state-here"].value, "started", "the owner's port is untouched");
  assert.equal(by["still-works"].value, 8, "4 sent, 4 received");
});

Deno.test("Workers that end give back their lcore cache and lcore id: after 5, every mbuf can be allocated (child process)", async () => {
  const by = await childReports("worker-caches");
  assert.equal(by["cache-size"].value, 256);
  assert.equal(by["lcores-after"].value, by["lcores-base"].value, "each Worker's lcore id was released");
  assert.equal(by.available.value, 2048);
  assert.equal(by.allocatable.value, 2048, "no mbuf stranded in a dead thread's cache");
  assert.equal(
    by["lcores-while-alive"].value,
    by["lcores-base"].value,
    "a Worker's Eal.cleanup releases its id",
  );
  assert.equal(
    by["allocatable-while-alive"].value,
    2048,
    "and flushes its cache, though its thread lives on",
  );
});

Deno.test("200 Worker lifetimes (more than DPDK's 128 lcore ids): each can use DPDK (child process)", async () => {
  const by = await childReports("worker-lifetimes", ["200"], 120_000);
  assert.equal(by.failed.value, null, JSON.stringify(by.failed));
  assert.equal(by.ok.value, 200);
  assert.equal(by["lcores-after"].value, by["lcores-base"].value);
});

Deno.test("the main thread's Eal.cleanup leaves a Worker's hot loop running; EAL ends when that last user's thread exits (child process)", async () => {
  const by = await childReports("main-cleanup-first");
  assert.equal(by.state.value, "cleaned-up", "the main thread left");
  assert.equal(by["pool-disposed"].value, true, "and its pool went with it");
  assert.equal(by["worker-loops-after"].value, 20_000);
  assert.equal(by["worker-state"].value, "running", "the Worker still used EAL");
  assert.equal(by["worker-full"].value, true);
  const late = by["late-worker"].value as Record<string, unknown>;
  assert.equal(late.kind, "CleanedUp", "once the last user's thread exited, EAL ended");
});

const scenariosPath = new URL("./child/scenarios.ts", import.meta.url).pathname;

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("after a failed init EAL is failed: a retry says so and does not blame its arguments (child)", async (t) => {
  const failing: [string, EalOptions][] = [
    ["an unknown vdev", { vdevs: ["net_bogus0"] }],
    ["no hugepages", { noHuge: false }],
  ];
  for (const [what, bad] of failing) {
    await t.step(what, async () => {
      const r = await runChild("init-retry", [JSON.stringify(bad)]);
      assert.equal(r.code, 0, r.stderr);
      const by = Object.fromEntries(r.reports.map((x) => [x.label, x]));
      assert.equal(by.first.kind, "InitFailed");
      assert.match(by.first.hint as string, /cannot start again/);
      assert.equal(by["state-after-failure"].value, "failed");
      assert.equal(by.retry.class, "EalError");
      assert.equal(by.retry.kind, "PreviousInitFailed");
      assert.equal(by.retry.errno, by.first.errno, "the retry reports the first failure's errno");
      assert.match(by.retry.message as string, /cannot start again/);
      assert.match(by.retry.hint as string, /were not tried/);
      assert.equal(by.create.causeKind, "PreviousInitFailed");
      assert.match(by.dir.value as string, /\/dpdk\/melin-dpdk-\d+$/, "EAL got as far as its runtime dir");
      assert.ok(!exists(by.dir.value as string), `${by.dir.value} is left behind after the failed start`);
    });
  }
});

Deno.test("a normal exit leaves no runtime files behind, with or without Eal.cleanup (child)", async (t) => {
  for (const mode of ["exit", "cleanup"]) {
    await t.step(mode, async () => {
      const r = await runChild("runtime-dir", [mode]);
      assert.equal(r.code, 0, r.stderr);
      const by = Object.fromEntries(r.reports.map((x) => [x.label, x]));
      const dir = by.dir.value as string;
      assert.match(dir, /\/dpdk\/melin-dpdk-\d+$/);
      assert.ok((by.files.value as number) > 0, "EAL had created runtime files while running");
      assert.ok(!exists(dir), `${dir} is left behind`);
    });
  }
});

/** Starts the "hold-dev" child scenario and waits until EAL runs in it; returns it and its runtime dir. */
async function holdDev(): Promise<{ child: Deno.ChildProcess; dir: string }> {
  const scenarios = new URL("./child/scenarios.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", "--allow-env", "--allow-read", scenarios, "hold-dev"],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = Date.now() + 20_000;
  while (!seen.includes("\n") && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  reader.releaseLock();
  const dir = JSON.parse(seen.split("\n")[0]).value as string;
  return { child, dir };
}

Deno.test("init removes the runtime dirs of killed dev processes, never a live one's (child processes)", async () => {
  const killed = await holdDev();
  const live = await holdDev();
  try {
    assert.equal(killed.dir, `/var/run/dpdk/melin-dpdk-${killed.child.pid}`);
    killed.child.kill("SIGTERM");
    await killed.child.status;
    assert.ok(exists(killed.dir), "a SIGTERM leaves the runtime dir (atexit does not run)");
    assert.ok(exists(live.dir));
    const r = await runChild("init");
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!exists(killed.dir), `${killed.dir} of a dead process was swept at init`);
    assert.ok(exists(live.dir), `${live.dir} of a live process was kept`);
    assert.ok([...Deno.readDirSync(live.dir)].length > 0, "and its files");
  } finally {
    for (const h of [killed, live]) {
      try {
        h.child.kill("SIGKILL");
      } catch { /* ended already */ }
      await h.child.status;
      await h.child.stdout.cancel().catch(() => {});
      await Deno.remove(h.dir, { recursive: true }).catch(() => {});
    }
  }
});

Deno.test("Mbuf.copy into an object that only looks like a pool is a typed error, not a crash (child)", async () => {
  const r = await runChild("copy-fake-pool");
  assert.equal(r.code, 0, r.stderr);
  const by = Object.fromEntries(r.reports.map((x) => [x.label, x]));
  for (const k of ["fake", "fake-real-address"]) {
    assert.equal(by[k].class, "MbufError", k);
    assert.equal(by[k].kind, "InvalidArgument", k);
  }
  assert.equal(by.disposed.kind, "PoolDisposed");
  assert.equal(by["copy-into-real"].value, 10);
});

Deno.test("without --allow-ffi the error says to pass --allow-ffi, not to rebuild (child)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-env", "--allow-read", scenariosPath, "before-init"],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.notEqual(out.code, 0);
  assert.match(stderr, /LibraryLoadError/);
  assert.match(stderr, /--allow-ffi/);
  assert.doesNotMatch(stderr, /Rebuild|not built/);
});

Deno.test("a Worker that ends with a started port holding frames: its thread's exit drains and closes the port (child process)", async () => {
  const by = await childReports("port-exit");
  assert.equal(by["worker-sent"].value, 16);
  assert.equal(by["worker-pool-in-use"].value, 16, "16 frames wait in the ring");
  assert.equal(by["lcores-after"].value, by["lcores-base"].value, "the Worker's thread has exited");
  assert.equal(by.available.value, 512, "the frames came back to the pool");
  assert.equal(by.detach.returned, "undefined", "the vdev detaches: its port was closed");
  assert.equal(by.dispose.returned, "undefined");
});

Deno.test("a Worker's port on a borrowed pool keeps that pool's memory after its owner freed it, until the port closes (child process)", async () => {
  const by = await childReports("borrow-port");
  assert.equal(by["owner-dispose"].returned, "undefined", "no mbuf was out: the owner's dispose works");
  assert.equal(by["worker-disposed"].value, true);
  assert.equal(by["worker-dispose-with-port"].kind, "InUse", "the Worker's port still uses the handle");
  assert.equal(by["worker-rx-batch"].value, 8, "net_null still allocates from the (kept) memory, no crash");
  assert.equal(by["worker-free-rx"].kind, "Disposed");
  assert.equal(by.recreate.returned, "512", "the name is free once the last handle let go");
});

/** Runs tests/child/worker_exit.ts (mode "" or "borrowed"); its one JSON line. */
async function workerExit(mode: string): Promise<Record<string, unknown>> {
  const script = new URL("./child/worker_exit.ts", import.meta.url).pathname;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", "--allow-env", "--allow-read", script, mode],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const line = new TextDecoder().decode(r.stdout).split("\n").find((l) => l.startsWith("{"));
  assert.ok(line, new TextDecoder().decode(r.stderr).slice(-2000));
  return JSON.parse(line);
}

Deno.test("a Worker that ends strands nothing: its vdev is detached, its pool (8 mbufs out in its batch) freed (child process)", async () => {
  assert.deepEqual(await workerExit(""), { threadGone: true, vdev: "reattached", pool: 64 });
});

Deno.test("a Worker's pool another isolate looked up outlives the Worker for that handle; its dispose frees it (child process)", async () => {
  assert.deepEqual(await workerExit("borrowed"), {
    threadGone: true,
    vdev: "reattached",
    borrowedAlloc: true,
    borrowedAvailable: 504,
    whileBorrowed: "CreateFailed",
    pool: 64,
  });
});
