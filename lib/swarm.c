/* swarm.c - see swarm.h */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "swarm.h"
#include "util.h"

#define READ_CHUNK (1 << 20)
/* Seconds between the downloads' housekeeping (stall, completion and
 * error checks, a late joiner's catch-up): each check asks libtorrent's
 * thread for the torrent's status, and a reader is woken for every 16 KiB
 * piece at 1 Gbit/s. */
#define CHECK_INTERVAL 0.1
/* Seconds a piece libtorrent called verified may take to reach the
 * staged file before we give up (swarm_config.landing_timeout = 0). */
#define LANDING_TIMEOUT 30

struct swarm_dl {
	struct swarm *sw;
	struct swarm_dl *next;
	struct bt_torrent *t;
	struct bt_info info;
	char *file;
	int fd;			/* the staged file, for reading */
	char *buf;		/* READ_CHUNK bytes */
	int64_t offset;		/* bytes handed to the reader */
	int64_t last_done;	/* verified bytes at the last change */
	int64_t prefix_seen;	/* verified prefix when swarm_pump() last woke */
	double last_change;
	int hash_failed;
	int finished;
	char *failed;		/* a message once the download failed */
	int tracker_warned;
	int catching_up;	/* bt_torrent_catch_up() holds pieces back */
};

struct swarm {
	struct swarm_config c;
	struct bt_session *ses;
	struct swarm_dl *dls;
	double next_reconnect, next_progress, next_check;
	int woken;	/* the prefix grew, or a download ended or failed */
};

struct swarm *swarm_new(const struct swarm_config *c)
{
	struct bt_session_config bc;
	struct swarm *sw = xcalloc(1, sizeof(*sw));
	char err[256];

	sw->c = *c;
	bt_session_config_init(&bc);
	bc.listen = c->listen ? c->listen : "0.0.0.0:0";
	bc.profile = BT_PROFILE_NODE;
	bc.peer_exchange = 1;
	/* Nodes of a cluster each have their own address; a seeder on the
	 * loopback means a test with every peer on this host. */
	bc.one_connection_per_ip = c->seeder_ip &&
		strncmp(c->seeder_ip, "127.", 4) && strcmp(c->seeder_ip, "::1");
	if (c->upload_rate_limit > 0) {
		bc.upload_rate_limit = c->upload_rate_limit;
		bc.all_peers_global = 1;
	}
	sw->ses = bt_session_new(&bc, err, sizeof(err));
	if (!sw->ses) {
		error("%s", err);
		free(sw);
		return NULL;
	}
	sw->next_progress = now_monotonic() + c->progress_interval;
	return sw;
}

static void dl_free(struct swarm_dl *d)
{
	if (d->t)
		bt_torrent_remove(d->t);
	if (d->fd >= 0)
		close(d->fd);
	free(d->buf);
	free(d->file);
	free(d->failed);
	free(d);
}

void swarm_free(struct swarm *sw)
{
	if (!sw)
		return;
	while (sw->dls) {
		struct swarm_dl *d = sw->dls;

		sw->dls = d->next;
		dl_free(d);
	}
	bt_session_free(sw->ses);
	free(sw);
}

/* Keeps an unfinished download in touch with the swarm: (re)connects to
 * the image server's seeder, and asks the tracker again when the only
 * peer we know is the seeder (a tracker that refused us, restarted or was
 * not yet told of the torrent would otherwise be retried only minutes
 * later, and the stripe schedule needs the nodes to know each other). */
static void connect_seeder(struct swarm_dl *d)
{
	char err[256];
	struct bt_stats st;

	if (d->t && bt_torrent_stats(d->t, &st, 0) == 0 && st.num_peers < 2 &&
	    st.state == BT_STATE_DOWNLOADING)
		bt_torrent_reannounce(d->t);
	if (!d->sw->c.seeder_ip || d->sw->c.seeder_port <= 0 || !d->t)
		return;
	if (bt_torrent_connect(d->t, d->sw->c.seeder_ip, d->sw->c.seeder_port,
			       err, sizeof(err)) < 0)
		debug("%s", err);
}

