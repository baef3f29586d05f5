/* linger.h - when an installed node may leave the swarm.
 *
 * After installing, a node keeps seeding until one of these holds, and
 * says which:
 *   - no connected peer is interested in its data for `samples` samples;
 *   - its upload rate stays below upload_min for `samples` samples;
 *   - max_seconds have passed.
 * The caller feeds one sample per interval (about a second); rates are
 * moving averages, hence several samples.
 */
#ifndef SI_LINGER_H
#define SI_LINGER_H

struct linger_state {
	int samples;		/* consecutive samples needed (>= 1) */
	long upload_min;	/* bytes/s; 0 = no upload condition */
	double max_seconds;	/* 0 = leave at once */
	double start;		/* now_monotonic() at linger_start */
	int idle, slow;		/* consecutive samples so far */
	double idle_since, slow_since;
	char reason[160];
};

void linger_start(struct linger_state *l, int samples, long upload_min,
		  double max_seconds, double now);
/* Feeds one sample.  Returns 1 when the node may leave (l->reason says
 * why), else 0. */
int linger_sample(struct linger_state *l, double now, int peers_interested,
		  long upload_rate);

#endif
