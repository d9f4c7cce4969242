/*
 * Mbufs: DPDK's inline mbuf operations as plain functions, copy-and-checksum,
 * TX checksum requests, and batches (the hot path: bursts, bulk alloc/free).
 */
#include "shim.h"

#include <immintrin.h>

/* ---- Mbufs ------------------------------------------------------------
 *
 * Hot-path functions pass addresses as doubles. Deno returns 64-bit integers
 * as BigInt (a heap allocation per call) and pointers as objects; a double is
 * a plain JS number, exact for every user-space address (< 2^53), and both
 * take V8's fast-call path. Batches pass a uint64_t array instead.
 */

MDP_EXPORT double mdp_addr_of(const void *p) { return ADDR(p); }

/* rte_pktmbuf_alloc: one mbuf, reset, or 0 when the pool is empty. Written
 * out as DPDK's inline functions do it (rte_mbuf_raw_alloc is
 * rte_mempool_generic_get of one object with the lcore's default cache, then
 * rte_pktmbuf_reset), with the lcore id from mdp_lcore(). (int64_t): a
 * user-space address is below 2^63, and the unsigned conversion of a double
 * costs a compare and a branch. */
MDP_EXPORT double mdp_pktmbuf_alloc(double mp)
{
	struct rte_mempool *p = (struct rte_mempool *)(uintptr_t)(int64_t)mp;
	void *m;
	if (rte_mempool_generic_get(p, &m, 1, rte_mempool_default_cache(p, mdp_lcore())) < 0)
		return 0;
	__rte_mbuf_raw_sanity_check((struct rte_mbuf *)m);
	rte_pktmbuf_reset((struct rte_mbuf *)m);
	return ADDR(m);
}

/* rte_pktmbuf_free: the whole chain; honours reference counts. As DPDK's
 * rte_pktmbuf_free (rte_pktmbuf_prefree_seg per segment, then
 * rte_mbuf_raw_free: rte_mempool_put into its pool through the lcore's default
 * cache), with the lcore id from mdp_lcore(). */
MDP_EXPORT void mdp_pktmbuf_free(double a)
{
	struct rte_mbuf *m = (struct rte_mbuf *)(uintptr_t)(int64_t)a;
	unsigned lc = mdp_lcore();
	if (m != NULL)
		__rte_mbuf_sanity_check(m, 1);
	while (m != NULL) {
		struct rte_mbuf *next = m->next;
		m = rte_pktmbuf_prefree_seg(m);
		if (likely(m != NULL)) {
			__rte_mbuf_raw_sanity_check(m);
			rte_mempool_generic_put(m->pool, (void **)&m, 1, rte_mempool_default_cache(m->pool, lc));
		}
		m = next;
	}
}

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

/* ---- Copy and checksum --------------------------------------------------
 *
 * The payload's share of a UDP or TCP checksum: the sum of its bytes as 16-bit
 * big-endian words counted from its first byte (an odd last byte padded with
 * zero), folded to 16 bits and not complemented, the numeric form the
 * TypeScript checksum code works in (src/net/wire/checksum.ts).
 *
 * One pass: each block is loaded once, stored to the destination and added to
 * wide accumulators. The sum is taken in memory order (little-endian words,
 * like rte_raw_cksum) and byte-swapped at the end; a one's-complement sum does
 * not depend on byte order (RFC 1071 2(B)). Any exact sum of chunks whose
 * values are congruent to their words' sum modulo 0xffff folds to the same
 * 16 bits (2^16 = 1 modulo 0xffff, and a sum is 0 only when every byte is), so
 * the tail may add 32-bit chunks and the vector loops pairs of words.
 *
 * The two-pass form this replaces (rte_memcpy, then rte_raw_cksum over the
 * copy, at O3) took about 0.13 ns a byte for the sum alone.
 */

/* The block loops add 16-bit words in pairs into signed 32-bit lanes with
 * pmaddwd (multiply by 1 and add neighbours: one instruction where masking,
 * shifting and adding take three). pmaddwd's words are signed, so each is
 * flipped by 0x8000 first: every word then counts 0x8000 less, which the total
 * adds back (0x8000 for each of a block's 32 words). A lane takes a value in
 * [-0x10000, 0xfffe] per 64-byte block, so 16384 blocks keep it within
 * ±2^30; the loops add their lanes to the 64-bit total at least that often. */
#define SUM_BLOCKS_MAX 16384
#define SUM_FLIP_PER_BLOCK ((int64_t)32 * 0x8000)

