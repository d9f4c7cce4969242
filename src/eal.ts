/**
 * DPDK's Environment Abstraction Layer: process-wide start and end.
 *
 * EAL starts once per process, ever: not again after a failure that DPDK does not undo, and not
 * again after cleanup. {@linkcode Eal.init} makes that safe to call from anywhere (every test file,
 * every Worker): the first call starts EAL, later calls with the same arguments get the running
 * instance, and different arguments are a typed {@linkcode EalError}.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { dpdk, readCString, strerror } from "./ffi.ts";
import { type ArgError, checkBool, checkInt, checkOptions, checkString, describeValue } from "./validate.ts";

const logger = getLogger(["melin-dpdk", "eal"]);

/** Program name passed to EAL as argv[0] when options (not a raw argv) are given. */
export const EAL_PROGRAM_NAME = "melin-dpdk";

/** Options for {@linkcode Eal.init}; each maps to one EAL command-line argument. */
export interface EalOptions {
  /** `--no-huge`: use anonymous memory instead of hugepages (no hugepages needed; slower TLB). */
  noHuge?: boolean;
  /** `-m`: megabytes of memory to reserve (with `noHuge`, ≥ 40 for one default pool of 8192 mbufs). */
  memoryMb?: number;
  /** `--vdev`: virtual devices, e.g. `"net_ring0"`, `"net_null0"`, `"net_tap0,iface=dtap0"`. */
  vdevs?: string[];
  /** `--lcores`: lcore map, e.g. `"0@(0-1)"` (lcore 0 may run on CPU 0 or 1). */
  lcores?: string;
  /** `--file-prefix`: names this process's runtime files; must be unique among running primaries. */
  filePrefix?: string;
  /** `--log-level`, one entry per argument, e.g. `"*:error"` or `"pmd.net.tap:debug"`. */
  logLevel?: string | string[];
  /** `--no-pci`: do not probe PCI devices (on a VM, EAL would otherwise probe its own NIC). */
  noPci?: boolean;
  /** `--no-shconf`: no shared runtime config, so no lock on `/var/run/dpdk/<prefix>/config`. */
  noShconf?: boolean;
  /** `--no-telemetry`: no telemetry socket. */
  noTelemetry?: boolean;
  /** Any other EAL arguments, appended as given. */
  extraArgs?: string[];
}

/**
 * Lifecycle of the process's EAL. `"failed"`: an init failed, and EAL cannot start in this
 * process any more (DPDK does not undo a failed start).
 */
export type EalState = "not-initialized" | "running" | "cleaned-up" | "failed";

/**
 * What went wrong with EAL:
 * - `"InitFailed"`: `rte_eal_init` failed; see `errno`, `errnoText` and `hint`.
 * - `"ConflictingArgs"`: EAL already runs with other arguments (it starts once per process).
 * - `"NotInitialized"`: a DPDK call before {@linkcode Eal.init}.
 * - `"CleanedUp"`: a DPDK call, or `init`, after {@linkcode Eal.cleanup}.
 * - `"InvalidArgument"`: an option or argument with a wrong type or value, an unknown option, or an
 *   argument that would make EAL print and end the process (`--help`); nothing was passed to DPDK.
 * - `"PreviousInitFailed"`: an earlier init failed in this process; EAL cannot start again
 *   (`errno` is that first failure's).
 * - `"ThreadRegisterFailed"`: this thread could not get an lcore id (`rte_thread_register`).
 */
export type EalErrorKind =
  | "InitFailed"
  | "ConflictingArgs"
  | "NotInitialized"
  | "CleanedUp"
  | "InvalidArgument"
  | "PreviousInitFailed"
  | "ThreadRegisterFailed";

/** An EAL error; `kind` says which, `errno`/`errnoText` carry DPDK's `rte_errno` when there is one. */
export class EalError extends Error {
  /** Which error this is. */
  readonly kind: EalErrorKind;
  /** `rte_errno` when DPDK reported one, else `null`. */
  readonly errno: number | null;
  /** DPDK's text for `errno` (`rte_strerror`), or `""`. */
  readonly errnoText: string;
  /** What to change to make it work. */
  readonly hint: string;

