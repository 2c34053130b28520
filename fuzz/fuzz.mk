# fuzz: libFuzzer targets (./configure --enable-fuzz CC=clang, or ./dev fuzz)
# and, in every other build, the same targets replaying their corpus
# (fuzz/corpus/<target>) under make check. See fuzz/README.md.

PA_FUZZ_TARGETS = jwt cookies settings pixverse_reply pixiv_reply pixiv_token record sealed json_check redact json_string daemon_request
PA_FUZZ_COMMON = fuzz/fuzz.h fuzz/host.c
# The plugins' own libraries: the objects their modules are made of.
PA_FUZZ_PIXVERSE = plugins/pixverse/libpixverse.la plugins/support/libprovauth_plugin.la
PA_FUZZ_PIXIV = plugins/pixiv/libpixiv.la plugins/support/libprovauth_plugin.la
PA_FUZZ_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/fuzz -I$(top_srcdir)/plugins/pixverse -I$(top_srcdir)/plugins/pixiv
PA_FUZZ_LIBS = core/libprovauth_core.la $(PA_DEP_LIBS)
# provauthd's request handling (daemon/http/) and the settings' token lookup, without sockets.
PA_FUZZ_DAEMON = daemon/daemon.h daemon/http/router.c daemon/http/auth.c daemon/http/reply.c \
	daemon/http/body.c daemon/config/config.c

EXTRA_DIST += fuzz/README.md fuzz/run.sh fuzz/corpus fuzz/dict
if PA_FUZZ
# Writes the record and sealed seeds from the real encoder: fuzz/make_seeds DIR.
noinst_PROGRAMS += fuzz/make_seeds
fuzz_make_seeds_SOURCES = fuzz/make_seeds.c fuzz/fuzz.h
fuzz_make_seeds_CPPFLAGS = $(PA_FUZZ_CPPFLAGS)
fuzz_make_seeds_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_make_seeds_LDADD = $(PA_FUZZ_LIBS)

noinst_PROGRAMS += fuzz/fuzz_jwt
fuzz_fuzz_jwt_SOURCES = fuzz/fuzz_jwt.c $(PA_FUZZ_COMMON)
fuzz_fuzz_jwt_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"jwt"'
fuzz_fuzz_jwt_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_fuzz_jwt_LDFLAGS = -fsanitize=fuzzer
fuzz_fuzz_jwt_LDADD = $(PA_FUZZ_PIXVERSE) $(PA_FUZZ_LIBS)

noinst_PROGRAMS += fuzz/fuzz_cookies
fuzz_fuzz_cookies_SOURCES = fuzz/fuzz_cookies.c $(PA_FUZZ_COMMON)
fuzz_fuzz_cookies_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"cookies"'
fuzz_fuzz_cookies_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_fuzz_cookies_LDFLAGS = -fsanitize=fuzzer
fuzz_fuzz_cookies_LDADD = $(PA_FUZZ_PIXVERSE) $(PA_FUZZ_LIBS)

noinst_PROGRAMS += fuzz/fuzz_settings
fuzz_fuzz_settings_SOURCES = fuzz/fuzz_settings.c $(PA_FUZZ_COMMON) fuzz/plugin_entries.c
fuzz_fuzz_settings_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"settings"'
fuzz_fuzz_settings_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_fuzz_settings_LDFLAGS = -fsanitize=fuzzer
fuzz_fuzz_settings_LDADD = $(PA_FUZZ_PIXVERSE) $(PA_FUZZ_PIXIV) $(PA_FUZZ_LIBS)

noinst_PROGRAMS += fuzz/fuzz_pixverse_reply
fuzz_fuzz_pixverse_reply_SOURCES = fuzz/fuzz_pixverse_reply.c $(PA_FUZZ_COMMON)
fuzz_fuzz_pixverse_reply_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"pixverse_reply"'
fuzz_fuzz_pixverse_reply_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_fuzz_pixverse_reply_LDFLAGS = -fsanitize=fuzzer
fuzz_fuzz_pixverse_reply_LDADD = $(PA_FUZZ_PIXVERSE) $(PA_FUZZ_LIBS)

noinst_PROGRAMS += fuzz/fuzz_pixiv_reply
fuzz_fuzz_pixiv_reply_SOURCES = fuzz/fuzz_pixiv_reply.c $(PA_FUZZ_COMMON) fuzz/pixiv_common.h
fuzz_fuzz_pixiv_reply_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"pixiv_reply"'
fuzz_fuzz_pixiv_reply_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_fuzz_pixiv_reply_LDFLAGS = -fsanitize=fuzzer
fuzz_fuzz_pixiv_reply_LDADD = $(PA_FUZZ_PIXIV) $(PA_FUZZ_LIBS)

