/*
 * Mbufs: DPDK's inline mbuf operations as plain functions, copy-and-checksum,
 * TX checksum requests, and batches (the hot path: bursts, bulk alloc/free).
 */
#include "shim.h"

/* ---- Mbufs ------------------------------------------------------------
 *
 * Hot-path functions pass addresses as doubles. Deno returns 64-bit integers
 * as BigInt (a heap allocation per call) and pointers as objects; a double is
 * a plain JS number, exact for every user-space address (< 2^53), and both
 * take V8's fast-call path. Batches pass a uint64_t array instead.
 */

MDP_EXPORT double mdp_addr_of(const void *p) { return ADDR(p); }

/* rte_pktmbuf_alloc: one mbuf, reset, or 0 when the pool is empty. */
MDP_EXPORT double mdp_pktmbuf_alloc(double mp)
{
	return ADDR(rte_pktmbuf_alloc((struct rte_mempool *)(uintptr_t)mp));
}

/* rte_pktmbuf_free: the whole chain; honours reference counts. */
MDP_EXPORT void mdp_pktmbuf_free(double m) { rte_pktmbuf_free(MBUF(m)); }

MDP_EXPORT void mdp_pktmbuf_reset(double m) { rte_pktmbuf_reset(MBUF(m)); }

/* The editing operations return the address of the start of the affected data
 * (appended region, new data start) or 0 when out of bounds, as DPDK does. */
MDP_EXPORT double mdp_pktmbuf_append(double m, uint32_t len)
{
	return len > UINT16_MAX ? 0 : ADDR(rte_pktmbuf_append(MBUF(m), (uint16_t)len));
}
MDP_EXPORT double mdp_pktmbuf_prepend(double m, uint32_t len)
{
	return len > UINT16_MAX ? 0 : ADDR(rte_pktmbuf_prepend(MBUF(m), (uint16_t)len));
}
MDP_EXPORT double mdp_pktmbuf_adj(double m, uint32_t len)
{
	return len > UINT16_MAX ? 0 : ADDR(rte_pktmbuf_adj(MBUF(m), (uint16_t)len));
}
/* 0 on success, -1 when len exceeds the last segment's data. */
MDP_EXPORT int32_t mdp_pktmbuf_trim(double m, uint32_t len)
{
	return len > UINT16_MAX ? -1 : rte_pktmbuf_trim(MBUF(m), (uint16_t)len);
}

/* rte_pktmbuf_chain: 0, or -EOVERFLOW when the chain would exceed
 * RTE_MBUF_MAX_NB_SEGS segments. */
MDP_EXPORT int32_t mdp_pktmbuf_chain(double head, double tail)
{
	return rte_pktmbuf_chain(MBUF(head), MBUF(tail));
}

/* Copies len bytes at packet offset off (across segments) into out, as DPDK
 * sees them (rte_pktmbuf_read). Returns 0, or -1 when out of range. */
MDP_EXPORT int32_t mdp_pktmbuf_read(double m, uint32_t off, uint32_t len, uint8_t *out)
{
	const void *p = rte_pktmbuf_read(MBUF(m), off, len, out);
	if (p == NULL)
		return -1;
	if (p != out)
		memcpy(out, p, len);
	return 0;
}

/* Byte offsets of the struct rte_mbuf fields TypeScript reads in place, so the
 * layout comes from the headers DPDK was built with, not from a copy in TS.
 * Fills out[0..11]; returns the number of entries. */
MDP_EXPORT uint32_t mdp_mbuf_layout(int32_t *out)
{
	out[0] = (int32_t)offsetof(struct rte_mbuf, buf_addr);
	out[1] = (int32_t)offsetof(struct rte_mbuf, data_off);
	out[2] = (int32_t)offsetof(struct rte_mbuf, refcnt);
	out[3] = (int32_t)offsetof(struct rte_mbuf, nb_segs);
	out[4] = (int32_t)offsetof(struct rte_mbuf, port);
	out[5] = (int32_t)offsetof(struct rte_mbuf, pkt_len);
	out[6] = (int32_t)offsetof(struct rte_mbuf, data_len);
	out[7] = (int32_t)offsetof(struct rte_mbuf, buf_len);
	out[8] = (int32_t)offsetof(struct rte_mbuf, pool);
	out[9] = (int32_t)offsetof(struct rte_mbuf, next);
	out[10] = (int32_t)sizeof(struct rte_mbuf);
	out[11] = (int32_t)offsetof(struct rte_mbuf, ol_flags);
	return 12;
}

