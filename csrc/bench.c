/*
 * C baselines for `deno task bench`: the same work as the TypeScript cases, with
 * DPDK's inline functions called directly. Built as its own library (not part
 * of the shim) and loaded into the benchmark process, so both sides run on the
 * same EAL, pool, thread and lcore cache. Each function runs `iters` rounds
 * and returns the elapsed nanoseconds.
 */
#define _GNU_SOURCE /* sendmmsg, recvmmsg */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#define EXPORT __attribute__((visibility("default")))
#define POOL(a) ((struct rte_mempool *)(uintptr_t)(a))

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One mbuf out and back, `iters` times. */
EXPORT double mdb_alloc_free(double mp, uint32_t iters)
{
	double t0 = now_ns();
	for (uint32_t i = 0; i < iters; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(POOL(mp));
		if (m == NULL)
			return -1;
		rte_pktmbuf_free(m);
	}
	return now_ns() - t0;
}

/* `burst` mbufs out and back in one bulk call each, `iters` times. */
EXPORT double mdb_bulk(double mp, uint32_t iters, uint32_t burst)
{
	struct rte_mbuf *mbufs[512];
	if (burst > 512)
		return -1;
	double t0 = now_ns();
	for (uint32_t i = 0; i < iters; i++) {
		if (rte_pktmbuf_alloc_bulk(POOL(mp), mbufs, burst) != 0)
			return -1;
		rte_pktmbuf_free_bulk(mbufs, burst);
	}
	return now_ns() - t0;
}

/* Walk n mbufs: read each one's length and touch its first data byte. */
EXPORT double mdb_walk(const uint64_t *arr, uint32_t n, uint32_t iters, uint64_t *sum_out)
{
	uint64_t sum = 0;
	double t0 = now_ns();
	for (uint32_t i = 0; i < iters; i++) {
		for (uint32_t j = 0; j < n; j++) {
			struct rte_mbuf *m = (struct rte_mbuf *)(uintptr_t)arr[j];
			uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
			p[0]++;
			sum += m->data_len;
		}
		/* keep the compiler from merging rounds */
		__asm__ volatile("" ::: "memory");
	}
	*sum_out = sum;
	return now_ns() - t0;
}

/* One burst round trip through a loopback port (net_ring): allocate `burst`
 * mbufs, give each `len` bytes and write its first byte, send them, receive
 * them back, read each first byte, free them. */
EXPORT double mdb_ring_burst(uint16_t port, double mp, uint32_t iters, uint32_t burst, uint32_t len,
			     uint64_t *sum_out)
{
	struct rte_mbuf *tx[512], *rx[512];
	uint64_t sum = 0;
	if (burst > 512)
		return -1;
	double t0 = now_ns();
	for (uint32_t i = 0; i < iters; i++) {
		if (rte_pktmbuf_alloc_bulk(POOL(mp), tx, burst) != 0)
			return -1;
		for (uint32_t j = 0; j < burst; j++) {
			uint8_t *p = (uint8_t *)rte_pktmbuf_append(tx[j], (uint16_t)len);
			p[0] = (uint8_t)j;
		}
		uint16_t sent = rte_eth_tx_burst(port, 0, tx, (uint16_t)burst);
		if (sent < burst)
			rte_pktmbuf_free_bulk(tx + sent, burst - sent);
		uint16_t got = rte_eth_rx_burst(port, 0, rx, (uint16_t)burst);
		for (uint16_t j = 0; j < got; j++)
			sum += rte_pktmbuf_mtod(rx[j], uint8_t *)[0] + rx[j]->data_len;
		rte_pktmbuf_free_bulk(rx, got);
	}
	*sum_out = sum;
	return now_ns() - t0;
}

/*
 * The far end of a wire for the stack benchmark: a net_ring port whose rx
 * queue reads `wire_in` and whose tx queue writes `wire_out`, two rings this
 * file holds the other ends of. The peer (C, playing the NIC and the remote
 * host) puts request frames on `wire_in` and takes the port's frames off
 * `wire_out`, so the stack's replies leave instead of looping back to it.
 */
static struct rte_ring *wire_in, *wire_out;
static uint8_t wire_frame[2048];
static uint32_t wire_frame_len;

/* Creates the rings and the port (names suffixed with `k`: one wire at a time,
 * but each under its own names); returns the port id, or -1. */
