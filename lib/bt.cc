// bt.cc - the only C++ file: libtorrent behind the C API of bt.h.
//
// Every extern "C" function catches all exceptions.  A struct bt_torrent
// wraps a torrent_handle and keeps the verified-piece bitmap, updated from
// piece_finished alerts, so C can read the verified contiguous prefix of a
// download while later pieces still arrive.

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/extensions.hpp>
#include <libtorrent/extensions/smart_ban.hpp>
#include <libtorrent/extensions/ut_metadata.hpp>
#include <libtorrent/extensions/ut_pex.hpp>
#include <libtorrent/hasher.hpp>
#include <libtorrent/peer_connection_handle.hpp>
#include <libtorrent/peer_request.hpp>
#include <libtorrent/ip_filter.hpp>
#include <libtorrent/peer_info.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/session_params.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "bt.h"
extern "C" {
#include "flight.h"
#include "port.h"
}

namespace lt = libtorrent;

struct stripe_state;	// branch swarm: the striping seed (end of file)
void stripe_attach(struct bt_torrent *t, lt::add_torrent_params &p,
		   int depth, unsigned options);
void stripe_node_attach(lt::add_torrent_params &p);
enum metadata_kind { metadata_plain, metadata_gated, metadata_ours };
void metadata_attach(lt::add_torrent_params &p, metadata_kind k);	// session 4

struct bt_torrent {
	struct bt_session *ses;
	lt::torrent_handle h;
	std::shared_ptr<const lt::torrent_info> ti;
	std::vector<bool> have;
	int have_count = 0;
	int prefix_pieces = 0;	// pieces 0..prefix_pieces-1 all verified
	void *user = nullptr;
	std::shared_ptr<stripe_state> stripe;	// BT_ADD_STRIPE_SEED only
	// Session 4: trackers held back for a moment (bt_fetch_torrent()).
	std::vector<lt::announce_entry> later_trackers;
	std::chrono::steady_clock::time_point trackers_at;
	struct catch_up_state {		// bt_torrent_catch_up()
		int phase = 0;		// 0 watching, 1 holding back, 2 done
		std::chrono::steady_clock::time_point start, next, progress;
		int progress_count = 0;
		std::vector<int> held;	// pieces held back
		std::vector<bool> is_held;
		int missing = 0;	// held pieces not here yet
	} cu;

	void mark(int piece)
	{
		if (piece < 0 || piece >= (int)have.size() || have[piece])
			return;
		have[piece] = true;
		have_count++;
		while (prefix_pieces < (int)have.size() && have[prefix_pieces])
			prefix_pieces++;
		if (cu.phase != 1)
			return;
		if (cu.is_held[piece])
			cu.missing--;
		// Before libtorrent sees nothing left to fetch: a torrent that
		// has all its wanted pieces drops its peers.
		int n = static_cast<int>(have.size());
		if (have_count + cu.missing >= n - std::max(16, n / 50))
			release_held();
	}
	// Gives the pieces of cu.held priority PRIO (0: not downloaded).
	void prioritize_held(lt::download_priority_t prio)
	{
		std::vector<std::pair<lt::piece_index_t, lt::download_priority_t>> v;

		for (int i : cu.held)
			v.emplace_back(lt::piece_index_t{i}, prio);
		h.prioritize_pieces(v);
	}
	void hold(std::vector<int> pieces)
	{
		cu.is_held.assign(have.size(), false);
		for (int i : pieces)
			cu.is_held[i] = true;
		cu.missing = static_cast<int>(pieces.size());
		cu.held = std::move(pieces);
		prioritize_held(lt::dont_download);
		cu.phase = 1;
	}
	void release_held()
	{
		prioritize_held(lt::default_priority);
		cu.phase = 2;
	}
};

struct bt_session {
	std::unique_ptr<lt::session> ses;
	std::map<lt::torrent_handle, bt_torrent *> torrents;
	std::deque<bt_event> pending;
	bool peer_exchange = true;
	bool gate_metadata = false;	// the seeder: see bt_fetch_torrent()
	// Session 4: info-hashes just fetched, and until when the torrent
	// added next for them holds its trackers back (bt_fetch_torrent()).
	std::map<lt::sha1_hash, std::chrono::steady_clock::time_point> fetched;
	bool starting = false;		// the start tick (end_start())
	bool stripe_node = true;	// branch swarm
	int stripe_depth = 0;		// branch stripe2
	unsigned stripe_options = 0;
};

namespace {

void set_err(char *err, size_t errlen, const std::string &msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg.c_str());
}

void copy_str(char *dst, size_t n, const std::string &s)
{
	snprintf(dst, n, "%s", s.c_str());
}

std::string hex(lt::sha1_hash const &h)
{
	static const char digits[] = "0123456789abcdef";
	std::string s;

	for (auto c : h) {
		unsigned char u = static_cast<unsigned char>(c);
		s += digits[u >> 4];
		s += digits[u & 15];
	}
	return s;
}

void fill_info(lt::torrent_info const &ti, bt_info *info)
{
	std::memset(info, 0, sizeof(*info));
	lt::file_storage const &fs = ti.files();

	copy_str(info->name, sizeof(info->name),
		 fs.num_files() == 1 ? fs.file_name(lt::file_index_t{0}).to_string()
				     : ti.name());
	copy_str(info->info_hash, sizeof(info->info_hash),
		 hex(ti.info_hashes().v1));
	info->total_size = ti.total_size();
	info->piece_length = ti.piece_length();
	info->num_pieces = ti.num_pieces();
	info->num_files = fs.num_files();
}

// The BT_UNPACKED_KEY record of a bencoded torrent (or head), if any.
void fill_unpacked(lt::bdecode_node const &top, bt_info *info)
{
	lt::bdecode_node u = top.type() == lt::bdecode_node::dict_t ?
			     top.dict_find_dict(BT_UNPACKED_KEY) : lt::bdecode_node();

	info->unpacked_bytes = u ? std::max<std::int64_t>(0,
				u.dict_find_int_value("bytes", 0)) : 0;
	info->unpacked_entries = u ? std::max<std::int64_t>(0,
				u.dict_find_int_value("entries", 0)) : 0;
}

// libtorrent 2.0 listens on a wildcard address with a socket per local
// address, each on a port of its own when asked for port 0, and names the
// first one's port (loopback's, as often as not) as its own: in the
// extension handshake, hence in PEX and si_peers, and in listen_port().
// Peers connecting there were refused (aria2c lost a second a try).  One
// free port, picked here, serves every address.
std::string listen_interfaces(const char *listen)
{
	std::string spec = listen && *listen ? listen : "0.0.0.0:0";
	auto colon = spec.rfind(':');

	if (colon == std::string::npos || spec.find(',') != std::string::npos ||
	    spec.compare(colon, std::string::npos, ":0") != 0)
		return spec;
	std::string addr = spec.substr(0, colon);
	if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']')
		addr = addr.substr(1, addr.size() - 2);
	if (port_parse_addr(addr.c_str()) < 0)
		return spec;	// a device name: libtorrent's business
	int port = port_pick("BitTorrent", addr.c_str(), PORT_TCP);
	return port > 0 ? spec.substr(0, colon + 1) + std::to_string(port) : spec;
}

lt::settings_pack lan_settings(const bt_session_config *c)
{
	lt::settings_pack p;
	namespace sp = lt;

	// A seed connecting to the peers its tracker names makes a second
	// connection to each node (the node closes one; the stripe schedule
	// then announces that connection's pieces again: ~3% of the image at
	// N=32), but without it a stock client that asked the tracker before
	// the seeder did (a restarted tracker) waits for its next announce:
	// kept on (docs/perf/swarm-scheduling.md, session 2).
	if (c->profile == BT_PROFILE_SEEDER)
		p = lt::high_performance_seed();
	p.set_str(sp::settings_pack::listen_interfaces,
		  listen_interfaces(c->listen));
	p.set_str(sp::settings_pack::user_agent, "SwarmImager/0.1");
	p.set_str(sp::settings_pack::peer_fingerprint, "-SI0100-");
	// A LAN swarm: TCP only, no DHT/LSD/port mapping, no encryption.
	p.set_bool(sp::settings_pack::enable_outgoing_utp, false);
	p.set_bool(sp::settings_pack::enable_incoming_utp, false);
	p.set_bool(sp::settings_pack::enable_dht, false);
	p.set_bool(sp::settings_pack::enable_lsd, false);
	p.set_bool(sp::settings_pack::enable_upnp, false);
	p.set_bool(sp::settings_pack::enable_natpmp, false);
	// Stock clients that offer an encrypted handshake first (aria2c) are
	// answered in plaintext, not refused: a refusal cost aria2c a second
	// for every peer it connected to.
	p.set_int(sp::settings_pack::out_enc_policy, sp::settings_pack::pe_disabled);
	p.set_int(sp::settings_pack::in_enc_policy, sp::settings_pack::pe_enabled);
	p.set_int(sp::settings_pack::allowed_enc_level, sp::settings_pack::pe_plaintext);
	// Tests run every peer on 127.0.0.1; a cluster's nodes have their own
	// addresses, and there two nodes connecting to each other at once
	// would keep both connections (libtorrent 2.0.8 does not drop the
	// second by peer-id): twice the messages for nothing.
	p.set_bool(sp::settings_pack::allow_multiple_connections_per_ip,
		   !c->one_connection_per_ip);
	p.set_bool(sp::settings_pack::no_connect_privileged_ports, false);
	// Every node of a cluster connects to every other at once (the
	// tracker's first answer); a listen queue of 5 (libtorrent's default
	// for a node) dropped SYNs, sent again only after 1 s.
	if (p.get_int(sp::settings_pack::listen_queue_size) < 256)
		p.set_int(sp::settings_pack::listen_queue_size, 256);
	// Never let a many-torrent seeder stall on auto-management limits.
	p.set_int(sp::settings_pack::active_downloads, -1);
	p.set_int(sp::settings_pack::active_seeds, -1);
	p.set_int(sp::settings_pack::active_limit, -1);
	p.set_int(sp::settings_pack::active_checking, 4);
	// Quick tracker handling: a dead tracker must not hold anything up.
	p.set_int(sp::settings_pack::stop_tracker_timeout, 1);
	p.set_int(sp::settings_pack::tracker_completion_timeout, 10);
	p.set_int(sp::settings_pack::tracker_receive_timeout, 5);
	p.set_int(sp::settings_pack::min_reconnect_time, 1);
	p.set_int(sp::settings_pack::peer_connect_timeout, 5);
	p.set_int(sp::settings_pack::min_announce_interval, 5);
	// Bigger pipes than the WAN-oriented defaults.
	p.set_int(sp::settings_pack::send_buffer_watermark, 4 * 1024 * 1024);
	p.set_int(sp::settings_pack::send_buffer_low_watermark, 1024 * 1024);
	p.set_int(sp::settings_pack::max_out_request_queue, 1500);
	p.set_int(sp::settings_pack::request_queue_time, 2);
	p.set_int(sp::settings_pack::max_allowed_in_request_queue, 2000);
	p.set_int(sp::settings_pack::alert_queue_size, 100000);
	// A node writes one download at a time: libtorrent's 10 disk threads
	// a session woke each other for every 16 KiB block (32 nodes at
	// 10 Mbit/s on two cores: 2.20 CPU s a node, 2.07-2.17 with two).
	if (c->profile == BT_PROFILE_NODE)
		p.set_int(sp::settings_pack::aio_threads, 2);
	if (c->upload_rate_limit > 0)
		p.set_int(sp::settings_pack::upload_rate_limit,
			  (int)std::min<long>(c->upload_rate_limit, INT32_MAX));
	if (c->download_rate_limit > 0)
		p.set_int(sp::settings_pack::download_rate_limit,
			  (int)std::min<long>(c->download_rate_limit, INT32_MAX));
	if (c->unchoke_slots)
		p.set_int(sp::settings_pack::unchoke_slots_limit,
			  c->unchoke_slots < 0 ? -1 : c->unchoke_slots);
	if (c->connections_limit > 0)
		p.set_int(sp::settings_pack::connections_limit,
			  c->connections_limit);
	p.set_int(sp::settings_pack::alert_mask,
		  lt::alert_category::error | lt::alert_category::status |
		  lt::alert_category::storage | lt::alert_category::tracker |
		  lt::alert_category::connect | lt::alert_category::piece_progress |
		  lt::alert_category::peer);
	return p;
}

