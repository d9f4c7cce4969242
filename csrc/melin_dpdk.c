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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#define MDP_EXPORT __attribute__((visibility("default")))

/* ---- EAL lifecycle --------------------------------------------------- */

/* Values of the process-wide state word (see mdp_eal_state_ptr). */
enum { MDP_EAL_NOT_STARTED = 0, MDP_EAL_RUNNING = 1, MDP_EAL_CLEANED_UP = 2 };

/* Return codes of mdp_eal_init. */
enum {
	MDP_INIT_FAILED = -1,
	MDP_INIT_STARTED = 0,
	MDP_INIT_ALREADY_RUNNING = 1,
	MDP_INIT_CLEANED_UP = 2,
};

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
 * for every failure).
 */
MDP_EXPORT int32_t mdp_eal_init(const char *args, uint32_t len, int32_t argc, int32_t *out_errno)
{
	int32_t rc;
	*out_errno = 0;
	pthread_mutex_lock(&eal_lock);
	if (eal_state == MDP_EAL_RUNNING) {
		rc = MDP_INIT_ALREADY_RUNNING;
	} else if (eal_state == MDP_EAL_CLEANED_UP) {
		rc = MDP_INIT_CLEANED_UP;
	} else {
		char *copy = malloc(len);
		char **argv = calloc((size_t)argc + 1, sizeof(char *));
		if (copy == NULL || argv == NULL) {
			free(copy);
			free(argv);
			*out_errno = ENOMEM;
			rc = MDP_INIT_FAILED;
		} else {
			memcpy(copy, args, len);
			char *p = copy;
			for (int32_t i = 0; i < argc; i++) {
				argv[i] = p;
				p += strlen(p) + 1;
			}
			if (rte_eal_init(argc, argv) < 0) {
				*out_errno = rte_errno;
				free(copy); /* EAL did not start: nothing refers to it. */
				rc = MDP_INIT_FAILED;
			} else {
				/* argv itself is leaked on purpose: EAL may keep it. */
				eal_args = malloc(len);
				if (eal_args != NULL) {
					memcpy(eal_args, args, len);
					eal_args_len = len;
				}
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
}
