/**
 * Builds the C shim (and the C benchmarks' libraries) against the system's DPDK.
 *
 * - Installs DPDK through apt when `pkg-config --exists libdpdk` fails and we are root on
 *   Debian/Ubuntu; otherwise stops with a message that says what to install.
 * - Compiles only when sources or flags changed (a stamp file holds their hash).
 *
 * Run with `deno task build`. Output goes to `build/` (git-ignored).
 *
 * @module
 */

const root = new URL("../", import.meta.url);
const buildDir = new URL("build/", root);
// iproute2 and ethtool: the tests and the demo set up the kernel side of tap and veth interfaces;
// iputils-ping: the kernel's own ping is a peer of the network stack; tcpdump reads our pcap files;
// curl, socat and nftables: kernel HTTP/TCP peers of the examples and random loss on a tap;
// hping3: the SYN flood of tests/tcp_flood_test.ts.
const REQUIRED_PACKAGES = [
  "dpdk",
  "libdpdk-dev",
  "pkg-config",
  "gcc",
  "iproute2",
  "ethtool",
  "iputils-ping",
  "tcpdump",
  "curl",
  "socat",
  "nftables",
  "hping3",
];

async function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; quiet?: boolean } = {},
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      env: opts.env,
      stdout: "piped",
      stderr: opts.quiet ? "piped" : "inherit",
    }).output();
    const dec = new TextDecoder();
    return {
      ok: out.success,
      stdout: dec.decode(out.stdout),
      stderr: opts.quiet ? dec.decode(out.stderr) : "",
    };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { ok: false, stdout: "", stderr: `${cmd}: not found` };
    throw e;
  }
}

function fail(message: string): never {
  console.error(`\nmelin-dpdk build: ${message}\n`);
  Deno.exit(1);
}

async function isDebianLike(): Promise<boolean> {
  try {
    const osRelease = await Deno.readTextFile("/etc/os-release");
    return /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(osRelease);
  } catch {
    return false;
  }
}

async function haveToolchain(): Promise<boolean> {
  const dpdk = await run("pkg-config", ["--exists", "libdpdk"], { quiet: true });
  const gcc = await run("gcc", ["--version"], { quiet: true });
  const ip = await run("ip", ["-V"], { quiet: true });
  const ethtool = await run("ethtool", ["--version"], { quiet: true });
  const ping = await run("ping", ["-V"], { quiet: true });
  const tcpdump = await run("tcpdump", ["--version"], { quiet: true });
  const curl = await run("curl", ["--version"], { quiet: true });
  const socat = await run("socat", ["-V"], { quiet: true });
  const nft = await run("nft", ["--version"], { quiet: true });
  const hping = await run("hping3", ["--version"], { quiet: true });
  return dpdk.ok && gcc.ok && ip.ok && ethtool.ok && ping.ok && tcpdump.ok && curl.ok && socat.ok && nft.ok &&
    hping.ok;
}