  /** Creates an error; the message is built from `summary`, the errno and the hint. */
  constructor(
    kind: EalErrorKind,
    summary: string,
    details: { errno?: number | null; errnoText?: string; hint?: string; cause?: unknown } = {},
  ) {
    const errno = details.errno ?? null;
    const errnoText = details.errnoText ?? "";
    const hint = details.hint ?? "";
    const errPart = errno === null ? "" : ` (rte_errno ${errno}${errnoText ? `: ${errnoText}` : ""})`;
    super(`${summary}${errPart}${hint ? `. ${hint}` : ""}`, { cause: details.cause });
    this.name = "EalError";
    this.kind = kind;
    this.errno = errno;
    this.errnoText = errnoText;
    this.hint = hint;
  }
}

// Return codes of mdp_eal_init and values of the state word (csrc/shim.h).
const INIT_FAILED = -1;
const INIT_STARTED = 0;
const INIT_ALREADY_RUNNING = 1;
const INIT_CLEANED_UP = 2;
const INIT_FAILED_BEFORE = 3;
const STATE_RUNNING = 1;
const STATE_CLEANED_UP = 2;
const STATE_FAILED = 3;

const EACCES = 13;
const EPERM = 1;
const ENODEV = 19;
const EINVAL = 22;
const ENOMEM = 12;
const EALREADY = 114;

let stateWord: Int32Array | undefined;
let threadLcore: number | undefined;
let instance: Eal | undefined;
/** Resources of this isolate that must be released before EAL ends, in creation order. */
const liveResources = new Set<Disposable>();
/** True while {@linkcode Eal.cleanup} releases this isolate's resources. */
let cleaningUp = false;

// Values of an isolate's word (csrc: "Isolates").
const ISO_NOT_JOINED = 0;
const ISO_USING = 1;
const ISO_LEFT = 2;
/** This isolate's slot in the shim and its liveness word (see isolateWord). */
let isoSlot = -1;
let isoWord: Int32Array | undefined;

function stateView(): Int32Array {
  if (stateWord === undefined) {
    const ptr = dpdk().mdp_eal_state_ptr();
    if (ptr === null) throw new Error("melin-dpdk shim returned no EAL state word");
    stateWord = new Int32Array(Deno.UnsafePointerView.getArrayBuffer(ptr, 4));
  }
  return stateWord;
}

/**
 * This isolate's liveness word in the shim (csrc: "Isolates"): 1 while this isolate uses EAL, 2
 * once it called {@linkcode Eal.cleanup} (or EAL ended). EAL's memory stays mapped while any
 * isolate's word is 1, so a handle whose isolate's word is 1 may touch DPDK memory: one load.
 */
function isolateWord(): Int32Array {
  if (isoWord === undefined) {
    const s = dpdk();
    const slot = s.mdp_isolate_open();
    if (slot < 0) {
      throw new EalError("ThreadRegisterFailed", "this isolate could not get a slot in the shim", {
        hint: `at most ${s.mdp_const_max_isolates()} isolates (Workers, test files) can use DPDK at once`,
      });
    }
    const ptr = s.mdp_isolate_words_ptr()!;
    const words = Deno.UnsafePointerView.getArrayBuffer(ptr, 4 * s.mdp_const_max_isolates());
    isoWord = new Int32Array(words, 4 * slot, 1);
    isoSlot = slot;
  }
  return isoWord;
}

/** This isolate's slot in the shim (for pool and port ownership). @internal */
export function isolateSlot(): number {
  isolateWord();
  return isoSlot;
}

/** True while {@linkcode Eal.cleanup} releases this isolate's resources (they must not refuse). @internal */
export function ealCleaningUp(): boolean {
  return cleaningUp;
}

/**
 * This isolate's EAL liveness word (1 while this isolate uses EAL), for hot paths: reading it is
 * one memory load, where a call to {@linkcode ealRunning} costs more than a DPDK alloc. It stays 1
 * until this isolate calls {@linkcode Eal.cleanup}: another isolate's cleanup does not unmap
 * memory this isolate still uses.
 */
export function ealStateWord(): Int32Array {
  return isolateWord();
}

/** Value of {@linkcode ealStateWord}`()[0]` while EAL runs. */
export const EAL_STATE_RUNNING = ISO_USING;

/**
 * The EAL state as this isolate sees it: "cleaned-up" once this isolate called
 * {@linkcode Eal.cleanup} (even while other isolates still use EAL), else the process's state.
 */
