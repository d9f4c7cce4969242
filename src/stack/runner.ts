/**
 * A runner that polls an interface from the event loop without starving it: it spins while the
 * interface has work, yields a macrotask between bursts so timers, I/O and async code run, and
 * sleeps when the link is idle.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { checkInt, checkOptions, describeValue, orDefault } from "../validate.ts";
import { stackArg, StackError } from "./error.ts";

const logger = getLogger(["melin-dpdk", "runner"]);

/**
 * What a {@linkcode Runner} polls. `poll(now)` returns true when it did any work.
 * `pollDelay(now)`, when present, says in how many ms the target next needs a poll even without
 * new frames (a retransmission timer, say), or null for "no deadline"; the runner then sleeps no
 * longer than that (`pollAt(now)`, the time it is due, serves the same way, as smoltcp has both).
 * {@linkcode Interface} has `poll`; a deadline-aware interface plugs in as is.
 */
export interface Pollable {
  /** Does all pending work at `now` (ms, on the runner's clock); true when anything happened. */
  poll(now: number): boolean;
  /** Ms until the next poll is due without new input, or null/undefined when none is. */
  pollDelay?(now: number): number | null | undefined;
  /**
   * When the next poll is due (the same clock as `now`; `Infinity`, null or undefined: never),
   * used when there is no `pollDelay`.
   */
  pollAt?(now: number): number | null | undefined;
}

/**
 * Called after every poll with the poll's time. Return true when it did work (received, sent, or
 * resolved a promise): the runner then counts the round as busy and polls again soon — after one
 * microtask, so that async code the hook woke runs first — and once more after that, so that what
 * the hook sent is flushed by a poll.
 */
export type PollHook = (now: number) => boolean | void;

/** How a {@linkcode Runner} trades CPU for latency. */
export interface RunnerOptions {
  /** Polls in a row, while each one finds work, before yielding to the event loop (default 64, 1–65536). */
  spinPolls?: number;
  /**
   * For this long after the last work (ms), poll once per event-loop turn (≈ 6 µs apart) before
   * falling back to sleeping (default 2, 0–10 000). Traffic that comes in bursts is then
   * answered without a sleep's delay.
   */
  idleSpinMs?: number;
  /**
   * Longest sleep between polls while idle (ms; default 1, 1–1 000). A frame that arrives while
   * the runner sleeps waits for the end of the sleep; Deno's timers fire ≈ 1 ms late.
   */
  maxSleepMs?: number;
  /**
   * The clock the runner reads before each poll, in ms (default `performance.now`). `Eal.now`
   * reads the TSC at a fraction of the cost per poll; the target's timers and the hooks' `now`
   * are then on that clock, so do not also poll the target with another one.
   */
  clock?: () => number;
}

const OPTION_NAMES = [
  "spinPolls",
  "idleSpinMs",
  "maxSleepMs",
  "clock",
] as const satisfies readonly (keyof RunnerOptions)[];

/** What a runner counted. */
export interface RunnerStats {
  /** Polls made. */
  polls: number;
  /** Polls that found work. */
  busyPolls: number;
  /** Yields to the event loop (one macrotask each). */
  yields: number;
  /** Sleeps on a timer (the link was idle). */
  sleeps: number;
}

/**
 * Polls a {@linkcode Pollable} in a loop on the event loop's thread: polls back to back while
 * there is work (up to `spinPolls`, then one macrotask yield), polls once per event-loop turn for
 * `idleSpinMs` after the last work, then sleeps up to `maxSleepMs` (or the target's `pollDelay`)
 * between polls. While it runs it keeps the process alive; stopped or disposed, it holds nothing.
 *
 * @example
 * ```ts
 * import { LoopbackDevice, Interface, Runner } from "@melin/dpdk";
 * const iface = new Interface(new LoopbackDevice(), {
 *   mac: Uint8Array.of(2, 0, 0, 0, 0, 1),
 *   addresses: [{ ip: 0xc6120102, prefix: 24 }],
 * });
 * using runner = new Runner(iface);
 * await runner.run(AbortSignal.timeout(100)); // polls for 100 ms
 * console.log(runner.stats.polls > 0);
 * ```
 */