// libtorrent 2.0.8's session loads OpenSSL's default CA file, for https
// trackers, in its constructor; no setting turns it off.  Parsing Debian's
// bundle of ~140 certificates takes 25 ms of CPU: a third of a second
// when the bench's 32 nodes start at once on 2 cores, before any of them
// can fetch a piece.  OpenSSL finds the same certificates in its hashed
// directory (/etc/ssl/certs), one when needed, so while the session is
// built SSL_CERT_FILE names no file, unless it names a file of the user's
// own or SSL_CERT_DIR a directory of the user's own: https trackers are
// verified as before.
bool same_file(const char *a, const char *b)
{
	char *ra = realpath(a, nullptr), *rb = realpath(b, nullptr);
	bool same = ra && rb && !std::strcmp(ra, rb);

	std::free(ra);
	std::free(rb);
	return same;
}

std::unique_ptr<lt::session> new_session(lt::session_params &&params)
{
	const char *file = std::getenv("SSL_CERT_FILE");
	const char *dir = std::getenv("SSL_CERT_DIR");
	std::string was = file ? file : "";
	bool skip = (!file || same_file(file, X509_get_default_cert_file())) &&
		    (!dir || same_file(dir, X509_get_default_cert_dir()));
	auto restore = [&] {
		if (skip && file)
			setenv("SSL_CERT_FILE", was.c_str(), 1);
		else if (skip)
			unsetenv("SSL_CERT_FILE");
	};

	if (skip)
		setenv("SSL_CERT_FILE", "/dev/null", 1);
	try {
		auto ses = std::make_unique<lt::session>(std::move(params));
		restore();
		return ses;
	} catch (...) {
		restore();
		throw;
	}
}

bt_event make_event(bt_event_type type, bt_torrent *t, int piece,
		    const std::string &msg)
{
	bt_event e;

	std::memset(&e, 0, sizeof(e));
	e.type = type;
	e.torrent = t;
	e.piece = piece;
	copy_str(e.msg, sizeof(e.msg), msg);
	return e;
}

bt_torrent *find(bt_session *s, lt::torrent_handle const &h)
{
	auto it = s->torrents.find(h);

	return it == s->torrents.end() ? nullptr : it->second;
}

// Refreshes the bitmap from the torrent's own state (after checking).
void sync_pieces(bt_torrent *t)
{
	lt::torrent_status st = t->h.status(lt::torrent_handle::query_pieces);

	for (int i = 0; i < (int)st.pieces.size(); i++)
		if (st.pieces.get_bit(lt::piece_index_t{i}))
			t->mark(i);
}

// A node's session starts with a short tick: libtorrent connects to the
// peers it was given (connect_peer(): the image server's seeder) only at a
// tick, 0.25 s after the torrent was added on average with the default
// 0.5 s.  After the first connection the tick is the default again: a
// short one also ends the request queue's slow start early (rates
// measured over 0.1 s jitter), which made a loopback download 60% slower.
constexpr int start_tick_ms = 50, run_tick_ms = 500;

void end_start(bt_session *s)
{
	lt::settings_pack p;

	p.set_int(lt::settings_pack::tick_interval, run_tick_ms);
	s->ses->apply_settings(p);
	s->starting = false;
}

void translate(bt_session *s, lt::alert *a)
{
	using namespace lt;
	bt_torrent *t = nullptr;

	// alert_cast<> matches exact types only: torrent_alert is a base.
	if (auto *ta = dynamic_cast<torrent_alert *>(a)) {
		t = find(s, ta->handle);
		if (!t)
			return;	// removed already, or not ours
	}
	if (auto *p = alert_cast<piece_finished_alert>(a)) {
		int piece = static_cast<int>(p->piece_index);
		t->mark(piece);
		s->pending.push_back(make_event(BT_EV_PIECE, t, piece, ""));
	} else if (alert_cast<torrent_finished_alert>(a)) {
		// Done with what it wanted while holding pieces back: not done.
		if (t->cu.phase == 1 && t->cu.missing > 0)
			t->release_held();
		else
			s->pending.push_back(make_event(BT_EV_FINISHED, t, -1, ""));
	} else if (auto *h = alert_cast<hash_failed_alert>(a)) {
		s->pending.push_back(make_event(BT_EV_HASH_FAILED, t,
			static_cast<int>(h->piece_index), a->message()));
	} else if (alert_cast<torrent_checked_alert>(a)) {
		sync_pieces(t);
		s->pending.push_back(make_event(BT_EV_CHECKED, t, -1, ""));
	} else if (auto *e = alert_cast<torrent_error_alert>(a)) {
		s->pending.push_back(make_event(BT_EV_TORRENT_ERROR, t, -1,
			e->error.message() + " (" + e->filename() + ")"));
	} else if (auto *f = alert_cast<file_error_alert>(a)) {
		s->pending.push_back(make_event(BT_EV_FILE_ERROR, t, -1,
			std::string(operation_name(f->op)) + " '" +
			f->filename() + "': " + f->error.message()));
	} else if (auto *te = alert_cast<tracker_error_alert>(a)) {
		// Listening on 0.0.0.0 gives a socket per local address; the
		// loopback one "skips" every announce to a remote tracker.
		if (te->error == lt::errors::announce_skipped)
			return;
		s->pending.push_back(make_event(BT_EV_TRACKER_ERROR, t, -1,
			std::string(te->tracker_url()) + ": " +
			(te->failure_reason()[0] ? te->failure_reason() :
			 te->error.message().c_str())));
	} else if (auto *tr = alert_cast<tracker_reply_alert>(a)) {
		s->pending.push_back(make_event(BT_EV_TRACKER_REPLY, t,
			tr->num_peers, tr->tracker_url()));
	} else if (auto *pc = alert_cast<peer_connect_alert>(a)) {
		if (s->starting)
			end_start(s);
		s->pending.push_back(make_event(BT_EV_PEER_CONNECT, t, -1,
			pc->endpoint.address().to_string() + ":" +
			std::to_string(pc->endpoint.port())));
	} else if (auto *pd = alert_cast<peer_disconnected_alert>(a)) {
		s->pending.push_back(make_event(BT_EV_PEER_DISCONNECT, t, -1,
			pd->endpoint.address().to_string() + ":" +
			std::to_string(pd->endpoint.port()) + " " +
			pd->error.message()));
	} else if (auto *lf = alert_cast<listen_failed_alert>(a)) {
		s->pending.push_back(make_event(BT_EV_LISTEN_FAILED, nullptr,
			lf->port, lf->message()));
	} else if (auto *ls = alert_cast<listen_succeeded_alert>(a)) {
		s->pending.push_back(make_event(BT_EV_LISTEN_OK, nullptr,
			ls->port, ls->message()));
	} else if (alert_cast<alerts_dropped_alert>(a)) {
		s->pending.push_back(make_event(BT_EV_DROPPED, nullptr, -1,
			a->message()));
	}
}

// Gives the torrents that held their trackers back (bt_fetch_torrent())
// their trackers once it is time.
void start_trackers(bt_session *s)
{
	auto now = std::chrono::steady_clock::now();

	for (auto &kv : s->torrents) {
		bt_torrent *t = kv.second;

		if (t->later_trackers.empty() || now < t->trackers_at)
			continue;
		t->h.replace_trackers(t->later_trackers);
		t->h.force_reannounce();
		t->later_trackers.clear();
	}
}

} // namespace