export function ealState(): EalState {
  const w = isolateWord()[0];
  if (w === ISO_USING) return "running";
  if (w === ISO_LEFT) return "cleaned-up";
  const s = stateView()[0];
  return s === STATE_RUNNING
    ? "running"
    : s === STATE_CLEANED_UP
    ? "cleaned-up"
    : s === STATE_FAILED
    ? "failed"
    : "not-initialized";
}

/** True while this isolate may use EAL (it does, or it runs and this isolate has not left it). */
export function ealRunning(): boolean {
  const w = isolateWord()[0];
  return w === ISO_USING || (w === ISO_NOT_JOINED && stateView()[0] === STATE_RUNNING);
}

/** The error for a DPDK call made while EAL does not run. */
export function ealNotRunningError(what: string): EalError {
  const state = ealState();
  return state === "cleaned-up"
    ? new EalError("CleanedUp", `${what}: EAL was cleaned up`, {
      hint: isoWord?.[0] === ISO_LEFT && stateView()[0] === STATE_RUNNING
        ? "this isolate called Eal.cleanup(); other isolates still use EAL, but this one cannot again"
        : "EAL cannot start again in this process, and its memory is gone; start a new process",
    })
    : state === "failed"
    ? new EalError("PreviousInitFailed", `${what}: EAL failed to start in this process`, {
      hint:
        "EAL cannot start again after a failed start: fix the cause Eal.init reported and restart the process",
    })
    : new EalError("NotInitialized", `${what}: EAL is not initialized`, {
      hint: "call Eal.init() first (Eal.init(Eal.devOptions()) on a machine without hugepages or NICs)",
    });
}

/** Set once EAL has started in this process: the TSC clock's scale is known from then on. */
let clockStarted = false;
let tscMs: () => number = () => 0;

/** Checks that EAL started in this process (running or cleaned up since) and binds the clock. */
function startClock(): boolean {
  const s = stateView()[0];
  if (s !== STATE_RUNNING && s !== STATE_CLEANED_UP) throw ealNotRunningError("Eal.now");
  tscMs = dpdk().mdp_tsc_ms;
  return true;
}

/** Makes this isolate a user of the running EAL (its memory stays mapped until it leaves). */
function join(what: string): void {
  const w = isolateWord();
  if (w[0] === ISO_USING) return;
  if (dpdk().mdp_eal_join(isoSlot) !== 0) throw ealNotRunningError(what);
}

/**
 * Throws unless EAL runs for this isolate (joining it on the first call), and registers the
 * calling thread with DPDK on its first DPDK call, so that threads DPDK did not create (each
 * `deno test` file, each Worker) use the per-lcore mempool cache too. Returns the thread's lcore
 * id. The shim gives the id and the thread's caches back when the thread exits.
 */
export function requireEal(what: string): number {
  if (isolateWord()[0] !== ISO_USING) join(what);
  if (threadLcore !== undefined) return threadLcore;
  const lcore = dpdk().mdp_thread_register();
  if (lcore < 0) {
    const errno = dpdk().mdp_errno();
    throw new EalError("ThreadRegisterFailed", `${what}: this thread could not get a DPDK lcore id`, {
      errno,
      errnoText: strerror(errno),
      hint: "all lcore ids are taken (RTE_MAX_LCORE); use fewer threads or fewer --lcores",
    });
  }
  threadLcore = lcore;
  return lcore;
}

/**
 * Tracks a resource that holds DPDK memory, so that {@linkcode Eal.cleanup} releases it first.
 * Returns the function that stops tracking it (call it on dispose).
 */
export function trackResource(resource: Disposable): () => void {
  liveResources.add(resource);
  return () => liveResources.delete(resource);
}

const invalid: ArgError = (message) =>
  new EalError("InvalidArgument", `Invalid EAL argument: ${message}`, {
    hint: "nothing was passed to DPDK; fix it and call Eal.init() again",
  });

const OPTION_NAMES = [
  "noHuge",
  "memoryMb",
  "vdevs",
  "lcores",
  "filePrefix",
  "logLevel",
  "noPci",
  "noShconf",
  "noTelemetry",
  "extraArgs",
] as const satisfies readonly (keyof EalOptions)[];

/** DPDK's log level names (`--log-level`), most severe first; numbers 1..8 mean the same. */
const LOG_LEVELS = ["emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"];

