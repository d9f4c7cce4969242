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
});

Deno.test("after Eal.cleanup: every use throws and init cannot start again (child process)", async () => {
  const r = await runChild("after-cleanup");
  assert.equal(r.code, 0, r.stderr);
  const by = Object.fromEntries(r.reports.map((x) => [x.label, x]));
  assert.equal(by["available-before"].value, 1024);
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
