/*
 * Pools: the process-wide registry (identity, ownership, borrowers), pool
 * creation with mempool flags, and the memory chunks TypeScript maps.
 */
#include "shim.h"

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

void pools_clear_locked(void)
{
	for (int32_t s = 0; s < MDP_MAX_POOLS; s++)
		pool_entry_clear(s);
}

/* The pools part of release_isolate_locked (shim_eal.c): isolate s's lcore
 * caches flushed, its borrowed handles dropped, its pools freed or orphaned. */
void pools_release_isolate_locked(int32_t s)
{
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

