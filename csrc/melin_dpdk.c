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
 * with, which isolates use EAL, the identity of pools and who has a port open.
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
#include <signal.h>
#include <unistd.h>

#include <rte_alarm.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_interrupts.h>
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
static void sweep_stale_runtime_dirs(void);

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
			sweep_stale_runtime_dirs();
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

/* ---- Isolates: who uses EAL ----------------------------------------------
 *
 * Every Deno isolate (the main module, each test file, each Worker) has its own
 * TypeScript state but shares this process's EAL. EAL's memory stays mapped
 * until the last isolate using it lets go: each isolate gets a slot here and a
 * liveness word of its own (isolate_word[slot], read from TypeScript through a
 * mapped view: one load per check), counted in eal_users while it is 1.
 * Eal.cleanup() in an isolate ends that isolate's use (its word becomes 2, so
 * its own handles throw); rte_eal_cleanup runs only when the last user leaves.
 *
 * An isolate runs on one thread (Deno gives each test file and each Worker its
 * own), so the thread's exit is where a forgotten isolate is let go: a pthread
 * key destructor closes the ports it claimed, gives back its lcore's mempool
 * caches and its lcore id, and releases its pools (see thread_exit).
 */
#define MDP_MAX_ISOLATES 256
/* Values of an isolate's word. */
enum { MDP_ISO_NOT_JOINED = 0, MDP_ISO_USING = 1, MDP_ISO_LEFT = 2 };

static volatile int32_t isolate_word[MDP_MAX_ISOLATES];
static uint8_t isolate_taken[MDP_MAX_ISOLATES];
/* Isolates whose word is MDP_ISO_USING. */
static int32_t eal_users;
/* Set by the first Eal.cleanup(): the last user to leave then ends EAL, even
 * when it leaves by exiting its thread. */
static int cleanup_requested;

struct thread_info {
	int32_t slot;	    /* the isolate on this thread, or -1 */
	int32_t registered; /* this shim gave the thread its lcore id (rte_thread_register) */
};
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;
static void thread_exit(void *info);
static void make_thread_key(void) { pthread_key_create(&thread_key, thread_exit); }

/* The calling thread's record, created on first use (NULL when out of memory). */
static struct thread_info *this_thread(void)
{
	pthread_once(&thread_key_once, make_thread_key);
	struct thread_info *t = pthread_getspecific(thread_key);
	if (t == NULL) {
		t = calloc(1, sizeof(*t));
		if (t == NULL)
			return NULL;
		t->slot = -1;
		pthread_setspecific(thread_key, t);
	}
	return t;
}

/* ---- Pool registry ------------------------------------------------------
 *
 * Pools have process-wide identity: a slot and a generation. TypeScript handles
 * (the owner's and those Mempool.lookup gives other isolates) keep both and
 * compare pool_gen[slot] (a mapped view, one load) with their generation before
 * every use. Dispose sets the generation to 0, so every handle in every isolate
 * sees it at once; a new pool never gets an old generation, so a stale handle
 * cannot reach a pool created later at the same address or slot.
 *
 * The owner's dispose refuses while mbufs are out (rte_mempool_in_use_count):
 * an mbuf in a driver queue or a batch would otherwise be freed later into
 * whatever pool then lives at that address, and be handed out twice. While
 * other isolates hold borrowed handles, the memory itself is freed only when the
 * last of them lets go (free_pending), so a call racing with the dispose never
 * touches freed memory.
 */
#define MDP_MAX_POOLS 1024
struct pool_entry {
	struct rte_mempool *mp; /* NULL: slot free */
	int32_t owner;		/* isolate slot of the owner, -1 when none (lookup of a foreign pool) */
	int32_t borrowers;
	int32_t free_pending;
	/* Its owner ended while borrowers held handles: the last of them frees it. */
	int32_t orphaned;
	uint32_t borrowed[MDP_MAX_ISOLATES / 32];
};
static struct pool_entry pool_reg[MDP_MAX_POOLS];
static volatile int32_t pool_gen[MDP_MAX_POOLS];
static int32_t pool_next_gen = 1;