/* rte_pktmbuf_copy: a deep copy of [off, off+len) of m (all segments) into
 * new mbufs from mp; 0 when mp is exhausted or the range is invalid. */
MDP_EXPORT double mdp_pktmbuf_copy(double m, double mp, uint32_t off, uint32_t len)
{
	return ADDR(rte_pktmbuf_copy(MBUF(m), (struct rte_mempool *)(uintptr_t)mp, off, len));
}

/* Copies n bytes from src to dst (addresses; non-overlapping) and returns
 * their sum as 16-bit big-endian words, folded to 16 bits and not complemented:
 * the payload's share of a UDP or TCP checksum. rte_raw_cksum sums in memory
 * order; the result is swapped to the numeric (big-endian) form the TypeScript
 * checksum code works in. A JS loop costs about a nanosecond per four bytes.
 * O3 lets GCC vectorize rte_raw_cksum's loop: 1472 bytes take 58 ns instead of
 * 208 at O2. */
__attribute__((optimize("O3"))) MDP_EXPORT uint32_t mdp_copy_cksum(double dst, double src, uint32_t n)
{
	uint8_t *d = (uint8_t *)(uintptr_t)dst;
	rte_memcpy(d, (const uint8_t *)(uintptr_t)src, n);
	return rte_be_to_cpu_16(rte_raw_cksum(d, n));
}

/* Requests TX checksum offload for an IPv4 packet whose L2 header is l2_len
 * bytes and IPv4 header l3_len bytes: sets ol_flags, l2_len and l3_len, zeroes
 * the IPv4 checksum, and for UDP/TCP (l4: 17 or 6) writes the pseudo-header
 * checksum the driver expects (rte_ipv4_phdr_cksum). Returns 0, or -1 when the
 * headers are not in the first segment. */
MDP_EXPORT int32_t mdp_mbuf_tx_cksum_ipv4(double m, uint32_t l2_len, uint32_t l3_len, uint32_t l4)
{
	struct rte_mbuf *mb = MBUF(m);
	uint32_t l4_hdr = l4 == 17 ? 8 : l4 == 6 ? 20 : 0;
	if (mb->data_len < l2_len + l3_len + l4_hdr || l3_len < 20)
		return -1;
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(mb, struct rte_ipv4_hdr *, l2_len);
	mb->l2_len = l2_len;
	mb->l3_len = l3_len;
	mb->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	ip->hdr_checksum = 0;
	if (l4 == 17) {
		mb->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)((uint8_t *)ip + l3_len);
		udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, mb->ol_flags);
	} else if (l4 == 6) {
		mb->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
		struct rte_tcp_hdr *tcp = (struct rte_tcp_hdr *)((uint8_t *)ip + l3_len);
		tcp->cksum = rte_ipv4_phdr_cksum(ip, mb->ol_flags);
	}
	return 0;
}

/* ---- Batches -----------------------------------------------------------
 *
 * An MbufBatch is one memory block, passed by address (a double) so that no
 * FFI call marshals a typed array (each one costs several ns):
 *   uint64_t  mbuf[cap]     the mbuf pointers
 *   int32_t   hdr[cap]      layout columns (below)
 *   int32_t   start[cap]
 *   uint16_t  dlen[cap]
 *
 * TypeScript reads packet bytes through one ArrayBuffer per pool memory chunk.
 * Finding each packet's place from JS costs more than the DPDK work (address
 * arithmetic on doubles), so C writes, per mbuf, where its header and data sit
 * relative to `base` (a chunk start), and its data length. Entries outside
 * [base, base + base_len) get -1 and are located from TS.
 */
