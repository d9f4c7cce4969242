/**
 * An HTTP/1.1 server on the DPDK side of a tap, with persistent connections and a small parser
 * of its own (request head at most 16 KiB, `Content-Length` bodies; chunked bodies are refused):
 *
 * - `GET /` → 200 and a short text;
 * - `GET /bytes/N` → 200 with `Content-Length: N`, body byte `i` = `i % 251` (N ≤ 2^32);
 * - `POST /echo` → 200 with the request body (streamed back as it arrives);
 * - anything else → 404.
 *
 *   deno run --allow-ffi --allow-read --allow-env --allow-sys=uid examples/http_server.ts \
 *     --tap dtap0 --ip 198.18.0.2/24 [--port 80] [--seconds S]
 *
 * Configure the kernel side (`ip addr add 198.18.0.1/24 dev dtap0 && ip link set dtap0 up`), then
 * `curl http://198.18.0.2/bytes/1000000 | sha256sum`. Prints `listening on IP:PORT` once serving.
 *
 * @module
 */
import { Stack, StackError, type TcpConn, type TcpListenerConn } from "../mod.ts";
import { exampleArgs, tapDevice, untilStopped } from "./_args.ts";
import { lacking } from "./permissions.ts";

/** Longest request line plus headers we read. */
export const MAX_HEAD = 16 * 1024;
/** Largest `/bytes/N`. */
const MAX_BYTES = 2 ** 32;
const PATTERN = Uint8Array.from({ length: 251 * 256 }, (_, i) => i % 251);
const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** A parsed request head. */
export interface RequestHead {
  /** `GET`, `POST`, … */
  method: string;
  /** The request target, e.g. `/bytes/10`. */
  path: string;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: string;
  /** Header names lower-cased; the last value of a repeated header. */
  headers: Map<string, string>;
}

/**
 * Parses the head `text` (up to, not including, the blank line). Null when it is not a valid
 * HTTP/1.x request head.
 */
export function parseHead(text: string): RequestHead | null {
  const lines = text.split("\r\n");
  const m = /^([A-Z]{1,16}) (\/[^\s]*) (HTTP\/1\.[01])$/.exec(lines[0]);
  if (m === null) return null;
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const h = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(lines[i]);
    if (h === null) return null;
    headers.set(h[1].toLowerCase(), h[2]);
  }
  return { method: m[1], path: m[2], version: m[3], headers };
}

/** Buffered reading from a connection: request heads, then bodies. */
class Reader {
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  constructor(readonly conn: TcpConn) {}

