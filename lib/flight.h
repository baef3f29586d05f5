/* flight.h - how many pieces a seed keeps on their way to one peer.
 *
 * A fixed count of pieces in flight caps a peer at count x piece size per
 * round trip: two 16 KiB pieces filled a 10 Mbit/s link and gave 0.8 MB/s
 * on loopback.  The right count is the path's bandwidth-delay product, and
 * the seed can measure both halves the way TCP's BBR does, from the pieces
 * it announces and the `have` messages that come back:
 *   - the round trip: the shortest time from announcing a piece to its
 *     `have` (queues only add to it).  Unlike BBR's, the minimum never
 *     expires: a window sized from a round trip that includes the queue
 *     the window itself built would grow that queue without end, and a
 *     LAN path keeps its base delay;
 *   - the delivery rate: for each piece, the pieces delivered while it was
 *     on its way over the time it was (BBR's delivery-rate sample: the
 *     longer of the time between the deliveries that framed it and the
 *     time between the sends that did, so that `have`s arriving in a
 *     burst, as a rate-limited peer sends them, do not look like a fast
 *     path); the highest sample of the last rate_period seconds.
 * The window is gain x rate x round trip, in pieces (rounded), within
 * [min, max].
 * While the window is what limits the peer, a round trip delivers the
 * whole window, so the next window is gain times as large: it doubles
 * each round trip until the link or the peer stops delivering more, then
 * holds at gain x the bandwidth-delay product.  On a slow link shared by
 * many nodes the product is below a piece and the window stays at min.
 *
 * Plain C, no libtorrent: the caller keeps a struct flight_mark with each
 * piece it announces and hands it back when the piece arrives.  Times are
 * seconds on any monotonic clock.
 */
#ifndef SI_FLIGHT_H
#define SI_FLIGHT_H

#include <stdint.h>

struct flight {
	int min, max;		/* window bounds, pieces */
	double gain;		/* window = gain x rate x rtt */
	double rate_period;	/* seconds a rate maximum stands */
	int64_t delivered;	/* pieces delivered so far */
	double delivered_at;	/* when the last one was */
	double delivered_sent;	/* when the last one delivered was sent */
	double rtt;		/* the round-trip minimum */
	double rate[2];		/* pieces/s: this period's maximum, the last's */
	double rate_at;		/* when this rate period began */
	int window;
};

/* What the caller keeps with one announced piece. */
struct flight_mark {
	double sent_at;
	double delivered_at;	/* the flight's delivered_at then */
	double first_sent;	/* the flight's delivered_sent then */
	int64_t delivered;
};

/* Starts with window min (>= 1), at most max pieces. */
void flight_init(struct flight *f, int min, int max);
/* The mark of a piece announced now. */
struct flight_mark flight_sent(const struct flight *f, double now);
/* The piece announced with mark m arrived now; updates the window. */
void flight_delivered(struct flight *f, const struct flight_mark *m,
		      double now);
/* Pieces to keep in flight now. */
int flight_window(const struct flight *f);
/* The measured round trip (s, 0 before any) and delivery rate (pieces/s). */
double flight_rtt(const struct flight *f);
double flight_rate(const struct flight *f);

#endif
