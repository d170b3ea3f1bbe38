/* SPDX-License-Identifier: GPL-2.0 */
/* Minimal TAP output for the project's userspace tests. */
#ifndef DMABUF_RS_TAP_H
#define DMABUF_RS_TAP_H
#include <stdarg.h>
#include <stdio.h>

static int test_no, failed;

static void result(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void result(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", ok ? "ok" : "not ok", ++test_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		failed++;
}

#endif