EXPORT int32_t mdb_wire_port(uint32_t k)
{
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "mdb_wire_in%u", k);
	wire_in = rte_ring_create(name, 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "mdb_wire_out%u", k);
	wire_out = rte_ring_create(name, 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (wire_in == NULL || wire_out == NULL)
		return -1;
	snprintf(name, sizeof(name), "net_ring_wire%u", k);
	return rte_eth_from_rings(name, &wire_in, 1, &wire_out, 1, SOCKET_ID_ANY);
}

/* Frees the rings (after the port is closed). */
EXPORT void mdb_wire_free(void)
{
	rte_ring_free(wire_in);
	rte_ring_free(wire_out);
	wire_in = wire_out = NULL;
}

/* The frame the peer sends. */
EXPORT int32_t mdb_wire_set_frame(const uint8_t *frame, uint32_t len)
{
	if (len > sizeof(wire_frame))
		return -1;
	memcpy(wire_frame, frame, len);
	wire_frame_len = len;
	return 0;
}

/*
 * Round-trip times. While a recording is open (mdb_lat_begin), every round
 * stamps the TSC once, as it starts (the peer's send); the time of round i is
 * stamp[i+1] - stamp[i], so it counts everything one round does, the loop
 * around it included, and one rdtsc. Both sides of a latency case are
 * stamped at the same point of the same peer code.
 */
static uint64_t *lat_stamp;
static uint32_t lat_cap, lat_n;

static inline void lat_mark(void)
{
	if (lat_n < lat_cap)
		lat_stamp[lat_n++] = rte_rdtsc();
}

/* Stamps the end of the last round (for loops that do not end in C). */
EXPORT void mdb_lat_mark(void)
{
	lat_mark();
}

/* Opens a recording of up to n stamps (n - 1 rounds); 0 closes it. Returns
 * 0, or -1 when out of memory. */