struct batch {
	struct rte_mbuf **m;
	int32_t *hdr;
	int32_t *start;
	uint16_t *dlen;
};

static inline struct batch batch_at(double addr, uint32_t cap)
{
	struct batch b;
	b.m = (struct rte_mbuf **)(uintptr_t)addr;
	b.hdr = (int32_t *)(b.m + cap);
	b.start = b.hdr + cap;
	b.dlen = (uint16_t *)(b.start + cap);
	return b;
}

static inline void describe(const struct batch *b, uint32_t off, uint32_t n, uintptr_t base, uintptr_t len)
{
	for (uint32_t j = off; j < off + n; j++) {
		struct rte_mbuf *m = b->m[j];
		uintptr_t h = (uintptr_t)m - base;
		uintptr_t d = (uintptr_t)rte_pktmbuf_mtod(m, uint8_t *) - base;
		int in = h < len && d < len;
		b->hdr[j] = in ? (int32_t)h : -1;
		b->start[j] = in ? (int32_t)d : -1;
		b->dlen[j] = m->data_len;
	}
}

/* Describes entries [off, off+n) against the chunk at base (base_len bytes). */
MDP_EXPORT void mdp_batch_describe(double batch, uint32_t cap, uint32_t off, uint32_t n, double base,
				   uint32_t base_len)
{
	struct batch b = batch_at(batch, cap);
	describe(&b, off, n, (uintptr_t)base, base_len);
}

/* rte_pktmbuf_alloc_bulk into entries [off, off+n), each mbuf given data_len
 * bytes when data_len > 0 (what rte_pktmbuf_append does to a fresh mbuf; the
 * caller checks that it fits), then described when base_len > 0. All or
 * nothing: 0 or -ENOENT. */
MDP_EXPORT int32_t mdp_batch_alloc(double mp, double batch, uint32_t cap, uint32_t off, uint32_t n,
				   uint32_t data_len, double base, uint32_t base_len)
{
	struct batch b = batch_at(batch, cap);
	int rc = rte_pktmbuf_alloc_bulk((struct rte_mempool *)(uintptr_t)mp, b.m + off, n);
	if (rc != 0)
		return rc;
	if (data_len > 0)
		for (uint32_t j = off; j < off + n; j++)
			b.m[j]->data_len = (uint16_t)(b.m[j]->pkt_len = data_len);
	if (base_len > 0)
		describe(&b, off, n, (uintptr_t)base, base_len);
	return 0;
}

/* rte_pktmbuf_free_bulk of entries [off, off+n). */
MDP_EXPORT void mdp_batch_free(double batch, uint32_t off, uint32_t n)
{
	rte_pktmbuf_free_bulk((struct rte_mbuf **)(uintptr_t)batch + off, n);
}

/* rte_eth_rx_burst into entries [off, cap), described when base_len > 0.
 * Returns the number received. */
MDP_EXPORT uint32_t mdp_batch_rx(uint16_t port, uint16_t queue, double batch, uint32_t cap, uint32_t off, double base,
				 uint32_t base_len)
{
	struct batch b = batch_at(batch, cap);
	uint16_t got = rte_eth_rx_burst(port, queue, b.m + off, (uint16_t)(cap - off));
	if (base_len > 0)
		describe(&b, off, got, (uintptr_t)base, base_len);
	return got;
}

/* rte_eth_tx_burst of entries [0, n); returns the number the driver took. */
MDP_EXPORT uint32_t mdp_batch_tx(uint16_t port, uint16_t queue, double batch, uint32_t n)
{
	return rte_eth_tx_burst(port, queue, (struct rte_mbuf **)(uintptr_t)batch, (uint16_t)n);
}

/* Sets data_len and pkt_len of entries [0, n) from the dlen column, then
 * rte_eth_tx_burst of them: for a sender that filled single-segment mbufs and
 * wrote their lengths into the column (one store each from TypeScript instead
 * of a header update). Chained mbufs keep their lengths. The caller checks
 * that each length fits its mbuf. */
