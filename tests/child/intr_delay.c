/*
 * LD_PRELOAD interposer for tests/memif_stop_test.ts: recvmsg on DPDK's interrupt thread
 * ("eal-intr-thread") first sleeps MDP_TEST_INTR_DELAY_US microseconds. net_memif reads its
 * control channel with recvmsg inside its interrupt handler, so this holds the handler open
 * while the application stops the device: the window of the race the test checks, made wide.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	static ssize_t (*real)(int, struct msghdr *, int);
	if (real == NULL)
		real = (ssize_t (*)(int, struct msghdr *, int))dlsym(RTLD_NEXT, "recvmsg");
	char name[16] = {0};
	prctl(PR_GET_NAME, name);
	if (strcmp(name, "eal-intr-thread") == 0) {
		const char *us = getenv("MDP_TEST_INTR_DELAY_US");
		usleep(us != NULL ? (useconds_t)atoi(us) : 5000);
	}
	return real(fd, msg, flags);
}
