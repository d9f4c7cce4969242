/*
 * A crossed net_ring port pair for the TCP benchmark (bench/tcp_bench.ts): two
 * DPDK ports over two rings, port A's tx ring being port B's rx ring and the
 * other way round, so two interfaces in one process talk through real DPDK
 * ports. net_ring's devargs cannot express this (a port it creates from
 * devargs reads and writes the same rings, and an ATTACHed one shares them),
 * so the ports come from rte_eth_from_rings. Built as its own library, loaded
 * only by the benchmark.
 */
#include <stdint.h>
#include <stdio.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#define EXPORT __attribute__((visibility("default")))
#define MTB_PAIRS 16

/* [k][0]: A → B, [k][1]: B → A. Kept until mtb_ring_pair_free(k). */
static struct rte_ring *pair_rings[MTB_PAIRS][2];

/*
 * Creates pair `k` (0 … 15; names carry `k`, so each pair of a process has its
 * own) with rings of `size` entries (a power of two); writes the two port ids
 * to ports[0] (A) and ports[1] (B). Returns 0, or -1 (bad k, k in use, or
 * DPDK refused: rte_errno tells why).
 */
EXPORT int32_t mtb_ring_pair(uint32_t k, uint32_t size, int32_t *ports)
{
	char name[RTE_RING_NAMESIZE];
	if (k >= MTB_PAIRS || pair_rings[k][0] != NULL || pair_rings[k][1] != NULL)
		return -1;
	for (int d = 0; d < 2; d++) {
		snprintf(name, sizeof(name), "mtb_%s%u", d == 0 ? "ab" : "ba", k);
		pair_rings[k][d] = rte_ring_create(name, size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (pair_rings[k][d] == NULL)
			return -1;
	}
	snprintf(name, sizeof(name), "net_ring_mtba%u", k);
	ports[0] = rte_eth_from_rings(name, &pair_rings[k][1], 1, &pair_rings[k][0], 1, SOCKET_ID_ANY);
	snprintf(name, sizeof(name), "net_ring_mtbb%u", k);
	ports[1] = rte_eth_from_rings(name, &pair_rings[k][0], 1, &pair_rings[k][1], 1, SOCKET_ID_ANY);
	return ports[0] < 0 || ports[1] < 0 ? -1 : 0;
}

/* Frees pair `k`'s rings and the mbufs still on them (after both ports are closed). */
EXPORT void mtb_ring_pair_free(uint32_t k)
{
	if (k >= MTB_PAIRS)
		return;
	for (int d = 0; d < 2; d++) {
		struct rte_ring *r = pair_rings[k][d];
		void *m;
		if (r == NULL)
			continue;
		while (rte_ring_dequeue(r, &m) == 0)
			rte_pktmbuf_free((struct rte_mbuf *)m);
		rte_ring_free(r);
		pair_rings[k][d] = NULL;
	}
}