let memoryLimit: { mb: number; why: string } | undefined;
/**
 * The largest `-m` we pass: the machine's physical memory, and at most RTE_MAX_MEM_MB (what the
 * DPDK build can manage). Above those `rte_eal_init` fails or crashes (DPDK 22.11 without
 * hugepages: `-m 1000000` is a SIGSEGV inside it) or reserves memory that can never be backed.
 */
function maxMemoryMb(): { mb: number; why: string } {
  if (memoryLimit === undefined) {
    const out = new Uint32Array(2);
    dpdk().mdp_memory_limits_mb(out);
    const [phys, dpdkMax] = out;
    memoryLimit = phys > 0 && phys < dpdkMax
      ? { mb: phys, why: " (this machine's physical memory)" }
      : { mb: dpdkMax, why: " (RTE_MAX_MEM_MB, the most this DPDK build manages)" };
  }
  return memoryLimit;
}

function checkMemoryMb(what: string, v: unknown): number {
  const { mb, why } = maxMemoryMb();
  return checkInt(invalid, what, v, 1, mb, why);
}

function checkList(what: string, v: unknown, item: (what: string, v: unknown) => unknown): void {
  if (!Array.isArray(v)) {
    throw invalid(`${what} must be an array of strings, got ${describeValue(v)} (e.g. ${what}: ["…"])`);
  }
  v.forEach((x, i) => item(`${what}[${i}]`, x));
}

function checkLogLevel(what: string, v: unknown): void {
  const s = checkString(invalid, what, v);
  const m = /^(?:([^:,]+)[:,])?([^:,]+)$/.exec(s);
  const level = m?.[2] ?? "";
  if (m === null || !(LOG_LEVELS.includes(level) || /^[1-8]$/.test(level))) {
    throw invalid(
      `${what} must be "LEVEL" or "TYPE:LEVEL" (TYPE a pattern such as "*" or "pmd.net.tap", LEVEL one of ` +
        `${LOG_LEVELS.join(", ")} or 1..8), got ${describeValue(v)}`,
    );
  }
}

function checkWord(what: string, v: unknown): void {
  checkString(invalid, what, v);
  if (/\s/.test(v as string)) throw invalid(`${what} must not contain spaces, got ${describeValue(v)}`);
}

function assertOptions(v: unknown): EalOptions {
  const o: EalOptions = checkOptions<EalOptions>(invalid, "EAL options", v, OPTION_NAMES);
  for (const k of ["noHuge", "noPci", "noShconf", "noTelemetry"] as const) {
    if (o[k] !== undefined) checkBool(invalid, k, o[k]);
  }
  if (o.memoryMb !== undefined) checkMemoryMb("memoryMb", o.memoryMb);
  if (o.lcores !== undefined) checkWord("lcores", o.lcores);
  if (o.filePrefix !== undefined) checkWord("filePrefix", o.filePrefix);
  if (o.vdevs !== undefined) checkList("vdevs", o.vdevs, (w, x) => checkString(invalid, w, x));
  if (o.extraArgs !== undefined) {
    checkList("extraArgs", o.extraArgs, (w, x) => checkString(invalid, w, x, true));
  }
  if (typeof o.logLevel === "string") checkLogLevel("logLevel", o.logLevel);
  else if (o.logLevel !== undefined) checkList("logLevel", o.logLevel, checkLogLevel);
  return o;
}

/** EAL's short options that take a value (`eal_short_options` of DPDK 22.11). */
const SHORT_WITH_VALUE = "abcdlmnrsS";

/**
 * Refuses an argv that `rte_eal_init` would end the process for, or crash on: `-h`/`--help`
 * (and getopt's abbreviations `--he`, `--hel`; `-vh`) and `--log-level=help` print and call
 * `exit()`; `-m` beyond {@linkcode maxMemoryMb} fails or crashes inside DPDK. `-v` only prints
 * the version and is fine. Arguments after `--` are the application's and not looked at.
 */
