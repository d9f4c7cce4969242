import { Eal, MbufBatch, Mempool, Port, Vdev } from "./mod.ts";
Eal.init(Eal.devOptions());
const pool = Mempool.create("prof");
const ring = Vdev.attach("net_ring0");
const port = Port.open(ring.portId, pool);
port.start();
const B = 32, N = 100000;
const tx = new MbufBatch(B), rx = new MbufBatch(B);
function t(name: string, f: (n: number) => void) {
  f(N / 10);
  f(N / 10);
  let b = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    f(N);
    b = Math.min(b, performance.now() - t0);
  }
  console.log(name.padEnd(30), (b * 1e6 / N / B).toFixed(2));
}
let sink = 0;
t("bulk alloc+free", (n) => {
  for (let r = 0; r < n; r++) {
    pool.allocBulk(tx, B);
    pool.freeBulk(tx);
  }
});
t("+ setDataLen", (n) => {
  for (let r = 0; r < n; r++) {
    pool.allocBulk(tx, B);
    for (let i = 0; i < B; i++) tx.setDataLen(i, 64);
    pool.freeBulk(tx);
  }
});
t("+ setDataLen + at write", (n) => {
  for (let r = 0; r < n; r++) {
    pool.allocBulk(tx, B);
    for (let i = 0; i < B; i++) {
      tx.setDataLen(i, 64);
      const p = tx.at(i);
      p.bytes[p.start] = i;
    }
    pool.freeBulk(tx);
  }
});
t("alloc tx rx free (no fill)", (n) => {
  for (let r = 0; r < n; r++) {
    pool.allocBulk(tx, B);
    port.txBurst(0, tx);
    port.rxBurst(0, rx);
    pool.freeBulk(rx);
  }
});
t("full", (n) => {
  let s = 0;
  for (let r = 0; r < n; r++) {
    pool.allocBulk(tx, B);
    for (let i = 0; i < B; i++) {
      tx.setDataLen(i, 64);
      const p = tx.at(i);
      p.bytes[p.start] = i;
    }
    port.txBurst(0, tx);
    port.rxBurst(0, rx);
    for (let i = 0; i < rx.length; i++) {
      const p = rx.at(i);
      s += p.bytes[p.start] + p.length;
    }
    pool.freeBulk(rx);
  }
  sink += s;
});
pool.allocBulk(tx, B);
t("setDataLen only (warm)", (n) => {
  for (let r = 0; r < n; r++) for (let i = 0; i < B; i++) tx.setDataLen(i, 64);
});
t("at only (warm)", (n) => {
  let s = 0;
  for (let r = 0; r < n; r++) for (let i = 0; i < B; i++) s += tx.at(i).start;
  sink += s;
});
t("dataLen only (warm)", (n) => {
  let s = 0;
  for (let r = 0; r < n; r++) for (let i = 0; i < B; i++) s += tx.dataLen(i);
  sink += s;
});
