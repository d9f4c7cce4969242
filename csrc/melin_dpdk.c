/*
 * melin_dpdk shim: the parts of DPDK that Deno's FFI cannot reach directly.
 *
 * DPDK exposes much of its fast path as `static inline` functions and macros,
 * and its error code as a thread-local variable. Deno.dlopen can only call
 * exported functions, so this file re-exports those pieces as plain functions.
 * Exported (non-inline) DPDK functions are called from TypeScript directly:
 * dlsym on this library's handle also finds the symbols of the DPDK libraries
 * it links.
 *
 * Rule: wrap and translate, no policy. Argument validation and error messages
 * live in TypeScript. The only state kept here is what must be process-wide,
 * because every Deno isolate (each test file, each Worker) has its own copy of
 * the TypeScript module state: the EAL lifecycle and the arguments it started
 * with.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#define MDP_EXPORT __attribute__((visibility("default")))

/* ---- EAL lifecycle --------------------------------------------------- */

/* Values of the process-wide state word (see mdp_eal_state_ptr). FAILED: an
 * init failed; DPDK does not undo every step of a failed rte_eal_init (it may
 * keep its run-once flag, devargs, log levels, runtime files), so EAL is never
 * started again in that process. */
enum { MDP_EAL_NOT_STARTED = 0, MDP_EAL_RUNNING = 1, MDP_EAL_CLEANED_UP = 2, MDP_EAL_FAILED = 3 };

/* Return codes of mdp_eal_init. */
enum {
	MDP_INIT_FAILED = -1,
	MDP_INIT_STARTED = 0,
	MDP_INIT_ALREADY_RUNNING = 1,
	MDP_INIT_CLEANED_UP = 2,
	MDP_INIT_FAILED_BEFORE = 3,
};

static void mdp_runtime_files_remove_at_exit(int started);

static pthread_mutex_t eal_lock = PTHREAD_MUTEX_INITIALIZER;
/* Read without a call from TypeScript through a view of its address, so that
 * every DPDK-touching method can check "is EAL still alive" for the cost of a
 * memory load. Written only under eal_lock. */
static volatile int32_t eal_state = MDP_EAL_NOT_STARTED;
/* The NUL-separated argument block EAL was started with; kept for the life of
 * the process because EAL may keep pointers into argv. */
static char *eal_args;
static uint32_t eal_args_len;

MDP_EXPORT const volatile int32_t *mdp_eal_state_ptr(void) { return &eal_state; }

/*
 * Start EAL once per process. `args` holds `argc` NUL-terminated strings back
 * to back (`len` bytes in all, argv[0] first). Calls are serialized: Deno runs
 * test files and Workers on separate threads that may race into init.
 * On failure, *out_errno gets rte_errno (0 is possible: DPDK does not set it
 * for every failure). After a failure every later call returns
 * MDP_INIT_FAILED_BEFORE with the first failure's errno.
 */
MDP_EXPORT int32_t mdp_eal_init(const char *args, uint32_t len, int32_t argc, int32_t *out_errno)
{
	static int32_t failed_errno;
	int32_t rc;
	*out_errno = 0;
	pthread_mutex_lock(&eal_lock);
	if (eal_state == MDP_EAL_RUNNING) {
		rc = MDP_INIT_ALREADY_RUNNING;
	} else if (eal_state == MDP_EAL_CLEANED_UP) {
		rc = MDP_INIT_CLEANED_UP;
	} else if (eal_state == MDP_EAL_FAILED) {
		*out_errno = failed_errno;
		rc = MDP_INIT_FAILED_BEFORE;
	} else {
		char *copy = malloc(len);
		char **argv = calloc((size_t)argc + 1, sizeof(char *));
		if (copy == NULL || argv == NULL) {
			free(copy);
			free(argv);
			*out_errno = ENOMEM;
			rc = MDP_INIT_FAILED; /* nothing reached DPDK: a retry may work */
		} else {
			memcpy(copy, args, len);
			char *p = copy;
			for (int32_t i = 0; i < argc; i++) {
				argv[i] = p;
				p += strlen(p) + 1;
			}
			if (rte_eal_init(argc, argv) < 0) {
				*out_errno = failed_errno = rte_errno;
				free(copy); /* EAL did not start: nothing refers to it. */
				mdp_runtime_files_remove_at_exit(0);
				eal_state = MDP_EAL_FAILED;
				rc = MDP_INIT_FAILED;
			} else {
				/* argv itself is leaked on purpose: EAL may keep it. */
				eal_args = malloc(len);
				if (eal_args != NULL) {
					memcpy(eal_args, args, len);
					eal_args_len = len;
				}
				mdp_runtime_files_remove_at_exit(1);
				eal_state = MDP_EAL_RUNNING;
				rc = MDP_INIT_STARTED;
			}
		}
	}
	pthread_mutex_unlock(&eal_lock);
	return rc;
}

