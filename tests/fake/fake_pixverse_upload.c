/*
 * The fake Pixverse's OpenAPI image upload (multipart/form-data, one part
 * named "image") and its media host (GET /media/...), which serves the
 * uploaded bytes and the results of finished jobs.
 *
 * The multipart body is parsed as a server would (the boundary from the
 * Content-Type, the part by its name, its bytes up to the next boundary)
 * rather than searched for image bytes, so that a client which builds a
 * wrong body is told so as the service would tell it.
 */
#include "config.h"
#include "fake_pixverse_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

/* The service refuses images over 20 MB (notes A.5, 500030). */
#define MAX_IMAGE_BYTES (20L * 1024 * 1024)

#define ERR_BAD_API_KEY 400017
#define ERR_TOO_LARGE 500030
#define ERR_BAD_FORMAT 500031
#define ERR_UNREADABLE 500032

typedef struct mp_part {
	const char *name;        /* not NUL-terminated: name_len */
	size_t name_len;
	const char *content_type;
	size_t content_type_len;
	const unsigned char *data;
	size_t len;
} mp_part;

/* The boundary parameter of a multipart/form-data Content-Type, into buf. */
static int boundary_of(const char *content_type, char *buf, size_t size)
{
	const char *p, *end;
	size_t n;

	if (!content_type || strncasecmp(content_type, "multipart/form-data", 19))
		return -1;
	p = strcasestr(content_type, "boundary=");
	if (!p)
		return -1;
	p += 9;
	if (*p == '"') {
		end = strchr(++p, '"');
		if (!end)
			return -1;
	} else {
		end = p + strcspn(p, "; \t");
	}
	n = (size_t)(end - p);
	if (n == 0 || n > 70 || n + 1 > size)
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return 0;
}

/* A header's value in a part's header block [h, h_end), or NULL. */
static const char *part_header(const char *h, const char *h_end, const char *name, size_t *len)
{
	size_t n = strlen(name);

	while (h < h_end) {
		const char *eol = memmem(h, (size_t)(h_end - h), "\r\n", 2);

		if (!eol)
			eol = h_end;
		if ((size_t)(eol - h) > n + 1 && !strncasecmp(h, name, n) && h[n] == ':') {
			const char *v = h + n + 1;

			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*len = (size_t)(eol - v);
			return v;
		}
		h = eol + 2;
	}
	return NULL;
}

/* The part named `want`; 0, or -1 when the body is no multipart body with that boundary or lacks it. */
static int find_part(const char *body, size_t len, const char *boundary, const char *want, mp_part *out)
{
	char delim[80];
	size_t dlen = (size_t)snprintf(delim, sizeof(delim), "--%s", boundary);
	const char *end = body + len;
	const char *p = memmem(body, len, delim, dlen);

	while (p) {
		const char *headers, *h_end, *data, *next, *disp, *name;
		size_t disp_len, ct_len = 0;

		p += dlen;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return -1;  /* the closing delimiter */
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			return -1;
		headers = p + 2;
		h_end = memmem(headers, (size_t)(end - headers), "\r\n\r\n", 4);
		if (!h_end)
			return -1;
		data = h_end + 4;
		next = memmem(data, (size_t)(end - data), "\r\n--", 4);
		while (next && ((size_t)(end - next) < dlen + 2 || memcmp(next + 2, delim, dlen)))
			next = memmem(next + 1, (size_t)(end - next - 1), "\r\n--", 4);
		if (!next)
			return -1;  /* a part that never ends */
		disp = part_header(headers, h_end + 2, "Content-Disposition", &disp_len);
		name = disp ? strcasestr(disp, "name=\"") : NULL;
		/* "filename=" contains "name=": take the parameter that stands alone. */
		while (name && name > disp && name[-1] != ' ' && name[-1] != ';')
			name = strcasestr(name + 1, "name=\"");
		if (name && name < disp + disp_len) {
			const char *nv = name + 6, *q = memchr(nv, '"', (size_t)(disp + disp_len - nv));

			if (q && (size_t)(q - nv) == strlen(want) && !memcmp(nv, want, strlen(want))) {
				out->name = nv;
				out->name_len = (size_t)(q - nv);
				out->content_type = part_header(headers, h_end + 2, "Content-Type", &ct_len);
				out->content_type_len = ct_len;
				out->data = (const unsigned char *)data;
				out->len = (size_t)(next - data);
				return 0;
			}
		}
		p = next + 2;
	}
	return -1;
}

/* The image format of the bytes: its extension, or NULL when not PNG, JPEG or WebP. */
static const char *image_ext(const unsigned char *d, size_t n, const char **content_type)
{
	if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) {
		*content_type = "image/png";
		return "png";
	}
	if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) {
		*content_type = "image/jpeg";
		return "jpg";
	}
	if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4)) {
		*content_type = "image/webp";
		return "webp";
	}
	return NULL;
}

static int declared_type_ok(const mp_part *p)
{
	static const char *const ok[] = { "image/png", "image/jpeg", "image/jpg", "image/webp" };
	size_t i;

	if (!p->content_type)
		return 1;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (p->content_type_len == strlen(ok[i]) && !strncasecmp(p->content_type, ok[i], p->content_type_len))
			return 1;
	return 0;
}

static int has_api_key(fake_pixverse *pv, const char *key)
{
	size_t i;

	for (i = 0; key && *key && i < pv->naccounts; i++)
		if (pv->accounts[i].api_key && !strcmp(pv->accounts[i].api_key, key))
			return 1;
	return 0;
}

