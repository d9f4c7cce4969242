/*
 * Ports: which isolate has a port open or attached a vdev (so that an ending
 * isolate strands none), draining and stopping on EAL's interrupt thread, and
 * the ethdev calls that take or fill structs.
 */
#include "shim.h"

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

void ports_clear_locked(void)
{
	memset(port_owner, 0, sizeof(port_owner));
	memset(vdev_owner, 0, sizeof(vdev_owner));
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

/* The ports part of release_isolate_locked (shim_eal.c): the ports isolate
 * s claimed are drained, stopped and closed, then its vdevs released. */
void ports_release_isolate_locked(int32_t s)
{
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