/* Copies the argument block of the running EAL into `out`; returns its full
 * length (0 when EAL never started), which may exceed `cap`. */
MDP_EXPORT uint32_t mdp_eal_args(char *out, uint32_t cap)
{
	pthread_mutex_lock(&eal_lock);
	uint32_t n = eal_args_len;
	if (eal_args != NULL)
		memcpy(out, eal_args, n < cap ? n : cap);
	pthread_mutex_unlock(&eal_lock);
	return n;
}

/* Ends EAL. Returns rte_eal_cleanup's result, or -EALREADY when it is not
 * running. The state word flips first, so that other isolates stop calling
 * into DPDK before its memory goes away. */
MDP_EXPORT int32_t mdp_eal_cleanup(void)
{
	int32_t rc = -EALREADY;
	pthread_mutex_lock(&eal_lock);
	if (eal_state == MDP_EAL_RUNNING) {
		eal_state = MDP_EAL_CLEANED_UP;
		rc = rte_eal_cleanup();
	}
	pthread_mutex_unlock(&eal_lock);
	return rc;
}

/*
 * Makes the calling thread known to DPDK. Threads EAL did not create have no
 * lcore id, and then the mempool per-lcore cache is bypassed (alloc+free about
 * 3x slower). Returns the thread's lcore id (existing or new) or -1 with
 * rte_errno set (e.g. all RTE_MAX_LCORE ids in use).
 */
MDP_EXPORT int32_t mdp_thread_register(void)
{
	if (rte_lcore_id() != LCORE_ID_ANY)
		return (int32_t)rte_lcore_id();
	if (rte_thread_register() != 0)
		return -1;
	return (int32_t)rte_lcore_id();
}

/* rte_errno is a thread-local variable: FFI cannot read it directly. */
MDP_EXPORT int32_t mdp_errno(void) { return rte_errno; }

MDP_EXPORT int32_t mdp_lcore_id(void)
{
	unsigned id = rte_lcore_id();
	return id == LCORE_ID_ANY ? -1 : (int32_t)id;
}

/* ---- Constants (macros and enum values) ------------------------------ */

MDP_EXPORT uint32_t mdp_const_mbuf_default_buf_size(void) { return RTE_MBUF_DEFAULT_BUF_SIZE; }
MDP_EXPORT uint32_t mdp_const_pktmbuf_headroom(void) { return RTE_PKTMBUF_HEADROOM; }
MDP_EXPORT uint32_t mdp_const_mempool_namesize(void) { return RTE_MEMPOOL_NAMESIZE; }
MDP_EXPORT uint32_t mdp_const_mempool_cache_max_size(void) { return RTE_MEMPOOL_CACHE_MAX_SIZE; }
MDP_EXPORT uint32_t mdp_const_max_lcore(void) { return RTE_MAX_LCORE; }
MDP_EXPORT uint32_t mdp_const_max_numa_nodes(void) { return RTE_MAX_NUMA_NODES; }
MDP_EXPORT int32_t mdp_const_e_rte_no_config(void) { return E_RTE_NO_CONFIG; }

/* ---- Mempool --------------------------------------------------------- */

