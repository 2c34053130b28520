# daemon/keeper: refresh ahead of expiry, idle probes, credit sync (keeper.c
# the threads, schedule.c when an account is due, record.c the per-account
# record in the store that daemons share).
daemon_provauthd_SOURCES += \
	daemon/keeper/keeper.h \
	daemon/keeper/keeper.c \
	daemon/keeper/schedule.c \
	daemon/keeper/record.h \
	daemon/keeper/record.c