struct swarm_dl *swarm_add(struct swarm *sw, const char *torrent_path,
			   const char *stage_dir, int sequential)
{
	struct swarm_dl *d = xcalloc(1, sizeof(*d));
	char err[512];

	d->sw = sw;
	d->fd = -1;
	d->t = bt_torrent_add(sw->ses, torrent_path, stage_dir,
			      sequential ? BT_ADD_SEQUENTIAL : 0,
			      err, sizeof(err));
	if (!d->t) {
		error("%s", err);
		free(d);
		return NULL;
	}
	bt_torrent_set_user(d->t, d);
	bt_torrent_info(d->t, &d->info);
	d->file = path_join(stage_dir, d->info.name);
	d->last_change = now_monotonic();
	d->next = sw->dls;
	sw->dls = d;
	connect_seeder(d);
	sw->next_reconnect = now_monotonic() + sw->c.reconnect_interval;
	return d;
}

const struct bt_info *swarm_dl_info(const struct swarm_dl *d)
{
	return &d->info;
}

const char *swarm_dl_file(const struct swarm_dl *d)
{
	return d->file;
}

int swarm_dl_finished(const struct swarm_dl *d)
{
	return d->finished;
}

const char *swarm_dl_failed(const struct swarm_dl *d)
{
	return d->failed;
}

void swarm_remove(struct swarm_dl *d)
{
	struct swarm_dl **p;

	if (!d)
		return;
	for (p = &d->sw->dls; *p; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			break;
		}
	dl_free(d);
}

static void fail(struct swarm_dl *d, const char *msg)
{
	if (!d->failed)
		d->failed = xasprintf("download of '%s' failed: %s",
				      d->info.name, msg);
}

static void handle_event(struct swarm *sw, const struct bt_event *e)
{
	struct swarm_dl *d = e->torrent ? bt_torrent_user(e->torrent) : NULL;

	/* What a caller waiting in swarm_pump() waits for. */
	if (e->type == BT_EV_PIECE && d) {
		int64_t prefix = bt_torrent_verified_prefix(d->t);

		if (prefix > d->prefix_seen) {
			d->prefix_seen = prefix;
			sw->woken = 1;
		}
	} else if (e->type == BT_EV_FINISHED || e->type == BT_EV_TORRENT_ERROR ||
		   e->type == BT_EV_FILE_ERROR) {
		sw->woken = 1;
	}
	switch (e->type) {
	case BT_EV_FINISHED:
		if (d)
			d->finished = 1;
		break;
	case BT_EV_HASH_FAILED:
		if (d && d->hash_failed++ == 0)
			warning("%s: piece %d failed its hash check (bad data "
				"from a peer)", d->info.name, e->piece);
		break;
	case BT_EV_TORRENT_ERROR:
	case BT_EV_FILE_ERROR:
		if (d)
			fail(d, e->msg);
		break;
	case BT_EV_TRACKER_ERROR:
		if (d && !d->tracker_warned++)
			warning("%s: tracker: %s (going on with the seeder and "
				"peers)", d->info.name, e->msg);
		else
			debug("tracker: %s", e->msg);
		break;
	case BT_EV_TRACKER_REPLY:
		if (d)
			d->tracker_warned = 0;
		debug("tracker %s gave %d peers", e->msg, e->piece);
		break;
	case BT_EV_LISTEN_FAILED:
		warning("BitTorrent: %s", e->msg);
		break;
	case BT_EV_PEER_CONNECT:
	case BT_EV_PEER_DISCONNECT:
		debug("%s %s", bt_event_name(e->type), e->msg);
		break;
	default:
		break;
	}
}

static void progress_line(struct swarm *sw, struct swarm_dl *d)
{
	struct bt_stats st;
	char a[32], b[32], c[32];
	double pct;

	if (bt_torrent_stats(d->t, &st, 0) < 0)
		return;
	pct = d->info.total_size ? 100.0 * st.total_done / d->info.total_size : 100;
	notice("%s: %5.1f%% of %s, down %s/s, up %s/s, %d peers (%d seeds), "
	       "extracted %.1f%%", d->info.name, pct,
	       human_bytes(a, sizeof(a), (double)d->info.total_size),
	       human_bytes(b, sizeof(b), st.download_rate),
	       human_bytes(c, sizeof(c), st.upload_rate), st.num_peers,
	       st.num_seeds,
	       d->info.total_size ? 100.0 * d->offset / d->info.total_size : 0);
	if (sw->c.progress)
		sw->c.progress(sw->c.progress_ctx, d->info.name, pct,
			       st.download_rate, st.upload_rate);
}