/* rte_pktmbuf_pool_create with mempool `flags` (RTE_MEMPOOL_F_*), which that
 * function does not take: the same steps as DPDK's rte_pktmbuf_pool_create_by_ops
 * with the platform's best ops. The flag that matters is
 * RTE_MEMPOOL_F_NO_IOVA_CONTIG: without hugepages DPDK otherwise keeps every
 * object inside one 4 KiB page, i.e. one mbuf per page, which wastes ~40% of
 * the memory and puts every mbuf header at the same page offset (all in the
 * same few L1 cache sets). The caller decides when it is safe (IOVA as VA).
 * Returns NULL with rte_errno set on failure. */
MDP_EXPORT struct rte_mempool *mdp_pktmbuf_pool_create(const char *name, uint32_t n, uint32_t cache_size,
						       uint16_t priv_size, uint16_t data_room_size,
						       int32_t socket_id, uint32_t flags)
{
	if (RTE_ALIGN(priv_size, RTE_MBUF_PRIV_ALIGN) != priv_size) {
		rte_errno = EINVAL;
		return NULL;
	}
	struct rte_pktmbuf_pool_private priv = {
		.mbuf_data_room_size = data_room_size,
		.mbuf_priv_size = priv_size,
	};
	unsigned elt_size = sizeof(struct rte_mbuf) + (unsigned)priv_size + (unsigned)data_room_size;
	struct rte_mempool *mp = rte_mempool_create_empty(name, n, elt_size, cache_size, sizeof(priv),
							  socket_id, flags);
	if (mp == NULL)
		return NULL;
	int ret = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL);
	if (ret != 0) {
		rte_mempool_free(mp);
		rte_errno = -ret;
		return NULL;
	}
	rte_pktmbuf_pool_init(mp, &priv);
	ret = rte_mempool_populate_default(mp);
	if (ret < 0) {
		rte_mempool_free(mp);
		rte_errno = -ret;
		return NULL;
	}
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	return mp;
}

MDP_EXPORT uint32_t mdp_const_mempool_f_no_iova_contig(void) { return RTE_MEMPOOL_F_NO_IOVA_CONTIG; }

/* Fields of struct rte_mempool and the pktmbuf private area, which are only
 * reachable through the struct layout or inline functions. Fills out[0..5]:
 * size, cache_size, socket_id, data room size, mbuf private size, element size. */
MDP_EXPORT void mdp_mempool_facts(const struct rte_mempool *mp, int32_t *out)
{
	out[0] = (int32_t)mp->size;
	out[1] = (int32_t)mp->cache_size;
	out[2] = mp->socket_id;
	out[3] = rte_pktmbuf_data_room_size((struct rte_mempool *)mp);
	out[4] = rte_pktmbuf_priv_size((struct rte_mempool *)mp);
	out[5] = (int32_t)mp->elt_size;
	out[6] = (mp->flags & RTE_MEMPOOL_F_NO_IOVA_CONTIG) != 0;
}

/* ---- Mbufs ------------------------------------------------------------
 *
 * Hot-path functions pass addresses as doubles. Deno returns 64-bit integers
 * as BigInt (a heap allocation per call) and pointers as objects; a double is
 * a plain JS number, exact for every user-space address (< 2^53), and both
 * take V8's fast-call path. Batches pass a uint64_t array instead.
 */
#define MBUF(a) ((struct rte_mbuf *)(uintptr_t)(a))
#define ADDR(p) ((double)(uintptr_t)(p))

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

struct chunk_out {
	uint64_t *out;
	uint32_t cap;
	uint32_t n;
};

static void collect_chunk(struct rte_mempool *mp, void *opaque, struct rte_mempool_memhdr *memhdr,
			  unsigned mem_idx)
{
	(void)mp;
	(void)mem_idx;
	struct chunk_out *c = opaque;
	if (c->n < c->cap) {
		c->out[2 * c->n] = (uint64_t)(uintptr_t)memhdr->addr;
		c->out[2 * c->n + 1] = memhdr->len;
	}
	c->n++;
}

/* The pool's memory chunks (rte_mempool_mem_iter) as (address, length) pairs
 * in out[0 .. 2*cap). Returns the number of chunks, which may exceed cap.
 * TypeScript maps each chunk once and addresses mbufs by offset. */