MDP_EXPORT uint32_t mdp_batch_tx_sized(uint16_t port, uint16_t queue, double batch, uint32_t cap, uint32_t n)
{
	struct batch b = batch_at(batch, cap);
	for (uint32_t j = 0; j < n; j++) {
		struct rte_mbuf *m = b.m[j];
		if (m->nb_segs == 1)
			m->data_len = (uint16_t)(m->pkt_len = b.dlen[j]);
	}
	return rte_eth_tx_burst(port, queue, b.m, (uint16_t)n);
}

/* Moves entries [from, len) to [to, ...) in every column (to < from). */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) static void
batch_move(const struct batch *b, uint32_t to, uint32_t from, uint32_t len)
{
	for (uint32_t i = to, j = from; j < len; i++, j++) {
		b->m[i] = b->m[j];
		b->hdr[i] = b->hdr[j];
		b->start[i] = b->start[j];
		b->dlen[i] = b->dlen[j];
	}
}

/* The bit mdp_batch_tx_refill sets in its result when the refill failed. */
#define MDP_REFILL_FAILED 0x10000u

/* One call per flush for a sender that keeps spare mbufs in its batch: sets
 * data_len and pkt_len of entries [0, n) from the dlen column (single-segment
 * mbufs, as mdp_batch_tx_sized) and sends them. The entries left move to the
 * front: when all n went out, the last spares fill the n freed places (spares
 * are interchangeable, so at burst 1 one entry moves, not a burst's worth);
 * otherwise entries [sent, len) move in order, the unsent first. Then, when
 * fewer than fill_to remain, the rest are allocated from mp (each given
 * data_len bytes) and described against base. Returns the number sent, |
 * MDP_REFILL_FAILED when the pool had too few mbufs (nothing allocated then).
 * The caller checks n <= len <= cap, fill_to <= cap and data_len against the
 * data room. */
MDP_EXPORT uint32_t mdp_batch_tx_refill(uint16_t port, uint16_t queue, double batch, uint32_t cap, uint32_t n,
					uint32_t len, double mp, uint32_t fill_to, uint32_t data_len, double base,
					uint32_t base_len)
{
	struct batch b = batch_at(batch, cap);
	for (uint32_t j = 0; j < n; j++) {
		struct rte_mbuf *m = b.m[j];
		if (m->nb_segs == 1)
			m->data_len = (uint16_t)(m->pkt_len = b.dlen[j]);
	}
	uint32_t sent = n > 0 ? rte_eth_tx_burst(port, queue, b.m, (uint16_t)n) : 0;
	if (sent == n) {
		uint32_t k = len - n < n ? len - n : n;
		batch_move(&b, 0, len - k, len);
	} else {
		batch_move(&b, 0, sent, len);
	}
	len -= sent;
	if (fill_to <= len)
		return sent;
	/* Through mdp_batch_alloc: a second call site of rte_pktmbuf_alloc_bulk
	 * makes gcc stop inlining it there, which costs the bulk alloc ≈ 10 ns. */
	if (mdp_batch_alloc(mp, batch, cap, len, fill_to - len, data_len, base, base_len) != 0)
		return sent | MDP_REFILL_FAILED;
	return sent;
}

/* One call per poll for a receiver that keeps its last burst until the next:
 * rte_pktmbuf_free_bulk of entries [0, free_n) (the whole batch: the caller
 * checks), then rte_eth_rx_burst into [0, cap), described against base.
 * Returns the number received. */
MDP_EXPORT uint32_t mdp_batch_free_rx(uint16_t port, uint16_t queue, double batch, uint32_t cap, uint32_t free_n,
				      double base, uint32_t base_len)
{
	struct batch b = batch_at(batch, cap);
	if (free_n > 0)
		rte_pktmbuf_free_bulk(b.m, free_n);
	uint16_t got = rte_eth_rx_burst(port, queue, b.m, (uint16_t)cap);
	describe(&b, 0, got, (uintptr_t)base, base_len);
	return got;
}
