/*
 * The upload operation: an image file sent to the OpenAPI upload (the only
 * upload path that works for web jobs too), answered with what generate
 * takes: the media URL (image_url) and its storage path (image_path). The
 * multipart body is built here by hand, with a random boundary, because
 * the host's HTTP service sends bodies as they are.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "pixverse.h"

#define PV_UPLOAD_PATH "/openapi/v2/image/upload"
/* Bytes of randomness in a boundary: 32 hex digits no image is likely to hold. */
#define PV_BOUNDARY_BYTES 16
#define PV_FILENAME_MAX 128

const char *pv_image_mime(const char *filename)
{
	const char *dot = filename ? strrchr(filename, '.') : NULL;

	if (!dot)
		return NULL;
	if (strcasecmp(dot, ".png") == 0)
		return "image/png";
	if (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0)
		return "image/jpeg";
	if (strcasecmp(dot, ".webp") == 0)
		return "image/webp";
	return NULL;
}

char *pv_multipart_build(const char *boundary, const char *filename, const char *mime, const unsigned char *data,
                         size_t len, size_t *body_len)
{
	char head[512], tail[128];
	size_t hn, tn;
	char *body;
	int n;

	n = snprintf(head, sizeof(head), "--%s\r\nContent-Disposition: form-data; name=\"image\"; filename=\"%s\"\r\n"
	             "Content-Type: %s\r\n\r\n", boundary, filename, mime);
	if (n < 0 || (size_t)n >= sizeof(head))
		return NULL;
	hn = (size_t)n;
	n = snprintf(tail, sizeof(tail), "\r\n--%s--\r\n", boundary);
	if (n < 0 || (size_t)n >= sizeof(tail))
		return NULL;
	tn = (size_t)n;
	if (len > SIZE_MAX - hn - tn - 1 || !(body = malloc(hn + len + tn + 1)))
		return NULL;
	memcpy(body, head, hn);
	if (len)
		memcpy(body + hn, data, len);
	memcpy(body + hn + len, tail, tn + 1);
	*body_len = hn + len + tn;
	return body;
}

char *pv_upload_path_of(const char *url)
{
	const char *p = url ? strstr(url, "/upload/") : NULL;
	size_t n;
	char *out;

	if (!p || !p[8])
		return NULL;
	p += 8;
	n = strlen(p);
	if (!(out = malloc(n + 8)))
		return NULL;
	snprintf(out, n + 8, "upload/%s", p);
	return out;
}

/* The part's file name: the given name or the path's last component, quotes and controls made '_'. */
static void part_filename(char out[PV_FILENAME_MAX], const char *path, const char *name)
{
	const char *base = name ? name : strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t i;

	snprintf(out, PV_FILENAME_MAX, "%s", base);
	for (i = 0; out[i]; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f || out[i] == '"' || out[i] == '\\')
			out[i] = '_';
}

/* The whole file (at most PV_UPLOAD_MAX_BYTES), malloc'd. */
static int read_image(const provauth_host *h, const char *path, unsigned char **data, size_t *len)
{
	struct stat sb;
	FILE *fp;
	size_t got;

	*data = NULL;
	*len = 0;
	if (!(fp = fopen(path, "rb")))
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: upload: file '%.200s': %s", path, strerror(errno));
	if (fstat(fileno(fp), &sb) < 0 || !S_ISREG(sb.st_mode)) {
		fclose(fp);
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: upload: file '%.200s': not a regular file", path);
	}
	if (sb.st_size > PV_UPLOAD_MAX_BYTES) {
		fclose(fp);
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: upload: file '%.200s': %lld bytes, over the service's "
		                    "20 MiB", path, (long long)sb.st_size);
	}
	if (sb.st_size == 0) {
		fclose(fp);
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: upload: file '%.200s' is empty", path);
	}
	if (!(*data = malloc((size_t)sb.st_size))) {
		fclose(fp);
		return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: out of memory");
	}
	got = fread(*data, 1, (size_t)sb.st_size, fp);
	fclose(fp);
	if (got != (size_t)sb.st_size) {
		free(*data);
		*data = NULL;
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: upload: file '%.200s': short read", path);
	}
	*len = got;
	return 0;
}