MDP_EXPORT uint32_t mdp_mempool_chunks(struct rte_mempool *mp, uint64_t *out, uint32_t cap)
{
	struct chunk_out c = { out, cap, 0 };
	rte_mempool_mem_iter(mp, collect_chunk, &c);
	return c.n;
}

/* rte_pktmbuf_copy: a deep copy of [off, off+len) of m (all segments) into
 * new mbufs from mp; 0 when mp is exhausted or the range is invalid. */
MDP_EXPORT double mdp_pktmbuf_copy(double m, double mp, uint32_t off, uint32_t len)
{
	return ADDR(rte_pktmbuf_copy(MBUF(m), (struct rte_mempool *)(uintptr_t)mp, off, len));
}

/* ---- Ports (ethdev) ---------------------------------------------------
 *
 * Plain ethdev exports (start, stop, close, queue setup, promiscuous, MTU,
 * xstats) are called from TypeScript directly; here are the ones that take or
 * fill structs, and the inline burst functions.
 */

/* Fills out[0..13] from rte_eth_dev_info_get and copies the driver name into
 * driver (cap bytes, NUL-terminated). Returns 0 or a negative errno. Offload
 * masks are split into 32-bit halves so that TypeScript gets plain numbers. */
MDP_EXPORT int32_t mdp_eth_dev_info(uint16_t port, uint32_t *out, char *driver, uint32_t cap)
{
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get(port, &info);
	if (rc != 0)
		return rc;
	out[0] = info.max_rx_queues;
	out[1] = info.max_tx_queues;
	out[2] = (uint32_t)info.rx_offload_capa;
	out[3] = (uint32_t)(info.rx_offload_capa >> 32);
	out[4] = (uint32_t)info.tx_offload_capa;
	out[5] = (uint32_t)(info.tx_offload_capa >> 32);
	out[6] = info.max_rx_pktlen;
	out[7] = info.min_mtu;
	out[8] = info.max_mtu;
	out[9] = info.rx_desc_lim.nb_min;
	out[10] = info.rx_desc_lim.nb_max;
	out[11] = info.tx_desc_lim.nb_min;
	out[12] = info.tx_desc_lim.nb_max;
	out[13] = info.if_index;
	if (cap > 0) {
		const char *name = info.driver_name != NULL ? info.driver_name : "";
		strncpy(driver, name, cap - 1);
		driver[cap - 1] = '\0';
	}
	return 0;
}

/* rte_eth_dev_configure with a zeroed rte_eth_conf plus the given offloads
 * and MTU (0: the driver's default). Returns 0 or a negative errno. */
MDP_EXPORT int32_t mdp_eth_configure(uint16_t port, uint16_t nb_rx, uint16_t nb_tx, uint32_t rx_offloads,
				     uint32_t tx_offloads, uint32_t mtu)
{
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.rxmode.offloads = rx_offloads;
	conf.txmode.offloads = tx_offloads;
	conf.rxmode.mtu = mtu;
	return rte_eth_dev_configure(port, nb_rx, nb_tx, &conf);
}

/* rte_eth_dev_adjust_nb_rx_tx_desc in place on desc[0] (rx) and desc[1] (tx). */
MDP_EXPORT int32_t mdp_eth_adjust_desc(uint16_t port, uint16_t *desc)
{
	return rte_eth_dev_adjust_nb_rx_tx_desc(port, &desc[0], &desc[1]);
}

/* The port's MAC address into out[0..5]. */
MDP_EXPORT int32_t mdp_eth_macaddr(uint16_t port, uint8_t *out)
{
	struct rte_ether_addr a;
	int rc = rte_eth_macaddr_get(port, &a);
	if (rc == 0)
		memcpy(out, a.addr_bytes, RTE_ETHER_ADDR_LEN);
	return rc;
}

/* rte_eth_link_get_nowait: out = speed (Mbps), full duplex, autoneg, up. */
MDP_EXPORT int32_t mdp_eth_link(uint16_t port, uint32_t *out)
{
	struct rte_eth_link link;
	memset(&link, 0, sizeof(link));
	int rc = rte_eth_link_get_nowait(port, &link);
	out[0] = link.link_speed;
	out[1] = link.link_duplex;
	out[2] = link.link_autoneg;
	out[3] = link.link_status;
	return rc;
}

