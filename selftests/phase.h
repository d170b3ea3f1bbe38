/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A watchdog per phase for the userspace tests: wait_for("what") starts a
 * phase of PHASE_S seconds (60 unless defined before this is included);
 * a phase that runs past them prints a failing TAP line that names what
 * the test was waiting for, and the test exits.
 */
#ifndef DMABUF_RS_PHASE_H
#define DMABUF_RS_PHASE_H
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#ifndef PHASE_S
#define PHASE_S 60
#endif

static const char *volatile waiting = "the test";

static void timed_out(int sig)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "not ok - timed out (%d s) waiting for %s\n", PHASE_S, waiting);

	(void)sig;
	write(1, msg, n);
	_exit(1);
}

static void wait_for(const char *what)
{
	waiting = what;
	signal(SIGALRM, timed_out);
	alarm(PHASE_S);
}

#endif
