/**
 * Demo: start EAL without hugepages or NICs, create the default pool and a jumbo pool, print
 * their facts, and show what bad input gets.
 *
 *   deno task demo        (or scripts/run.sh demo on a fresh machine)
 */
import { Eal, EalError, Mempool, MempoolError } from "../mod.ts";

function section(title: string): void {
  console.log(`\n== ${title}`);
}

function facts(pool: Mempool): Record<string, unknown> {
  return {
    name: pool.name,
    capacity: pool.capacity,
    available: pool.available,
    inUse: pool.inUse,
    cacheSize: pool.cacheSize,
    dataRoomSize: pool.dataRoomSize,
    socketId: pool.socketId,
    pointer: `0x${Deno.UnsafePointer.value(pool.pointer).toString(16)}`,
  };
}

function tryIt(label: string, f: () => unknown): void {
  try {
    f();
    console.log(`  ${label}: no error (unexpected)`);
  } catch (e) {
    if (e instanceof MempoolError) {
      const errno = e.errno === null ? "" : `, errno ${e.errno} (${e.errnoText})`;
      console.log(`  ${label}\n    → MempoolError ${e.kind}${errno}\n      ${e.message}`);
    } else if (e instanceof EalError) {
      console.log(`  ${label}\n    → EalError ${e.kind}\n      ${e.message}`);
    } else {
      throw e;
    }
  }
}

section(`${Eal.version}: EAL in no-hugepage mode`);
using eal = Eal.init(Eal.devOptions());
console.log(`  args: ${eal.args.join(" ")}`);
console.log(
  `  lcores: ${eal.lcoreCount}, NUMA sockets: ${eal.socketCount}, this thread: lcore ${eal.lcoreId}`,
);

section("Pools");
using pool = Mempool.create("demo_default");
console.table(facts(pool));
using jumbo = Mempool.createForMtu("demo_jumbo", 8192, 9000);
console.table(facts(jumbo));
using small = Mempool.createWithSize("demo_small", 300);
console.log(`  a 300-mbuf pool gets cache ${small.cacheSize} (256 needs ≥ 384 mbufs)`);

section("Bad input gets a typed error");
tryIt('a second pool named "demo_default"', () => Mempool.create("demo_default"));
tryIt("an empty name", () => Mempool.create(""));
tryIt("a 30-byte name", () => Mempool.create("x".repeat(30)));
tryIt("MTU 70000 (data room beyond 16 bits)", () => Mempool.createForMtu("demo_bad_mtu", 1024, 70000));
tryIt("1,000,000 mbufs in 512 MB", () => Mempool.createWithSize("demo_too_big", 1_000_000));
tryIt("EAL again with other arguments", () => Eal.init(Eal.devOptions({ memoryMb: 64 })));
small[Symbol.dispose]();
tryIt("a pool used after dispose", () => small.available);

section("Done: pools and EAL are freed in reverse order as `using` scopes end");