noinst_PROGRAMS += fuzz/fuzz_pixiv_token
fuzz_fuzz_pixiv_token_SOURCES = fuzz/fuzz_pixiv_token.c $(PA_FUZZ_COMMON) fuzz/pixiv_common.h
fuzz_fuzz_pixiv_token_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"pixiv_token"'
fuzz_fuzz_pixiv_token_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_fuzz_pixiv_token_LDFLAGS = -fsanitize=fuzzer
fuzz_fuzz_pixiv_token_LDADD = $(PA_FUZZ_PIXIV) $(PA_FUZZ_LIBS)

noinst_PROGRAMS += fuzz/fuzz_record
fuzz_fuzz_record_SOURCES = fuzz/fuzz_record.c $(PA_FUZZ_COMMON)
fuzz_fuzz_record_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"record"'
fuzz_fuzz_record_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_fuzz_record_LDFLAGS = -fsanitize=fuzzer
fuzz_fuzz_record_LDADD = $(PA_FUZZ_LIBS)

noinst_PROGRAMS += fuzz/fuzz_sealed
fuzz_fuzz_sealed_SOURCES = fuzz/fuzz_sealed.c $(PA_FUZZ_COMMON)
fuzz_fuzz_sealed_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"sealed"'
fuzz_fuzz_sealed_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_fuzz_sealed_LDFLAGS = -fsanitize=fuzzer
fuzz_fuzz_sealed_LDADD = $(PA_FUZZ_LIBS)

noinst_PROGRAMS += fuzz/fuzz_json_check
fuzz_fuzz_json_check_SOURCES = fuzz/fuzz_json_check.c $(PA_FUZZ_COMMON)
fuzz_fuzz_json_check_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"json_check"'
fuzz_fuzz_json_check_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_fuzz_json_check_LDFLAGS = -fsanitize=fuzzer
fuzz_fuzz_json_check_LDADD = $(PA_FUZZ_LIBS)

noinst_PROGRAMS += fuzz/fuzz_redact
fuzz_fuzz_redact_SOURCES = fuzz/fuzz_redact.c $(PA_FUZZ_COMMON)
fuzz_fuzz_redact_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"redact"'
fuzz_fuzz_redact_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_fuzz_redact_LDFLAGS = -fsanitize=fuzzer
fuzz_fuzz_redact_LDADD = $(PA_FUZZ_LIBS)

noinst_PROGRAMS += fuzz/fuzz_json_string
fuzz_fuzz_json_string_SOURCES = fuzz/fuzz_json_string.c $(PA_FUZZ_COMMON)
fuzz_fuzz_json_string_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"json_string"'
fuzz_fuzz_json_string_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_fuzz_json_string_LDFLAGS = -fsanitize=fuzzer
fuzz_fuzz_json_string_LDADD = $(PA_FUZZ_LIBS)

noinst_PROGRAMS += fuzz/fuzz_daemon_request
fuzz_fuzz_daemon_request_SOURCES = fuzz/fuzz_daemon_request.c $(PA_FUZZ_COMMON) $(PA_FUZZ_DAEMON)
fuzz_fuzz_daemon_request_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -I$(top_srcdir)/daemon -DPA_FUZZ_TARGET='"daemon_request"'
fuzz_fuzz_daemon_request_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_fuzz_daemon_request_LDFLAGS = -fsanitize=fuzzer
fuzz_fuzz_daemon_request_LDADD = $(PA_FUZZ_LIBS)

else

check_PROGRAMS += fuzz/replay_jwt
TESTS += fuzz/replay_jwt
fuzz_replay_jwt_SOURCES = fuzz/replay.c fuzz/fuzz_jwt.c $(PA_FUZZ_COMMON)
fuzz_replay_jwt_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"jwt"'
fuzz_replay_jwt_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_replay_jwt_LDADD = $(PA_FUZZ_PIXVERSE) $(PA_FUZZ_LIBS)

check_PROGRAMS += fuzz/replay_cookies
TESTS += fuzz/replay_cookies
fuzz_replay_cookies_SOURCES = fuzz/replay.c fuzz/fuzz_cookies.c $(PA_FUZZ_COMMON)
fuzz_replay_cookies_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"cookies"'
fuzz_replay_cookies_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_replay_cookies_LDADD = $(PA_FUZZ_PIXVERSE) $(PA_FUZZ_LIBS)

check_PROGRAMS += fuzz/replay_settings
TESTS += fuzz/replay_settings
fuzz_replay_settings_SOURCES = fuzz/replay.c fuzz/fuzz_settings.c $(PA_FUZZ_COMMON) fuzz/plugin_entries.c
fuzz_replay_settings_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"settings"'
fuzz_replay_settings_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_replay_settings_LDADD = $(PA_FUZZ_PIXVERSE) $(PA_FUZZ_PIXIV) $(PA_FUZZ_LIBS)

check_PROGRAMS += fuzz/replay_pixverse_reply
TESTS += fuzz/replay_pixverse_reply
fuzz_replay_pixverse_reply_SOURCES = fuzz/replay.c fuzz/fuzz_pixverse_reply.c $(PA_FUZZ_COMMON)
fuzz_replay_pixverse_reply_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"pixverse_reply"'
fuzz_replay_pixverse_reply_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_replay_pixverse_reply_LDADD = $(PA_FUZZ_PIXVERSE) $(PA_FUZZ_LIBS)