/* Per-download housekeeping: stall detection and completion. */
static void check_dl(struct swarm_dl *d, double now)
{
	struct bt_stats st;

	if (d->failed)
		return;
	if (bt_torrent_stats(d->t, &st, 0) < 0) {
		fail(d, "the torrent disappeared");
		return;
	}
	if (st.state == BT_STATE_ERROR) {
		fail(d, st.error);
		return;
	}
	if (st.total_done == d->info.total_size)
		d->finished = 1;
	if (st.total_done != d->last_done) {
		d->last_done = st.total_done;
		d->last_change = now;
	} else if (!d->finished && now - d->last_change > d->sw->c.stall_timeout) {
		char *msg = xasprintf("no new data for %.0f s (%d peers, %d "
				      "hash failures)", now - d->last_change,
				      st.num_peers, d->hash_failed);
		fail(d, msg);
		free(msg);
	}
}

/* A node that joins late leaves the pieces most peers hold for the end
 * (bt_torrent_catch_up in lib/bt.cc says why). */
static void catch_up(struct swarm_dl *d)
{
	int on = bt_torrent_catch_up(d->t);

	if (on && !d->catching_up)
		notice("%s: joined late: %d pieces most peers hold are left "
		       "for later", d->info.name, bt_torrent_catch_up_held(d->t));
	else if (!on && d->catching_up)
		notice("%s: fetching the %d pieces left for later",
		       d->info.name, bt_torrent_catch_up_held(d->t));
	d->catching_up = on;
}

int swarm_pump(struct swarm *sw, int ms)
{
	struct bt_event ev[128];
	double now, end = now_monotonic() + ms / 1000.0;
	int n, ret = 0;

	sw->woken = 0;
	do {
		int left = (int)((end - now_monotonic()) * 1000);

		n = bt_session_poll(sw->ses, left > 0 ? left : 0, ev,
				    ARRAY_SIZE(ev));
		for (int i = 0; i < n; i++)
			handle_event(sw, &ev[i]);
	} while (n > 0 && !sw->woken && now_monotonic() < end);
	now = now_monotonic();
	if (now >= sw->next_check) {
		for (struct swarm_dl *d = sw->dls; d; d = d->next) {
			check_dl(d, now);
			if (!d->failed && !d->finished)
				catch_up(d);
		}
		sw->next_check = now + CHECK_INTERVAL;
	}
	for (struct swarm_dl *d = sw->dls; d; d = d->next)
		if (d->failed)
			ret = -1;
	if (now >= sw->next_reconnect) {
		for (struct swarm_dl *d = sw->dls; d; d = d->next)
			if (!d->finished)
				connect_seeder(d);
		sw->next_reconnect = now + sw->c.reconnect_interval;
	}
	if (now >= sw->next_progress) {
		for (struct swarm_dl *d = sw->dls; d; d = d->next)
			if (!d->finished || d->offset < d->info.total_size)
				progress_line(sw, d);
		sw->next_progress = now + sw->c.progress_interval;
	}
	return ret;
}

/* Reads whole pieces of the staged file from byte OFF (a piece boundary)
 * up to LIMIT into d->buf (READ_CHUNK or a piece), keeping only the leading
 * pieces whose data matches their hash: libtorrent reports a piece
 * verified before its disk write lands (before the file exists, for the
 * first piece).  Returns the bytes kept (0 when the first piece is not on
 * disk yet), or -1. */