extern "C" {

void bt_session_config_init(struct bt_session_config *c)
{
	std::memset(c, 0, sizeof(*c));
	c->listen = "0.0.0.0:0";
	c->profile = BT_PROFILE_NODE;
	c->peer_exchange = 1;
	c->stripe_node = 1;
	c->stripe_options = BT_STRIPE_DEFAULT;
}

struct bt_session *bt_session_new(const struct bt_session_config *c,
				  char *err, size_t errlen)
{
	try {
		bool seeder = c->profile == BT_PROFILE_SEEDER;

		// Each torrent gets a ut_metadata of its own (metadata_attach():
		// the seeder's is gated, a fetching torrent's asks our peers
		// only), not the session's; the other default plugins stay.
		lt::session_params params(lan_settings(c), {});

		auto s = std::make_unique<bt_session>();
		s->peer_exchange = c->peer_exchange;
		s->gate_metadata = seeder && c->metadata_gate;
		s->stripe_node = c->stripe_node;
		s->stripe_depth = c->stripe_depth;
		s->stripe_options = c->stripe_options;
		if (!seeder) {
			params.settings.set_int(lt::settings_pack::tick_interval,
						start_tick_ms);
			s->starting = true;
		}
		s->ses = new_session(std::move(params));
		s->ses->add_extension(&lt::create_ut_pex_plugin);
		s->ses->add_extension(&lt::create_smart_ban_plugin);
		if (c->all_peers_global) {
			lt::ip_filter f;
			f.add_rule(lt::make_address("0.0.0.0"),
				   lt::make_address("255.255.255.255"),
				   1 << static_cast<std::uint32_t>(
					lt::session::global_peer_class_id));
			f.add_rule(lt::make_address("::"),
				   lt::make_address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
				   1 << static_cast<std::uint32_t>(
					lt::session::global_peer_class_id));
			s->ses->set_peer_class_filter(f);
		}
		return s.release();
	} catch (std::exception const &e) {
		set_err(err, errlen, std::string("cannot start BitTorrent session: ") + e.what());
	} catch (...) {
		set_err(err, errlen, "cannot start BitTorrent session");
	}
	return nullptr;
}

void bt_session_free(struct bt_session *s)
{
	if (!s)
		return;
	try {
		for (auto &kv : s->torrents)
			delete kv.second;
		s->torrents.clear();
		s->ses.reset();	// waits for stopped announces (bounded)
	} catch (...) {
	}
	delete s;
}

int bt_session_listen_port(struct bt_session *s)
{
	try {
		return s->ses->listen_port();
	} catch (...) {
		return -1;
	}
}

int bt_session_totals(struct bt_session *s, struct bt_session_totals *t)
{
	try {
		std::memset(t, 0, sizeof(*t));
		for (auto &kv : s->torrents) {
			lt::torrent_status st = kv.first.status(lt::status_flags_t{});

			t->payload_up += st.all_time_upload;
			t->payload_down += st.all_time_download;
		}
		return 0;
	} catch (...) {
		return -1;
	}
}

int bt_torrent_file_info(const char *path, struct bt_info *info,
			 char *err, size_t errlen)
{
	try {
		std::ifstream in(path, std::ios::binary);
		std::vector<char> buf((std::istreambuf_iterator<char>(in)),
				      std::istreambuf_iterator<char>());
		lt::error_code ec;

		if (!in.good() && !in.eof()) {
			set_err(err, errlen, std::string("cannot read torrent '") +
				path + "': " + std::strerror(errno));
			return -1;
		}
		lt::bdecode_node top = lt::bdecode(buf, ec);
		lt::torrent_info ti(buf, ec, lt::from_span);
		if (ec) {
			set_err(err, errlen, std::string("cannot load torrent '") +
				path + "': " + ec.message());
			return -1;
		}
		fill_info(ti, info);
		fill_unpacked(top, info);
		return 0;
	} catch (std::exception const &e) {
		set_err(err, errlen, std::string("cannot load torrent '") + path +
			"': " + e.what());
	} catch (...) {
		set_err(err, errlen, std::string("cannot load torrent '") + path + "'");
	}
	return -1;
}

int bt_create_torrent(const struct bt_create_config *c, char **buf,
		      size_t *len, struct bt_info *info, char *err,
		      size_t errlen)
{
	try {
		lt::file_storage fs;
		lt::error_code ec;

		lt::add_files(fs, c->file);
		if (fs.num_files() != 1 || fs.total_size() == 0) {
			set_err(err, errlen, std::string("cannot make a torrent of '") +
				c->file + "': not a non-empty regular file");
			return -1;
		}
		lt::create_torrent t(fs, c->piece_size, lt::create_torrent::v1_only);
		for (int i = 0; c->trackers && c->trackers[i]; i++)
			t.add_tracker(c->trackers[i], 0);
		for (int i = 0; c->web_seeds && c->web_seeds[i]; i++)
			t.add_url_seed(c->web_seeds[i]);
		if (c->comment)
			t.set_comment(c->comment);
		t.set_creator("SwarmImager");
		t.set_creation_date(0);
		std::string parent(c->file);
		auto slash = parent.find_last_of('/');
		parent = slash == std::string::npos ? "." :
			 slash == 0 ? "/" : parent.substr(0, slash);
		lt::set_piece_hashes(t, parent, ec);
		if (ec) {
			set_err(err, errlen, std::string("cannot hash '") + c->file +
				"': " + ec.message());
			return -1;
		}
		lt::entry e = t.generate();
		if (c->unpacked_bytes > 0) {
			lt::entry &u = e[BT_UNPACKED_KEY];
			u["bytes"] = c->unpacked_bytes;
			u["entries"] = c->unpacked_entries;
		}
		std::vector<char> out;
		lt::bencode(std::back_inserter(out), e);
		lt::torrent_info ti(out, ec, lt::from_span);
		if (ec) {
			set_err(err, errlen, "cannot parse the torrent just made: " +
				ec.message());
			return -1;
		}
		if (info) {
			fill_info(ti, info);
			info->unpacked_bytes = std::max<std::int64_t>(0, c->unpacked_bytes);
			info->unpacked_entries = c->unpacked_bytes > 0 ?
						 c->unpacked_entries : 0;
		}
		*buf = static_cast<char *>(std::malloc(out.size()));
		if (!*buf) {
			set_err(err, errlen, "out of memory");
			return -1;
		}
		std::memcpy(*buf, out.data(), out.size());
		*len = out.size();
		return 0;
	} catch (std::exception const &e) {
		set_err(err, errlen, std::string("cannot make a torrent of '") +
			c->file + "': " + e.what());
	} catch (...) {
		set_err(err, errlen, std::string("cannot make a torrent of '") +
			c->file + "'");
	}
	return -1;
}

struct bt_torrent *bt_torrent_add(struct bt_session *s,
				  const char *torrent_path,
				  const char *save_path, unsigned flags,
				  char *err, size_t errlen)
{
	try {
		lt::error_code ec;
		auto ti = std::make_shared<lt::torrent_info>(std::string(torrent_path), ec);

		if (ec) {
			set_err(err, errlen, std::string("cannot load torrent '") +
				torrent_path + "': " + ec.message());
			return nullptr;
		}
		lt::add_torrent_params p;
		std::vector<lt::announce_entry> later;
		auto quiet = s->fetched.find(ti->info_hashes().v1);
		if (quiet != s->fetched.end() &&
		    std::chrono::steady_clock::now() < quiet->second) {
			later = ti->trackers();
			auto copy = std::make_shared<lt::torrent_info>(*ti);
			copy->clear_trackers();
			ti = copy;
		}
		p.ti = ti;
		p.save_path = save_path;
		p.flags &= ~(lt::torrent_flags::auto_managed |
			     lt::torrent_flags::paused);
		if (flags & BT_ADD_SEED) {
			p.flags |= lt::torrent_flags::seed_mode;
			p.verified_pieces.resize(ti->num_pieces(), true);
		}
		if (flags & BT_ADD_SEQUENTIAL)
			p.flags |= lt::torrent_flags::sequential_download;
		if (!s->peer_exchange)
			p.flags |= lt::torrent_flags::disable_pex;
		if (flags & BT_ADD_SUPER_SEED)
			p.flags |= lt::torrent_flags::super_seeding;
		if (flags & BT_ADD_UPLOAD_ONLY)
			p.flags |= lt::torrent_flags::upload_mode;
		auto t0 = std::make_unique<bt_torrent>();
		if ((flags & BT_ADD_STRIPE_SEED) && (flags & BT_ADD_SEED))
			stripe_attach(t0.get(), p, s->stripe_depth,
				      s->stripe_options);
		else if (!(flags & BT_ADD_SEED) && s->stripe_node)
			stripe_node_attach(p);
		metadata_attach(p, s->gate_metadata ? metadata_gated :
						      metadata_plain);
		lt::torrent_handle h = s->ses->add_torrent(std::move(p), ec);
		if (ec) {
			set_err(err, errlen, std::string("cannot add torrent '") +
				torrent_path + "': " + ec.message());
			return nullptr;
		}
		auto *t = t0.release();
		t->ses = s;
		t->h = h;
		t->ti = ti;
		if (!later.empty()) {
			t->later_trackers = std::move(later);
			t->trackers_at = quiet->second;
		}
		t->have.assign(ti->num_pieces(), false);
		if (flags & BT_ADD_SEED)
			for (int i = 0; i < ti->num_pieces(); i++)
				t->mark(i);
		s->torrents[h] = t;
		return t;
	} catch (std::exception const &e) {
		set_err(err, errlen, std::string("cannot add torrent '") +
			torrent_path + "': " + e.what());
	} catch (...) {
		set_err(err, errlen, std::string("cannot add torrent '") +
			torrent_path + "'");
	}
	return nullptr;
}

void bt_torrent_remove(struct bt_torrent *t)
{
	if (!t)
		return;
	try {
		t->ses->torrents.erase(t->h);
		// Forget queued events about it: the pointer dies here.
		auto &q = t->ses->pending;
		q.erase(std::remove_if(q.begin(), q.end(),
			[t](bt_event const &e) { return e.torrent == t; }), q.end());
		t->ses->ses->remove_torrent(t->h);
	} catch (...) {
	}
	delete t;
}

int bt_torrent_connect(struct bt_torrent *t, const char *ip, int port,
		       char *err, size_t errlen)
{
	try {
		lt::error_code ec;
		lt::address a = lt::make_address(ip, ec);

		if (ec) {
			set_err(err, errlen, std::string("bad peer address '") + ip +
				"': " + ec.message());
			return -1;
		}
		t->h.connect_peer(lt::tcp::endpoint(a, static_cast<std::uint16_t>(port)));
		return 0;
	} catch (std::exception const &e) {
		set_err(err, errlen, std::string("cannot connect to ") + ip + ": " +
			e.what());
	}
	return -1;
}

int bt_torrent_info(struct bt_torrent *t, struct bt_info *info)
{
	try {
		fill_info(*t->ti, info);
		return 0;
	} catch (...) {
		return -1;
	}
}

void bt_torrent_set_user(struct bt_torrent *t, void *user) { t->user = user; }
void *bt_torrent_user(struct bt_torrent *t) { return t->user; }

int bt_torrent_set_sequential(struct bt_torrent *t, int on)
{
	try {
		if (on)
			t->h.set_flags(lt::torrent_flags::sequential_download);
		else
			t->h.unset_flags(lt::torrent_flags::sequential_download);
		return 0;
	} catch (...) {
		return -1;
	}
}

int bt_torrent_piece_priority(struct bt_torrent *t, int piece, int prio)
{
	try {
		t->h.piece_priority(lt::piece_index_t{piece},
				    lt::download_priority_t{static_cast<std::uint8_t>(prio)});
		return 0;
	} catch (...) {
		return -1;
	}
}

int bt_torrent_piece_deadline(struct bt_torrent *t, int piece, int ms)
{
	try {
		t->h.set_piece_deadline(lt::piece_index_t{piece}, ms);
		return 0;
	} catch (...) {
		return -1;
	}
}

int64_t bt_torrent_verified_prefix(struct bt_torrent *t)
{
	return std::min<std::int64_t>(
		static_cast<std::int64_t>(t->prefix_pieces) * t->ti->piece_length(),
		t->ti->total_size());
}

int bt_torrent_stats(struct bt_torrent *t, struct bt_stats *out, int peers)
{
	try {
		lt::torrent_status st = t->h.status(lt::status_flags_t{});

		std::memset(out, 0, sizeof(*out));
		if (st.errc) {
			out->state = BT_STATE_ERROR;
			copy_str(out->error, sizeof(out->error), st.errc.message());
		} else if (st.flags & lt::torrent_flags::paused) {
			out->state = BT_STATE_PAUSED;
		} else switch (st.state) {
		case lt::torrent_status::checking_files:
		case lt::torrent_status::checking_resume_data:
			out->state = BT_STATE_CHECKING; break;
		case lt::torrent_status::downloading:
		case lt::torrent_status::downloading_metadata:
			out->state = BT_STATE_DOWNLOADING; break;
		case lt::torrent_status::finished:
		case lt::torrent_status::seeding:
			out->state = BT_STATE_SEEDING; break;
		default:
			out->state = BT_STATE_OTHER;
		}
		out->progress = st.progress;
		out->total_done = st.total_wanted_done;
		out->total_wanted = st.total_wanted;
		out->pieces_have = t->have_count;
		out->verified_prefix = bt_torrent_verified_prefix(t);
		out->payload_up = st.total_payload_upload;
		out->payload_down = st.total_payload_download;
		out->upload_rate = st.upload_payload_rate;
		out->download_rate = st.download_payload_rate;
		out->num_peers = st.num_peers;
		out->num_seeds = st.num_seeds;
		out->tracker_complete = st.num_complete;
		out->tracker_incomplete = st.num_incomplete;
		if (peers) {
			std::vector<lt::peer_info> v;
			t->h.get_peer_info(v);
			for (auto const &p : v)
				if (p.flags & lt::peer_info::remote_interested)
					out->peers_interested++;
		}
		return 0;
	} catch (...) {
		return -1;
	}
}

int bt_torrent_piece_ok(struct bt_torrent *t, int piece, const void *data,
		       long len)
{
	if (piece < 0 || piece >= t->ti->num_pieces() ||
	    len != t->ti->piece_size(lt::piece_index_t{piece}))
		return 0;
	lt::hasher h(static_cast<const char *>(data), static_cast<int>(len));
	return h.final() == t->ti->hash_for_piece(lt::piece_index_t{piece});
}

int bt_session_poll(struct bt_session *s, int timeout_ms,
		    struct bt_event *ev, int max)
{
	try {
		start_trackers(s);
		if (s->pending.empty()) {
			std::vector<lt::alert *> alerts;

			if (timeout_ms > 0)
				s->ses->wait_for_alert(std::chrono::milliseconds(timeout_ms));
			s->ses->pop_alerts(&alerts);
			for (lt::alert *a : alerts)
				translate(s, a);
		}
		int n = 0;
		while (n < max && !s->pending.empty()) {
			ev[n++] = s->pending.front();
			s->pending.pop_front();
		}
		return n;
	} catch (...) {
		return -1;
	}
}

const char *bt_event_name(enum bt_event_type type)
{
	switch (type) {
	case BT_EV_PIECE: return "piece";
	case BT_EV_FINISHED: return "finished";
	case BT_EV_HASH_FAILED: return "hash-failed";
	case BT_EV_CHECKED: return "checked";
	case BT_EV_TORRENT_ERROR: return "torrent-error";
	case BT_EV_FILE_ERROR: return "file-error";
	case BT_EV_TRACKER_ERROR: return "tracker-error";
	case BT_EV_TRACKER_REPLY: return "tracker-reply";
	case BT_EV_PEER_CONNECT: return "peer-connect";
	case BT_EV_PEER_DISCONNECT: return "peer-disconnect";
	case BT_EV_LISTEN_FAILED: return "listen-failed";
	case BT_EV_LISTEN_OK: return "listen-ok";
	case BT_EV_DROPPED: return "alerts-dropped";
	}
	return "unknown";
}

// --- added by branch seeder ---

int bt_torrent_reannounce(struct bt_torrent *t)
{
	try {
		t->h.force_reannounce(0, -1,
			lt::torrent_handle::ignore_min_interval);
		return 0;
	} catch (...) {
		return -1;
	}
}

} // extern "C"


