/*
 * C baselines for `deno task bench`: the same work as the TypeScript cases, with
 * DPDK's inline functions called directly. Built as its own library (not part
 * of the shim) and loaded into the benchmark process, so both sides run on the
 * same EAL, pool, thread and lcore cache. Each function runs `iters` rounds
 * and returns the elapsed nanoseconds.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#define EXPORT __attribute__((visibility("default")))
#define POOL(a) ((struct rte_mempool *)(uintptr_t)(a))

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One mbuf out and back, `iters` times. */
EXPORT double mdb_alloc_free(double mp, uint32_t iters)
{
	double t0 = now_ns();
	for (uint32_t i = 0; i < iters; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(POOL(mp));
		if (m == NULL)
			return -1;
		rte_pktmbuf_free(m);
	}
	return now_ns() - t0;
}

/* `burst` mbufs out and back in one bulk call each, `iters` times. */
EXPORT double mdb_bulk(double mp, uint32_t iters, uint32_t burst)
{
	struct rte_mbuf *mbufs[512];
	if (burst > 512)
		return -1;
	double t0 = now_ns();
	for (uint32_t i = 0; i < iters; i++) {
		if (rte_pktmbuf_alloc_bulk(POOL(mp), mbufs, burst) != 0)
			return -1;
		rte_pktmbuf_free_bulk(mbufs, burst);
	}
	return now_ns() - t0;
}

/* Walk n mbufs: read each one's length and touch its first data byte. */
EXPORT double mdb_walk(const uint64_t *arr, uint32_t n, uint32_t iters, uint64_t *sum_out)
{
	uint64_t sum = 0;
	double t0 = now_ns();
	for (uint32_t i = 0; i < iters; i++) {
		for (uint32_t j = 0; j < n; j++) {
			struct rte_mbuf *m = (struct rte_mbuf *)(uintptr_t)arr[j];
			uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
			p[0]++;
			sum += m->data_len;
		}
		/* keep the compiler from merging rounds */
		__asm__ volatile("" ::: "memory");
	}
	*sum_out = sum;
	return now_ns() - t0;
}

/* One burst round trip through a loopback port (net_ring): allocate `burst`
 * mbufs, give each `len` bytes and write its first byte, send them, receive
 * them back, read each first byte, free them. */
EXPORT double mdb_ring_burst(uint16_t port, double mp, uint32_t iters, uint32_t burst, uint32_t len,
			     uint64_t *sum_out)
{
	struct rte_mbuf *tx[512], *rx[512];
	uint64_t sum = 0;
	if (burst > 512)
		return -1;
	double t0 = now_ns();
	for (uint32_t i = 0; i < iters; i++) {
		if (rte_pktmbuf_alloc_bulk(POOL(mp), tx, burst) != 0)
			return -1;
		for (uint32_t j = 0; j < burst; j++) {
			uint8_t *p = (uint8_t *)rte_pktmbuf_append(tx[j], (uint16_t)len);
			p[0] = (uint8_t)j;
		}
		uint16_t sent = rte_eth_tx_burst(port, 0, tx, (uint16_t)burst);
		if (sent < burst)
			rte_pktmbuf_free_bulk(tx + sent, burst - sent);
		uint16_t got = rte_eth_rx_burst(port, 0, rx, (uint16_t)burst);
		for (uint16_t j = 0; j < got; j++)
			sum += rte_pktmbuf_mtod(rx[j], uint8_t *)[0] + rx[j]->data_len;
		rte_pktmbuf_free_bulk(rx, got);
	}
	*sum_out = sum;
	return now_ns() - t0;
}

/*
 * The far end of a wire for the stack benchmark: a net_ring port whose rx
 * queue reads `wire_in` and whose tx queue writes `wire_out`, two rings this
 * file holds the other ends of. The peer (C, playing the NIC and the remote
 * host) puts request frames on `wire_in` and takes the port's frames off
 * `wire_out`, so the stack's replies leave instead of looping back to it.
 */
static struct rte_ring *wire_in, *wire_out;
static uint8_t wire_frame[2048];
static uint32_t wire_frame_len;

/* Creates the rings and the port (names suffixed with `k`: one wire at a time,
 * but each under its own names); returns the port id, or -1. */
EXPORT int32_t mdb_wire_port(uint32_t k)
{
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "mdb_wire_in%u", k);
	wire_in = rte_ring_create(name, 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "mdb_wire_out%u", k);
	wire_out = rte_ring_create(name, 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (wire_in == NULL || wire_out == NULL)
		return -1;
	snprintf(name, sizeof(name), "net_ring_wire%u", k);
	return rte_eth_from_rings(name, &wire_in, 1, &wire_out, 1, SOCKET_ID_ANY);
}

/* Frees the rings (after the port is closed). */
EXPORT void mdb_wire_free(void)
{
	rte_ring_free(wire_in);
	rte_ring_free(wire_out);
	wire_in = wire_out = NULL;
}

/* The frame the peer sends. */
EXPORT int32_t mdb_wire_set_frame(const uint8_t *frame, uint32_t len)
{
	if (len > sizeof(wire_frame))
		return -1;
	memcpy(wire_frame, frame, len);
	wire_frame_len = len;
	return 0;
}

/* Puts `n` copies of the frame on the wire; returns how many went. */
EXPORT uint32_t mdb_wire_send(double mp, uint32_t n)
{
	struct rte_mbuf *m[512];
	if (n > 512 || rte_pktmbuf_alloc_bulk(POOL(mp), m, n) != 0)
		return 0;
	for (uint32_t j = 0; j < n; j++)
		memcpy(rte_pktmbuf_append(m[j], (uint16_t)wire_frame_len), wire_frame, wire_frame_len);
	uint32_t q = rte_ring_enqueue_burst(wire_in, (void **)m, n, NULL);
	if (q < n)
		rte_pktmbuf_free_bulk(m + q, n - q);
	return q;
}

/* Takes every frame the port sent off the wire and frees it; returns how many
 * were echoes of the peer's frame: same length, addresses and ports swapped,
 * same payload. */
EXPORT uint32_t mdb_wire_receive(void)
{
	struct rte_mbuf *m[512];
	uint32_t echoes = 0;
	uint32_t got = rte_ring_dequeue_burst(wire_out, (void **)m, 512, NULL);
	const uint8_t *f = wire_frame;
	for (uint32_t j = 0; j < got; j++) {
		const uint8_t *p = rte_pktmbuf_mtod(m[j], const uint8_t *);
		if (m[j]->data_len == wire_frame_len && wire_frame_len >= 42 &&
		    memcmp(p, f + 6, 6) == 0 && memcmp(p + 26, f + 30, 4) == 0 && memcmp(p + 30, f + 26, 4) == 0 &&
		    memcmp(p + 34, f + 36, 2) == 0 && memcmp(p + 36, f + 34, 2) == 0 &&
		    memcmp(p + 42, f + 42, wire_frame_len - 42) == 0)
			echoes++;
	}
	rte_pktmbuf_free_bulk(m, got);
	return echoes;
}