EXPORT int32_t mdb_lat_begin(uint32_t n)
{
	if (n > lat_cap) {
		uint64_t *p = realloc(lat_stamp, (size_t)n * sizeof(*p));
		if (p == NULL)
			return -1;
		lat_stamp = p;
	}
	lat_cap = n;
	lat_n = 0;
	if (n == 0) {
		free(lat_stamp);
		lat_stamp = NULL;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Closes the recording: out[0] = median, out[1] = 99th percentile, out[2] =
 * mean, in ns per round. Returns the number of rounds (0: none, out untouched). */
EXPORT uint32_t mdb_lat_end(double *out)
{
	uint32_t rounds = lat_n > 1 ? lat_n - 1 : 0;
	if (rounds > 0) {
		double ns = 1e9 / (double)rte_get_tsc_hz();
		uint64_t total = lat_stamp[rounds] - lat_stamp[0];
		for (uint32_t i = 0; i < rounds; i++)
			lat_stamp[i] = lat_stamp[i + 1] - lat_stamp[i];
		qsort(lat_stamp, rounds, sizeof(*lat_stamp), cmp_u64);
		out[0] = (double)lat_stamp[rounds / 2] * ns;
		out[1] = (double)lat_stamp[(uint32_t)((uint64_t)rounds * 99 / 100)] * ns;
		out[2] = (double)total * ns / rounds;
	}
	lat_cap = lat_n = 0;
	return rounds;
}

/* Puts `n` copies of the frame on the wire; returns how many went. */
EXPORT uint32_t mdb_wire_send(double mp, uint32_t n)
{
	struct rte_mbuf *m[512];
	lat_mark();
	if (n > 512 || rte_pktmbuf_alloc_bulk(POOL(mp), m, n) != 0)
		return 0;
	for (uint32_t j = 0; j < n; j++)
		memcpy(rte_pktmbuf_append(m[j], (uint16_t)wire_frame_len), wire_frame, wire_frame_len);
	uint32_t q = rte_ring_enqueue_burst(wire_in, (void **)m, n, NULL);
	if (q < n)
		rte_pktmbuf_free_bulk(m + q, n - q);
	return q;
}

/* Takes every frame the port sent off the wire and frees it; returns how many
 * were echoes of the peer's frame: same length, addresses and ports swapped,
 * same payload. */
EXPORT uint32_t mdb_wire_receive(void)
{
	struct rte_mbuf *m[512];
	uint32_t echoes = 0;
	uint32_t got = rte_ring_dequeue_burst(wire_out, (void **)m, 512, NULL);
	const uint8_t *f = wire_frame;
	for (uint32_t j = 0; j < got; j++) {
		const uint8_t *p = rte_pktmbuf_mtod(m[j], const uint8_t *);
		if (m[j]->data_len == wire_frame_len && wire_frame_len >= 42 &&
		    memcmp(p, f + 6, 6) == 0 && memcmp(p + 26, f + 30, 4) == 0 && memcmp(p + 30, f + 26, 4) == 0 &&
		    memcmp(p + 34, f + 36, 2) == 0 && memcmp(p + 36, f + 34, 2) == 0 &&
		    memcmp(p + 42, f + 42, wire_frame_len - 42) == 0)
			echoes++;
	}
	rte_pktmbuf_free_bulk(m, got);
	return echoes;
}

/* Takes every frame off the wire, copies the first one into out (up to cap
 * bytes) and frees them all; returns the first one's length, or 0 for none.
 * For checking a reply's bytes (checksums included), not for timing. */
EXPORT uint32_t mdb_wire_take(uint8_t *out, uint32_t cap)
{
	struct rte_mbuf *m[512];
	uint32_t got = rte_ring_dequeue_burst(wire_out, (void **)m, 512, NULL);
	uint32_t len = 0;
	if (got > 0) {
		len = m[0]->data_len < cap ? m[0]->data_len : cap;
		memcpy(out, rte_pktmbuf_mtod(m[0], const uint8_t *), len);
	}
	rte_pktmbuf_free_bulk(m, got);
	return len;
}

/*
 * The C reference for the stack's UDP echo: the same per-datagram work as the
 * stack's receive fast path, socket and send path, written the way a DPDK
 * programmer tunes it (built at -O3): Ethernet, IPv4 and UDP parsed with word
 * loads, destination MAC and address checked, IPv4 and UDP checksums
 * verified, the reply's headers written with checksums computed from the
 * values written (never read back), the payload copied into a fresh mbuf
 * (summed on the way, so the reply's UDP checksum reuses that sum), one burst
 * out. One's-complement sums do not depend on byte order (RFC 1071), so the
 * words are summed as loaded.
 */
static uint8_t echo_mac[6];
static uint32_t echo_ip; /* network order */
static uint16_t echo_id;

/* Our MAC and IPv4 address (host order), as the stack's interface has them. */
EXPORT void mdb_echo_config(const uint8_t *mac, uint32_t ip)
{
	memcpy(echo_mac, mac, 6);
	echo_ip = htonl(ip);
}

static inline uint32_t ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint16_t ld16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static inline void st32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void st16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline uint32_t fold(uint64_t s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

/* Copies n bytes from src to dst and returns their one's-complement sum as
 * 32-bit words (zero-padded at the end), 8 bytes at a time. */
static inline uint64_t copy_sum(uint8_t *restrict dst, const uint8_t *restrict src, uint32_t n)
{
	uint64_t s = 0;
	uint32_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x;
		memcpy(&x, src + i, 8);
		memcpy(dst + i, &x, 8);
		s += (x & 0xffffffff) + (x >> 32);
	}
	if (i < n) {
		uint64_t x = 0;
		memcpy(&x, src + i, n - i);
		memcpy(dst + i, &x, n - i);
		s += (x & 0xffffffff) + (x >> 32);
	}
	return s;
}

/* Answers the request in `m` into `r`; returns 0 when `m` is not a valid
 * UDP datagram to us (r untouched). */
static inline int echo_one(const struct rte_mbuf *m, struct rte_mbuf *r)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = m->data_len;
	if (len < 42 || ld32(p) != ld32(echo_mac) || ld16(p + 4) != ld16(echo_mac + 4) ||
	    ld16(p + 12) != htons(0x0800))
		return 0;
	const uint8_t *ip = p + 14;
	uint32_t total = ntohs(ld16(ip + 2));
	/* version 4, IHL 5; no fragment (DF allowed); UDP; to us; fits the frame */
	if (ip[0] != 0x45 || (ld16(ip + 6) & htons(0xbfff)) != 0 || ip[9] != 17 || ld32(ip + 16) != echo_ip ||
	    total < 28 || 14 + total > len)
		return 0;
	uint32_t src = ld32(ip + 12);
	if (fold((uint64_t)ld32(ip) + ld32(ip + 4) + ld32(ip + 8) + src + echo_ip) != 0xffff)
		return 0;
	const uint8_t *udp = ip + 20;
	uint32_t ports = ld32(udp);
	uint16_t ulen_n = ld16(udp + 4), csum = ld16(udp + 6);
	uint32_t ulen = ntohs(ulen_n);
	if (ulen < 8 || 20 + ulen > total || ld16(udp + 2) != htons(7))
		return 0;
	uint8_t *q = rte_pktmbuf_mtod(r, uint8_t *);
	uint64_t payload = copy_sum(q + 42, udp + 8, ulen - 8);
	/* the pseudo header's protocol and length words, and the UDP length field */
	uint64_t lens = (uint64_t)htons(17) + ulen_n + ulen_n;
	if (csum != 0 && fold(payload + src + echo_ip + lens + ports + csum) != 0xffff)
		return 0;
	/* The reply. Ethernet: back to the sender. */
	memcpy(q, p + 6, 6);
	memcpy(q + 6, echo_mac, 6);
	st16(q + 12, htons(0x0800));
	/* IPv4: TOS 0, a fresh id, DF, TTL 64; the sum from the values written */
	uint8_t *qi = q + 14;
	uint32_t rtotal = 20 + ulen; /* without any padding the request had */
	uint32_t r0 = htonl(0x45000000 | rtotal);
	uint32_t r1 = htonl((uint32_t)(++echo_id) << 16 | 0x4000);
	uint32_t r2 = htonl(64u << 24 | 17u << 16);
	st32(qi, r0);
	st32(qi + 4, r1);
	st32(qi + 8, r2);
	st16(qi + 10, (uint16_t)~fold((uint64_t)r0 + r1 + r2 + echo_ip + src));
	st32(qi + 12, echo_ip);
	st32(qi + 16, src);
	/* UDP: ports swapped (the halves of the word); the sum from the values written and the payload's */
	uint8_t *qu = qi + 20;
	uint32_t rports = ports >> 16 | ports << 16;
	uint16_t usum = (uint16_t)~fold(payload + echo_ip + src + lens + rports);
	st32(qu, rports);
	st16(qu + 4, ulen_n);
	st16(qu + 6, usum == 0 ? 0xffff : usum);
	r->data_len = (uint16_t)(r->pkt_len = 14 + rtotal);
	return 1;
}

/* One poll of the C echo: receive a burst, answer each datagram into a fresh
 * mbuf, send the answers, free the requests. */
static inline void echo_poll(uint16_t port, struct rte_mempool *mp, uint32_t burst)
{
	struct rte_mbuf *rx[512], *tx[512];
	uint16_t got = rte_eth_rx_burst(port, 0, rx, (uint16_t)burst);
	if (got == 0)
		return;
	if (rte_pktmbuf_alloc_bulk(mp, tx, got) == 0) {
		uint32_t k = 0;
		for (uint32_t j = 0; j < got; j++) {
			if (j + 1 < got)
				rte_prefetch0(rte_pktmbuf_mtod(rx[j + 1], void *));
			k += (uint32_t)echo_one(rx[j], tx[k]);
		}
		uint16_t sent = rte_eth_tx_burst(port, 0, tx, (uint16_t)k);
		if (sent < got)
			rte_pktmbuf_free_bulk(tx + sent, got - sent);
	}
	rte_pktmbuf_free_bulk(rx, got);
}

/* `iters` rounds of: the peer puts `burst` requests on the wire, the C echo
 * polls once, the peer takes the replies off and checks them. Returns the
 * elapsed ns, or -1 when a reply was missing or wrong. */
EXPORT double mdb_echo_c(double mp, uint16_t port, uint32_t iters, uint32_t burst)
{
	if (burst > 512)
		return -1;
	double t0 = now_ns();
	for (uint32_t i = 0; i < iters; i++) {
		uint32_t sent = mdb_wire_send(mp, burst);
		echo_poll(port, POOL(mp), burst);
		if (mdb_wire_receive() != sent || sent != burst)
			return -1;
	}
	lat_mark(); /* the end of the last round */
	return now_ns() - t0;
}

/* One round of the C echo for `burst` requests, the replies left on the wire
 * (for mdb_wire_take). */
EXPORT void mdb_echo_once(double mp, uint16_t port, uint32_t burst)
{
	mdb_wire_send(mp, burst);
	echo_poll(port, POOL(mp), burst);
}

/*
 * The kernel's UDP path: a client and a server socket on 127.0.0.1 in this
 * process. Each round the client sends `burst` datagrams of `len` bytes, the
 * server receives them and sends each back to its sender, and the client
 * receives the echoes and checks them. Burst 1 uses sendto/recvfrom, larger
 * bursts sendmmsg/recvmmsg. Returns the elapsed ns, or -1 on an error or a
 * wrong echo.
 */
static int udp_socket(struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof(*addr);
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &l) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends (send != 0) or receives exactly n datagrams through msgs; a receive
 * blocks for each datagram still missing. Returns 0, or -1 on an error. */
static int mmsg_all(int fd, struct mmsghdr *msgs, uint32_t n, int send)
{
	uint32_t done = 0;
	while (done < n) {
		int k = send ? sendmmsg(fd, msgs + done, n - done, 0)
			     : recvmmsg(fd, msgs + done, n - done, MSG_WAITFORONE, NULL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (uint32_t)k;
	}
	return 0;
}

EXPORT double mdb_kernel_echo(uint32_t iters, uint32_t burst, uint32_t len)
{
	enum { MAXB = 64, MAXLEN = 1472 };
	static uint8_t out[MAXLEN], srv_buf[MAXB][MAXLEN], cli_buf[MAXB][MAXLEN];
	if (burst == 0 || burst > MAXB || len == 0 || len > MAXLEN)
		return -1;
	for (uint32_t i = 0; i < len; i++)
		out[i] = (uint8_t)(i + 42);
	struct sockaddr_in srv_addr, cli_addr, from[MAXB];
	int srv = udp_socket(&srv_addr), cli = udp_socket(&cli_addr);
	double result = -1;
	if (srv < 0 || cli < 0)
		goto done;
	struct iovec out_iov = {out, len}, srv_iov[MAXB], cli_iov[MAXB];
	struct mmsghdr req[MAXB], srv_in[MAXB], srv_out[MAXB], cli_in[MAXB];
	for (uint32_t j = 0; j < burst; j++) {
		srv_iov[j] = (struct iovec){srv_buf[j], MAXLEN};
		cli_iov[j] = (struct iovec){cli_buf[j], MAXLEN};
		req[j] = (struct mmsghdr){.msg_hdr = {.msg_name = &srv_addr, .msg_namelen = sizeof(srv_addr),
						      .msg_iov = &out_iov, .msg_iovlen = 1}};
		srv_in[j] = (struct mmsghdr){
			.msg_hdr = {.msg_name = &from[j], .msg_namelen = sizeof(from[j]), .msg_iov = &srv_iov[j],
				    .msg_iovlen = 1}};
		cli_in[j] = (struct mmsghdr){.msg_hdr = {.msg_iov = &cli_iov[j], .msg_iovlen = 1}};
	}
	double t0 = now_ns();
	for (uint32_t i = 0; i < iters; i++) {
		lat_mark();
		if (burst == 1) {
			socklen_t fl = sizeof(from[0]);
			if (sendto(cli, out, len, 0, (struct sockaddr *)&srv_addr, sizeof(srv_addr)) != (ssize_t)len)
				goto done;
			ssize_t n = recvfrom(srv, srv_buf[0], MAXLEN, 0, (struct sockaddr *)&from[0], &fl);
			if (n < 0 || sendto(srv, srv_buf[0], (size_t)n, 0, (struct sockaddr *)&from[0], fl) != n)
				goto done;
			if (recvfrom(cli, cli_buf[0], MAXLEN, 0, NULL, NULL) != (ssize_t)len ||
			    memcmp(cli_buf[0], out, len) != 0)
				goto done;
			continue;
		}
		if (mmsg_all(cli, req, burst, 1) != 0)
			goto done;
		for (uint32_t j = 0; j < burst; j++)
			srv_in[j].msg_hdr.msg_namelen = sizeof(from[j]);
		if (mmsg_all(srv, srv_in, burst, 0) != 0)
			goto done;
		for (uint32_t j = 0; j < burst; j++) {
			srv_iov[j].iov_len = srv_in[j].msg_len;
			srv_out[j] = (struct mmsghdr){.msg_hdr = srv_in[j].msg_hdr};
		}
		if (mmsg_all(srv, srv_out, burst, 1) != 0)
			goto done;
		for (uint32_t j = 0; j < burst; j++)
			srv_iov[j].iov_len = MAXLEN;
		if (mmsg_all(cli, cli_in, burst, 0) != 0)
			goto done;
		for (uint32_t j = 0; j < burst; j++)
			if (cli_in[j].msg_len != len || memcmp(cli_buf[j], out, len) != 0)
				goto done;
	}
	lat_mark();
	result = now_ns() - t0;
done:
	if (srv >= 0)
		close(srv);
	if (cli >= 0)
		close(cli);
	return result;
}
