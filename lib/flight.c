/* flight.c - see flight.h */
#include <math.h>

#include "flight.h"

#define FLIGHT_GAIN 2.0
#define FLIGHT_RATE_PERIOD 1.0

void flight_init(struct flight *f, int min, int max)
{
	*f = (struct flight){ 0 };
	f->min = min < 1 ? 1 : min;
	f->max = max < f->min ? f->min : max;
	f->gain = FLIGHT_GAIN;
	f->rate_period = FLIGHT_RATE_PERIOD;
	f->window = f->min;
}

struct flight_mark flight_sent(const struct flight *f, double now)
{
	struct flight_mark m = { now, now, now, f->delivered };

	/* Deliveries count from the last one before this piece left (BBR's
	 * delivered time), so that a piece sent into a steady stream
	 * measures that stream; sends from the one that last piece left. */
	if (f->delivered > 0) {
		m.delivered_at = f->delivered_at;
		m.first_sent = f->delivered_sent;
	}
	return m;
}

static void update_rate(struct flight *f, double sample, double now)
{
	if (now - f->rate_at >= f->rate_period) {
		f->rate[1] = now - f->rate_at < 2 * f->rate_period ? f->rate[0] : 0;
		f->rate[0] = 0;
		f->rate_at = now;
	}
	if (sample > f->rate[0])
		f->rate[0] = sample;
}

void flight_delivered(struct flight *f, const struct flight_mark *m,
		      double now)
{
	double rtt = now - m->sent_at, interval = now - m->delivered_at;
	double w;

	if (m->sent_at - m->first_sent > interval)
		interval = m->sent_at - m->first_sent;
	f->delivered++;
	f->delivered_at = now;
	f->delivered_sent = m->sent_at;
	if (rtt < 0)
		return;
	if (f->rtt <= 0 || rtt < f->rtt)
		f->rtt = rtt;
	if (interval > 0)
		update_rate(f, (double)(f->delivered - m->delivered) / interval,
			    now);
	w = floor(f->gain * flight_rate(f) * f->rtt + 0.5);
	f->window = w < f->min ? f->min : w > f->max ? f->max : (int)w;
}

int flight_window(const struct flight *f)
{
	return f->window;
}

double flight_rtt(const struct flight *f)
{
	return f->rtt;
}

double flight_rate(const struct flight *f)
{
	return f->rate[0] > f->rate[1] ? f->rate[0] : f->rate[1];
}