function assertArgvSafe(argv: readonly string[]): void {
  const exits = (arg: string) =>
    invalid(`${JSON.stringify(arg)} makes rte_eal_init print its usage and end the process; leave it out`);
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") return;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = a.slice(2, eq < 0 ? undefined : eq);
      if (name.length >= 2 && "help".startsWith(name) && eq < 0) throw exits(a);
      if (name.length >= 3 && "log-level".startsWith(name)) {
        const value = eq < 0 ? argv[++i] : a.slice(eq + 1);
        if (value === "help") throw exits(eq < 0 ? `${a} help` : a);
      }
    } else if (a.startsWith("-") && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j];
        if (c === "h") throw exits(a);
        if (!SHORT_WITH_VALUE.includes(c)) continue;
        const value = j + 1 < a.length ? a.slice(j + 1) : argv[++i];
        if (c === "m") {
          const n = value !== undefined && /^\d+$/.test(value) ? Number(value) : value;
          checkMemoryMb("-m", n);
        }
        break;
      }
    }
  }
}

/** The EAL argv (argv[0] included) that `options` stand for. */
export function ealArgs(options: EalOptions): string[] {
  options = assertOptions(options);
  const args = [EAL_PROGRAM_NAME];
  if (options.lcores !== undefined) args.push(`--lcores=${options.lcores}`);
  if (options.noHuge) args.push("--no-huge");
  if (options.noPci) args.push("--no-pci");
  if (options.noShconf) args.push("--no-shconf");
  if (options.noTelemetry) args.push("--no-telemetry");
  if (options.memoryMb !== undefined) args.push("-m", String(options.memoryMb));
  if (options.filePrefix !== undefined) args.push(`--file-prefix=${options.filePrefix}`);
  const levels = options.logLevel === undefined
    ? []
    : typeof options.logLevel === "string"
    ? [options.logLevel]
    : options.logLevel;
  for (const l of levels) args.push(`--log-level=${l}`);
  for (const v of options.vdevs ?? []) args.push(`--vdev=${v}`);
  args.push(...(options.extraArgs ?? []));
  return args;
}

