# bench: performance benchmarks (see bench/RESULTS.md). They are built with
# every build so they cannot rot, never run by make check; `make bench`
# builds them and `./dev bench` runs them in an optimised tree.
PA_BENCH_CF = $(PA_BASE_CFLAGS) $(PA_DEP_CF)
PA_BENCH_BINS = bench/hotpath bench/e2e bench/storm bench/scale bench/pgstore bench/fleet_storm bench/pool bench/jobs \
	bench/daemon bench/keeper
# The postgres benchmarks' helpers (the server of ./dev bench, a fresh database, the store).
PA_BENCH_PG_SOURCES = bench/bench_pg.h bench/bench_pg.c
# What the benchmarks that run provauthd share (its token hash, starting it).
PA_BENCH_DAEMON_SOURCES = bench/bench_daemon.h bench/bench_daemon.c

noinst_PROGRAMS += $(PA_BENCH_BINS)
EXTRA_DIST += bench/RESULTS.md

noinst_LTLIBRARIES += bench/libbenchutil.la
bench_libbenchutil_la_SOURCES = bench/bench_util.h bench/bench_util.c
bench_libbenchutil_la_CFLAGS = $(PA_BASE_CFLAGS)

bench_hotpath_SOURCES = bench/hotpath.c $(PA_BENCH_PG_SOURCES)
bench_hotpath_CFLAGS = $(PA_BENCH_CF)
bench_hotpath_LDADD = bench/libbenchutil.la libprovauth.la $(LIBPQ_LIBS)

.PHONY: bench
bench: $(PA_BENCH_BINS)

bench_scale_SOURCES = bench/scale.c $(PA_BENCH_PG_SOURCES)
bench_scale_CFLAGS = $(PA_BENCH_CF)
bench_scale_LDADD = bench/libbenchutil.la libprovauth.la $(LIBPQ_LIBS)

# The fakes are compiled in, as the integration tests do.
bench_e2e_SOURCES = bench/e2e.c tests/fake/fake_pixiv.c tests/fake/fake_pixiv.h
bench_e2e_CFLAGS = $(PA_BENCH_CF) $(MHD_CFLAGS)
bench_e2e_LDADD = bench/libbenchutil.la libprovauth.la $(PA_DEP_LIBS) $(MHD_LIBS)

bench_storm_SOURCES = bench/storm.c tests/fake/fake_pixiv.c tests/fake/fake_pixiv.h
bench_storm_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)
bench_storm_CFLAGS = $(PA_BENCH_CF) $(MHD_CFLAGS)
bench_storm_LDADD = bench/libbenchutil.la libprovauth.la tests/fake/libfakeprov.la $(PA_DEP_LIBS) $(MHD_LIBS)

# 1,000 generation jobs through the pool against the fake Pixverse, compiled in.
bench_jobs_SOURCES = bench/jobs.c
bench_jobs_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)
bench_jobs_CFLAGS = $(PA_BENCH_CF) $(MHD_CFLAGS)
bench_jobs_LDADD = bench/libbenchutil.la libprovauth.la tests/fake/libfakeprov.la $(PA_DEP_LIBS) $(MHD_LIBS)

# put, get and leases on the postgres store against bare libpq running its SQL.
bench_pgstore_SOURCES = bench/pgstore.c $(PA_BENCH_PG_SOURCES)
bench_pgstore_CFLAGS = $(PA_BENCH_CF)
bench_pgstore_LDADD = bench/libbenchutil.la libprovauth.la $(LIBPQ_LIBS)

# The storm across processes on one postgres store; the fakes run in the parent.
bench_fleet_storm_SOURCES = bench/fleet_storm.c $(PA_BENCH_PG_SOURCES) tests/fake/fake_pixiv.c tests/fake/fake_pixiv.h
bench_fleet_storm_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)
bench_fleet_storm_CFLAGS = $(PA_BENCH_CF) $(MHD_CFLAGS)
bench_fleet_storm_LDADD = bench/libbenchutil.la libprovauth.la tests/fake/libfakeprov.la $(PA_DEP_LIBS) $(MHD_LIBS)

# Pool reservations (acquire + release) against the same statements in bare SQL, sqlite and postgres.
bench_pool_SOURCES = bench/pool.c $(PA_BENCH_PG_SOURCES)
bench_pool_CFLAGS = $(PA_BENCH_CF)
bench_pool_LDADD = bench/libbenchutil.la libprovauth.la $(PA_DEP_LIBS)

# provauthd under wrk against the library called directly, the fake Pixverse compiled in.
bench_daemon_SOURCES = bench/daemon.c $(PA_BENCH_DAEMON_SOURCES)
bench_daemon_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)
bench_daemon_CFLAGS = $(PA_BENCH_CF) $(MHD_CFLAGS)
bench_daemon_LDADD = bench/libbenchutil.la libprovauth.la tests/fake/libfakeprov.la $(PA_DEP_LIBS) $(MHD_LIBS)

# provauthd's keeper renewing 10,000 due pixiv tokens against a bare libcurl loop, the fake pixiv compiled in.
bench_keeper_SOURCES = bench/keeper.c $(PA_BENCH_DAEMON_SOURCES) tests/fake/fake_pixiv.c tests/fake/fake_pixiv.h
bench_keeper_CFLAGS = $(PA_BENCH_CF) $(MHD_CFLAGS)
bench_keeper_LDADD = bench/libbenchutil.la libprovauth.la $(PA_DEP_LIBS) $(MHD_LIBS)
