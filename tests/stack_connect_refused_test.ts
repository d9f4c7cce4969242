/**
 * Stack.connect when the peer refuses the SYN before anyone waits on the connection: the runner's
 * first polls run synchronously inside Stack.connect (its loop spins while there is work), and the
 * kernel on a tap answers a write at once, so ARP reply, SYN, RST can all pass in those polls and
 * the socket is Closed ("Refused") when TcpConn.established() is first asked. Segment level: the
 * RST is fed to the socket before the TcpConn is made, as those polls would have.
 */
import assert from "node:assert/strict";
import { Runner, StackError, TcpConn } from "../mod.ts";
import { ACK, fixture, LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT } from "./_tcp_harness.ts";
import { TCP_RST } from "../src/net/wire/mod.ts";

Deno.test("TcpConn.established: a SYN refused before anyone waited rejects with ConnectionRefused", async () => {
  const f = fixture();
  f.s.connect(LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT, 0);
  f.iss = f.raw(0)[0].seq; // our SYN
  f.put(1, TCP_RST | ACK, 0, 1); // the kernel's answer to a port nobody listens on
  assert.equal(f.s.state, "Closed");
  assert.equal(f.s.closeReason, "Refused");
  using runner = new Runner({ poll: () => false });
  const conn = new TcpConn(f.s, { runner, forget: () => {} });
  await assert.rejects(conn.established(), (e) => {
    assert.ok(e instanceof StackError, String(e));
    assert.equal(e.kind, "ConnectionRefused");
    assert.match(e.message, /^Stack\.connect: 10\.0\.0\.2:49500 refused the connection/);
    return true;
  });
});
