/**
 * Argument checks shared by the network stack's public entries: each module throws its own typed
 * error (`InvalidArgument`) with the message these helpers build, so every refusal names the
 * argument, shows the value it got and says what is allowed.
 *
 * @module
 */

/** A value as an error message shows it: strings quoted, BigInts with their `n`, objects by kind. */
export function shown(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case "bigint":
      return `${value}n`;
    case "number":
    case "boolean":
    case "undefined":
      return String(value);
    case "symbol":
      return value.toString();
    case "function":
      return "a function";
    default:
      if (value === null) return "null";
      if (value instanceof Uint8Array) {
        return isDetached(value)
          ? "a Uint8Array of a detached buffer"
          : `a Uint8Array of ${value.length} bytes`;
      }
      if (Array.isArray(value)) return `an array of ${value.length}`;
      return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
  }
}

/** The message for `name` = `value` outside `allowed` (e.g. "a whole number 1–65535"), in `where`. */
export function badArgument(where: string, name: string, value: unknown, allowed: string): string {
  return `${where}: ${name} must be ${allowed}, got ${shown(value)}`;
}

/** True when `v` is a whole number (a JS number, not a BigInt) in `[lo, hi]`. */
export function isIntIn(v: unknown, lo: number, hi: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;
}

/** True when `b`'s buffer was transferred away (a DataView of it or FFI use would throw TypeError). */
export function isDetached(b: Uint8Array): boolean {
  return (b.buffer as ArrayBuffer).detached === true;
}

/**
 * True when `v` is a Uint8Array whose buffer is not detached: every public entry that takes bytes
 * checks this, so a transferred buffer is an `InvalidArgument`, never a TypeError from inside.
 */
export function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && !isDetached(v);
}

/** True when `v` is a u32 (a whole number 0 … 2³² − 1): how IPv4 addresses are passed. */
export function isU32(v: unknown): v is number {
  return typeof v === "number" && (v >>> 0) === v;
}

/** True when `v` is a finite number (not a BigInt) ≥ `lo`. */
export function isFiniteFrom(v: unknown, lo: number): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= lo;
}