check_PROGRAMS += fuzz/replay_pixiv_reply
TESTS += fuzz/replay_pixiv_reply
fuzz_replay_pixiv_reply_SOURCES = fuzz/replay.c fuzz/fuzz_pixiv_reply.c $(PA_FUZZ_COMMON) fuzz/pixiv_common.h
fuzz_replay_pixiv_reply_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"pixiv_reply"'
fuzz_replay_pixiv_reply_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_replay_pixiv_reply_LDADD = $(PA_FUZZ_PIXIV) $(PA_FUZZ_LIBS)

check_PROGRAMS += fuzz/replay_pixiv_token
TESTS += fuzz/replay_pixiv_token
fuzz_replay_pixiv_token_SOURCES = fuzz/replay.c fuzz/fuzz_pixiv_token.c $(PA_FUZZ_COMMON) fuzz/pixiv_common.h
fuzz_replay_pixiv_token_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"pixiv_token"'
fuzz_replay_pixiv_token_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_replay_pixiv_token_LDADD = $(PA_FUZZ_PIXIV) $(PA_FUZZ_LIBS)

check_PROGRAMS += fuzz/replay_record
TESTS += fuzz/replay_record
fuzz_replay_record_SOURCES = fuzz/replay.c fuzz/fuzz_record.c $(PA_FUZZ_COMMON)
fuzz_replay_record_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"record"'
fuzz_replay_record_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_replay_record_LDADD = $(PA_FUZZ_LIBS)

check_PROGRAMS += fuzz/replay_sealed
TESTS += fuzz/replay_sealed
fuzz_replay_sealed_SOURCES = fuzz/replay.c fuzz/fuzz_sealed.c $(PA_FUZZ_COMMON)
fuzz_replay_sealed_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"sealed"'
fuzz_replay_sealed_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_replay_sealed_LDADD = $(PA_FUZZ_LIBS)

check_PROGRAMS += fuzz/replay_json_check
TESTS += fuzz/replay_json_check
fuzz_replay_json_check_SOURCES = fuzz/replay.c fuzz/fuzz_json_check.c $(PA_FUZZ_COMMON)
fuzz_replay_json_check_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"json_check"'
fuzz_replay_json_check_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_replay_json_check_LDADD = $(PA_FUZZ_LIBS)

check_PROGRAMS += fuzz/replay_redact
TESTS += fuzz/replay_redact
fuzz_replay_redact_SOURCES = fuzz/replay.c fuzz/fuzz_redact.c $(PA_FUZZ_COMMON)
fuzz_replay_redact_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"redact"'
fuzz_replay_redact_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_replay_redact_LDADD = $(PA_FUZZ_LIBS)

check_PROGRAMS += fuzz/replay_json_string
TESTS += fuzz/replay_json_string
fuzz_replay_json_string_SOURCES = fuzz/replay.c fuzz/fuzz_json_string.c $(PA_FUZZ_COMMON)
fuzz_replay_json_string_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -DPA_FUZZ_TARGET='"json_string"'
fuzz_replay_json_string_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_replay_json_string_LDADD = $(PA_FUZZ_LIBS)
check_PROGRAMS += fuzz/replay_daemon_request
TESTS += fuzz/replay_daemon_request
fuzz_replay_daemon_request_SOURCES = fuzz/replay.c fuzz/fuzz_daemon_request.c $(PA_FUZZ_COMMON) $(PA_FUZZ_DAEMON)
fuzz_replay_daemon_request_CPPFLAGS = $(PA_FUZZ_CPPFLAGS) -I$(top_srcdir)/daemon -DPA_FUZZ_TARGET='"daemon_request"'
fuzz_replay_daemon_request_CFLAGS = $(AM_CFLAGS) $(PA_DEP_CF)
fuzz_replay_daemon_request_LDADD = $(PA_FUZZ_LIBS)
endif

# make fuzz-targets: the fuzzers (in a --enable-fuzz build) without anything else.
.PHONY: fuzz-targets
if PA_FUZZ
fuzz-targets: fuzz/fuzz_jwt$(EXEEXT) fuzz/fuzz_cookies$(EXEEXT) fuzz/fuzz_settings$(EXEEXT) fuzz/fuzz_pixverse_reply$(EXEEXT) \
	fuzz/fuzz_pixiv_reply$(EXEEXT) fuzz/fuzz_pixiv_token$(EXEEXT) fuzz/fuzz_record$(EXEEXT) fuzz/fuzz_sealed$(EXEEXT) \
	fuzz/fuzz_json_check$(EXEEXT) fuzz/fuzz_redact$(EXEEXT) fuzz/fuzz_json_string$(EXEEXT) \
	fuzz/fuzz_daemon_request$(EXEEXT)
else
fuzz-targets:
	@echo "fuzz-targets: configure with --enable-fuzz (CC=clang), or run ./dev fuzz" >&2; exit 1
endif
