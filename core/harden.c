/*
 * provauth_process_harden: a process holding the store key, passwords and
 * tokens should leave no core file with them in it, and let no other
 * process of the same user read its memory through ptrace or /proc.
 */
#include "config.h"
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#if defined(__linux__)
# include <sys/prctl.h>
#endif
#include "internal.h"

int provauth_process_harden(void)
{
	struct rlimit none = { 0, 0 };

	/*
	 * RLIMIT_CORE 0 first: it also covers systems where the dumpable flag
	 * is set back (a set-uid exec) and core handlers that ignore it.
	 */
	if (setrlimit(RLIMIT_CORE, &none) != 0)
		return pa_error_set(PROVAUTH_ERROR, "provauth_process_harden: cannot set RLIMIT_CORE to 0: %s",
		                    strerror(errno));
#if defined(__linux__) && defined(PR_SET_DUMPABLE)
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return pa_error_set(PROVAUTH_ERROR, "provauth_process_harden: prctl(PR_SET_DUMPABLE, 0): %s",
		                    strerror(errno));
	return 0;
#else
	return pa_error_set(PROVAUTH_EUNSUPPORTED,
	                    "provauth_process_harden: core files are off (RLIMIT_CORE 0), but this system "
	                    "has no way to forbid ptrace by the same user");
#endif
}