/* The words' sum of s[0 .. n), n < 64, eight bytes a step. */
static inline __attribute__((always_inline)) uint64_t sum_tail(uint8_t *d, const uint8_t *s, size_t n, int copy)
{
	uint64_t total = 0;
	for (; n >= 8; n -= 8, s += 8, d += 8) {
		uint64_t w;
		__builtin_memcpy(&w, s, 8);
		if (copy)
			__builtin_memcpy(d, &w, 8);
		total += (w & 0xffffffff) + (w >> 32);
	}
	if (n >= 4) {
		uint32_t w;
		__builtin_memcpy(&w, s, 4);
		if (copy)
			__builtin_memcpy(d, &w, 4);
		total += w;
		s += 4;
		d += 4;
		n -= 4;
	}
	if (n >= 2) {
		uint16_t w;
		__builtin_memcpy(&w, s, 2);
		if (copy)
			__builtin_memcpy(d, &w, 2);
		total += w;
		s += 2;
		d += 2;
		n -= 2;
	}
	if (n == 1) {
		if (copy)
			*d = *s;
		total += *s; /* the low byte of a little-endian word: the high byte once swapped */
	}
	return total;
}

/* The sum of the signed 32-bit lanes of a vector of type V. */
#define LANES_TOTAL(V, v)                                                      \
	({                                                                     \
		int32_t l_[sizeof(V) / 4];                                     \
		int64_t t_ = 0;                                                \
		__builtin_memcpy(l_, &(v), sizeof(V));                         \
		for (unsigned i_ = 0; i_ < sizeof(V) / 4; i_++)                \
			t_ += l_[i_];                                          \
		t_;                                                            \
	})

/* The words' sum of s[0 .. n) (memory order, not folded), copied to d when
 * copy is set; inlined into the entries below with copy constant. The AVX2
 * form takes a 64-byte block as two 32-byte vectors, the baseline (SSE2) as
 * four 16-byte ones, each into an accumulator of its own. */
__attribute__((target("avx2,tune=haswell"))) static inline __attribute__((always_inline)) uint64_t
sum_body_avx2(uint8_t *d, const uint8_t *s, size_t n, int copy)
{
	const __m256i flip = _mm256_set1_epi16((short)0x8000), one = _mm256_set1_epi16(1);
	uint64_t total = 0;
	while (n >= 64) {
		size_t blocks = n / 64 < SUM_BLOCKS_MAX ? n / 64 : SUM_BLOCKS_MAX;
		__m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();
		for (size_t k = 0; k < blocks; k++, s += 64, d += 64) {
			__m256i x = _mm256_loadu_si256((const __m256i *)s);
			__m256i y = _mm256_loadu_si256((const __m256i *)(s + 32));
			if (copy) {
				_mm256_storeu_si256((__m256i *)d, x);
				_mm256_storeu_si256((__m256i *)(d + 32), y);
			}
			a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_xor_si256(x, flip), one));
			b = _mm256_add_epi32(b, _mm256_madd_epi16(_mm256_xor_si256(y, flip), one));
		}
		n -= blocks * 64;
		total += (uint64_t)(LANES_TOTAL(__m256i, a) + LANES_TOTAL(__m256i, b) +
				    (int64_t)blocks * SUM_FLIP_PER_BLOCK);
	}
	return total + sum_tail(d, s, n, copy);
}

static inline __attribute__((always_inline)) uint64_t sum_body_base(uint8_t *d, const uint8_t *s, size_t n,
								      int copy)
{
	const __m128i flip = _mm_set1_epi16((short)0x8000), one = _mm_set1_epi16(1);
	uint64_t total = 0;
	while (n >= 64) {
		size_t blocks = n / 64 < SUM_BLOCKS_MAX ? n / 64 : SUM_BLOCKS_MAX;
		__m128i a = _mm_setzero_si128(), b = a, c = a, e = a;
		for (size_t k = 0; k < blocks; k++, s += 64, d += 64) {
			__m128i w = _mm_loadu_si128((const __m128i *)s);
			__m128i x = _mm_loadu_si128((const __m128i *)(s + 16));
			__m128i y = _mm_loadu_si128((const __m128i *)(s + 32));
			__m128i z = _mm_loadu_si128((const __m128i *)(s + 48));
			if (copy) {
				_mm_storeu_si128((__m128i *)d, w);
				_mm_storeu_si128((__m128i *)(d + 16), x);
				_mm_storeu_si128((__m128i *)(d + 32), y);
				_mm_storeu_si128((__m128i *)(d + 48), z);
			}
			a = _mm_add_epi32(a, _mm_madd_epi16(_mm_xor_si128(w, flip), one));
			b = _mm_add_epi32(b, _mm_madd_epi16(_mm_xor_si128(x, flip), one));
			c = _mm_add_epi32(c, _mm_madd_epi16(_mm_xor_si128(y, flip), one));
			e = _mm_add_epi32(e, _mm_madd_epi16(_mm_xor_si128(z, flip), one));
		}
		n -= blocks * 64;
		total += (uint64_t)(LANES_TOTAL(__m128i, a) + LANES_TOTAL(__m128i, b) + LANES_TOTAL(__m128i, c) +
				    LANES_TOTAL(__m128i, e) + (int64_t)blocks * SUM_FLIP_PER_BLOCK);
	}
	return total + sum_tail(d, s, n, copy);
}