// ---------------------------------------------------------------------
// Branch swarm: striped seeding (BT_ADD_STRIPE_SEED, stripe_node).
//
// Goal: the image server sends every piece about once, at its full link
// rate, and the nodes pass pieces on.  Two plugins cooperate:
// - the seed's plugin (BT_ADD_STRIPE_SEED) says "si_stripe_seed" in its
//   extension handshake.  To a node whose handshake says "si_stripe_node"
//   it announces pieces one `have` message at a time: each node is kept
//   a window of fresh pieces (never sent to anyone) ahead, its path's
//   bandwidth-delay product as lib/flight.h measures it (at least two
//   pieces; stripe_depth when set), handed out in
//   piece order from one cursor, so all pieces leaving the server differ,
//   the server's link never idles, and the swarm as a whole receives the
//   image roughly in order.  When no fresh piece is left it announces
//   pieces nobody connected has whose owner left or stalled
//   (stripe_grace): dead or slow nodes and the endgame never stall others.
//   Peers without "si_stripe_node" (stock clients) see the seed's normal
//   have_all and are served as usual, but while nodes download only one
//   second in every (nodes + 1) (session 5, stripe_peer::throttle()).
// - the node's plugin (stripe_node, on by default for downloads) ignores
//   the have_all/bitfield of a peer that says "si_stripe_seed" (libtorrent
//   sends the extension handshake before the bitfield), so libtorrent's
//   picker only ever asks the seed for the pieces it announced and fetches
//   everything else from the other nodes, rarest first.
// Why not the seed alone: libtorrent always sends a seed's have_all (no
// public hook suppresses it); super seeding hides it but rejects requests
// for any piece but its own two per peer before plugins see them; and
// refusing requests with BEP 6 reject makes libtorrent ask again at once
// (measured: ~480k rejects for a 5 MB image, 3.1 image sizes on the wire).
// Everything runs on libtorrent's network thread; the counters are atomic.
// Branch stripe2 added the BT_STRIPE_* options (slow nodes get nothing new
// and their or departed nodes' unique pieces go out again first; taper;
// endgame) and depth 2; session 8 BT_STRIPE_BALANCE (a node whose fresh
// pieces spread slowly gets no new ones until they have): see
// docs/perf/swarm-scheduling.md.
// ---------------------------------------------------------------------
namespace {

using sclock = std::chrono::steady_clock;
// The least a node is kept in flight, and the most in bytes (a 10 GbE
// link's bandwidth-delay product at 50 ms); in between, what flight.h
// measures, unless a fixed depth is set.
constexpr int stripe_depth_default = 2;
constexpr std::int64_t stripe_flight_max = 64 << 20;
constexpr auto stripe_grace = std::chrono::seconds(3);
// branch stripe2: a node is slow when, after slow_warmup, its have rate
// (pieces/s it completes from anyone) is below 1/slow_ratio of the median.
constexpr auto slow_warmup = std::chrono::seconds(2);
// ... and has been for slow_persist: a loaded machine makes every node's
// rate jitter, and a node judged slow by mistake costs its pieces again.
constexpr auto slow_persist = std::chrono::seconds(2);
constexpr double slow_ratio = 4.0;
constexpr int endgame_percent = 2;	// extra copies, % of the pieces
// session 8, BT_STRIPE_BALANCE: a node's backlog may exceed the median
// backlog by this many pieces before it gets no fresh piece.
constexpr int backlog_slack = 2;
constexpr auto balance_period = std::chrono::milliseconds(50);
const char stripe_seed_key[] = "si_stripe_seed";
const char stripe_node_key[] = "si_stripe_node";
const char metadata_only_key[] = "si_metadata_only";	// session 4
const char peers_ext_key[] = "si_peers";		// session 4
constexpr int peers_ext_id = 60;	// our id for si_peers messages

struct stripe_peer;

// A peer whose extension handshake says it runs SwarmImager's seed or
// node plugin.
bool swarmimager_peer(lt::bdecode_node const &n)
{
	return n.dict_find_int_value(stripe_seed_key, 0) == 1 ||
	       n.dict_find_int_value(stripe_node_key, 0) == 1;
}

void put32(char *p, std::uint32_t v)
{
	p[0] = static_cast<char>(v >> 24);
	p[1] = static_cast<char>(v >> 16);
	p[2] = static_cast<char>(v >> 8);
	p[3] = static_cast<char>(v);
}

enum stripe_kind { kind_fresh, kind_orphan, kind_repeat, kind_endgame };

// Whether the socket fd joins local to remote.
bool same_endpoints(int fd, lt::tcp::endpoint const &local,
		    lt::tcp::endpoint const &remote)
{
	sockaddr_storage a, b;
	socklen_t la = sizeof(a), lb = sizeof(b);

	if (getsockname(fd, reinterpret_cast<sockaddr *>(&a), &la) < 0 ||
	    getpeername(fd, reinterpret_cast<sockaddr *>(&b), &lb) < 0)
		return false;
	lt::tcp::endpoint l, r;
	if (la > l.capacity() || lb > r.capacity())
		return false;
	std::memcpy(l.data(), &a, la);
	l.resize(la);
	std::memcpy(r.data(), &b, lb);
	r.resize(lb);
	return l == local && r == remote;
}

// Turns Nagle's algorithm off on a peer's socket.  libtorrent 2.0.8 never
// sets TCP_NODELAY, so a `have`, request or interested message that
// follows another small one waits for its ACK, which the other side
// delays by up to 40 ms: each exchange near the end of a download cost
// 40 ms (a single node on loopback took 1.5 s instead of 0.9 s).  Only
// between the striping seed and a node, where each piece's round trip
// paces the next: between nodes, Nagle's coalescing of the `have`s each
// sends to every other node is worth more (32 nodes at 10 Mbit/s on two
// cores were 6% slower with Nagle off on every socket).  The public API
// names no socket, so the descriptor is the one of this process joining
// the connection's two endpoints.
void set_nodelay(lt::peer_connection_handle const &pc)
{
	lt::tcp::endpoint local = pc.local_endpoint(), remote = pc.remote();
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int one = 1;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd = std::atoi(e->d_name);
		struct stat st;

		if (fd <= 2 || fd == dirfd(d) || fstat(fd, &st) < 0 ||
		    !S_ISSOCK(st.st_mode) || !same_endpoints(fd, local, remote))
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		break;
	}
	closedir(d);
}

} // namespace