/* Port claims: a port is open in at most one isolate (isolate slot + 1; 0: none). */
static int32_t port_owner[RTE_MAX_ETHPORTS];
static uint16_t port_rx_queues[RTE_MAX_ETHPORTS];
static uint8_t port_started[RTE_MAX_ETHPORTS];

/* Vdevs attached through Vdev.attach, by port id: the attaching isolate (slot
 * + 1; 0: none) and the device name, so that an isolate that ends detaches
 * them (see release_isolate_locked). */
#define MDP_VDEV_NAME_MAX 64
static int32_t vdev_owner[RTE_MAX_ETHPORTS];
static char vdev_name[RTE_MAX_ETHPORTS][MDP_VDEV_NAME_MAX];

static int borrowed_by(const struct pool_entry *e, int32_t iso)
{
	return (e->borrowed[iso / 32] >> (iso % 32)) & 1;
}

static void pool_entry_clear(int32_t s)
{
	pool_gen[s] = 0;
	memset(&pool_reg[s], 0, sizeof(pool_reg[s]));
}

/* Frees the pool of slot s now, or when its last borrower lets go. */
static void pool_free_locked(int32_t s)
{
	struct pool_entry *e = &pool_reg[s];
	pool_gen[s] = 0;
	if (e->borrowers > 0) {
		e->free_pending = 1;
		return;
	}
	rte_mempool_free(e->mp);
	pool_entry_clear(s);
}

static void pool_unborrow_locked(int32_t s, int32_t iso)
{
	struct pool_entry *e = &pool_reg[s];
	if (e->mp == NULL || !borrowed_by(e, iso))
		return;
	e->borrowed[iso / 32] &= ~(1u << (iso % 32));
	e->borrowers--;
	if ((e->free_pending || e->orphaned) && e->borrowers == 0) {
		pool_gen[s] = 0;
		rte_mempool_free(e->mp);
		pool_entry_clear(s);
	}
}

/* The registry slot of mp, or -1. */
static int32_t pool_find_locked(const struct rte_mempool *mp)
{
	for (int32_t s = 0; s < MDP_MAX_POOLS; s++)
		if (pool_reg[s].mp == mp)
			return s;
	return -1;
}

static int32_t pool_add_locked(struct rte_mempool *mp, int32_t owner)
{
	for (int32_t s = 0; s < MDP_MAX_POOLS; s++) {
		if (pool_reg[s].mp == NULL) {
			pool_reg[s].mp = mp;
			pool_reg[s].owner = owner;
			pool_gen[s] = pool_next_gen++;
			if (pool_next_gen <= 0)
				pool_next_gen = 1;
			return s;
		}
	}
	return -1;
}

/* Drains every receive queue of a started port: rx bursts until a queue gives
 * less than a full burst (bounded, for drivers such as net_null that never run
 * dry), each burst freed. Frames still queued (e.g. in a net_ring) would
 * otherwise never return to their pool. Returns the number freed. */
static uint32_t drain_rx(uint16_t port, uint16_t nb_rxq)
{
	struct rte_mbuf *burst[32];
	uint32_t total = 0;
	for (uint16_t q = 0; q < nb_rxq; q++) {
		for (uint32_t i = 0; i < 4096; i++) {
			uint16_t n = rte_eth_rx_burst(port, q, burst, 32);
			rte_pktmbuf_free_bulk(burst, n);
			total += n;
			if (n < 32)
				break;
		}
	}
	return total;
}

/*
 * Drain and stop run on EAL's interrupt thread, not on the caller's: drivers
 * handle link events there and change the same device state without a lock
 * against the application. net_memif (22.11) does: when its peer goes away
 * (e.g. the other end of a pair in this process was just stopped), the
 * interrupt thread runs memif_disconnect() on the device, which frees its
 * shared-memory regions and control channel; a concurrent rte_eth_dev_stop
 * runs memif_disconnect() too, so both free the same regions (double free
 * in rte_free, SIGSEGV on the interrupt thread), or the interrupt thread goes
 * on with a device that rte_eth_dev_close already freed. Callbacks on that
 * thread run one at a time, so a stop run there as an alarm callback cannot
 * overlap the driver's handler; once stopped, the driver has unregistered its
 * handler and no longer touches the device from there.
 */