/* The fold to 16 bits and the swap to the numeric (big-endian) form. */
static inline uint32_t sum_finish(uint64_t t)
{
	t = (t & 0xffffffff) + (t >> 32);
	t = (t & 0xffffffff) + (t >> 32);
	t = (t & 0xffff) + (t >> 16);
	t = (t & 0xffff) + (t >> 16);
	t = (t & 0xffff) + (t >> 16);
	return (uint32_t)(((t & 0xff) << 8) | (t >> 8));
}

/* Each body twice, with and without the copy. The sum-only forms pass src as
 * the destination they never write. tune=haswell: with the package's
 * -march=corei7 tuning GCC splits each unaligned 32-byte load and store in two. */
__attribute__((target("avx2,tune=haswell"))) static uint64_t copy_sum_avx2(uint8_t *d, const uint8_t *s, size_t n)
{
	return sum_body_avx2(d, s, n, 1);
}
__attribute__((target("avx2,tune=haswell"))) static uint64_t sum_avx2(const uint8_t *s, size_t n)
{
	return sum_body_avx2((uint8_t *)(uintptr_t)s, s, n, 0);
}
static uint64_t copy_sum_base(uint8_t *d, const uint8_t *s, size_t n) { return sum_body_base(d, s, n, 1); }
static uint64_t sum_base(const uint8_t *s, size_t n) { return sum_body_base((uint8_t *)(uintptr_t)s, s, n, 0); }

/* The AVX2 forms when the CPU has AVX2, chosen once when the library loads. */
static uint64_t (*copy_sum_impl)(uint8_t *, const uint8_t *, size_t) = copy_sum_base;
static uint64_t (*sum_impl)(const uint8_t *, size_t) = sum_base;
static int32_t copy_sum_level;

__attribute__((constructor)) static void copy_sum_select(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2")) {
		copy_sum_impl = copy_sum_avx2;
		sum_impl = sum_avx2;
		copy_sum_level = 2;
	}
}

#define PTR(a) ((uint8_t *)(uintptr_t)(a))

/* Copies n bytes from src to dst (addresses; non-overlapping) and returns
 * their sum (see above). Any alignment, any length. */
MDP_EXPORT uint32_t mdp_copy_cksum(double dst, double src, uint32_t n)
{
	return sum_finish(copy_sum_impl(PTR(dst), PTR(src), n));
}

/* The sum of n bytes at src, as mdp_copy_cksum returns it, without a copy. */
MDP_EXPORT uint32_t mdp_cksum(double src, uint32_t n) { return sum_finish(sum_impl(PTR(src), n)); }

/* Copies n bytes from src to dst (addresses; the ranges may overlap): a copy
 * whose sum nobody needs, without making JS objects for it. */
MDP_EXPORT void mdp_copy(double dst, double src, uint32_t n) { memmove(PTR(dst), PTR(src), n); }

/* Which form mdp_copy_cksum and mdp_cksum use: 2 for AVX2, 0 for the baseline. */
MDP_EXPORT int32_t mdp_copy_cksum_level(void) { return copy_sum_level; }

/* The baseline forms whatever the CPU has, so a test checks both on one machine. */
MDP_EXPORT uint32_t mdp_copy_cksum_base(double dst, double src, uint32_t n)
{
	return sum_finish(copy_sum_base(PTR(dst), PTR(src), n));
}
MDP_EXPORT uint32_t mdp_cksum_base(double src, uint32_t n) { return sum_finish(sum_base(PTR(src), n)); }

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