struct stripe_state {
	int num_pieces = 0;
	int piece_length = 0;
	int depth = 0;		// pieces in flight per node; 0: measured
	unsigned opts = BT_STRIPE_DEFAULT;
	std::vector<int> owner;			// peer id, or -1
	std::vector<sclock::time_point> since;	// owner's last sign of life
	std::vector<std::uint8_t> sent;		// times announced (saturating)
	std::vector<int> orphans;		// owner left or turned slow
	int cursor = 0;
	int next_id = 0;
	std::vector<stripe_peer *> peers;
	sclock::time_point rates_at;
	sclock::time_point balance_at;	// session 8: median_backlog's time
	int median_backlog = -1;	// -1: fewer than two nodes
	std::atomic<std::int64_t> fresh{0}, repeat{0}, haves{0}, stock{0};
	std::atomic<std::int64_t> orphaned{0}, endgame{0};
	std::atomic<std::int64_t> stock_chokes{0};	// session 5
	std::atomic<std::int64_t> holds{0};		// session 8
	std::atomic<int> unsent{0}, slow{0};

	explicit stripe_state(int n)
		: num_pieces(n), owner(n, -1), since(n), sent(n, 0), unsent(n) {}
	bool someone_has(int piece) const;
	int holders(int piece) const;
	int downloaders() const;
	int total_window() const;
	int backlog(stripe_peer *p, int half);
	bool ahead(stripe_peer *p, sclock::time_point now);
	int next_piece(stripe_peer *p, sclock::time_point now,
		       int pending, stripe_kind *kind);
	void release(int id);
	void update_rates(sclock::time_point now);
};

namespace {

struct stripe_peer final : lt::peer_plugin {
	std::shared_ptr<stripe_state> st;
	lt::peer_connection_handle pc;
	int id;
	bool aware = false;	// runs the node plugin
	bool gone = false;
	bool slow = false;	// branch stripe2: download rate far below others'
	sclock::time_point below{};	// since when below the slow line, or 0
	std::vector<bool> announced;
	// Announced pieces it may still lack, each with its flight mark.
	std::vector<std::pair<int, flight_mark>> queue;
	struct flight flight;
	std::vector<int> given;	// fresh pieces it got, not yet at half the nodes
	bool held = false;	// session 8: its backlog is ahead
	sclock::time_point born = sclock::now(), tick_at = born;
	int have_window = 0;	// haves since the last tick
	double rate = 0;	// pieces/s, moving average
	int listen_port = 0;	// session 4: where it accepts connections
	int peers_msg = 0;	// session 4: a fetching node's si_peers id
	bool stock = false;	// session 5: a stock client, throttled
	unsigned ticks = 0;

	stripe_peer(std::shared_ptr<stripe_state> s,
		    lt::peer_connection_handle const &h, int i)
		: st(std::move(s)), pc(h), id(i), announced(st->num_pieces, false)
	{
		int max = static_cast<int>(std::min<std::int64_t>(
			st->num_pieces, stripe_flight_max / st->piece_length));

		flight_init(&flight, stripe_depth_default, max);
		st->peers.push_back(this);
	}
	// Pieces to keep on their way to this node.
	int window() const
	{
		return st->depth > 0 ? st->depth : flight_window(&flight);
	}
	~stripe_peer() override
	{
		auto &v = st->peers;
		v.erase(std::remove(v.begin(), v.end(), this), v.end());
		if (slow)
			st->slow--;
		st->release(id);
	}
	lt::string_view type() const override { return "si_stripe_seed"; }
	bool alive() const
	{
		return !gone && pc.native_handle() && !pc.is_disconnecting();
	}
	bool downloading() const
	{
		return aware && alive() && !pc.is_seed() && !pc.upload_only();
	}
	void add_handshake(lt::entry &e) override
	{
		e[stripe_seed_key] = 1;
		// A node that believes us upload-only drops the connection as
		// soon as it sees no piece it wants (before our first have).
		e.dict().erase("upload_only");
	}
	bool on_extension_handshake(lt::bdecode_node const &n) override
	{
		long p = n.dict_find_int_value("p", 0);

		set_nodelay(pc);
		listen_port = pc.is_outgoing() ? pc.remote().port() :
			      p > 0 && p < 65536 ? static_cast<int>(p) : 0;
		// A node fetching the info dictionary: neither node nor stock
		// client yet (its torrent has no pieces to schedule).  It
		// learns here which nodes have the torrent, now and later.
		if (n.dict_find_int_value(metadata_only_key, 0) == 1) {
			if (lt::bdecode_node m = n.dict_find_dict("m"))
				peers_msg = static_cast<int>(
					m.dict_find_int_value(peers_ext_key, 0));
			send_peers(st->peers);
			return true;
		}
		aware = n.dict_find_int_value(stripe_node_key, 0) == 1;
		if (aware) {
			top_up(sclock::now());
			for (stripe_peer *o : st->peers)
				if (o->peers_msg > 0 && o->alive())
					o->send_peers({ this });
		} else {
			st->stock++;
			stock = true;
		}
		return true;
	}
	// Session 4: tells a fetching node where the nodes in list (those
	// running the node plugin, hence with the torrent) accept
	// connections: an si_peers message of 6-byte IPv4 endpoints.
	void send_peers(std::vector<stripe_peer *> const &list)
	{
		std::string body;

		for (stripe_peer const *o : list) {
			if (!o->aware || !o->alive() || o->listen_port <= 0)
				continue;
			lt::address a = o->pc.remote().address();
			if (!a.is_v4())
				continue;
			auto b = a.to_v4().to_bytes();
			body.append(reinterpret_cast<const char *>(b.data()), 4);
			body += static_cast<char>(o->listen_port >> 8);
			body += static_cast<char>(o->listen_port & 0xff);
		}
		if (body.empty() || peers_msg <= 0 || peers_msg > 255)
			return;
		char h[6];
		put32(h, static_cast<std::uint32_t>(body.size() + 2));
		h[4] = 20;	// extended message
		h[5] = static_cast<char>(peers_msg);
		pc.send_buffer(h, sizeof(h));
		pc.send_buffer(body.data(), static_cast<int>(body.size()));
	}
	void on_disconnect(lt::error_code const &) override
	{
		gone = true;
		st->release(id);
	}
	// A downloading node that has every piece announced to it says it is
	// not interested until the next `have`.  libtorrent would choke it
	// (incoming_not_interested): the unchoke that follows the next piece
	// costs a round trip, and the choke ends the node's request slow
	// start, leaving it two requests deep until its next rate sample,
	// up to a second later (0.3 s stalls on loopback).  A node stays
	// unchoked while it downloads.
	bool on_not_interested() override { return downloading(); }
	bool on_have(lt::piece_index_t piece) override
	{
		// Plugins see the have before libtorrent records it: the piece
		// is done, though has_piece() does not know it yet.
		have_window++;
		top_up(sclock::now(), static_cast<int>(piece));
		return false;
	}
	void tick() override
	{
		auto now = sclock::now();
		double dt = std::chrono::duration<double>(now - tick_at).count();

		if (dt > 0.2) {
			rate = 0.5 * rate + 0.5 * have_window / dt;
			have_window = 0;
			tick_at = now;
		}
		st->update_rates(now);
		top_up(now);
		if (stock)
			throttle();
	}
	// Session 5: a stock client asks the seed for any piece, as many at
	// once as it likes, and took up to 44% of the image from it (aria2c
	// among 15 nodes, each asking for two at a time): the server's link
	// carried the image 1.3-1.5 times.  While nodes download, it is
	// unchoked one second in every (nodes + 1), its share, and gets the
	// rest from the nodes; alone, or with the nodes done, it is served.
	void throttle()
	{
		int n = st->downloaders();
		bool open = n == 0 || ticks++ % static_cast<unsigned>(n + 1) == 0;

		if (open && pc.is_choked())
			pc.maybe_unchoke_this_peer();
		else if (!open && !pc.is_choked()) {
			pc.choke_this_peer();
			st->stock_chokes++;
		}
	}
	// Data flowing to the owner: the piece is not stalled.
	void sent_piece(lt::peer_request const &r) override
	{
		int i = static_cast<int>(r.piece);

		if (i >= 0 && i < st->num_pieces && st->owner[i] == id)
			st->since[i] = sclock::now();
	}
	void have(int piece)
	{
		char m[9];

		put32(m, 5);
		m[4] = 4;
		put32(m + 5, static_cast<std::uint32_t>(piece));
		pc.send_buffer(m, sizeof(m));
		st->haves++;
	}
	void top_up(sclock::time_point now, int done = -1);
};

// Keeps window() announced pieces on their way to this peer.  With
// BT_STRIPE_TAPER, once fewer fresh pieces are left than twice the windows
// of all downloading nodes, a node's share shrinks with them, down to one,
// so that few pieces only one node has are left in flight at the end.
void stripe_peer::top_up(sclock::time_point now, int done)
{
	if (!downloading())
		return;
	double t = std::chrono::duration<double>(now.time_since_epoch()).count();
	queue.erase(std::remove_if(queue.begin(), queue.end(), [&](auto const &q) {
		if (q.first != done && !pc.has_piece(lt::piece_index_t{q.first}))
			return false;
		flight_delivered(&flight, &q.second, t);
		return true;
	}), queue.end());
	int pending = static_cast<int>(queue.size());
	int want = window();
	if (st->opts & BT_STRIPE_TAPER) {
		std::int64_t total = st->total_window();
		if (st->unsent < 2 * total)
			want = std::max<int>(1, static_cast<int>(
				want * std::int64_t{st->unsent} / (2 * total)));
	}
	while (pending < want) {
		stripe_kind kind;
		int i = st->next_piece(this, now, pending, &kind);
		if (i < 0)
			break;
		switch (kind) {
		case kind_fresh:
			st->fresh++;
			st->unsent--;
			given.push_back(i);
			break;
		case kind_orphan: st->orphaned++; st->repeat++; break;
		case kind_repeat: st->repeat++; break;
		case kind_endgame: st->endgame++; st->repeat++; break;
		}
		if (st->sent[i] < 255)
			st->sent[i]++;
		st->owner[i] = id;
		st->since[i] = now;
		announced[i] = true;
		queue.emplace_back(i, flight_sent(&flight, t));
		have(i);
		pending++;
	}
}

struct stripe_plugin final : lt::torrent_plugin {
	std::shared_ptr<stripe_state> st;