  /** Reads more; false at the end of the stream. */
  async #fill(): Promise<boolean> {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    const n = await this.conn.read(this.#buf.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  /** The next head's text; null at a clean end of the stream; "too large" past MAX_HEAD; "eof" cut short. */
  async head(): Promise<string | null | "too large" | "eof"> {
    let scanned = 0; // bytes after #start already searched (#fill may move them)
    for (;;) {
      const b = this.#buf;
      for (let i = this.#start + Math.max(scanned, 3); i < this.#end; i++) {
        if (b[i] === 10 && b[i - 1] === 13 && b[i - 2] === 10 && b[i - 3] === 13) {
          const text = latin1.decode(b.subarray(this.#start, i - 3));
          this.#start = i + 1;
          return text;
        }
      }
      scanned = this.#end - this.#start;
      if (this.#end - this.#start > MAX_HEAD) return "too large";
      const had = this.#end - this.#start;
      if (!(await this.#fill())) return had === 0 ? null : "eof";
    }
  }

  /** Hands the next `n` body bytes to `sink` as they come; false when the stream ended first. */
  async body(n: number, sink: (b: Uint8Array) => Promise<unknown>): Promise<boolean> {
    while (n > 0) {
      if (this.#start === this.#end && !(await this.#fill())) return false;
      const take = Math.min(n, this.#end - this.#start);
      await sink(this.#buf.slice(this.#start, this.#start + take));
      this.#start += take;
      n -= take;
    }
    return true;
  }
}

function responseHead(status: string, length: number, close: boolean, type = "text/plain"): Uint8Array {
  return enc.encode(
    `HTTP/1.1 ${status}\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n` +
      `${close ? "Connection: close\r\n" : ""}\r\n`,
  );
}

async function sendText(conn: TcpConn, status: string, text: string, close: boolean): Promise<void> {
  const body = enc.encode(text);
  await conn.write(responseHead(status, body.length, close));
  await conn.write(body);
}

/**
 * Serves requests on `conn` until the peer closes (or asks to close), then closes. Resolves to the
 * number of requests answered.
 */
export async function serveHttp(conn: TcpConn): Promise<number> {
  const reader = new Reader(conn);
  let served = 0;
  try {
    for (;;) {
      const text = await reader.head();
      if (text === null || text === "eof") break;
      if (text === "too large") {
        await sendText(conn, "431 Request Header Fields Too Large", "request head too large\n", true);
        break;
      }
      const req = parseHead(text);
      if (req === null) {
        await sendText(conn, "400 Bad Request", "bad request\n", true);
        break;
      }
      const connection = (req.headers.get("connection") ?? "").toLowerCase();
      const close = connection === "close" || (req.version === "HTTP/1.0" && connection !== "keep-alive");
      if (req.headers.has("transfer-encoding")) {
        await sendText(conn, "501 Not Implemented", "chunked request bodies are not supported\n", true);
        break;
      }
      const cl = req.headers.get("content-length") ?? "0";
      if (!/^\d{1,15}$/.test(cl)) {
        await sendText(conn, "400 Bad Request", "bad Content-Length\n", true);
        break;
      }
      const length = Number(cl);
      if (length > 0 && req.headers.get("expect")?.toLowerCase() === "100-continue") {
        await conn.write(enc.encode("HTTP/1.1 100 Continue\r\n\r\n"));
      }
      const bytes = /^\/bytes\/(\d{1,10})$/.exec(req.path);
      let ok: boolean;
      if (req.method === "POST" && req.path === "/echo") {
        await conn.write(responseHead("200 OK", length, close, "application/octet-stream"));
        ok = await reader.body(length, (b) => conn.write(b));
      } else {
        ok = await reader.body(length, () => Promise.resolve()); // read and drop
        if (req.method === "GET" && req.path === "/") {
          await sendText(
            conn,
            "200 OK",
            "Hello from @melin/dpdk: HTTP over DPDK, TCP in TypeScript.\n",
            close,
          );
        } else if (req.method === "GET" && bytes !== null && Number(bytes[1]) <= MAX_BYTES) {
          const n = Number(bytes[1]);
          await conn.write(responseHead("200 OK", n, close, "application/octet-stream"));
          for (let left = n; left > 0; left -= PATTERN.length) {
            await conn.write(left >= PATTERN.length ? PATTERN : PATTERN.subarray(0, left));
          }
        } else {
          await sendText(conn, "404 Not Found", `no ${req.method} ${req.path} here\n`, close);
        }
      }
      served++;
      if (!ok || close) break;
    }
    await conn.closeWrite();
    // Wait for the peer's FIN (a client reading to the end closes after us), bounded by the linger.
    const drain = new Uint8Array(4096);
    while ((await conn.read(drain)) !== null) { /* drop */ }
  } catch (e) {
    if (!(e instanceof StackError)) throw e; // reset, timed out, closed: this connection is over
  } finally {
    conn.close();
  }
  return served;
}

/** Accepts connections until `listener` closes, serving each; resolves to [connections, requests]. */
export async function serveHttpListener(listener: TcpListenerConn): Promise<[number, number]> {
  let conns = 0;
  let requests = 0;
  for await (const conn of listener) {
    conns++;
    serveHttp(conn).then((n) => void (requests += n), (e) => console.error(`http_server: ${e}`));
  }
  return [conns, requests];
}

if (import.meta.main) {
  const args = exampleArgs("http_server", Deno.args, ["tap", "ip", "port", "seconds"], ["tap", "ip"]);
  const cannot = lacking([{ name: "ffi" }, { name: "read" }, { name: "env" }], true);
  if (cannot !== null) {
    console.error(`http_server ${cannot} (DPDK through FFI, and a tap interface)`);
    Deno.exit(2);
  }
  const stopped = untilStopped(args.seconds);
  await using stack = Stack.open({ device: tapDevice(args.tap!), ip: args.ip! });
  using listener = stack.listen({ port: args.port ?? 80 });
  stopped.addEventListener("abort", () => listener.close(), { once: true });
  console.log(`listening on ${stack.ip}:${listener.addr.port} (HTTP on ${args.tap}, mac ${stack.mac})`);
  const [conns] = await serveHttpListener(listener);
  console.log(`served ${conns} connections (${stopped.reason?.message})`);
}