/* rte_pktmbuf_alloc_bulk written out (rte_mempool_generic_get of n objects
 * with the lcore's default cache, then rte_pktmbuf_reset of each), with the
 * lcore id from mdp_lcore(): DPDK's reads rte_lcore_id() through
 * __tls_get_addr from this dlopened library. 0 or -ENOENT (nothing taken). */
static inline int alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **ms, uint32_t n)
{
	int rc = rte_mempool_generic_get(mp, (void **)ms, n, rte_mempool_default_cache(mp, mdp_lcore()));
	if (unlikely(rc < 0))
		return rc;
	for (uint32_t j = 0; j < n; j++) {
		__rte_mbuf_raw_sanity_check(ms[j]);
		rte_pktmbuf_reset(ms[j]);
	}
	return 0;
}

/* rte_pktmbuf_free_bulk of ms[0, n). When every entry is a direct,
 * unchained mbuf referenced once, all of one pool (what a burst sent or
 * received is), rte_pktmbuf_prefree_seg has nothing to do for any of them,
 * and the whole array goes into the pool through the lcore's cache in one
 * put, with the lcore id from mdp_lcore(). Anything else (a NULL entry, a
 * chain, a shared, indirect or external-buffer mbuf, mixed pools) goes to
 * DPDK's rte_pktmbuf_free_bulk, which frees per segment in pool runs. */
static inline void free_bulk(struct rte_mbuf **ms, uint32_t n)
{
	if (n == 0)
		return;
	if (ms[0] == NULL)
		goto dpdk;
	struct rte_mempool *pool = ms[0]->pool;
	for (uint32_t j = 0; j < n; j++) {
		const struct rte_mbuf *m = ms[j];
		if (m == NULL || m->pool != pool || m->next != NULL || m->nb_segs != 1 ||
		    rte_mbuf_refcnt_read(m) != 1 || !RTE_MBUF_DIRECT(m))
			goto dpdk;
		__rte_mbuf_raw_sanity_check(m);
	}
	rte_mempool_generic_put(pool, (void **)ms, n, rte_mempool_default_cache(pool, mdp_lcore()));
	return;
dpdk:
	rte_pktmbuf_free_bulk(ms, n);
}

/* rte_pktmbuf_alloc_bulk into entries [off, off+n), each mbuf given data_len
 * bytes when data_len > 0 (what rte_pktmbuf_append does to a fresh mbuf; the
 * caller checks that it fits), then described when base_len > 0. All or
 * nothing: 0 or -ENOENT. */
MDP_EXPORT int32_t mdp_batch_alloc(double mp, double batch, uint32_t cap, uint32_t off, uint32_t n,
				   uint32_t data_len, double base, uint32_t base_len)
{
	struct batch b = batch_at(batch, cap);
	int rc = alloc_bulk((struct rte_mempool *)(uintptr_t)mp, b.m + off, n);
	if (rc != 0)
		return rc;
	if (data_len > 0)
		for (uint32_t j = off; j < off + n; j++)
			b.m[j]->data_len = (uint16_t)(b.m[j]->pkt_len = data_len);
	if (base_len > 0)
		describe(&b, off, n, (uintptr_t)base, base_len);
	return 0;
}

/* rte_pktmbuf_free_bulk of entries [off, off+n) (through free_bulk). */
MDP_EXPORT void mdp_batch_free(double batch, uint32_t off, uint32_t n)
{
	free_bulk((struct rte_mbuf **)(uintptr_t)batch + off, n);
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
	if (mdp_batch_alloc(mp, batch, cap, len, fill_to - len, data_len, base, base_len) != 0)
		return sent | MDP_REFILL_FAILED;
	return sent;
}

/* One call per poll for a receiver that keeps its last burst until the next:
 * free_bulk of entries [0, free_n) (the whole batch: the caller
 * checks), then rte_eth_rx_burst into [0, cap), described against base.
 * Returns the number received. */
MDP_EXPORT uint32_t mdp_batch_free_rx(uint16_t port, uint16_t queue, double batch, uint32_t cap, uint32_t free_n,
				      double base, uint32_t base_len)
{
	struct batch b = batch_at(batch, cap);
	if (free_n > 0)
		free_bulk(b.m, free_n);
	uint16_t got = rte_eth_rx_burst(port, queue, b.m, (uint16_t)cap);
	describe(&b, 0, got, (uintptr_t)base, base_len);
	return got;
}