	explicit stripe_plugin(std::shared_ptr<stripe_state> s) : st(std::move(s)) {}
	std::shared_ptr<lt::peer_plugin>
	new_connection(lt::peer_connection_handle const &pc) override
	{
		if (pc.type() != lt::connection_type::bittorrent)
			return {};
		return std::make_shared<stripe_peer>(st, pc, st->next_id++);
	}
};

// The node's side: hide a striping seed's have_all/bitfield from libtorrent.
struct stripe_node_peer final : lt::peer_plugin {
	lt::peer_connection_handle pc;
	bool from_seed = false;

	explicit stripe_node_peer(lt::peer_connection_handle const &h) : pc(h) {}
	lt::string_view type() const override { return "si_stripe_node"; }
	void add_handshake(lt::entry &e) override { e[stripe_node_key] = 1; }
	bool on_extension_handshake(lt::bdecode_node const &n) override
	{
		from_seed = n.dict_find_int_value(stripe_seed_key, 0) == 1;
		if (from_seed)
			set_nodelay(pc);
		return true;
	}
	bool on_have_all() override { return from_seed; }
	// The seed's have for the last piece we lack makes it a seed in
	// libtorrent's eyes, which then drops it as an "uninteresting
	// upload-only peer" before noticing that we want that very piece
	// (peer_connection::incoming_have checks in that order).
	bool can_disconnect(lt::error_code const &ec) override
	{
		return !(from_seed && ec == lt::errors::uninteresting_upload_peer);
	}
	bool on_bitfield(lt::bitfield const &) override { return from_seed; }
};

struct stripe_node_plugin final : lt::torrent_plugin {
	std::shared_ptr<lt::peer_plugin>
	new_connection(lt::peer_connection_handle const &pc) override
	{
		if (pc.type() != lt::connection_type::bittorrent)
			return {};
		return std::make_shared<stripe_node_peer>(pc);
	}
};

} // namespace

// Whether a live node that is not slow has the piece.
bool stripe_state::someone_has(int piece) const
{
	for (auto *p : peers)
		if (p->alive() && !p->slow && p->pc.has_piece(lt::piece_index_t{piece}))
			return true;
	return false;
}

int stripe_state::holders(int piece) const
{
	int n = 0;

	for (auto *p : peers)
		if (p->alive() && p->pc.has_piece(lt::piece_index_t{piece}))
			n++;
	return n;
}

int stripe_state::downloaders() const
{
	int n = 0;

	for (auto *p : peers)
		if (p->downloading())
			n++;
	return n;
}

// The sum of the downloading nodes' windows (at least 1).
int stripe_state::total_window() const
{
	int n = 0;

	for (auto *p : peers)
		if (p->downloading())
			n += p->window();
	return std::max(n, 1);
}

// BT_STRIPE_BALANCE: a node's backlog is the number of fresh pieces it was
// given that fewer than half the nodes have yet (a piece leaves it for good
// once at half).  Each fresh piece is one its first holder must pass on to
// every other node, so the backlog measures how far its uplink is behind.
// Returns p's backlog, after pruning p->given.
int stripe_state::backlog(stripe_peer *p, int half)
{
	auto &g = p->given;

	g.erase(std::remove_if(g.begin(), g.end(), [this, half](int i) {
		return holders(i) >= half;
	}), g.end());
	return static_cast<int>(g.size());
}

// Whether p's backlog is more than backlog_slack above the median backlog
// of the downloading nodes (the upper median: of two nodes, neither is
// ahead).  A median, not a share of the pieces handed out: a node on a
// slower link, or the slow side of a swarm of two, holds nobody back
// (shares did: measured, docs/perf/swarm-scheduling.md, session 7).  The
// median is computed at most every balance_period (a held node asks at
// each of its have messages); p's own backlog every time.
bool stripe_state::ahead(stripe_peer *p, sclock::time_point now)
{
	int nodes = 0;

	for (auto *q : peers)
		nodes += q->aware && q->alive();
	if (now - balance_at >= balance_period) {
		std::vector<int> b;

		balance_at = now;
		for (auto *q : peers)
			if (q->downloading() && !q->slow)
				b.push_back(backlog(q, (nodes + 1) / 2));
		median_backlog = -1;
		if (b.size() >= 2) {
			auto mid = b.begin() + static_cast<std::ptrdiff_t>(b.size() / 2);
			std::nth_element(b.begin(), mid, b.end());
			median_backlog = *mid;
		}
	}
	return median_backlog >= 0 && p->downloading() && !p->slow &&
	       backlog(p, (nodes + 1) / 2) > median_backlog + backlog_slack;
}

// The next piece to announce to p (pending = what p already waits for):
// with BT_STRIPE_SLOW nothing for a slow node, and first a piece only a
// departed or slow node has; then (with BT_STRIPE_BALANCE, nothing more for
// a node whose backlog is ahead) a fresh one in cursor order; then one
// nobody has whose owner stalled; then (BT_STRIPE_ENDGAME, to an idle
// node, within budget) the rarest piece p lacks.  -1 if none.
int stripe_state::next_piece(stripe_peer *p, sclock::time_point now,
			     int pending, stripe_kind *kind)
{
	auto lacks = [p](int i) {
		return !p->announced[i] && !p->pc.has_piece(lt::piece_index_t{i});
	};

	if ((opts & BT_STRIPE_SLOW) && p->slow)
		return -1;
	for (std::size_t k = 0; k < orphans.size();) {
		int i = orphans[k];
		if (owner[i] >= 0 || someone_has(i)) {
			orphans[k] = orphans.back();
			orphans.pop_back();
		} else if (lacks(i)) {
			orphans[k] = orphans.back();
			orphans.pop_back();
			*kind = kind_orphan;
			return i;
		} else {
			k++;
		}
	}
	if (unsent > 0 && (opts & BT_STRIPE_BALANCE)) {
		bool h = ahead(p, now);

		holds += h && !p->held;
		p->held = h;
		if (h)
			return -1;
	}
	if (unsent > 0)
		for (int k = 0; k < num_pieces; k++) {
			int i = (cursor + k) % num_pieces;
			if (owner[i] < 0 && sent[i] == 0) {
				cursor = (i + 1) % num_pieces;
				*kind = kind_fresh;
				return i;
			}
		}
	for (int i = 0; i < num_pieces; i++) {
		if (!lacks(i))
			continue;
		if (owner[i] >= 0 && now - since[i] <= stripe_grace)
			continue;
		if (!someone_has(i)) {
			*kind = kind_repeat;
			return i;
		}
	}
	if (!(opts & BT_STRIPE_ENDGAME) || pending > 0 ||
	    endgame * 100 >= (std::int64_t)num_pieces * endgame_percent)
		return -1;
	int best = -1, best_n = 0;
	for (int i = 0; i < num_pieces; i++) {
		if (!lacks(i))
			continue;
		int n = holders(i);
		if (best < 0 || n < best_n) {
			best = i;
			best_n = n;
		}
	}
	*kind = kind_endgame;
	return best;
}

