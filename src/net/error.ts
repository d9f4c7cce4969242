/**
 * The error type of the interface and its sockets (one class for both layers, so a program catches
 * one type whichever raised it).
 *
 * @module
 */

/**
 * Why an interface or socket call was refused:
 * - `"InvalidArgument"`: a configuration value or argument out of range (the message names it, shows
 *   the value and the allowed range).
 * - `"Closed"`: a call on a UDP socket after its `close()`.
 * - `"PortInUse"`: the UDP port is already bound.
 * - `"TooLarge"`: a payload that cannot be sent (see the message for the limit), or a buffer too
 *   small for the datagram to be received.
 */
export type InterfaceErrorKind = "InvalidArgument" | "Closed" | "PortInUse" | "TooLarge";

/** The interface's errors: a bad configuration or call; `kind` says which. */
export class InterfaceError extends Error {
  /** Why. */
  readonly kind: InterfaceErrorKind;
  /** Creates an error. */
  constructor(kind: InterfaceErrorKind, message: string) {
    super(message);
    this.name = "InterfaceError";
    this.kind = kind;
  }
}
