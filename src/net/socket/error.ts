/**
 * The error type of the sockets.
 *
 * @module
 */

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

/** Throws `InvalidArgument` unless `value` is a whole number in `min … max`. @internal */
export function checkInteger(what: string, value: number, min: number, max: number): void {
  if (!(Number.isInteger(value) && value >= min && value <= max)) {
    throw new SocketError("InvalidArgument", `${what} ${value} is not a whole number in ${min} … ${max}`);
  }
}