struct stop_call {
	uint16_t port, nb_rxq;
	int32_t rc;
	int done;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static int32_t drain_and_stop(uint16_t port, uint16_t nb_rxq)
{
	drain_rx(port, nb_rxq);
	return rte_eth_dev_stop(port);
}

static void stop_call_run(void *arg)
{
	struct stop_call *c = arg;
	int32_t rc = drain_and_stop(c->port, c->nb_rxq);
	pthread_mutex_lock(&c->lock);
	c->rc = rc;
	c->done = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* drain_and_stop on the interrupt thread (see above), waiting for it; on the
 * caller's thread only when that is the interrupt thread or no alarm can be set. */
static int32_t stop_on_intr_thread(uint16_t port, uint16_t nb_rxq)
{
	if (rte_thread_is_intr())
		return drain_and_stop(port, nb_rxq);
	struct stop_call c = {
		.port = port,
		.nb_rxq = nb_rxq,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
	};
	if (rte_eal_alarm_set(1, stop_call_run, &c) != 0)
		return drain_and_stop(port, nb_rxq);
	pthread_mutex_lock(&c.lock);
	while (!c.done)
		pthread_cond_wait(&c.cond, &c.lock);
	pthread_mutex_unlock(&c.lock);
	return c.rc;
}

/* Ends EAL for the whole process; called with eal_lock held once no isolate
 * uses it. Every pool generation goes to 0 first: the memory goes with EAL. */
static int32_t eal_end_locked(void)
{
	for (int32_t s = 0; s < MDP_MAX_POOLS; s++)
		pool_entry_clear(s);
	memset(port_owner, 0, sizeof(port_owner));
	memset(vdev_owner, 0, sizeof(vdev_owner));
	eal_state = MDP_EAL_CLEANED_UP;
	return rte_eal_cleanup();
}

/* The isolate of slot s stops using EAL; EAL ends if it was the last user and
 * a cleanup was asked for. Returns as mdp_eal_leave does. */
static int32_t leave_locked(int32_t s)
{
	if (isolate_word[s] != MDP_ISO_USING)
		return -EALREADY;
	isolate_word[s] = MDP_ISO_LEFT;
	eal_users--;
	if (eal_users > 0 || !cleanup_requested || eal_state != MDP_EAL_RUNNING)
		return eal_users > 0 ? eal_users : 0;
	return eal_end_locked();
}

/* Detaches the vdevs isolate s attached (its ports are closed already); one
 * whose port another isolate has open passes to that isolate. */
static void release_vdevs_locked(int32_t s)
{
	for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++) {
		if (vdev_owner[p] != s + 1)
			continue;
		if (port_owner[p] != 0 && port_owner[p] != s + 1) {
			vdev_owner[p] = port_owner[p];
			continue;
		}
		vdev_owner[p] = 0;
		rte_eal_hotplug_remove("vdev", vdev_name[p]);
	}
}

/* Lets go of everything the isolate of slot s still holds; called when it can
 * no longer touch DPDK (its thread exited, a new isolate took its thread, or
 * it called Eal.cleanup). Nothing is stranded:
 * - the ports it claimed are closed (rx queues drained first);
 * - the vdevs it attached are detached, unless another isolate has the vdev's
 *   port open: that isolate then inherits it (detached when it ends);
 * - its pools are freed, even with mbufs out, when no other isolate holds a
 *   borrowed handle (Mempool.lookup); otherwise they stay, orphaned, and the
 *   last borrower to let go frees them (pool_unborrow_locked);
 * - its borrowed handles are dropped.
 * Why freeing a pool with mbufs out is safe here: the isolate's batches and
 * Mbufs died with it (or throw CleanedUp), so nobody can use or free those
 * mbufs. An mbuf of the pool can be anywhere else only through a port queue:
 * its own ports were just closed and drained; a port of another isolate
 * takes its rx mbufs from a pool that isolate holds a handle to (then it is a
 * borrower and the pool stays); and the library's ports cannot hand a tx'd
 * mbuf to a port of another isolate (each net_ring vdev has rings of its own;
 * memif, tap and af_packet copy). Only rings shared between ports by C code
 * outside the library could, and those are not covered. */
static void release_isolate_locked(int32_t s)
{
	if (eal_state != MDP_EAL_RUNNING)
		return;
	for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++) {
		if (port_owner[p] != s + 1)
			continue;
		if (port_started[p])
			stop_on_intr_thread(p, port_rx_queues[p]);
		rte_eth_dev_close(p);
		port_owner[p] = 0;
		port_started[p] = 0;
	}
	release_vdevs_locked(s);
	unsigned lcore = rte_lcore_id();
	for (int32_t i = 0; i < MDP_MAX_POOLS; i++) {
		struct pool_entry *e = &pool_reg[i];
		if (e->mp == NULL)
			continue;
		if (lcore != LCORE_ID_ANY) {
			struct rte_mempool_cache *c = rte_mempool_default_cache(e->mp, lcore);
			if (c != NULL)
				rte_mempool_cache_flush(c, e->mp);
		}
		pool_unborrow_locked(i, s);
		if (e->mp != NULL && e->owner == s && !e->free_pending) {
			if (e->borrowers == 0) {
				pool_free_locked(i);
			} else {
				e->owner = -1;
				e->orphaned = 1;
			}
		}
	}
}

