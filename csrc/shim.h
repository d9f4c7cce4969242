/*
 * melin_dpdk shim: the parts of DPDK that Deno's FFI cannot reach directly.
 * One internal header for the shim's C files, which build one shared library
 * (scripts/build.ts), by concept:
 *   shim_eal.c   EAL lifecycle, isolates (who uses EAL), threads, runtime files
 *   shim_pool.c  the pool registry, pool creation, pool memory chunks
 *   shim_port.c  port claims, vdev claims, drain and stop, ethdev structs
 *   shim_mbuf.c  mbuf operations, copy-and-checksum, batches (the hot path)
 *
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
 *
 * Only src/ffi.ts lists the exported (MDP_EXPORT) symbols; everything else is
 * hidden (-fvisibility=hidden), so what this header shares between the files
 * stays internal to the library.
 */
#ifndef MELIN_SHIM_H
#define MELIN_SHIM_H

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

/* Addresses as doubles (see "Mbufs" in shim_mbuf.c). */
#define MBUF(a) ((struct rte_mbuf *)(uintptr_t)(a))
#define ADDR(p) ((double)(uintptr_t)(p))

/* The calling thread's lcore id plus one, 0 when not looked up yet: in the
 * shim's own thread-local storage with the initial-exec model, two
 * instructions to read, where DPDK's rte_lcore_id() from this dlopened
 * library is a __tls_get_addr call (librte_eal's thread-locals are in dynamic
 * TLS): about 1.5 ns of each single alloc and free. Defined in shim_eal.c;
 * every place in the shim that changes the thread's lcore id forgets it. */
extern __thread uint32_t mdp_lcore_plus1 __attribute__((tls_model("initial-exec")));

/* rte_lcore_id(), cached per thread (see mdp_lcore_plus1). LCORE_ID_ANY is
 * never cached (plus one it wraps to 0), so a thread without an lcore id asks
 * DPDK each time and sees the id it gets later. */
static inline unsigned mdp_lcore(void)
{
	uint32_t v = mdp_lcore_plus1;
	if (likely(v != 0))
		return v - 1;
	unsigned id = rte_lcore_id();
	mdp_lcore_plus1 = id + 1;
	return id;
}

/* After the thread's lcore id changed (rte_eal_init, rte_thread_register,
 * rte_thread_unregister). */
static inline void mdp_lcore_forget(void) { mdp_lcore_plus1 = 0; }

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

/* Serializes every change of process-wide state (EAL, isolates, pools, ports). */
extern pthread_mutex_t eal_lock;
/* Read without a call from TypeScript through a view of its address, so that
 * every DPDK-touching method can check "is EAL still alive" for the cost of a
 * memory load. Written only under eal_lock. */
extern volatile int32_t eal_state;

/* Isolate slots (see "Isolates" in shim_eal.c). */
#define MDP_MAX_ISOLATES 256

/* shim_pool.c, called with eal_lock held: every registry slot forgotten (EAL
 * ends; its memory goes with it), and what isolate s holds let go (see
 * release_isolate_locked in shim_eal.c). */
void pools_clear_locked(void);
void pools_release_isolate_locked(int32_t s);

/* shim_port.c, called with eal_lock held: every port and vdev claim
 * forgotten (EAL ends), and the ports and vdevs of isolate s closed and
 * detached (see release_isolate_locked in shim_eal.c). */
void ports_clear_locked(void);
void ports_release_isolate_locked(int32_t s);

#endif
