/* Unit tests of lib/flight.c: the window a seed keeps in flight to one
 * peer, driven through a simulated path (a bottleneck of a given rate in
 * pieces/s, then a fixed delay), the way the striping seed drives it. */
#include <math.h>
#include <stdlib.h>

#include "flight.h"
#include "tap.h"

#define MAX_FLIGHT 4096

/* A path: pieces queue at a bottleneck serving `rate` pieces/s, then take
 * `delay` seconds more; the seed keeps flight_window() pieces out and
 * sends a new one for each that arrives. */
struct path {
	double rate, delay;
	double burst;			/* arrivals released every burst s */
	double busy_until;		/* the bottleneck's queue */
	double arrive[MAX_FLIGHT];	/* arrival time of each piece out */
	struct flight_mark mark[MAX_FLIGHT];
	int n;				/* pieces out */
	int64_t arrived;
};

static void send_one(struct path *p, struct flight *f, double now)
{
	double start = p->busy_until > now ? p->busy_until : now;

	p->busy_until = start + 1.0 / p->rate;
	p->arrive[p->n] = p->busy_until + p->delay;
	if (p->burst > 0)
		p->arrive[p->n] = ceil(p->arrive[p->n] / p->burst) * p->burst;
	p->mark[p->n] = flight_sent(f, now);
	p->n++;
}

/* Runs the path for `seconds` from *now.  Returns the pieces delivered. */
static int64_t run(struct path *p, struct flight *f, double *now,
		   double seconds)
{
	double end = *now + seconds;
	int64_t before = p->arrived;

	while (*now < end) {
		int first = 0;

		while (p->n < flight_window(f) && p->n < MAX_FLIGHT)
			send_one(p, f, *now);
		for (int i = 1; i < p->n; i++)
			if (p->arrive[i] < p->arrive[first])
				first = i;
		*now = p->arrive[first];
		flight_delivered(f, &p->mark[first], *now);
		p->arrived++;
		p->arrive[first] = p->arrive[p->n - 1];
		p->mark[first] = p->mark[p->n - 1];
		p->n--;
	}
	return p->arrived - before;
}

static void test_fills_a_fast_path(void)
{
	/* 1 GB/s of 256 KiB pieces (4000/s) and 2 ms: a product of 8. */
	struct path p = { .rate = 4000, .delay = 0.002 };
	struct flight f;
	double now = 100;
	int64_t got;

	flight_init(&f, 2, 1000);
	ok(flight_window(&f) == 2, "starts at the minimum");
	run(&p, &f, &now, 1.0);
	got = run(&p, &f, &now, 1.0);
	ok(got > 0.95 * p.rate, "a fast path runs at its rate (%lld of %.0f "
	   "pieces/s)", (long long)got, p.rate);
	ok(flight_window(&f) >= 8 && flight_window(&f) <= 40,
	   "the window holds near twice the product (%d for 8, rtt %.4f s, "
	   "rate %.0f/s)", flight_window(&f), flight_rtt(&f), flight_rate(&f));
}

static void test_slow_path_stays_small(void)
{
	/* 10 Mbit/s of 16 KiB pieces shared by 32 nodes: 2.4 pieces/s each,
	 * 1 ms away: far below one piece in flight. */
	struct path p = { .rate = 2.4, .delay = 0.001 };
	struct flight f;
	double now = 100;

	flight_init(&f, 2, 1000);
	run(&p, &f, &now, 20.0);
	ok(flight_window(&f) == 2, "a slow path keeps the minimum (%d)",
	   flight_window(&f));
}

static void test_bursts_are_not_speed(void)
{
	/* A peer whose download libtorrent rate-limits to 6 pieces/s gets
	 * its quota every 0.5 s: its `have`s come in bursts, 10 ms away. */
	struct path p = { .rate = 6, .delay = 0.01, .burst = 0.5 };
	struct flight f;
	double now = 100;

	flight_init(&f, 2, 1000);
	run(&p, &f, &now, 20.0);
	ok(flight_window(&f) <= 8, "bursts of haves do not grow the window "
	   "(%d, rate %.1f/s)", flight_window(&f), flight_rate(&f));
}

/* Ack compression, step by step: pieces sent over 21 ms all arrive in
 * one burst 1.5 ms after the last delivery.  The path moved 12 pieces in
 * 21.5 ms; the deliveries alone would say 11 in 1.5 ms (7,300/s). */
static void test_compressed_haves(void)
{
	struct flight_mark a, b[10], c;
	struct flight f;

	flight_init(&f, 2, 1000);
	a = flight_sent(&f, 0);
	flight_delivered(&f, &a, 0.020);
	for (int i = 0; i < 10; i++)
		b[i] = flight_sent(&f, 0.020);
	c = flight_sent(&f, 0.021);
	for (int i = 0; i < 10; i++)
		flight_delivered(&f, &b[i], 0.0215);
	flight_delivered(&f, &c, 0.0215);
	ok(flight_rate(&f) < 1000, "a burst of haves is measured over the "
	   "sends it took (%.0f pieces/s)", flight_rate(&f));
	ok(flight_window(&f) <= 2, "... and does not grow the window (%d)",
	   flight_window(&f));
}

static void test_follows_a_slower_path(void)
{
	struct path p = { .rate = 4000, .delay = 0.005 };
	struct flight f;
	double now = 100;
	int fast;

	flight_init(&f, 2, 1000);
	run(&p, &f, &now, 2.0);
	fast = flight_window(&f);
	p.rate = 400;
	run(&p, &f, &now, 5.0);
	ok(flight_window(&f) < fast / 4, "the window shrinks when the path "
	   "slows down (%d, was %d)", flight_window(&f), fast);
	ok(flight_window(&f) >= 4, "... to about twice the new product (%d "
	   "for 2)", flight_window(&f));
}

static void test_bounds(void)
{
	struct path p = { .rate = 100000, .delay = 0.05 };
	struct flight f;
	double now = 100;

	flight_init(&f, 0, 64);
	ok(flight_window(&f) == 1, "a minimum below 1 is 1");
	run(&p, &f, &now, 2.0);
	ok(flight_window(&f) == 64, "never above the maximum (%d)",
	   flight_window(&f));
	flight_init(&f, 8, 4);
	ok(flight_window(&f) == 8, "a maximum below the minimum is the minimum");
	ok(flight_rtt(&f) == 0 && flight_rate(&f) == 0, "nothing measured yet");
}

int main(void)
{
	test_fills_a_fast_path();
	test_slow_path_stays_small();
	test_bursts_are_not_speed();
	test_compressed_haves();
	test_follows_a_slower_path();
	test_bounds();
	return tap_done();
}