/* pthread key destructor: the thread (and so its isolate) is gone. */
static void thread_exit(void *info)
{
	struct thread_info *t = info;
	pthread_mutex_lock(&eal_lock);
	if (t->slot >= 0) {
		release_isolate_locked(t->slot);
		/* Before leave: a last leave may end EAL. */
		if (t->registered && eal_state == MDP_EAL_RUNNING)
			rte_thread_unregister();
		leave_locked(t->slot);
		isolate_word[t->slot] = MDP_ISO_NOT_JOINED;
		isolate_taken[t->slot] = 0;
	} else if (t->registered && eal_state == MDP_EAL_RUNNING) {
		rte_thread_unregister();
	}
	pthread_mutex_unlock(&eal_lock);
	free(t);
}

/* All isolates' words, MDP_MAX_ISOLATES int32s; an isolate maps its own. */
MDP_EXPORT const volatile int32_t *mdp_isolate_words_ptr(void) { return isolate_word; }
MDP_EXPORT uint32_t mdp_const_max_isolates(void) { return MDP_MAX_ISOLATES; }

/* Gives the calling isolate a slot (its word starts at MDP_ISO_NOT_JOINED).
 * Called once per isolate; a slot the thread still had belonged to an isolate
 * that ended on this thread and is released. Returns the slot, or -1 when all
 * MDP_MAX_ISOLATES are taken (or out of memory). */
MDP_EXPORT int32_t mdp_isolate_open(void)
{
	int32_t slot = -1;
	pthread_mutex_lock(&eal_lock);
	struct thread_info *t = this_thread();
	if (t != NULL) {
		if (t->slot >= 0) {
			release_isolate_locked(t->slot);
			leave_locked(t->slot);
			isolate_word[t->slot] = MDP_ISO_NOT_JOINED;
			isolate_taken[t->slot] = 0;
			t->slot = -1;
		}
		for (int32_t s = 0; s < MDP_MAX_ISOLATES; s++) {
			if (!isolate_taken[s]) {
				isolate_taken[s] = 1;
				isolate_word[s] = MDP_ISO_NOT_JOINED;
				t->slot = slot = s;
				break;
			}
		}
	}
	pthread_mutex_unlock(&eal_lock);
	return slot;
}

/* The isolate of `slot` starts using the running EAL. Returns 0 (also when it
 * already does), MDP_INIT_CLEANED_UP when it left or EAL ended, -1 when EAL
 * was never started. */
MDP_EXPORT int32_t mdp_eal_join(int32_t slot)
{
	int32_t rc;
	pthread_mutex_lock(&eal_lock);
	if (isolate_word[slot] == MDP_ISO_USING) {
		rc = 0;
	} else if (isolate_word[slot] == MDP_ISO_LEFT || eal_state == MDP_EAL_CLEANED_UP) {
		rc = MDP_INIT_CLEANED_UP;
	} else if (eal_state != MDP_EAL_RUNNING) {
		rc = -1;
	} else {
		isolate_word[slot] = MDP_ISO_USING;
		eal_users++;
		rc = 0;
	}
	pthread_mutex_unlock(&eal_lock);
	return rc;
}

