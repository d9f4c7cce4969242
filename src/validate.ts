/**
 * Argument checks shared by every module, so that each public entry refuses bad input the same
 * way: with its module's typed error (built by the `fail` factory each check takes) naming the
 * parameter, the value it got and what is allowed. Never a `TypeError`/`RangeError` from inside,
 * never a silent acceptance.
 *
 * Hot paths keep their own one-line integer test (`typeof x === "number" && (x >>> 0) === x`,
 * which also refuses BigInt without "Cannot mix BigInt") and call these only to build the error.
 *
 * @module
 */

/** Builds a module's `InvalidArgument` error from a complete message. @internal */
export type ArgError = (message: string) => Error;

/** A short, safe description of any value for an error message (never throws, even for a Symbol). */
export function describeValue(v: unknown): string {
  switch (typeof v) {
    case "number":
      return Object.is(v, -0) ? "-0" : String(v);
    case "bigint":
      return `${v}n (a BigInt; pass a number)`;
    case "string": {
      const s = JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
      return `${s} (a string)`;
    }
    case "boolean":
      return `${v} (a boolean)`;
    case "undefined":
      return "undefined";
    case "symbol":
      return `${v.toString()} (a symbol)`;
    case "function":
      return "a function";
    default: {
      if (v === null) return "null";
      if (Array.isArray(v)) return `an array of ${v.length}`;
      let name = "";
      try {
        name = Object.getPrototypeOf(v)?.constructor?.name ?? "";
      } catch {
        // a Proxy may throw: the generic text below is enough
      }
      return name && name !== "Object" ? `a ${name}` : "an object";
    }
  }
}

/**
 * `v`, or `fallback` when `v` is `undefined` (an omitted parameter or option). Unlike `??` it
 * keeps `null`, so that the check after it refuses `null` instead of silently taking the default.
 * @internal
 */
export function orDefault<T>(v: T | undefined, fallback: T): T {
  return v === undefined ? fallback : v;
}

/** The error for a value that is not a whole number from `min` to `max`. @internal */
export function intError(
  fail: ArgError,
  what: string,
  v: unknown,
  min: number,
  max: number,
  why = "",
): Error {
  return fail(`${what} must be a whole number from ${min} to ${max}${why}, got ${describeValue(v)}`);
}

/** `v` if it is a whole number from `min` to `max` (a number, not a BigInt), else `fail`'s error. @internal */
export function checkInt(
  fail: ArgError,
  what: string,
  v: unknown,
  min: number,
  max: number,
  why = "",
): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw intError(fail, what, v, min, max, why);
  }
  return v;
}

/** `v` if it is a boolean, else `fail`'s error. @internal */
export function checkBool(fail: ArgError, what: string, v: unknown): boolean {
  if (typeof v !== "boolean") throw fail(`${what} must be true or false, got ${describeValue(v)}`);
  return v;
}

/**
 * `v` if it is a string without NUL bytes (DPDK would cut it there), non-empty unless
 * `allowEmpty`, else `fail`'s error. @internal
 */
export function checkString(fail: ArgError, what: string, v: unknown, allowEmpty = false): string {
  if (typeof v !== "string" || (!allowEmpty && v.length === 0) || v.includes("\0")) {
    throw fail(
      `${what} must be a ${allowEmpty ? "" : "non-empty "}string without NUL bytes, got ${describeValue(v)}`,
    );
  }
  return v;
}

/**
 * `v` as an options object: `undefined` gives `{}`; anything but a plain object (an array, a Map or
 * a class instance would have its fields ignored), or a key not in
 * `allowed` (a typo would be silently ignored), is `fail`'s error. @internal
 */
export function checkOptions<T extends object>(
  fail: ArgError,
  what: string,
  v: unknown,
  allowed: readonly (keyof T & string)[],
): Partial<T> {
  if (v === undefined) return {};
  const proto = typeof v === "object" && v !== null ? Object.getPrototypeOf(v) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw fail(`${what} must be an object with the fields ${allowed.join(", ")}, got ${describeValue(v)}`);
  }
  for (const k of Object.keys(v as object)) {
    if (!(allowed as readonly string[]).includes(k)) {
      throw fail(`${what} has no field ${JSON.stringify(k)}; the fields are ${allowed.join(", ")}`);
    }
  }
  return v as Partial<T>;
}

/** The error for a value that is not an instance of the class named `expected`. @internal */
export function typeError(fail: ArgError, what: string, v: unknown, expected: string): Error {
  return fail(`${what} must be ${expected}, got ${describeValue(v)}`);
}
