/*
 * The EAL lifecycle, the isolates that use it, their threads, and EAL's
 * runtime files. See shim.h for the shim's rule.
 */
#include "shim.h"
#include <rte_cycles.h>

/* See shim.h. */
__thread uint32_t mdp_lcore_plus1 __attribute__((tls_model("initial-exec")));

/* ---- EAL lifecycle --------------------------------------------------- */

static void mdp_runtime_files_remove_at_exit(int started);
static void sweep_stale_runtime_dirs(void);

pthread_mutex_t eal_lock = PTHREAD_MUTEX_INITIALIZER;
/* Read without a call from TypeScript through a view of its address, so that
 * every DPDK-touching method can check "is EAL still alive" for the cost of a
 * memory load. Written only under eal_lock. */
volatile int32_t eal_state = MDP_EAL_NOT_STARTED;
/* The NUL-separated argument block EAL was started with; kept for the life of
 * the process because EAL may keep pointers into argv. */
static char *eal_args;
static uint32_t eal_args_len;
/* The TSC clock (mdp_tsc_ms): its origin and scale, set once when EAL starts
 * (rte_get_tsc_hz is known only then) and never changed, so the clock stays
 * monotonic across isolates and after cleanup. 0 before: the clock reads 0. */
static uint64_t tsc_origin;
static double tsc_ms_per_cycle;

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
			int init_rc = rte_eal_init(argc, argv);
			mdp_lcore_forget(); /* this thread is the main lcore now */
			if (init_rc < 0) {
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
				tsc_origin = rte_get_tsc_cycles();
				tsc_ms_per_cycle = 1e3 / (double)rte_get_tsc_hz();
				eal_state = MDP_EAL_RUNNING;
				rc = MDP_INIT_STARTED;
			}
		}
	}
	pthread_mutex_unlock(&eal_lock);
	return rc;
}

/* Milliseconds since EAL started, from the TSC: one rdtsc and a multiply, a
 * fraction of clock_gettime's or performance.now()'s cost from JavaScript.
 * Reads 0 until EAL has started. */
MDP_EXPORT double mdp_tsc_ms(void)
{
	return (double)(rte_get_tsc_cycles() - tsc_origin) * tsc_ms_per_cycle;
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

/* Ends EAL for the whole process; called with eal_lock held once no isolate
 * uses it. Every pool generation goes to 0 first: the memory goes with EAL. */
static int32_t eal_end_locked(void)
{
	pools_clear_locked();
	ports_clear_locked();
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
	ports_release_isolate_locked(s);
	pools_release_isolate_locked(s);
}

/* pthread key destructor: the thread (and so its isolate) is gone. */
static void thread_exit(void *info)
{
	struct thread_info *t = info;
	pthread_mutex_lock(&eal_lock);
	if (t->slot >= 0) {
		release_isolate_locked(t->slot);
		/* Before leave: a last leave may end EAL. */
		if (t->registered && eal_state == MDP_EAL_RUNNING) {
			rte_thread_unregister();
			mdp_lcore_forget();
		}
		leave_locked(t->slot);
		isolate_word[t->slot] = MDP_ISO_NOT_JOINED;
		isolate_taken[t->slot] = 0;
	} else if (t->registered && eal_state == MDP_EAL_RUNNING) {
		rte_thread_unregister();
		mdp_lcore_forget();
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
			mdp_lcore_forget();
			t->registered = 0;
		}
	}
	int32_t rc = leave_locked(slot);
	pthread_mutex_unlock(&eal_lock);
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
	int rc = rte_thread_register();
	mdp_lcore_forget();
	if (rc != 0)
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