/* The isolate of `slot` stops using EAL (Eal.cleanup; it released its own
 * resources first). Returns the number of isolates still using EAL (> 0: EAL
 * keeps running for them), else rte_eal_cleanup's result (0 or negative), or
 * -EALREADY when the isolate was not using EAL. */
MDP_EXPORT int32_t mdp_eal_leave(int32_t slot)
{
	pthread_mutex_lock(&eal_lock);
	if (isolate_word[slot] == MDP_ISO_USING) {
		cleanup_requested = 1;
		/* What the isolate did not release itself, and this thread's caches
		 * and lcore id: it will not use DPDK again, while the thread (a Worker
		 * that goes on running) may live long. */
		release_isolate_locked(slot);
		struct thread_info *t = this_thread();
		if (t != NULL && t->registered) {
			rte_thread_unregister();
			t->registered = 0;
		}
	}
	int32_t rc = leave_locked(slot);
	pthread_mutex_unlock(&eal_lock);
	return rc;
}

/* ---- Pool registry entries (see "Pool registry") ------------------------ */

/* Generations of all registry slots, MDP_MAX_POOLS int32s (0: no live pool). */
MDP_EXPORT const volatile int32_t *mdp_pool_gens_ptr(void) { return pool_gen; }
MDP_EXPORT uint32_t mdp_const_max_pools(void) { return MDP_MAX_POOLS; }

/* Registers a pool the isolate `owner` just created: out[0] = slot,
 * out[1] = generation. Returns 0, or -ENOSPC when the registry is full. */
MDP_EXPORT int32_t mdp_pool_register(struct rte_mempool *mp, int32_t owner, int32_t *out)
{
	int32_t rc = 0;
	pthread_mutex_lock(&eal_lock);
	int32_t s = pool_find_locked(mp); /* another isolate may have looked it up already */
	if (s < 0)
		s = pool_add_locked(mp, owner);
	if (s < 0) {
		rc = -ENOSPC;
	} else {
		pool_reg[s].owner = owner;
		out[0] = s;
		out[1] = pool_gen[s];
	}
	pthread_mutex_unlock(&eal_lock);
	return rc;
}

/* rte_mempool_lookup and registration in one step under the lock, so that the
 * pool cannot be freed in between. A pool of another isolate (or of C code) is
 * marked borrowed by `iso`. Fills out[0] = slot, out[1] = generation and
 * out[2] = 1 when `iso` owns it. Returns the pool, or NULL when there is none
 * (or it is being freed). */
MDP_EXPORT struct rte_mempool *mdp_pool_lookup(const char *name, int32_t iso, int32_t *out)
{
	struct rte_mempool *mp = NULL;
	pthread_mutex_lock(&eal_lock);
	if (eal_state == MDP_EAL_RUNNING) {
		mp = rte_mempool_lookup(name);
		if (mp != NULL) {
			int32_t s = pool_find_locked(mp);
			if (s < 0)
				s = pool_add_locked(mp, -1);
			if (s < 0 || pool_gen[s] == 0) {
				mp = NULL;
			} else {
				struct pool_entry *e = &pool_reg[s];
				if (e->owner != iso && !borrowed_by(e, iso)) {
					e->borrowed[iso / 32] |= 1u << (iso % 32);
					e->borrowers++;
				}
				out[0] = s;
				out[1] = pool_gen[s];
				out[2] = e->owner == iso;
			}
		}
	}
	pthread_mutex_unlock(&eal_lock);
	return mp;
}

/* A borrowed handle of isolate `iso` lets go of registry slot `slot`. */
MDP_EXPORT void mdp_pool_unborrow(int32_t slot, int32_t iso)
{
	pthread_mutex_lock(&eal_lock);
	if (eal_state == MDP_EAL_RUNNING)
		pool_unborrow_locked(slot, iso);
	pthread_mutex_unlock(&eal_lock);
}

