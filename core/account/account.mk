# core/account: provauth_account allocation, copying and field helpers, and
# the one store read-modify-write-retry loop.
core_libprovauth_core_la_SOURCES += \
	core/account/account.c \
	core/account/rmw.c