static int random_boundary(const provauth_host *h, char *out, size_t size)
{
	unsigned char raw[PV_BOUNDARY_BYTES];
	size_t i, o;
	int rc;

	if ((rc = h->random_bytes(h, raw, sizeof(raw))) < 0)
		return rc;
	o = (size_t)snprintf(out, size, "----provauth");
	for (i = 0; i < sizeof(raw) && o + 2 < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%02x", raw[i]);
	return 0;
}

/* Sends the body and reads {img_id, img_url} into the result. */
static int send_upload(const pv_state *st, const provauth_session *s, const char *key, const char *body, size_t len,
                       const char *content_type, char **out_json, provauth_failure *f)
{
	const provauth_host *h = st->host;
	const pv_session_data *data = s->provider_data;
	pv_request req;
	pv_reply r;
	char *url, *path, msg[PV_TRANSPORT_MAX + 160];
	const char *img_url;
	int64_t img_id;
	int rc;

	if (!(url = provauth_plugin_url_join(h, st->openapi_base_url, PV_UPLOAD_PATH)))
		return pv_oom_failure(h, f);
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.endpoint = PV_UPLOAD_PATH;
	req.api_key = key;
	req.ids = data ? &data->ids : NULL;
	req.body = body;
	req.body_len = len;
	req.content_type = content_type;
	rc = pv_send(st, &req, &r);
	h->free(h, url);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "pixverse: POST %s: %s", PV_UPLOAD_PATH, r.transport);
		h->failure_set_transport(f, rc, msg);
		return rc;
	}
	if ((rc = pv_reply_to_failure(st, &r, PV_UPLOAD_PATH, 1, f)) < 0) {
		pv_reply_free(st, &r);
		return rc;
	}
	img_url = h->json_string(h->json_get(r.resp, "img_url"));
	if (h->json_int(h->json_get(r.resp, "img_id"), &img_id) < 0 || !img_url || !(path = pv_upload_path_of(img_url))) {
		pv_reply_free(st, &r);
		h->failure_set_message(f, PROVAUTH_EPROTOCOL, "pixverse: %s: reply has no img_id or no .../upload/ img_url",
		                       PV_UPLOAD_PATH);
		return PROVAUTH_EPROTOCOL;
	}
	*out_json = h->json_format(h, "{\"img_id\":%i,\"url\":%s,\"path\":%s}", img_id, img_url, path);
	free(path);
	pv_reply_free(st, &r);
	return *out_json ? 0 : pv_oom_failure(h, f);
}

int pv_op_upload(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
                 char **out_json, provauth_failure *f)
{
	const pv_state *st = state;
	const provauth_host *h = st->host;
	const char *file = NULL, *name = NULL, *mime, *key;
	char boundary[64], content_type[128], filename[PV_FILENAME_MAX];
	unsigned char *data;
	size_t i, len, body_len;
	char *body;
	int rc;

	for (i = 0; i < nargs; i++) {
		const char *k = args[i].key ? args[i].key : "";
		const char **slot = strcmp(k, "file") == 0 ? &file : strcmp(k, "name") == 0 ? &name : NULL;

		if (!slot)
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: upload: unknown parameter '%.40s' (it takes file=PATH "
			                    "and name=NAME)", k);
		if (*slot)
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: upload: %s given twice", k);
		*slot = args[i].value ? args[i].value : "";
	}
	if (!file || !*file)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: upload: file: the image to upload is required (file=PATH)");
	if (!(mime = pv_image_mime(name ? name : file)))
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: upload: file '%.200s': the name must end in .png, .jpg, "
		                    ".jpeg or .webp", name ? name : file);
	key = h->session_credential(s, PROVAUTH_CRED_API_KEY, "openapi");
	if (!key || !*key)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: upload needs an openapi API key on the account");
	if ((rc = read_image(h, file, &data, &len)) < 0)
		return rc;
	if ((rc = random_boundary(h, boundary, sizeof(boundary))) < 0) {
		free(data);
		return rc;
	}
	part_filename(filename, file, name);
	snprintf(content_type, sizeof(content_type), "multipart/form-data; boundary=%s", boundary);
	body = pv_multipart_build(boundary, filename, mime, data, len, &body_len);
	free(data);
	if (!body)
		return pv_oom_failure(h, f);
	rc = send_upload(st, s, key, body, body_len, content_type, out_json, f);
	free(body);
	return rc;
}