export class Runner implements Disposable {
  /** Counters (updated as it runs). */
  readonly stats: RunnerStats = { polls: 0, busyPolls: 0, yields: 0, sleeps: 0 };
  #target: Pollable;
  #spinPolls: number;
  #idleSpinMs: number;
  #maxSleepMs: number;
  #clock: () => number;
  /** Copied on change, so a hook may remove itself (or add others) while the hooks run. */
  #hooks: PollHook[] = [];
  #failHooks = new Set<(e: StackError) => void>();
  /** Bumped by every start and stop: a loop whose generation is not current ends. */
  #gen = 0;
  #running = false;
  #closed = false;
  #loop: Promise<void> | null = null;
  /** Ends the current loop's wait (tick or sleep) early. */
  #wakeWait: (() => void) | null = null;
  #woken = false;
  /** True while the loop waits on a timer (not on a tick). */
  #sleeping = false;
  #error: StackError | null = null;

  /**
   * A runner for `target` (not started).
   * @throws {StackError} `InvalidArgument` for a target without `poll` or a bad option.
   */
  constructor(target: Pollable, options: RunnerOptions = {}) {
    if (typeof target !== "object" || target === null || typeof target.poll !== "function") {
      throw stackArg(`Runner: target must have a poll(now) method, got ${describeValue(target)}`);
    }
    for (const m of ["pollDelay", "pollAt"] as const) {
      if (target[m] !== undefined && typeof target[m] !== "function") {
        throw stackArg(`Runner: target.${m} must be a method, got ${describeValue(target[m])}`);
      }
    }
    const o = checkOptions<RunnerOptions>(stackArg, "Runner options", options, OPTION_NAMES);
    this.#target = target;
    this.#spinPolls = checkInt(stackArg, "spinPolls", orDefault(o.spinPolls, 64), 1, 65536);
    this.#idleSpinMs = checkInt(stackArg, "idleSpinMs", orDefault(o.idleSpinMs, 2), 0, 10_000);
    this.#maxSleepMs = checkInt(stackArg, "maxSleepMs", orDefault(o.maxSleepMs, 1), 1, 1000);
    if (o.clock !== undefined && typeof o.clock !== "function") {
      throw stackArg(`Runner: clock must be a function returning ms, got ${describeValue(o.clock)}`);
    }
    this.#clock = o.clock ?? (() => performance.now());
  }

  /** True between {@linkcode Runner.start} (or `run`) and the loop's end. */
  get running(): boolean {
    return this.#running;
  }