/* Basic counters: ipackets, opackets, ibytes, obytes, imissed, ierrors,
 * oerrors, rx_nombuf. */
MDP_EXPORT int32_t mdp_eth_stats(uint16_t port, uint64_t *out)
{
	struct rte_eth_stats st;
	int rc = rte_eth_stats_get(port, &st);
	if (rc != 0)
		return rc;
	out[0] = st.ipackets;
	out[1] = st.opackets;
	out[2] = st.ibytes;
	out[3] = st.obytes;
	out[4] = st.imissed;
	out[5] = st.ierrors;
	out[6] = st.oerrors;
	out[7] = st.rx_nombuf;
	return 0;
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

/* ---- Runtime files ------------------------------------------------------
 * A primary EAL keeps its runtime files (config, fbarray memseg/memzone
 * backing files, mp_socket: about 6 MiB with --no-huge) in
 * /var/run/dpdk/<prefix>/ and never removes them; with a prefix per process
 * they pile up. Once EAL started as the primary, nobody else owns that
 * directory (the config lock says so), so it is removed when the process
 * exits normally. Unlinking does not unmap anything: threads still running
 * DPDK code at exit keep their memory. */

static char *runtime_dir;

/* The directory holds plain files only (DPDK creates no subdirectories). */
static void remove_runtime_dir(void)
{
	DIR *d = runtime_dir != NULL ? opendir(runtime_dir) : NULL;
	if (d == NULL)
		return;
	struct dirent *e;
	char path[4096];
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", runtime_dir, e->d_name) < (int)sizeof(path))
			unlink(path);
	}
	closedir(d);
	rmdir(runtime_dir);
}

/* True when a process other than this one holds the lock on the runtime
 * directory's config file: a live primary that owns the directory. */
static int runtime_dir_locked_by_other(const char *dir)
{
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/config", dir) >= (int)sizeof(path))
		return 1;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0; /* no config file (--no-shconf, or EAL stopped before it) */
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int other = fcntl(fd, F_GETLK, &lock) != 0 || lock.l_type != F_UNLCK;
	close(fd);
	return other;
}

/* Called by mdp_eal_init with started = 1 once EAL runs as the primary, or 0
 * after a failed init: remembers this process's runtime directory and removes
 * it at exit. After a failure the directory may be another primary's (the
 * config lock conflict is one way init fails): it is removed only when no
 * other process holds that lock. */
static void mdp_runtime_files_remove_at_exit(int started)
{
	const char *dir = rte_eal_get_runtime_dir();
	if (runtime_dir != NULL || dir == NULL || dir[0] == '\0')
		return;
	if (started ? rte_eal_process_type() != RTE_PROC_PRIMARY : runtime_dir_locked_by_other(dir))
		return;
	runtime_dir = strdup(dir);
	if (runtime_dir != NULL)
		atexit(remove_runtime_dir);
}

/* This process's EAL runtime directory ("" before EAL runs as primary). */
MDP_EXPORT const char *mdp_runtime_dir(void) { return runtime_dir != NULL ? runtime_dir : ""; }

/* ---- Memory limits ------------------------------------------------------
 * out[0]: the machine's physical memory in MiB, out[1]: RTE_MAX_MEM_MB, the
 * most memory this DPDK build can manage. `-m` beyond RTE_MAX_MEM_MB fails or
 * crashes inside rte_eal_init (22.11 without hugepages: -m 524288 gives
 * ENOMEM, -m 1000000 a SIGSEGV), and beyond physical memory it can never be
 * backed. */
MDP_EXPORT void mdp_memory_limits_mb(uint32_t *out)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long page_size = sysconf(_SC_PAGESIZE);
	uint64_t mb = pages > 0 && page_size > 0 ? (uint64_t)pages * (uint64_t)page_size >> 20 : 0;
	out[0] = mb > UINT32_MAX ? UINT32_MAX : (uint32_t)mb;
	out[1] = RTE_MAX_MEM_MB;
}