static ssize_t read_landed(struct swarm_dl *d, int64_t off, int64_t limit)
{
	int64_t plen = d->info.piece_length, want = limit - off, done = 0;
	int64_t chunk = plen < READ_CHUNK ? READ_CHUNK / plen * plen : plen;
	ssize_t n;

	if (d->fd < 0) {
		d->fd = open(d->file, O_RDONLY | O_CLOEXEC);
		if (d->fd < 0 && errno == ENOENT)
			return 0;
		if (d->fd < 0)
			return error_errno("cannot open '%s'", d->file);
		d->buf = xmalloc((size_t)chunk);
	}
	if (want > chunk)
		want = chunk;
	do
		n = pread(d->fd, d->buf, (size_t)want, off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return error_errno("cannot read '%s'", d->file);
	while (done < n) {
		int64_t len = plen;

		if (off + done + len > d->info.total_size)
			len = d->info.total_size - off - done;
		if (done + len > n ||
		    !bt_torrent_piece_ok(d->t, (int)((off + done) / plen),
					 d->buf + done, (long)len))
			break;
		done += len;
	}
	return done;
}

static double landing_timeout(const struct swarm_dl *d)
{
	double t = d->sw->c.landing_timeout;

	return t > 0 ? t : LANDING_TIMEOUT;
}

static int not_landed(struct swarm_dl *d, int64_t off)
{
	return error("%s: '%s' still lacks verified data at byte %lld after "
		     "%g s", d->info.name, d->file, (long long)off,
		     landing_timeout(d));
}

/* Waits for the download and then for the staged file to hold it. */
int swarm_wait_complete(struct swarm_dl *d)
{
	int64_t off = 0;
	double give_up;
	ssize_t n;

	while (!d->finished) {
		swarm_pump(d->sw, 200);
		if (d->failed)
			return error("%s", d->failed);
	}
	give_up = now_monotonic() + landing_timeout(d);
	while (off < d->info.total_size) {
		n = read_landed(d, off, d->info.total_size);
		if (n < 0)
			return -1;
		off += n;
		if (n > 0)
			continue;
		if (now_monotonic() > give_up)
			return not_landed(d, off);
		swarm_pump(d->sw, 20);
	}
	return 0;
}

ssize_t swarm_read(void *ctx, const void **buf)
{
	struct swarm_dl *d = ctx;
	int64_t plen = d->info.piece_length, start, skip, limit, prefix;
	double give_up = 0;
	ssize_t n;
	int waiting = 0;

	if (d->offset >= d->info.total_size)
		return 0;
	start = d->offset / plen * plen;
	skip = d->offset - start;
	for (;;) {
		prefix = bt_torrent_verified_prefix(d->t);
		if (prefix > d->offset) {
			/* While a piece has not landed, look at it alone. */
			limit = waiting ? start + plen : prefix;
			if (limit > prefix)
				limit = prefix;
			n = read_landed(d, start, limit);
			if (n < 0)
				return -1;
			if (n > skip)
				break;
			if (!waiting)
				give_up = now_monotonic() + landing_timeout(d);
			else if (now_monotonic() > give_up)
				return not_landed(d, start);
			waiting = 1;
		}
		/* Nothing new verified, or verified but not written yet. */
		swarm_pump(d->sw, prefix > d->offset ? 10 : 100);
		if (d->failed)
			return error("%s", d->failed);
	}
	d->offset = start + n;
	*buf = d->buf + skip;
	/* Keep events flowing while extraction runs. */
	swarm_pump(d->sw, 0);
	return n - skip;
}

void swarm_totals(struct swarm *sw, struct swarm_totals *t)
{
	struct bt_stats st;

	memset(t, 0, sizeof(*t));
	for (struct swarm_dl *d = sw->dls; d; d = d->next) {
		if (bt_torrent_stats(d->t, &st, 1) < 0)
			continue;
		t->down += st.payload_down;
		t->up += st.payload_up;
		t->up_rate += st.upload_rate;
		t->interested += st.peers_interested;
		t->peers += st.num_peers;
	}
}

int swarm_fetch_torrent(struct swarm *sw, const char *head_path,
			const char *out_path, int timeout_ms)
{
	char err[512], *head, *buf = NULL, *dir;
	size_t head_len, len;
	int ret;

	if (!(head = read_file(head_path, &head_len, 0)))
		return -1;
	dir = xstrdup(out_path);
	*strrchr(dir, '/') = '\0';
	ret = bt_fetch_torrent(sw->ses, head, head_len, sw->c.seeder_ip,
			       sw->c.seeder_port, dir, timeout_ms, &buf, &len,
			       err, sizeof(err));
	if (ret < 0)
		warning("%s: %s", strrchr(head_path, '/') ?
			strrchr(head_path, '/') + 1 : head_path, err);
	else
		ret = write_file_atomic(out_path, buf, len, 0644);
	free(buf);
	free(dir);
	free(head);
	return ret;
}
