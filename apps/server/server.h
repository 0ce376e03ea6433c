/* server.h — what the server's files share: the server state, the per-request context, the
 * route table for metrics and the handlers (routes.c) the dispatcher (serve.c) calls. */
#ifndef CAIRN_SERVER_SERVER_H
#define CAIRN_SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#include "cairn.h"
#include "http_json.h"

enum {
	SRV_R_INDEX, SRV_R_HEALTH, SRV_R_READY, SRV_R_METRICS, SRV_R_SEARCH, SRV_R_ANSWER, SRV_R_DOC_GET,
	SRV_R_DOC_DELETE, SRV_R_DOC_POST, SRV_R_AUDIT, SRV_R_CHAT, SRV_R_EMBED, SRV_R_MODELS, SRV_R_APPROVALS,
	SRV_R_APPROVAL_DECIDE, SRV_R_OTHER,
	SRV_N_ROUTES
};
#define SRV_N_BUCKETS 14
extern const char *const srv_route_names[SRV_N_ROUTES];
extern const double srv_buckets[SRV_N_BUCKETS];

typedef struct srv_hist {
	_Atomic uint64_t count[SRV_N_BUCKETS]; /* cumulative by bucket at print time */
	_Atomic uint64_t n;
	_Atomic uint64_t sum_us;
} srv_hist;

typedef struct srv_rl_entry {
	char name[132];
	srv_bucket b;
} srv_rl_entry;

typedef struct srv {
	cairn_kb *kb;
	cairn_encoder *enc;
	char embed_name[256];
	bool no_auth;
	/* generative answers (cairn_ask_params.endpoint …); NULL: extractive */
	const char *endpoint, *api_key_env, *llm_model;
	cairn_tools *tools;      /* --tools: approvals over HTTP; NULL = none */
	pthread_mutex_t tools_mu;/* one tools call at a time (the handle is not shared-safe) */
	double rate, burst;      /* rate <= 0: no rate limit */
	size_t max_body;
	pthread_mutex_t write_mu;/* one ingest or delete (add/commit pair) at a time */
	pthread_mutex_t rl_mu;
	srv_rl_entry *rl;
	size_t n_rl, cap_rl;
	atomic_int inflight;
	atomic_bool stopping;
	/* metrics */
	_Atomic uint64_t requests[SRV_N_ROUTES][600];
	srv_hist latency[SRV_N_ROUTES];
	srv_hist search_time, answer_time, embed_time;
	_Atomic uint64_t auth_ok, auth_401, auth_403, auth_429;
	/* the answerer's guard decisions: questions flagged / refused, chunks quarantined */
	_Atomic uint64_t guard_flagged, guard_refused, guard_quarantined;
	_Atomic uint64_t bytes_out;
} srv;

/* A request being served (MHD's con_cls). */
typedef struct srv_req {
	double t0;
	int route;
	char method[12];        /* printable: MHD accepts only token characters */
	char *body;
	size_t len, cap;
	bool too_big, answered_early;
	int status;
	uint64_t bytes;
	char principal[132];
	/* the authenticated caller */
	cairn_principal *who;
	const char *const *groups;  /* NULL: unrestricted */
	size_t n_groups;
	unsigned perms;
} srv_req;

double srv_now(void);
void srv_hist_add(srv_hist *h, double seconds);

/* Queue a response: JSON from a malloc'd string (freed by MHD), or an error. */
enum MHD_Result srv_send_json(struct MHD_Connection *c, srv_req *r, int status, char *json_malloced);
enum MHD_Result srv_send_error(struct MHD_Connection *c, srv_req *r, int status, const char *code, const char *msg);
enum MHD_Result srv_send_reqerr(struct MHD_Connection *c, srv_req *r, const srv_reqerr *e);
/* An SSE stream of the events already rendered in buf (malloc'd; freed when sent). */
enum MHD_Result srv_send_sse(struct MHD_Connection *c, srv_req *r, char *buf, size_t len);

/* routes.c: one per route; the dispatcher has authenticated and rate-limited. id: the
 * decoded document id for the /v1/documents/{id} routes. */
enum MHD_Result srv_route_search(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result srv_route_answer(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result srv_route_doc_get(srv *s, struct MHD_Connection *c, srv_req *r, const char *id);
enum MHD_Result srv_route_doc_delete(srv *s, struct MHD_Connection *c, srv_req *r, const char *id);
enum MHD_Result srv_route_doc_post(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result srv_route_audit(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result srv_route_chat(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result srv_route_embed(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result srv_route_models(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result srv_route_metrics(srv *s, struct MHD_Connection *c, srv_req *r);
/* GET /v1/approvals; POST /v1/approvals/{id}/approve|deny (id: the decoded rest of the path) */
enum MHD_Result srv_route_approvals(srv *s, struct MHD_Connection *c, srv_req *r);
enum MHD_Result srv_route_approval_decide(srv *s, struct MHD_Connection *c, srv_req *r, const char *rest);

/* The page served at / (webpage.c). */
extern const char srv_index_html[];

/* `cairn serve` (serve.c), called by the CLI's main. */
int cli_cmd_serve(const char *kbdir, int argc, char **argv);

#endif
