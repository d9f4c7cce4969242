/*
 * C baselines for `deno task bench`: the same work as the TypeScript cases, with
 * DPDK's inline functions called directly. Built as its own library (not part
 * of the shim) and loaded into the benchmark process, so both sides run on the
 * same EAL, pool, thread and lcore cache. Each function runs `iters` rounds
 * and returns the elapsed nanoseconds.
 */
#include <stdint.h>
#include <time.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

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
