/**
 * The error type of ports and virtual devices ({@linkcode PortError}).
 *
 * @module
 */
import { strerror } from "./ffi.ts";

/**
 * What went wrong with a port or virtual device:
 * - `"InvalidArgument"`: a queue count, descriptor count or MTU out of range; nothing changed.
 * - `"NotFound"`: no port with that id or name.
 * - `"InUse"`: the port is already open (in this isolate or another: a port is process-wide, so one
 *   isolate at a time has it open), or a vdev still has an open port.
 * - `"ConfigureFailed"`, `"StartFailed"`, `"StopFailed"`, `"CloseFailed"`: DPDK refused (`errno`).
 * - `"AlreadyStarted"`, `"NotStarted"`: a lifecycle call out of order.
 * - `"Closed"`: the port was closed (or EAL cleaned up).
 * - `"QueueOutOfRange"`: a queue id the port was not configured with.
 * - `"StatsFailed"`: DPDK could not read or reset counters.
 * - `"AttachFailed"`, `"DetachFailed"`: a virtual device could not be attached or removed.
 * - `"AlreadyAttached"`: a virtual device of that name exists already (in this or another isolate).
 * - `"UnknownDriver"`: no virtual-device driver matches the name (`errno` 19, ENODEV).
 */
export type PortErrorKind =
  | "InvalidArgument"
  | "NotFound"
  | "InUse"
  | "ConfigureFailed"
  | "StartFailed"
  | "StopFailed"
  | "CloseFailed"
  | "AlreadyStarted"
  | "NotStarted"
  | "Closed"
  | "QueueOutOfRange"
  | "StatsFailed"
  | "AttachFailed"
  | "DetachFailed"
  | "AlreadyAttached"
  | "UnknownDriver";

/** A port error; `kind` discriminates, `errno`/`errnoText` carry DPDK's code when there is one. */
export class PortError extends Error {
  /** Which error this is. */
  readonly kind: PortErrorKind;
  /** The port id, or -1 when none is known. */
  readonly portId: number;
  /** DPDK's error code (positive), or `null`. */
  readonly errno: number | null;
  /** DPDK's text for `errno`, or `""`. */
  readonly errnoText: string;
  /** Creates an error. */
  constructor(kind: PortErrorKind, portId: number, message: string, errno: number | null = null) {
    const errnoText = errno === null ? "" : strerror(errno);
    super(errno === null ? message : `${message} (errno ${errno}: ${errnoText})`);
    this.name = "PortError";
    this.kind = kind;
    this.portId = portId;
    this.errno = errno;
    this.errnoText = errnoText;
  }
}
