/**
 * The error of the host layer ({@linkcode Stack}, its runner and its async sockets).
 *
 * @module
 */

/**
 * What went wrong in the host layer:
 * - `"InvalidArgument"`: an option or argument with a wrong type or value, or an unknown option;
 *   nothing was created or changed. The message names it, gives the value and what is allowed.
 * - `"Closed"`: a call on a stack or socket after `close()` / dispose, or a `receive` that was
 *   waiting when the socket or its stack closed.
 * - `"RunnerFailed"`: the runner stopped because a poll or a poll hook threw (`cause` holds it);
 *   waiting receives get this error, and so does `stop()`.
 * - `"TeardownFailed"`: one or more layers failed to close; the others were still closed
 *   (`cause` holds the errors, an `AggregateError` when several).
 * - `"ConnectionRefused"`: the peer answered our SYN with RST (nothing listens on that port).
 * - `"ConnectionReset"`: the peer reset an open connection (RST); reads and writes get it.
 * - `"TimedOut"`: a connection was given up: its SYN, its data or its keep-alives went unanswered.
 *
 * Failures of a lower layer during {@linkcode Stack.open} keep their own class (`EalError`,
 * `MempoolError`, `PortError`, `InterfaceError`): everything made before is torn down first.
 */
export type StackErrorKind =
  | "InvalidArgument"
  | "Closed"
  | "RunnerFailed"
  | "TeardownFailed"
  | "ConnectionRefused"
  | "ConnectionReset"
  | "TimedOut";

/** A host-layer error; `kind` says which. */
export class StackError extends Error {
  /** Which error this is. */
  readonly kind: StackErrorKind;
  /** Creates an error. */
  constructor(kind: StackErrorKind, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "StackError";
    this.kind = kind;
  }
}

/** The `InvalidArgument` factory the shared checks in `validate.ts` take. @internal */
export const stackArg = (message: string): StackError => new StackError("InvalidArgument", message);
