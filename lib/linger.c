/* linger.c - see linger.h */
#include <stdio.h>

#include "linger.h"

void linger_start(struct linger_state *l, int samples, long upload_min,
		  double max_seconds, double now)
{
	l->samples = samples < 1 ? 1 : samples;
	l->upload_min = upload_min;
	l->max_seconds = max_seconds;
	l->start = now;
	l->idle = l->slow = 0;
	l->idle_since = l->slow_since = now;
	l->reason[0] = '\0';
}

int linger_sample(struct linger_state *l, double now, int peers_interested,
		  long upload_rate)
{
	if (now - l->start >= l->max_seconds) {
		snprintf(l->reason, sizeof(l->reason),
			 "lingered the maximum of %.0f s", l->max_seconds);
		return 1;
	}
	if (peers_interested == 0) {
		if (l->idle++ == 0)
			l->idle_since = now;
	} else {
		l->idle = 0;
	}
	if (l->upload_min > 0 && upload_rate < l->upload_min) {
		if (l->slow++ == 0)
			l->slow_since = now;
	} else {
		l->slow = 0;
	}
	if (l->idle >= l->samples) {
		snprintf(l->reason, sizeof(l->reason),
			 "no peer interested for %.0f s (%d samples)",
			 now - l->idle_since + 1, l->idle);
		return 1;
	}
	if (l->slow >= l->samples) {
		snprintf(l->reason, sizeof(l->reason),
			 "upload below %ld KB/s for %.0f s (%d samples)",
			 l->upload_min / 1000, now - l->slow_since + 1, l->slow);
		return 1;
	}
	return 0;
}