static pv_upload *new_upload(fake_pixverse *pv)
{
	if (pv->nuploads == pv->cap_uploads) {
		size_t cap = pv->cap_uploads ? pv->cap_uploads * 2 : 16;
		pv_upload *p = realloc(pv->uploads, cap * sizeof(*p));

		if (!p)
			return NULL;
		pv->uploads = p;
		pv->cap_uploads = cap;
	}
	memset(&pv->uploads[pv->nuploads], 0, sizeof(pv->uploads[0]));
	return &pv->uploads[pv->nuploads];
}

void fake_pv_upload_handle(fake_pixverse *pv, const fake_request *req, fake_response *resp)
{
	char boundary[80], base[96], url[256], path[96];
	unsigned char rnd[16];
	const char *ext, *type = NULL;
	pv_upload *u;
	json_object *r;
	mp_part part;

	if (!has_api_key(pv, fake_request_header(req, "API-KEY"))) {
		fake_pv_reply(req, resp, ERR_BAD_API_KEY, NULL, NULL);
		return;
	}
	if (boundary_of(fake_request_header(req, "Content-Type"), boundary, sizeof(boundary)) < 0 ||
	    find_part(req->body, req->body_len, boundary, "image", &part) < 0 || part.len == 0) {
		fake_pv_reply(req, resp, ERR_UNREADABLE, NULL, NULL);
		return;
	}
	if (part.len > MAX_IMAGE_BYTES) {
		fake_pv_reply(req, resp, ERR_TOO_LARGE, NULL, NULL);
		return;
	}
	if (!declared_type_ok(&part) || !(ext = image_ext(part.data, part.len, &type))) {
		fake_pv_reply(req, resp, ERR_BAD_FORMAT, NULL, NULL);
		return;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1 || !(u = new_upload(pv)) || !(u->data = malloc(part.len))) {
		fake_pv_reply(req, resp, 500069, NULL, NULL);
		return;
	}
	snprintf(path, sizeof(path), "upload/%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x.%s",
		rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], rnd[8], rnd[9], rnd[10], rnd[11],
		rnd[12], rnd[13], rnd[14], rnd[15], ext);
	if (!(u->path = strdup(path))) {
		free(u->data);
		fake_pv_reply(req, resp, 500069, NULL, NULL);
		return;
	}
	memcpy(u->data, part.data, part.len);
	u->len = part.len;
	u->content_type = type;
	u->img_id = ++pv->next_img_id;
	pv->nuploads++;
	fake_pv_media_base(pv, base, sizeof(base));
	snprintf(url, sizeof(url), "%s/%s", base, path);
	r = json_object_new_object();
	json_object_object_add(r, "img_id", json_object_new_int64(u->img_id));
	json_object_object_add(r, "img_url", json_object_new_string(url));
	fake_pv_reply(req, resp, 0, NULL, r);
}

static void send_bytes(fake_response *resp, const char *content_type, const void *data, size_t len)
{
	resp->body = malloc(len + 1);
	if (!resp->body) {
		fake_response_text(resp, 500, "text/plain", "out of memory\n");
		return;
	}
	memcpy(resp->body, data, len);
	resp->body[len] = '\0';
	resp->body_len = len;
	resp->status = 200;
	resp->content_type = content_type;
}

/* GET /media/<path>: uploads, finished jobs' results, the moderation placeholders. */
void fake_pv_media_handle(fake_pixverse *pv, const fake_request *req, fake_response *resp)
{
	const char *path = req->path + strlen("/media/");
	long long id;
	char text[96], ext[8];
	int n = 0;
	size_t i;

	for (i = 0; i < pv->nuploads; i++) {
		if (!strcmp(pv->uploads[i].path, path)) {
			send_bytes(resp, pv->uploads[i].content_type, pv->uploads[i].data, pv->uploads[i].len);
			return;
		}
	}
	if (!strcmp(path, "pixverse/mp4/media/default.mp4") || !strcmp(path, "pixverse/jpg/media/default.jpg")) {
		snprintf(text, sizeof(text), "fake moderation placeholder\n");
		send_bytes(resp, strstr(path, ".mp4") ? "video/mp4" : "image/jpeg", text, strlen(text));
		return;
	}
	if (sscanf(path, "web/ori/%lld.%7[a-z0-9]%n", &id, ext, &n) == 2 && path[n] == '\0' &&
	    (!strcmp(ext, "mp4") || !strcmp(ext, "png")) && fake_pv_job_result_exists(pv, id, ext[1] == 'n')) {
		n = snprintf(text, sizeof(text), "fake %s result of job %lld\n", ext, id);
		send_bytes(resp, ext[1] == 'n' ? "image/png" : "video/mp4", text, (size_t)n);
		return;
	}
	if (sscanf(path, "web/ori/%lld_last.jp%1[g]%n", &id, ext, &n) == 2 && path[n] == '\0' &&
	    fake_pv_job_result_exists(pv, id, 0)) {
		n = snprintf(text, sizeof(text), "fake last frame of job %lld\n", id);
		send_bytes(resp, "image/jpeg", text, (size_t)n);
		return;
	}
	/* As a CDN before the file exists (a video's early URL): 404. */
	fake_response_text(resp, 404, "text/plain", "Not Found\n");
}

void fake_pv_uploads_free(fake_pixverse *pv)
{
	size_t i;

	for (i = 0; i < pv->nuploads; i++) {
		free(pv->uploads[i].path);
		free(pv->uploads[i].data);
	}
	free(pv->uploads);
	pv->uploads = NULL;
	pv->nuploads = pv->cap_uploads = 0;
}

unsigned long fake_pixverse_uploads(fake_pixverse *pv)
{
	unsigned long n;

	fake_server_lock(pv->server);
	n = pv->nuploads;
	fake_server_unlock(pv->server);
	return n;
}
