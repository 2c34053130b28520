/*
 * A plugin tried in a child process before it is loaded for real.
 *
 * A plugin runs inside the host: one that crashes in its constructor, its
 * entry point or its init takes the whole process down, and the user sees
 * "Segmentation fault" without the file's name. Tools that list or check
 * plugins (provauth plugins, provauth config check) therefore load each
 * file in a forked child first; a child killed by a signal names the file
 * and the step it was in, the file is skipped, and the others load.
 *
 * The child tells the parent which step it reached by writing one byte to
 * a pipe before each call into the plugin (pa_plugin_calling).
 */
#include "config.h"
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "internal.h"

/* In a trial child: the pipe's write end; -1 everywhere else. */
static int stage_fd = -1;

void pa_plugin_calling(const pa_logger *lg, const char *file, const char *call)
{
	provauth_log_field f[] = {
		PA_F_STR("file", file),
		PA_F_STR("call", call),
	};

	pa_log(lg, PROVAUTH_LOG_DEBUG, "plugin_calling", f, PA_ARRAY_LEN(f));
	if (stage_fd >= 0) {
		char c = strcmp(call, "init") == 0 ? 'I' : strcmp(call, "fini") == 0 ? 'F' : 'E';
		ssize_t n;

		do
			n = write(stage_fd, &c, 1);
		while (n < 0 && errno == EINTR);
	}
}

static const char *stage_name(char c)
{
	switch (c) {
	case 'E': return "its entry point";
	case 'I': return "init";
	case 'F': return "fini";
	default: return "its constructors (while being loaded)";  /* no byte yet, or 'D' lost */
	}
}

int pa_plugin_trial(const char *file, int (*load)(void *arg), void *arg)
{
	int fds[2], status = 0;
	char stage = 0, c;
	pid_t pid, got;
	ssize_t n;

	if (pipe(fds) != 0)
		return pa_error_set(PROVAUTH_EPLUGIN, "%s: cannot try the plugin in a child process: %s", file,
		                    strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return pa_error_set(PROVAUTH_EPLUGIN, "%s: cannot try the plugin in a child process: %s", file,
		                    strerror(errno));
	}
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL);
		close(fds[0]);
		stage_fd = fds[1];
		alarm(PA_PLUGIN_TRIAL_SECONDS);
		load(arg);
		/*
		 * 'D': the child came back. Without it the child did not, however
		 * it ended (a sanitizer turns a SIGSEGV into an exit status).
		 * _exit: no atexit handler or stdio buffer of the parent's runs twice.
		 */
		stage = 'D';
		while (write(stage_fd, &stage, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(fds[1]);
	while ((n = read(fds[0], &c, 1)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		stage = c;
	}
	close(fds[0]);
	do
		got = waitpid(pid, &status, 0);
	while (got < 0 && errno == EINTR);
	if (got != pid)
		return pa_error_set(PROVAUTH_EPLUGIN, "%s: lost the child process that tried the plugin: %s", file,
		                    strerror(errno));
	if (stage == 'D' && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		return pa_error_set(PROVAUTH_EPLUGIN, "%s did not finish %s within %d s (tried in a child process)",
		                    file, stage_name(stage), PA_PLUGIN_TRIAL_SECONDS);
	if (WIFSIGNALED(status))
		return pa_error_set(PROVAUTH_EPLUGIN, "%s crashed in %s (signal %d)", file, stage_name(stage),
		                    WTERMSIG(status));
	return pa_error_set(PROVAUTH_EPLUGIN, "%s crashed in %s (exit status %d)", file, stage_name(stage),
	                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}