/* The owner frees the pool of `slot` at generation `gen`. With mbufs out,
 * refuses (returns -EBUSY, *out_in_use = how many) unless `disown` is set, in
 * which case the pool stays, without an owner, for the isolates that use it.
 * Returns 0 when freed (or left to its borrowers to free), 1 when disowned, or
 * -ESTALE when that generation is gone already (EAL ended). */
MDP_EXPORT int32_t mdp_pool_free(int32_t slot, int32_t gen, int32_t disown, uint32_t *out_in_use)
{
	int32_t rc;
	pthread_mutex_lock(&eal_lock);
	*out_in_use = 0;
	if (eal_state != MDP_EAL_RUNNING || pool_gen[slot] != gen || gen == 0) {
		rc = -ESTALE;
	} else {
		struct pool_entry *e = &pool_reg[slot];
		unsigned lcore = rte_lcore_id();
		if (lcore != LCORE_ID_ANY) {
			struct rte_mempool_cache *c = rte_mempool_default_cache(e->mp, lcore);
			if (c != NULL)
				rte_mempool_cache_flush(c, e->mp);
		}
		uint32_t in_use = rte_mempool_in_use_count(e->mp);
		*out_in_use = in_use;
		if (in_use == 0) {
			pool_free_locked(slot);
			rc = 0;
		} else if (disown) {
			/* Eal.cleanup of the owner: release_isolate_locked, which runs
			 * next (mdp_eal_leave, after the ports are closed), frees it or
			 * leaves it to its borrowers. */
			rc = 1;
		} else {
			rc = -EBUSY;
		}
	}
	pthread_mutex_unlock(&eal_lock);
	return rc;
}

/* ---- Port claims ---------------------------------------------------------- */

/* Claims `port` for isolate `iso` with `nb_rxq` receive queues. Returns 0, or
 * the claiming isolate's slot + 1 (> 0) when another isolate has it open. */
MDP_EXPORT int32_t mdp_port_claim(uint16_t port, int32_t iso, uint16_t nb_rxq)
{
	int32_t rc = 0;
	pthread_mutex_lock(&eal_lock);
	if (port_owner[port] != 0 && port_owner[port] != iso + 1) {
		rc = port_owner[port];
	} else {
		port_owner[port] = iso + 1;
		port_rx_queues[port] = nb_rxq;
		port_started[port] = 0;
	}
	pthread_mutex_unlock(&eal_lock);
	return rc;
}

MDP_EXPORT void mdp_port_release(uint16_t port, int32_t iso)
{
	pthread_mutex_lock(&eal_lock);
	if (port_owner[port] == iso + 1) {
		port_owner[port] = 0;
		port_started[port] = 0;
	}
	pthread_mutex_unlock(&eal_lock);
}

/* Records that isolate `iso` attached vdev `name` (Vdev.attach), whose port
 * is `port`, so that it is detached if the isolate ends without detaching it.
 * Returns 0, or -ENAMETOOLONG. */
MDP_EXPORT int32_t mdp_vdev_claim(uint16_t port, int32_t iso, const char *name)
{
	if (strlen(name) >= MDP_VDEV_NAME_MAX)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&eal_lock);
	vdev_owner[port] = iso + 1;
	strcpy(vdev_name[port], name);
	pthread_mutex_unlock(&eal_lock);
	return 0;
}

/* Vdev.detach: the vdev of `port` is removed (rte_eal_hotplug_remove) under
 * the lock, and its claim is dropped. Returns rte_eal_hotplug_remove's result. */
MDP_EXPORT int32_t mdp_vdev_detach(uint16_t port, const char *name)
{
	pthread_mutex_lock(&eal_lock);
	int32_t rc = rte_eal_hotplug_remove("vdev", name);
	if (rc == 0 && strcmp(vdev_name[port], name) == 0)
		vdev_owner[port] = 0;
	pthread_mutex_unlock(&eal_lock);
	return rc;
}

/* rte_eth_dev_start, recorded so that the port is drained and stopped if its
 * isolate ends without closing it. */