// A peer left or turned slow: its pieces are free for whoever needs them,
// and (BT_STRIPE_SLOW) those only it has go out again first.
void stripe_state::release(int id)
{
	for (int i = 0; i < num_pieces; i++)
		if (owner[i] == id) {
			owner[i] = -1;
			if (opts & BT_STRIPE_SLOW)
				orphans.push_back(i);
		}
}

// BT_STRIPE_SLOW: (at most twice a second) marks the nodes whose have rate
// is far below the median of the downloading nodes.
void stripe_state::update_rates(sclock::time_point now)
{
	if (!(opts & BT_STRIPE_SLOW) || now - rates_at < std::chrono::milliseconds(500))
		return;
	rates_at = now;
	std::vector<double> r;
	for (auto *p : peers)
		if (p->downloading() && now - p->born >= slow_warmup)
			r.push_back(p->rate);
	if (r.size() < 2)
		return;
	std::sort(r.begin(), r.end());
	double median = r[r.size() / 2];
	for (auto *p : peers) {
		bool below = p->downloading() && now - p->born >= slow_warmup &&
			 p->rate * slow_ratio < median;
		if (!below)
			p->below = sclock::time_point{};
		else if (p->below == sclock::time_point{})
			p->below = now;
		bool s = below && now - p->below >= slow_persist;
		if (s == p->slow)
			continue;
		p->slow = s;
		if (s) {
			slow++;
			release(p->id);
		} else {
			slow--;
		}
	}
}

void stripe_attach(struct bt_torrent *t, lt::add_torrent_params &p,
		   int depth, unsigned options)
{
	auto st = std::make_shared<stripe_state>(p.ti->num_pieces());

	st->piece_length = p.ti->piece_length();
	st->opts = options;
	st->depth = depth > 0 ? depth : options ? 0 : 3;
	t->stripe = st;
	p.extensions.push_back([st](lt::torrent_handle const &, lt::client_data_t) {
		return std::make_shared<stripe_plugin>(st);
	});
}

void stripe_node_attach(lt::add_torrent_params &p)
{
	p.extensions.push_back([](lt::torrent_handle const &, lt::client_data_t) {
		return std::make_shared<stripe_node_plugin>();
	});
}

extern "C" int bt_torrent_stripe_stats(struct bt_torrent *t,
				       struct bt_stripe_stats *out)
{
	std::memset(out, 0, sizeof(*out));
	if (!t || !t->stripe)
		return -1;
	out->fresh_pieces = t->stripe->fresh;
	out->repeat_pieces = t->stripe->repeat;
	out->haves = t->stripe->haves;
	out->stock_peers = t->stripe->stock;
	out->unsent_pieces = t->stripe->unsent;
	out->orphan_pieces = t->stripe->orphaned;
	out->endgame_pieces = t->stripe->endgame;
	out->slow_peers = t->stripe->slow;
	out->stock_chokes = t->stripe->stock_chokes;
	out->balance_holds = t->stripe->holds;
	return 0;
}

// A late node: while it watches (its first seconds, under a tenth of the
// pieces, no complete node around), pieces it lacks that at least half of
// its connected peers hold are "old" and, when they are at least
// catch_up_old_percent of the image, held back (priority 0) until the
// swarm has moved on: a peer turned seed (the first node finished), every
// other piece is here, or nothing arrived for catch_up_stall.  Measured
// in docs/perf/swarm-scheduling.md (session 3).
namespace {
constexpr auto catch_up_watch = std::chrono::seconds(5);
constexpr auto catch_up_stall = std::chrono::seconds(2);
constexpr int catch_up_old_percent = 15;
}

extern "C" int bt_torrent_catch_up(struct bt_torrent *t)
{
	auto &cu = t->cu;
	auto now = sclock::now();
	int n = static_cast<int>(t->have.size());

	if (cu.phase == 2 || n == 0)
		return 0;
	if (cu.start == sclock::time_point{})
		cu.start = now;
	if (now < cu.next)
		return cu.phase == 1;
	cu.next = now + std::chrono::milliseconds(500);
	try {
		std::vector<lt::peer_info> peers;
		int others = 0;
		bool seed = false;

		t->h.get_peer_info(peers);
		for (auto const &p : peers) {
			if (p.flags & (lt::peer_info::connecting | lt::peer_info::handshake))
				continue;
			if (p.flags & lt::peer_info::seed)
				seed = true;
			else
				others++;
		}
		if (cu.phase == 0) {
			if (seed || t->have_count * 10 >= n ||
			    now - cu.start > catch_up_watch) {
				cu.phase = 2;
				return 0;
			}
			if (others < 2)
				return 0;
			std::vector<int> avail;
			t->h.piece_availability(avail);
			std::vector<int> old;
			for (int i = 0; i < n && i < (int)avail.size(); i++)
				if (!t->have[i] && avail[i] * 2 >= others)
					old.push_back(i);
			if ((std::int64_t)old.size() * 100 < (std::int64_t)n * catch_up_old_percent)
				return 0;
			t->hold(std::move(old));
			cu.progress = now;
			cu.progress_count = t->have_count;
			return 1;
		}
		if (t->have_count != cu.progress_count) {
			cu.progress_count = t->have_count;
			cu.progress = now;
		}
		if (!seed && now - cu.progress < catch_up_stall)
			return 1;
		t->release_held();
		return 0;
	} catch (...) {
		cu.phase = 2;
		return 0;
	}
}

extern "C" int bt_torrent_catch_up_held(struct bt_torrent *t)
{
	return static_cast<int>(t->cu.held.size());
}

/* ---- branch fleet: image versions ---- */

extern "C" int bt_torrent_file_comment(const char *path, char *buf,
				       size_t len, char *err, size_t errlen)
{
	try {
		lt::error_code ec;
		lt::torrent_info ti(std::string(path), ec);

		if (ec) {
			set_err(err, errlen, std::string("cannot load torrent '") +
				path + "': " + ec.message());
			return -1;
		}
		std::snprintf(buf, len, "%s", ti.comment().c_str());
		return 0;
	} catch (std::exception const &e) {
		set_err(err, errlen, std::string("cannot load torrent '") + path +
			"': " + e.what());
	} catch (...) {
		set_err(err, errlen, std::string("cannot load torrent '") + path + "'");
	}
	return -1;
}

// ---------------------------------------------------------------------
// Session 4: the torrent from the swarm (BEP 9, ut_metadata).
//
// An image's .torrent is mostly its piece hashes (20 bytes a piece: 37 KB
// for a 30 MB image in 16 KiB pieces), and every node fetching it from the
// image server cost the server's link 0.04 image sizes at N=32.  Unless
// si_seeder --no-torrent-heads, nodes fetch a head from the server (the
// torrent without its info dictionary, plus the info-hash) and the info
// dictionary from their peers with libtorrent's ut_metadata: once a node
// has the torrent, it serves it like any libtorrent peer.
// - The seeder (metadata_gate) offers the info dictionary in at most
//   meta_gate_burst extension handshakes a second, so the first nodes get
//   it from the server and the rest from them, and names the nodes that
//   have it to a fetching node (si_peers, stripe_peer::send_peers()).
// - A fetch is a short-lived upload-only torrent (a peer that answers
//   "don't have" is not asked again for a minute, so a node must not offer
//   what it does not have) that asks only SwarmImager peers
//   (metadata_ours), removed before the real torrent is added; that one
//   holds its trackers back for fetcher_quiet (drop_fetcher()).
// Opt-in in session 4 (a stock client in the swarm made the others 3-4 s
// slower), the default since session 5 (docs/perf/swarm-scheduling.md).
// ---------------------------------------------------------------------
namespace {

constexpr int meta_gate_burst = 2;
constexpr auto meta_gate_window = std::chrono::seconds(1);
constexpr auto fetcher_quiet = std::chrono::milliseconds(200);

struct meta_gate {
	sclock::time_point start{};
	int used = 0;

	bool take()
	{
		auto now = sclock::now();

		if (now - start >= meta_gate_window) {
			start = now;
			used = 0;
		}
		return used++ < meta_gate_burst;
	}
};

// libtorrent's ut_metadata peer plugin, minus (metadata_gated) the offer
// when over budget, or (metadata_ours) the requests to peers that are not
// SwarmImager's: a stock client may offer the info dictionary and never
// send it, and libtorrent asks nobody else for that block for 3 s.
struct gated_metadata_peer final : lt::peer_plugin {
	std::shared_ptr<lt::peer_plugin> in;
	std::shared_ptr<meta_gate> gate;	// null: metadata_ours

	gated_metadata_peer(std::shared_ptr<lt::peer_plugin> p,
			    std::shared_ptr<meta_gate> g)
		: in(std::move(p)), gate(std::move(g)) {}
	lt::string_view type() const override { return in->type(); }
	void add_handshake(lt::entry &e) override
	{
		in->add_handshake(e);
		if (!gate || gate->take())
			return;
		if (lt::entry *m = e.find_key("m"))
			if (m->type() == lt::entry::dictionary_t)
				m->dict().erase("ut_metadata");
		e.dict().erase("metadata_size");
	}
	bool on_extension_handshake(lt::bdecode_node const &n) override
	{
		if (!gate && !swarmimager_peer(n))
			return false;	// this plugin leaves the connection
		return in->on_extension_handshake(n);
	}
	bool on_extended(int length, int msg, lt::span<char const> body) override
	{
		return in->on_extended(length, msg, body);
	}
	void tick() override { in->tick(); }
};

struct gated_metadata final : lt::torrent_plugin {
	std::shared_ptr<lt::torrent_plugin> in;
	std::shared_ptr<meta_gate> gate;

	gated_metadata(std::shared_ptr<lt::torrent_plugin> p, bool gated)
		: in(std::move(p)),
		  gate(gated ? std::make_shared<meta_gate>() : nullptr) {}
	std::shared_ptr<lt::peer_plugin>
	new_connection(lt::peer_connection_handle const &pc) override
	{
		auto p = in->new_connection(pc);
		if (!p)
			return p;
		return std::make_shared<gated_metadata_peer>(p, gate);
	}
	void on_piece_pass(lt::piece_index_t i) override { in->on_piece_pass(i); }
	void tick() override { in->tick(); }
};

// Nodes with the torrent, as the seeder names them (si_peers).
struct fetch_peers {
	std::mutex mu;
	std::vector<lt::tcp::endpoint> fresh;
};

// The fetching node says so (the seeder's stripe schedule leaves it out,
// and tells it which nodes have the torrent).
struct metadata_only_peer final : lt::peer_plugin {
	std::shared_ptr<fetch_peers> fp;
	lt::peer_connection_handle pc;

