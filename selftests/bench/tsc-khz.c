// SPDX-License-Identifier: GPL-2.0
/*
 * Prints the host's TSC frequency in kHz (median of five 100 ms samples
 * against CLOCK_MONOTONIC_RAW). Under plain TCG the guest's RDTSC reads
 * the host's TSC, and the guest cannot calibrate it (no HPET or PM timer,
 * and the emulated PIT is too slow to calibrate against), so it falls
 * back to a jiffies clock; run-bench.sh gives it this value instead
 * (tsc_early_khz=).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <x86intrin.h>

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	struct timespec a, b, d = { 0, 100000000 };
	double khz[5];
	int i;

	for (i = 0; i < 5; i++) {
		unsigned long long t0, t1;
		double ns;

		clock_gettime(CLOCK_MONOTONIC_RAW, &a);
		t0 = __rdtsc();
		nanosleep(&d, NULL);
		t1 = __rdtsc();
		clock_gettime(CLOCK_MONOTONIC_RAW, &b);
		ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
		khz[i] = (t1 - t0) / ns * 1e6;
	}
	qsort(khz, 5, sizeof(khz[0]), cmp);
	printf("%.0f\n", khz[2]);
	return 0;
}
