/**
 * The examples' command line, one contract for all of them: `--tap NAME` (attach `net_tap` with
 * `iface=NAME`, creating the kernel interface; the caller configures the kernel side), `--ip
 * A.B.C.D/N` (our address), `--seconds S` (exit after S seconds; default: until SIGINT/SIGTERM),
 * `--port P`, `--connect IP:PORT`, `--send N`. Each example says which it takes.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** The flags an example may take. */
export type Flag = "tap" | "ip" | "seconds" | "port" | "connect" | "send";

/** The parsed, checked values (absent when not given). */
export interface ExampleArgs {
  /** Kernel interface name for the tap (1–15 characters). */
  tap?: string;
  /** Our address with prefix, `A.B.C.D/N`. */
  ip?: string;
  /** Run time in seconds (0 < S ≤ 86400). */
  seconds?: number;
  /** A UDP/TCP port, 1–65535. */
  port?: number;
  /** A peer to connect to. */
  connect?: { hostname: string; port: number };
  /** A byte count, 0 to 2^40. */
  send?: number;
}

const USAGE: Record<Flag, string> = {
  tap: "--tap NAME",
  ip: "--ip A.B.C.D/N",
  seconds: "--seconds S",
  port: "--port P",
  connect: "--connect IP:PORT",
  send: "--send N",
};

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** `v` as the flag's value, or null when it is not one. */
function check(flag: Flag, v: string): unknown {
  const port = (s: string) => /^\d{1,5}$/.test(s) && Number(s) >= 1 && Number(s) <= 65535 ? Number(s) : null;
  switch (flag) {
    case "tap":
      // Linux interface names: at most 15 bytes, no '/', ':' or whitespace.
      return /^[A-Za-z0-9_.-]{1,15}$/.test(v) ? v : null;
    case "ip": {
      const [a, n, extra] = v.split("/");
      return extra === undefined && IPV4.test(a) && /^\d{1,2}$/.test(n ?? "") && Number(n) >= 1 &&
          Number(n) <= 32
        ? v
        : null;
    }
    case "seconds": {
      const s = Number(v);
      return v.trim() !== "" && s > 0 && s <= 86400 ? s : null;
    }
    case "port":
      return port(v) ?? null;
    case "connect": {
      const i = v.lastIndexOf(":");
      const p = i < 0 ? null : port(v.slice(i + 1));
      return i > 0 && IPV4.test(v.slice(0, i)) && p !== null ? { hostname: v.slice(0, i), port: p } : null;
    }
    case "send":
      return /^\d{1,13}$/.test(v) && Number(v) <= 2 ** 40 ? Number(v) : null;
  }
}

const WHAT: Record<Flag, string> = {
  tap: "a kernel interface name of 1–15 letters, digits, '_', '.', '-'",
  ip: "an IPv4 address with a prefix length 1–32, e.g. 198.18.0.2/24",
  seconds: "a number of seconds above 0, at most 86400",
  port: "a port 1–65535",
  connect: "IP:PORT, e.g. 198.18.0.1:8080",
  send: "a whole number of bytes, at most 2^40",
};

/**
 * Parses `argv` for `program`, which takes `flags` (those in `required` must be given). On a bad or
 * unknown flag it prints what is wrong and the usage to stderr and exits with status 2.
 */
export function exampleArgs(
  program: string,
  argv: string[],
  flags: Flag[],
  required: Flag[] = [],
): ExampleArgs {
  const usage = `usage: ${program} ${
    flags.map((f) => (required.includes(f) ? USAGE[f] : `[${USAGE[f]}]`)).join(" ")
  }`;
  const fail = (msg: string): never => {
    console.error(`${program}: ${msg}\n${usage}`);
    Deno.exit(2);
  };
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: Object.fromEntries(flags.map((f) => [f, { type: "string" as const }])),
      strict: true,
      allowPositionals: false,
    }).values as Record<string, string | undefined>;
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
  const out: Record<string, unknown> = {};
  for (const f of flags) {
    const v = values[f];
    if (v === undefined) {
      if (required.includes(f)) fail(`${USAGE[f]} is required`);
      continue;
    }
    const parsed = check(f, v);
    if (parsed === null) fail(`--${f} must be ${WHAT[f]}, not ${JSON.stringify(v)}`);
    out[f] = parsed;
  }
  return out as ExampleArgs;
}

/** The `Stack.open` device for `--tap NAME`: a net_tap vdev named after the interface. */
export function tapDevice(iface: string): string {
  return `net_tap_${iface.replace(/[^A-Za-z0-9_]/g, "_")},iface=${iface}`;
}

/**
 * A signal that aborts after `seconds` (when given) or on SIGINT/SIGTERM, whichever comes first.
 * Its timer and signal listeners are removed once it aborts, so they do not keep the process alive.
 */
export function untilStopped(seconds?: number): AbortSignal {
  const stop = new AbortController();
  const onSignal = () => stop.abort(new Error("stopped by a signal"));
  const signals = ["SIGINT", "SIGTERM"] as const;
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  const timer = seconds === undefined
    ? undefined
    : setTimeout(() => stop.abort(new Error(`${seconds} s elapsed`)), seconds * 1000);
  stop.signal.addEventListener("abort", () => {
    clearTimeout(timer);
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }, { once: true });
  return stop.signal;
}