MDP_EXPORT int32_t mdp_eth_start(uint16_t port)
{
	int32_t rc = rte_eth_dev_start(port);
	if (rc == 0)
		port_started[port] = 1;
	return rc;
}

/* Drains the receive queues (see drain_rx; a stopped port's burst functions are
 * DPDK's dummies, so this must come first), then rte_eth_dev_stop, both on
 * EAL's interrupt thread (see stop_on_intr_thread). */
MDP_EXPORT int32_t mdp_eth_stop(uint16_t port, uint16_t nb_rxq)
{
	int32_t rc = stop_on_intr_thread(port, nb_rxq);
	if (rc == 0)
		port_started[port] = 0;
	return rc;
}

/*
 * Makes the calling thread known to DPDK. Threads EAL did not create have no
 * lcore id, and then the mempool per-lcore cache is bypassed (alloc+free about
 * 3x slower). The id and the thread's mempool caches are given back when the
 * thread exits (thread_exit). Returns the thread's lcore id (existing or new)
 * or -1 with rte_errno set (e.g. all RTE_MAX_LCORE ids in use).
 */
MDP_EXPORT int32_t mdp_thread_register(void)
{
	if (rte_lcore_id() != LCORE_ID_ANY)
		return (int32_t)rte_lcore_id();
	struct thread_info *t = this_thread();
	if (t == NULL) {
		rte_errno = ENOMEM;
		return -1;
	}
	if (rte_thread_register() != 0)
		return -1;
	/* Given back at thread exit (thread_exit), so ids do not run out. */
	t->registered = 1;
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

/* ---- Runtime files ------------------------------------------------------
 * A primary EAL keeps its runtime files (config, fbarray memseg/memzone
 * backing files, mp_socket: about 6 MiB with --no-huge) in
 * /var/run/dpdk/<prefix>/ and never removes them; with a prefix per process
 * they pile up. Once EAL started as the primary, nobody else owns that
 * directory (the config lock says so), so it is removed when the process
 * exits normally. Unlinking does not unmap anything: threads still running
 * DPDK code at exit keep their memory. */

static char *runtime_dir;

/* Removes an EAL runtime directory: it holds plain files only (DPDK creates
 * no subdirectories). */
static void remove_dir_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	char path[4096];
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void remove_runtime_dir(void)
{
	if (runtime_dir != NULL)
		remove_dir_files(runtime_dir);
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

/* The directory EAL puts runtime directories in, as eal_create_runtime_dir
 * chooses it: /var/run/dpdk for root, else $XDG_RUNTIME_DIR/dpdk or /tmp/dpdk. */
static void runtime_parent_dir(char *out, size_t cap)
{
	const char *base = "/var/run";
	if (getuid() != 0) {
		const char *xdg = getenv("XDG_RUNTIME_DIR");
		base = xdg != NULL ? xdg : "/tmp";
	}
	snprintf(out, cap, "%s/dpdk", base);
}

/* Removes the runtime directories our dev prefix (melin-dpdk-<pid>, see
 * Eal.devOptions) left behind: atexit does not run on a signal (Ctrl-C,
 * SIGTERM, SIGKILL), and each holds about 6 MiB. Only a directory of exactly
 * that pattern whose pid is gone (kill → ESRCH) and whose config lock nobody
 * holds is removed: a live process's, or one of a pid taken again, stays. */
static void sweep_stale_runtime_dirs(void)
{
	char parent[2048], dir[4096];
	runtime_parent_dir(parent, sizeof(parent));
	DIR *d = opendir(parent);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		const char *digits = e->d_name + strlen("melin-dpdk-");
		if (strncmp(e->d_name, "melin-dpdk-", strlen("melin-dpdk-")) != 0 || *digits == '\0' ||
		    strlen(digits) > 9 || strspn(digits, "0123456789") != strlen(digits))
			continue;
		long pid = strtol(digits, NULL, 10);
		if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (snprintf(dir, sizeof(dir), "%s/%s", parent, e->d_name) >= (int)sizeof(dir))
			continue;
		if (!runtime_dir_locked_by_other(dir))
			remove_dir_files(dir);
	}
	closedir(d);
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