  /** True once disposed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Starts polling in the background; a no-op when it runs already. An error thrown by a poll or
   * hook stops it (see {@linkcode Runner.stop}); it is also logged.
   * @throws {StackError} `Closed` after dispose.
   */
  start(): void {
    if (this.#closed) throw new StackError("Closed", "Runner.start: the runner was disposed");
    if (this.#running) return;
    this.#running = true;
    this.#error = null;
    const gen = ++this.#gen;
    const loop = this.#run(gen);
    this.#loop = loop;
    loop.catch((e) => logger.error("runner stopped: {error}", { error: String(e) }));
  }

  /**
   * Starts the runner if needed and resolves when it stops: when `signal` aborts, on
   * {@linkcode Runner.stop}, or on dispose.
   * @throws {StackError} `RunnerFailed` (rejection) when a poll or hook threw; `Closed` after dispose;
   * `InvalidArgument` for a `signal` that is not an AbortSignal.
   */
  run(signal?: AbortSignal): Promise<void> {
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw stackArg(`Runner.run: signal must be an AbortSignal, got ${describeValue(signal)}`);
    }
    this.start();
    const loop = this.#loop!;
    if (signal !== undefined) {
      if (signal.aborted) return this.stop();
      const onAbort = () => void this.stop().catch(() => {}); // the loop's own promise reports
      signal.addEventListener("abort", onAbort, { once: true });
      loop.finally(() => signal.removeEventListener("abort", onAbort)).catch(() => {});
    }
    return loop;
  }

  /**
   * Stops polling; resolves once the loop has ended (at once when it was not running).
   * @throws {StackError} `RunnerFailed` (rejection) when the loop ended because a poll or hook threw.
   */
  stop(): Promise<void> {
    if (this.#running) {
      this.#running = false;
      this.#gen++;
      this.#endWait();
    }
    if (this.#error !== null) return Promise.reject(this.#error);
    return this.#loop?.then(() => {}) ?? Promise.resolve();
  }

  /** Makes the runner poll at its next chance (e.g. after a send), ending a sleep early. */
  wake(): void {
    this.#woken = true;
    // Only a sleep ends early. Ending a tick would resume the loop in a microtask: async code that
    // sends after every receive would then keep the loop in microtasks forever, starving timers and I/O.
    if (this.#sleeping) this.#endWait();
  }

  /**
   * Calls `hook` after every poll until the returned handle is disposed.
   * @throws {StackError} `InvalidArgument` when `hook` is not a function.
   */
  onPoll(hook: PollHook): Disposable {
    if (typeof hook !== "function") {
      throw stackArg(`Runner.onPoll: hook must be a function, got ${describeValue(hook)}`);
    }
    this.#hooks = [...this.#hooks, hook];
    return {
      [Symbol.dispose]: () => {
        this.#hooks = this.#hooks.filter((h) => h !== hook);
      },
    };
  }

  /** @internal Calls `f` with the error when the loop fails (to reject waiting receives). */
  onFail(f: (e: StackError) => void): Disposable {
    this.#failHooks.add(f);
    return { [Symbol.dispose]: () => void this.#failHooks.delete(f) };
  }

  /** Stops the loop (without waiting for it) and refuses further starts. Idempotent. */
  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#running = false;
    this.#gen++;
    this.#endWait();
    this.#hooks = [];
  }

  #endWait(): void {
    const w = this.#wakeWait;
    this.#wakeWait = null;
    w?.();
  }

  async #run(gen: number): Promise<void> {
    // Macrotask ticks through a MessageChannel: setTimeout(0) in a loop is clamped to ≈ 2 ms.
    const channel = new MessageChannel();
    let tickDone: (() => void) | null = null;
    channel.port1.onmessage = () => {
      const r = tickDone;
      tickDone = null;
      r?.();
    };
    const wait = (ms: number) =>
      new Promise<void>((resolve) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const done = () => {
          if (timer !== undefined) clearTimeout(timer);
          tickDone = null;
          if (this.#wakeWait === done) {
            this.#wakeWait = null;
            this.#sleeping = false;
          }
          resolve();
        };
        this.#wakeWait = done;
        this.#sleeping = ms > 0;
        if (ms === 0) {
          tickDone = done;
          channel.port2.postMessage(0);
        } else {
          timer = setTimeout(done, ms);
        }
      });
    const target = this.#target;
    const stats = this.stats;
    const clock = this.#clock;
    let lastWork = clock();
    let spins = 0;
    /** A hook did work in the previous round: what it sent leaves with this round's poll. */
    let carry = false;
    try {
      while (this.#gen === gen) {
        const now = clock();
        const work = target.poll(now);
        let hooked = false;
        const hooks = this.#hooks;
        for (let i = 0; i < hooks.length; i++) if (hooks[i](now) === true) hooked = true;
        stats.polls++;
        if (work || hooked) {
          stats.busyPolls++;
          lastWork = now;
        }
        const busy = work || hooked || carry;
        carry = hooked;
        // Busy: poll again, at most spinPolls rounds before a macrotask yield (microtask-only
        // rounds would starve timers and I/O).
        if (busy && ++spins < this.#spinPolls) {
          if (hooked) await null; // the async code a hook woke runs first
          continue;
        }
        spins = 0;
        let ms = 0;
        if (!busy && !this.#woken && now - lastWork >= this.#idleSpinMs) {
          ms = this.#maxSleepMs;
          const due = target.pollDelay !== undefined
            ? target.pollDelay(now)
            : target.pollAt !== undefined
            ? (target.pollAt(now) ?? Infinity) - now
            : undefined;
          if (typeof due === "number" && due < ms) ms = due > 0 ? Math.ceil(due) : 0;
        }
        this.#woken = false;
        if (ms === 0) stats.yields++;
        else stats.sleeps++;
        await wait(ms);
      }
    } catch (e) {
      const err = new StackError("RunnerFailed", `the runner stopped: a poll or poll hook threw: ${e}`, {
        cause: e,
      });
      if (this.#gen === gen) {
        this.#running = false;
        this.#gen++;
        this.#error = err;
        for (const f of this.#failHooks) f(err);
      }
      throw err;
    } finally {
      channel.port1.close();
      channel.port2.close();
    }
  }
}
