/*
 * Images sent with POST /v1/jobs ("images": [{"name", "data"}], base64):
 * what `provauth generate --image FILE` uploads, for a caller that is not
 * on this host. They are written to a private temporary directory (0700,
 * files 0600), uploaded through the account the pool reserved (the
 * provider's upload operation, which reads a file), and removed when the
 * request ends. The job then names them by the URL and path the upload
 * answered, as the CLI does.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "api.h"

#define NAME_MAX_LEN 100

/* A file name of the caller's: letters, digits, '.', '_', '-', not hidden, with an image extension. */
static int name_ok(const char *s)
{
	static const char *const ext[] = { ".png", ".jpg", ".jpeg", ".webp" };
	size_t n = strlen(s), i;

	if (n == 0 || n > NAME_MAX_LEN || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	for (i = 0; i < PAD_ARRAY_LEN(ext); i++) {
		size_t e = strlen(ext[i]);
		if (n > e && strcasecmp(s + n - e, ext[i]) == 0)
			return 1;
	}
	return 0;
}

/* Standard base64 with its padding; *out malloc()ed. -1 when it is not that. */
static int decode(const char *b64, unsigned char **out, size_t *len)
{
	size_t n = strlen(b64), pad = 0;
	int got;

	*out = NULL;
	*len = 0;
	if (n == 0 || n % 4 != 0 || n > (size_t)INT32_MAX)
		return -1;
	if (b64[n - 1] == '=')
		pad = b64[n - 2] == '=' ? 2 : 1;
	if (!(*out = malloc(n / 4 * 3 + 1)))
		return -1;
	/* EVP_DecodeBlock takes '=' anywhere it likes and counts the padding as zero bytes: checked here. */
	if (strchr(b64, '=') != (pad ? b64 + n - pad : NULL) ||
	    (got = EVP_DecodeBlock(*out, (const unsigned char *)b64, (int)n)) < 0 || (size_t)got < pad) {
		free(*out);
		*out = NULL;
		return -1;
	}
	*len = (size_t)got - pad;
	return 0;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Image i into the temporary directory (made on the first); 0 or 1 after a reply. */
static int keep_image(pad_job_images *im, pad_reply *rep, size_t i, const char *name, const unsigned char *data,
                      size_t len)
{
	const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[sizeof(im->dir) + 32];
	const char *dot = strrchr(name, '.');
	int fd;

	if (!im->dir[0]) {
		snprintf(im->dir, sizeof(im->dir), "%s/provauthd-images-XXXXXX", tmp);
		if (!mkdtemp(im->dir)) {
			im->dir[0] = '\0';
			pad_reply_error(rep, 500, "internal", "cannot keep the job's images: %s: %s", tmp, strerror(errno));
			return 1;
		}
	}
	/* Our own name on disk (the caller's goes to the provider as the upload's name). */
	snprintf(path, sizeof(path), "%s/%zu%s", im->dir, i, dot);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write_all(fd, data, len) < 0 || close(fd) < 0) {
		int e = errno;
		if (fd >= 0)
			unlink(path);
		pad_reply_error(rep, 500, "internal", "cannot keep image %zu of the job: %s", i, strerror(e));
		return 1;
	}
	if (!(im->path[i] = strdup(path)) || !(im->name[i] = strdup(name))) {
		unlink(path);
		free(im->path[i]);
		im->path[i] = NULL;
		pad_reply_error(rep, 500, "internal", "out of memory");
		return 1;
	}
	im->n = i + 1;
	return 0;
}

int pad_job_images_read(pad_job_images *im, pad_reply *rep, json_object *images)
{
	size_t n, i;

	memset(im, 0, sizeof(*im));
	if (!images)
		return 0;
	if (!json_object_is_type(images, json_type_array) || (n = json_object_array_length(images)) == 0 ||
	    n > PAD_JOB_MAX_IMAGES) {
		pad_reply_error(rep, 400, "invalid", "field 'images' must be an array of 1 to %d images "
		                "({\"name\": \"cat.png\", \"data\": BASE64})", PAD_JOB_MAX_IMAGES);
		return 1;
	}
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(images, i), *name = NULL, *data = NULL;
		unsigned char *bytes = NULL;
		size_t len = 0;
		int r;

		if (!e || !json_object_is_type(e, json_type_object) || json_object_object_length(e) != 2 ||
		    !json_object_object_get_ex(e, "name", &name) || !json_object_object_get_ex(e, "data", &data) ||
		    !name || !data || !json_object_is_type(name, json_type_string) ||
		    !json_object_is_type(data, json_type_string)) {
			pad_reply_error(rep, 400, "invalid", "field 'images[%zu]' must be {\"name\": \"cat.png\", \"data\": "
			                "BASE64}", i);
			return 1;
		}
		if (!name_ok(json_object_get_string(name))) {
			pad_reply_error(rep, 400, "invalid", "field 'images[%zu].name' must be a file name of letters, "
			                "digits, '.', '_' or '-' (at most %d) ending in .png, .jpg, .jpeg or .webp", i,
			                NAME_MAX_LEN);
			return 1;
		}
		if (decode(json_object_get_string(data), &bytes, &len) < 0 || len == 0) {
			free(bytes);
			pad_reply_error(rep, 400, "invalid", "field 'images[%zu].data' must be the image in standard "
			                "base64, with its padding", i);
			return 1;
		}
		r = keep_image(im, rep, i, json_object_get_string(name), bytes, len);
		free(bytes);
		if (r)
			return 1;
	}
	return 0;
}

int pad_job_images_upload(pad_job_images *im, provauth_manager *m, const char *account_id)
{
	size_t i;
	int rc;

	for (i = 0; i < im->n; i++) {
		const provauth_arg args[] = { { "file", im->path[i] }, { "name", im->name[i] } };
		char *out = NULL;

		free(im->url[i]);
		free(im->uploaded[i]);
		im->url[i] = im->uploaded[i] = NULL;
		im->why[0] = '\0';
		if ((rc = provauth_call(&out, m, account_id, "upload", args, PAD_ARRAY_LEN(args))) == 0 &&
		    (!(im->url[i] = pad_api_answer_member(out, "url", 0)) ||
		     !(im->uploaded[i] = pad_api_answer_member(out, "path", 0)))) {
			snprintf(im->why, sizeof(im->why), "account %s: the upload of image %zu (%s) answered no url and "
			         "path", account_id, i, im->name[i]);
			rc = PROVAUTH_EPROTOCOL;
		}
		provauth_free(out);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void pad_job_images_free(pad_job_images *im)
{
	size_t i;

	for (i = 0; i < im->n; i++) {
		if (im->path[i])
			unlink(im->path[i]);
		free(im->path[i]);
		free(im->name[i]);
		free(im->url[i]);
		free(im->uploaded[i]);
	}
	if (im->dir[0])
		rmdir(im->dir);
	memset(im, 0, sizeof(*im));
}