	metadata_only_peer(std::shared_ptr<fetch_peers> f,
			   lt::peer_connection_handle const &h)
		: fp(std::move(f)), pc(h) {}
	void add_handshake(lt::entry &e) override
	{
		e[metadata_only_key] = 1;
		e["m"][peers_ext_key] = peers_ext_id;
	}
	// Only SwarmImager's peers: a fetching torrent has nothing for a
	// stock client, and asks it for nothing.
	bool on_extension_handshake(lt::bdecode_node const &n) override
	{
		if (!swarmimager_peer(n))
			pc.disconnect(lt::errors::make_error_code(
				lt::errors::uninteresting_upload_peer),
				lt::operation_t::bittorrent);
		return true;
	}
	bool on_extended(int length, int msg, lt::span<char const> body) override
	{
		if (msg != peers_ext_id)
			return false;
		if (body.size() < length)	// called again when complete
			return true;
		std::lock_guard<std::mutex> lock(fp->mu);
		for (std::ptrdiff_t i = 0; i + 6 <= body.size(); i += 6) {
			lt::address_v4::bytes_type b;
			std::memcpy(b.data(), body.data() + i, 4);
			auto port = static_cast<std::uint16_t>(
				(static_cast<unsigned char>(body[i + 4]) << 8) |
				static_cast<unsigned char>(body[i + 5]));
			fp->fresh.emplace_back(lt::address_v4(b), port);
		}
		return true;
	}
};

struct metadata_only_plugin final : lt::torrent_plugin {
	std::shared_ptr<fetch_peers> fp;

	explicit metadata_only_plugin(std::shared_ptr<fetch_peers> f)
		: fp(std::move(f)) {}
	std::shared_ptr<lt::peer_plugin>
	new_connection(lt::peer_connection_handle const &pc) override
	{
		if (pc.type() != lt::connection_type::bittorrent)
			return {};
		return std::make_shared<metadata_only_peer>(fp, pc);
	}
};

bool read_whole(const char *path, std::vector<char> &out, std::string &why)
{
	std::ifstream f(path, std::ios::binary);

	if (!f) {
		why = std::strerror(errno);
		return false;
	}
	out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
	if (f.bad()) {
		why = "read error";
		return false;
	}
	return true;
}

int give(std::vector<char> const &v, char **buf, size_t *len, char *err,
	 size_t errlen)
{
	*buf = static_cast<char *>(std::malloc(v.size() ? v.size() : 1));
	if (!*buf) {
		set_err(err, errlen, "out of memory");
		return -1;
	}
	std::memcpy(*buf, v.data(), v.size());
	*len = v.size();
	return 0;
}

// Removes the fetching torrent.  The real torrent, added next, makes no
// connection of its own for fetcher_quiet (it has no tracker yet; it
// accepts connections): a peer that still holds the fetching torrent's
// connection when a new one arrives from us drops the new one as a
// duplicate (one connection per address on a cluster), and after
// max_failcount such failures never tries us again (N=32 runs of 33-35 s).
// Waiting without the torrent instead made peers that tried us meanwhile
// (a stock client) find no such torrent here, and give up on us.
void drop_fetcher(bt_session *s, lt::torrent_handle const &h)
{
	s->fetched[h.info_hashes().v1] = sclock::now() + fetcher_quiet;
	s->ses->remove_torrent(h);
}

} // namespace

void metadata_attach(lt::add_torrent_params &p, metadata_kind k)
{
	if (k == metadata_plain) {
		p.extensions.push_back(&lt::create_ut_metadata_plugin);
		return;
	}
	p.extensions.push_back([k](lt::torrent_handle const &h, lt::client_data_t d) {
		auto in = lt::create_ut_metadata_plugin(h, d);
		return in ? std::shared_ptr<lt::torrent_plugin>(
				std::make_shared<gated_metadata>(in,
					k == metadata_gated)) : in;
	});
}

extern "C" int bt_torrent_head(const char *torrent_path, char **buf,
			       size_t *len, char *err, size_t errlen)
{
	std::string what = std::string("cannot make the head of '") +
			   torrent_path + "': ";
	try {
		std::vector<char> raw;
		std::string why;
		lt::error_code ec;

		if (!read_whole(torrent_path, raw, why)) {
			set_err(err, errlen, what + why);
			return -1;
		}
		lt::bdecode_node n = lt::bdecode(raw, ec);
		lt::bdecode_node info = ec ? lt::bdecode_node() :
					n.dict_find_dict("info");
		if (ec || !info) {
			set_err(err, errlen, what + (ec ? ec.message() :
				"no info dictionary"));
			return -1;
		}
		lt::sha1_hash ih = lt::hasher(info.data_section()).final();
		lt::entry top(n);
		top.dict().erase("info");
		top["info-hash"] = std::string(ih.data(), ih.size());
		std::vector<char> out;
		lt::bencode(std::back_inserter(out), top);
		return give(out, buf, len, err, errlen);
	} catch (std::exception const &e) {
		set_err(err, errlen, what + e.what());
	} catch (...) {
		set_err(err, errlen, what + "unknown error");
	}
	return -1;
}

extern "C" int bt_fetch_torrent(struct bt_session *s, const char *head,
				size_t head_len, const char *seeder_ip,
				int seeder_port, const char *save_path,
				int timeout_ms, char **buf, size_t *len,
				char *err, size_t errlen)
{
	lt::torrent_handle h;

	try {
		lt::error_code ec;
		lt::bdecode_node n = lt::bdecode({head, static_cast<long>(head_len)}, ec);
		lt::string_view ih = ec ? lt::string_view() :
				     n.dict_find_string_value("info-hash");

		if (ec || ih.size() != 20 || n.dict_find("info")) {
			set_err(err, errlen, "not a torrent head" +
				(ec ? ": " + ec.message() : std::string()));
			return -1;
		}
		lt::entry top(n);
		top.dict().erase("info-hash");

		// The tracker's first answer makes libtorrent connect at once
		// (connect_peer() waits for its next tick, 0.5 s); the seeder
		// names the nodes that have the torrent as they come (si_peers).
		// Only SwarmImager's peers are asked (metadata_ours).
		lt::add_torrent_params p;
		p.info_hashes.v1 = lt::sha1_hash(ih.data());
		lt::string_view announce = n.dict_find_string_value("announce");
		if (!announce.empty())
			p.trackers.emplace_back(announce);
		p.save_path = save_path;
		p.flags &= ~(lt::torrent_flags::auto_managed |
			     lt::torrent_flags::paused);
		p.flags |= lt::torrent_flags::upload_mode |
			   lt::torrent_flags::disable_pex;
		auto fp = std::make_shared<fetch_peers>();
		p.extensions.push_back([fp](lt::torrent_handle const &, lt::client_data_t) {
			return std::make_shared<metadata_only_plugin>(fp);
		});
		metadata_attach(p, metadata_ours);
		h = s->ses->add_torrent(std::move(p), ec);
		if (ec) {
			set_err(err, errlen, "cannot add the torrent: " + ec.message());
			return -1;
		}

		lt::tcp::endpoint seeder;
		if (seeder_ip)
			seeder = lt::tcp::endpoint(lt::make_address(seeder_ip),
				static_cast<std::uint16_t>(seeder_port));
		auto end = sclock::now() + std::chrono::milliseconds(timeout_ms);
		auto reconnect = sclock::now();
		bool got = false;
		std::string failed;
		while (!got && sclock::now() < end) {
			if (seeder_ip && sclock::now() >= reconnect) {
				h.connect_peer(seeder);
				reconnect += std::chrono::seconds(1);
			}
			std::vector<lt::tcp::endpoint> named;
			{
				std::lock_guard<std::mutex> lock(fp->mu);
				named.swap(fp->fresh);
			}
			for (auto const &ep : named)
				h.connect_peer(ep);
			std::vector<lt::alert *> alerts;
			s->ses->wait_for_alert(std::chrono::milliseconds(100));
			s->ses->pop_alerts(&alerts);
			for (lt::alert *a : alerts) {
				if (auto *m = lt::alert_cast<lt::metadata_received_alert>(a)) {
					got = got || m->handle == h;
				} else if (auto *f = lt::alert_cast<lt::metadata_failed_alert>(a)) {
					if (f->handle == h)
						failed = f->error.message();
				} else {
					translate(s, a);	// another torrent's
				}
			}
		}
		std::vector<char> out;
		if (got) {
			auto ti = h.torrent_file();
			auto sec = ti->info_section();
			top["info"] = lt::entry(lt::entry::preformatted_type(
				sec.begin(), sec.end()));
			lt::bencode(std::back_inserter(out), top);
			lt::torrent_info check(out, ec, lt::from_span);
			if (ec || check.info_hashes().v1 != lt::sha1_hash(ih.data())) {
				out.clear();
				failed = "the torrent made from it does not match "
					 "its info-hash";
			}
		}
		drop_fetcher(s, h);
		if (out.empty()) {
			char why[64];

			snprintf(why, sizeof(why), "no peer sent the info "
				 "dictionary in %.1f s", timeout_ms / 1000.0);
			set_err(err, errlen, failed.empty() ? why : failed);
			return -1;
		}
		return give(out, buf, len, err, errlen);
	} catch (std::exception const &e) {
		set_err(err, errlen, std::string("cannot fetch the torrent: ") + e.what());
	} catch (...) {
		set_err(err, errlen, "cannot fetch the torrent");
	}
	try {
		if (h.is_valid())
			drop_fetcher(s, h);
	} catch (...) {
	}
	return -1;
}
