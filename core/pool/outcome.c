/* Outcomes: their names, the outcome a call's code or a job's end implies, and what each does to the account. */
#include "config.h"
#include <string.h>
#include "pool/pool.h"

const char *provauth_pool_outcome_name(provauth_pool_outcome outcome)
{
	switch (outcome) {
	case PROVAUTH_POOL_DONE:         return "done";
	case PROVAUTH_POOL_UNUSED:       return "unused";
	case PROVAUTH_POOL_CONCURRENCY:  return "concurrency";
	case PROVAUTH_POOL_NO_CREDITS:   return "no_credits";
	case PROVAUTH_POOL_SESSION_LOST: return "session_lost";
	case PROVAUTH_POOL_MODERATED:    return "moderated";
	case PROVAUTH_POOL_BANNED:       return "banned";
	case PROVAUTH_POOL_FAILED:       return "failed";
	}
	return NULL;
}

provauth_pool_outcome provauth_pool_outcome_for(int code)
{
	switch (code) {
	case PROVAUTH_ECONCURRENCY: return PROVAUTH_POOL_CONCURRENCY;
	case PROVAUTH_ECREDITS:     return PROVAUTH_POOL_NO_CREDITS;
	case PROVAUTH_ESESSION:
	case PROVAUTH_EAUTH:
	case PROVAUTH_ECOOLDOWN:    return PROVAUTH_POOL_SESSION_LOST;
	case PROVAUTH_EMODERATED:
	case PROVAUTH_EREJECTED:    return PROVAUTH_POOL_MODERATED;
	case PROVAUTH_EBANNED:      return PROVAUTH_POOL_BANNED;
	case PROVAUTH_EINVAL:       return PROVAUTH_POOL_UNUSED;
	default:                    return PROVAUTH_POOL_DONE;
	}
}

int provauth_pool_outcome_for_job(const char *state)
{
	if (!state)
		return -1;
	if (strcmp(state, "done") == 0)
		return PROVAUTH_POOL_DONE;
	if (strcmp(state, "moderated") == 0)
		return PROVAUTH_POOL_MODERATED;
	if (strcmp(state, "failed") == 0)
		return PROVAUTH_POOL_FAILED;
	return -1;
}
