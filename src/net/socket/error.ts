/**
 * The error type of the sockets.
 *
 * @module
 */
import { badArgument, isIntIn } from "../args.ts";

/**
 * Why a socket call was refused:
 * - `"InvalidArgument"`: an argument out of range (the message names it, its value and the range).
 * - `"InvalidState"`: the call does not fit the socket's state (e.g. `connect` on an open socket,
 *   `send` after `close`).
 * - `"Disposed"`: the socket was disposed.
 */
export type SocketErrorKind = "InvalidArgument" | "InvalidState" | "Disposed";

/** A refused socket call; `kind` says why. */
export class SocketError extends Error {
  /** Why. */
  readonly kind: SocketErrorKind;
  /** Creates an error. */
  constructor(kind: SocketErrorKind, message: string) {
    super(message);
    this.name = "SocketError";
    this.kind = kind;
  }
}

/**
 * Throws `InvalidArgument` unless `value` is a whole number in `min … max`; `what` is
 * `"where: name"`. @internal
 */
export function checkInteger(what: string, value: unknown, min: number, max: number): void {
  if (!isIntIn(value, min, max)) {
    const at = what.indexOf(": ");
    const where = at < 0 ? what : what.slice(0, at);
    const name = at < 0 ? "value" : what.slice(at + 2);
    throw new SocketError("InvalidArgument", badArgument(where, name, value, `a whole number ${min}–${max}`));
  }
}