function initHint(errno: number, args: readonly string[]): string {
  const prefix = args.find((a) => a.startsWith("--file-prefix="))?.slice("--file-prefix=".length) ?? "rte";
  switch (errno) {
    case EACCES:
      return args.includes("--no-huge")
        ? "permission denied: run as root (DPDK needs CAP_SYS_ADMIN, CAP_IPC_LOCK and CAP_NET_ADMIN)"
        : "DPDK found no usable hugepages: on a machine without them pass noHuge: true " +
          "(Eal.init(Eal.devOptions())), or reserve some as root, e.g. " +
          "echo 512 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";
    case EPERM:
      return "permission denied: run as root (DPDK needs CAP_SYS_ADMIN, CAP_IPC_LOCK and CAP_NET_ADMIN)";
    case EALREADY:
      return "EAL was started in this process outside @melin/dpdk, or an earlier failed init left it " +
        "unusable; EAL starts once per process: restart the process";
    case ENODEV:
      return "a --vdev driver was not found or could not probe its device: check the vdev names and " +
        "their devargs (e.g. net_ring0, net_null0, net_tap0,iface=dtap0)";
    case EINVAL:
      return "EAL rejected its arguments (DPDK's log above names the one): note that --in-memory does " +
        "not combine with --no-huge";
    case ENOMEM:
      return "EAL could not reserve its memory: lower memoryMb, or free memory";
    case 0:
      return `DPDK set no error code; most often another primary process holds the runtime lock of ` +
        `file prefix "${prefix}": give each process a unique filePrefix (or noShconf: true)`;
    default:
      return "DPDK's log output above says more";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function packArgs(args: readonly string[]): Uint8Array<ArrayBuffer> {
  const parts = args.map((a) => encoder.encode(a));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length + 1;
  }
  return out;
}

function runningArgs(): string[] {
  const sym = dpdk();
  const len = sym.mdp_eal_args(new Uint8Array(0), 0);
  const buf = new Uint8Array(len);
  sym.mdp_eal_args(buf, len);
  const text = decoder.decode(buf);
  return text.length === 0 ? [] : text.slice(0, -1).split("\0");
}

/**
 * The process's running EAL. Get it from {@linkcode Eal.init}; end it with {@linkcode Eal.cleanup}
 * (or `using`, which cleans up at the end of the scope — only for a program's outermost scope,
 * since EAL cannot start again).
 *
 * @example Start EAL on a machine without hugepages or NICs
 * ```ts
 * import { Eal, Mempool } from "@melin/dpdk";
 * Eal.init(Eal.devOptions({ vdevs: ["net_ring0"] }));
 * using pool = Mempool.create("rx_pool");
 * console.log(pool.capacity, pool.available);
 * ```
 */
export class Eal {
  /** The full argv EAL runs with (argv[0] included). */
  readonly args: readonly string[];

  private constructor(args: readonly string[]) {
    this.args = Object.freeze([...args]);
  }

  /**
   * Options that work on a machine without hugepages or a NIC (development, tests, CI):
   * `--no-huge --no-pci --no-telemetry -m 512`, a file prefix unique to this process, and
   * `--lcores=0@(0-N)` so that no thread gets pinned to one CPU. `overrides` win.
   */
  static devOptions(overrides: EalOptions = {}): EalOptions {
    overrides = checkOptions<EalOptions>(invalid, "Eal.devOptions overrides", overrides, OPTION_NAMES);
    const cpus = Math.max(1, navigator.hardwareConcurrency);
    return {
      noHuge: true,
      noPci: true,
      noTelemetry: true,
      memoryMb: 512,
      filePrefix: `melin-dpdk-${Deno.pid}`,
      lcores: cpus > 1 ? `0@(0-${cpus - 1})` : "0@0",
      logLevel: "*:warning",
      ...overrides,
    };
  }

  /**
   * Starts EAL, or returns the running instance when it already runs with the same arguments.
   *
   * @param args EAL options, or a raw argv (argv[0] first, as `rte_eal_init` takes it).
   * @throws {EalError} `InitFailed` (with `rte_errno` and a hint), `PreviousInitFailed`,
   * `ConflictingArgs`, `CleanedUp`, `InvalidArgument`.
   */
  static init(args: string[] | EalOptions = Eal.devOptions()): Eal {
    if (typeof args !== "object" || args === null) {
      throw invalid(
        `Eal.init takes EalOptions or an argv array (argv[0] first), got ${describeValue(args)}; ` +
          `e.g. Eal.init(Eal.devOptions()) or Eal.init(["prog", "--no-huge"])`,
      );
    }
    let argv: string[];
    if (Array.isArray(args)) {
      if (args.length === 0) throw invalid("the argv array is empty; pass argv[0] (a program name) first");
      args.forEach((a, i) => checkString(invalid, `argv[${i}]`, a, i > 0));
      argv = [...args];
    } else {
      argv = ealArgs(args);
    }
    assertArgvSafe(argv);
    const sym = dpdk();
    const errnoOut = new Int32Array(1);
    const packed = packArgs(argv);
    const rc = sym.mdp_eal_init(packed, packed.length, argv.length, errnoOut);
    if (rc === INIT_STARTED) {
      logger.info("EAL started: {args}", { args: argv.join(" ") });
      join("Eal.init"); // CleanedUp if another isolate ended EAL in between
      instance = new Eal(argv);
      return instance;
    }
    if (rc === INIT_ALREADY_RUNNING) {
      const running = runningArgs();
      if (running.length === argv.length && running.every((a, i) => a === argv[i])) {
        join("Eal.init"); // CleanedUp when this isolate left EAL before
        instance ??= new Eal(running);
        return instance;
      }
      throw new EalError("ConflictingArgs", "EAL already runs with other arguments", {
        hint: `EAL starts once per process; running: [${running.join(" ")}], asked: [${argv.join(" ")}]. ` +
          "Use the same arguments everywhere (e.g. one shared Eal.devOptions() call), or Eal.current",
      });
    }
    if (rc === INIT_FAILED) {
      const errno = errnoOut[0];
      throw new EalError("InitFailed", `rte_eal_init failed for [${argv.join(" ")}]`, {
        errno,
        errnoText: errno === 0 ? "" : strerror(errno),
        hint: `${initHint(errno, argv)}. EAL cannot start again in this process after a failed start: ` +
          "fix this and restart the process",
      });
    }
    if (rc === INIT_FAILED_BEFORE) {
      const errno = errnoOut[0];
      throw new EalError(
        "PreviousInitFailed",
        "EAL cannot start again in this process: an earlier Eal.init failed",
        {
          errno,
          errnoText: errno === 0 ? "" : strerror(errno),
          hint: `these arguments were not tried; that first failure was: ${initHint(errno, argv)}. ` +
            "Fix its cause and restart the process",
        },
      );
    }
    if (rc !== INIT_CLEANED_UP) throw new Error(`melin-dpdk: unexpected mdp_eal_init result ${rc}`);
    throw new EalError("CleanedUp", "Eal.init after Eal.cleanup", {
      hint: "EAL cannot start again in the same process; start a new process",
    });
  }

  /** The process's EAL state, shared by all threads and isolates. */
  static get state(): EalState {
    return ealState();
  }

  /** The running instance, or `null` when EAL does not run. */
  static get current(): Eal | null {
    if (!ealRunning()) return null;
    instance ??= new Eal(runningArgs());
    return instance;
  }

  /**
   * Ends this isolate's use of EAL: releases this isolate's live DPDK resources (newest first:
   * ports before the pools they use), after which every handle of this isolate throws
   * `CleanedUp`/`Disposed`. EAL itself (`rte_eal_cleanup`) ends when the last isolate using it
   * leaves, so a Worker's cleanup never unmaps memory that the main thread or another Worker still
   * uses; an isolate that ends without calling it (a Worker's thread exits) lets go too. A pool
   * whose mbufs are still out (in another isolate's port, say) stays for its users, without owner.
   * Idempotent; this isolate cannot use EAL again afterwards, and once EAL ended, no isolate can.
   */
  static cleanup(): void {
    if (isolateWord()[0] !== ISO_USING) return; // never joined, or left already
    cleaningUp = true;
    try {
      for (const r of [...liveResources].reverse()) {
        // One resource failing to close must not keep the others (or EAL) alive.
        try {
          r[Symbol.dispose]();
        } catch (e) {
          logger.warn("Eal.cleanup: releasing a resource failed: {error}", { error: String(e) });
        }
      }
    } finally {
      cleaningUp = false;
    }
    liveResources.clear();
    const rc = dpdk().mdp_eal_leave(isoSlot);
    instance = undefined;
    if (rc > 0) {
      logger.info("Eal.cleanup: this isolate left EAL; {users} other isolate(s) still use it", { users: rc });
    } else if (rc < 0 && rc !== -EALREADY) logger.warn("rte_eal_cleanup returned {rc}", { rc });
    else logger.info("EAL cleaned up");
  }

  /**
   * Milliseconds since EAL started, read from the CPU's time-stamp counter (DPDK's clock,
   * `rte_get_tsc_cycles` ÷ `rte_get_tsc_hz`): monotonic, process-wide (every isolate and Worker
   * reads the same clock), still running after {@linkcode Eal.cleanup}, and far cheaper per call than
   * `performance.now()`: the clock to pass to `Interface.poll(now)` in a busy loop. Do not mix it
   * with another clock for the same interface (timers would jump). Throws `NotInitialized` (or
   * `PreviousInitFailed`) until EAL has started in this process.
   *
   * ```ts
   * import { Eal } from "@melin/dpdk";
   * Eal.init(Eal.devOptions());
   * const t0 = Eal.now();
   * // … poll …
   * console.log(`${Eal.now() - t0} ms`);
   * ```
   */
  static now(): number {
    if (!clockStarted) clockStarted = startClock();
    return tscMs();
  }

  /** Number of lcores EAL runs (`rte_lcore_count`), threads registered later included. */
  get lcoreCount(): number {
    requireEal("Eal.lcoreCount");
    return dpdk().rte_lcore_count();
  }

  /** Number of NUMA sockets DPDK detected (`rte_socket_count`). */
  get socketCount(): number {
    requireEal("Eal.socketCount");
    return dpdk().rte_socket_count();
  }

  /** The calling thread's lcore id (registering the thread with DPDK if needed). */
  get lcoreId(): number {
    return requireEal("Eal.lcoreId");
  }

  /**
   * This process's EAL runtime directory (e.g. `/var/run/dpdk/<filePrefix>`), or `""` before EAL
   * runs as a primary process. It is removed when the process exits normally.
   */
  static get runtimeDir(): string {
    return readCString(dpdk().mdp_runtime_dir());
  }

  /** DPDK's version string, e.g. `"DPDK 22.11.11"`. */
  static get version(): string {
    return readCString(dpdk().rte_version());
  }

  /** Same as {@linkcode Eal.cleanup}. */
  [Symbol.dispose](): void {
    Eal.cleanup();
  }
}