/** Makes sure DPDK's headers, pkg-config file and a C compiler are present. */
async function ensureDpdk(): Promise<void> {
  if (await haveToolchain()) return;
  const what = `the packages ${
    REQUIRED_PACKAGES.join(" ")
  } (DPDK 22.11 or later with its pkg-config file, and gcc)`;
  if (Deno.uid() !== 0) {
    fail(
      `DPDK development files or a tool (gcc, ip, ethtool, ping, tcpdump, curl, socat, nft) are missing and we are not root, so they cannot be installed here.\n` +
        `Install ${what}, e.g.:\n  sudo apt-get install -y ${
          REQUIRED_PACKAGES.join(" ")
        }\nthen run this command again.`,
    );
  }
  if (!(await isDebianLike()) || !(await run("apt-get", ["--version"], { quiet: true })).ok) {
    fail(
      `DPDK development files or a tool (gcc, ip, ethtool, ping, tcpdump, curl, socat, nft) are missing and this is not a Debian/Ubuntu system with apt-get.\n` +
        `Install ${what} with your system's package manager (check: pkg-config --modversion libdpdk).`,
    );
  }
  console.error(`melin-dpdk build: installing ${REQUIRED_PACKAGES.join(" ")} with apt-get…`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  if (!(await run("apt-get", ["update", "-qq"], { env })).ok) fail("apt-get update failed (see above).");
  const install = await run("apt-get", ["install", "-y", "-qq", ...REQUIRED_PACKAGES], { env });
  if (!install.ok) fail(`apt-get install ${REQUIRED_PACKAGES.join(" ")} failed (see above).`);
  if (!(await haveToolchain())) fail("DPDK was installed but `pkg-config --exists libdpdk` still fails.");
}

async function pkgConfig(flag: "--cflags" | "--libs"): Promise<string[]> {
  const r = await run("pkg-config", [flag, "libdpdk"], { quiet: true });
  if (!r.ok) fail(`pkg-config ${flag} libdpdk failed: ${r.stderr.trim()}`);
  return r.stdout.trim().split(/\s+/).filter((s) => s.length > 0);
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

interface Target {
  /** Output file name under build/. */
  out: string;
  /** Source files under csrc/. */
  sources: string[];
  /** Extra linker arguments after DPDK's libraries. */
  extraLibs: string[];
  /** Optimisation level (default -O2). */
  opt?: string;
}

const TARGETS: Target[] = [
  {
    out: "libmelin_dpdk.so",
    // One concept per file (csrc/shim.h says which); their hidden symbols link inside the library.
    sources: ["shim_eal.c", "shim_pool.c", "shim_port.c", "shim_mbuf.c"],
    // pkg-config's --libs starts with -Wl,--as-needed, which drops libraries the shim does not
    // reference by symbol. Two kinds must stay: the libraries whose exports TypeScript calls
    // through the shim's handle (src/ffi.ts), and the mempool ring driver, without which every
    // pool create fails with EINVAL.
    extraLibs: [
      "-Wl,--no-as-needed",
      ...["eal", "mempool", "mbuf", "ethdev", "mempool_ring"].map((l) => `-lrte_${l}`),
      "-Wl,--as-needed",
    ],
  },
  {
    // C baselines for `deno task bench`, loaded into the benchmark process beside the shim; -O3, as
    // a DPDK programmer tuning the reference would build it.
    out: "libmelin_bench.so",
    sources: ["bench.c"],
    opt: "-O3",
    extraLibs: [
      "-Wl,--no-as-needed",
      "-lrte_eal",
      "-lrte_ethdev",
      "-lrte_mbuf",
      "-lrte_ring",
      "-lrte_net_ring",
      "-Wl,--as-needed",
    ],
  },
  {
    // The crossed net_ring port pair of the TCP benchmark (bench/tcp_bench.ts).
    out: "libmelin_tcp_bench.so",
    sources: ["tcp_bench.c"],
    extraLibs: [
      "-Wl,--no-as-needed",
      "-lrte_eal",
      "-lrte_ethdev",
      "-lrte_mbuf",
      "-lrte_ring",
      "-lrte_net_ring",
      "-Wl,--as-needed",
    ],
  },
];

async function buildTarget(t: Target, cflags: string[], libs: string[]): Promise<void> {
  const out = new URL(t.out, buildDir).pathname;
  const srcs = t.sources.map((s) => new URL(`csrc/${s}`, root).pathname);
  const args = [
    t.opt ?? "-O2",
    "-g",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-fvisibility=hidden",
    "-fPIC",
    "-shared",
    ...cflags,
    ...srcs,
    "-o",
    out,
    // The shim keeps process-wide state (EAL lifecycle); `deno test` unloads a library when a
    // test file ends, so the library must never be unloaded.
    "-Wl,-z,nodelete",
    ...libs,
    ...t.extraLibs,
    "-lpthread",
  ];
  const sourceText = (await Promise.all(srcs.map((s) => Deno.readTextFile(s)))).join("\0");
  const headers = [];
  for await (const e of Deno.readDir(new URL("csrc/", root))) {
    if (e.name.endsWith(".h")) headers.push(await Deno.readTextFile(new URL(`csrc/${e.name}`, root)));
  }
  const stamp = await sha256([sourceText, ...headers.sort(), args.join(" ")].join("\0"));
  const stampFile = new URL(`${t.out}.stamp`, buildDir);
  try {
    if ((await Deno.readTextFile(stampFile)) === stamp && (await Deno.stat(out)).isFile) return;
  } catch { /* no stamp or no output: build */ }
  console.error(`melin-dpdk build: gcc → build/${t.out}`);
  const r = await run("gcc", args);
  if (!r.ok) fail(`compiling build/${t.out} failed (see the compiler output above).`);
  await Deno.writeTextFile(stampFile, stamp);
}

if (import.meta.main) {
  await ensureDpdk();
  await Deno.mkdir(buildDir, { recursive: true });
  const cflags = await pkgConfig("--cflags");
  const libs = await pkgConfig("--libs");
  for (const t of TARGETS) await buildTarget(t, cflags, libs);
}
