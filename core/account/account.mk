# core/account: provauth_account allocation, copying and field helpers; the
# account API through the manager's store (get, list, put, remove, sign-in
# method); import; and the one store read-modify-write-retry loop.
core_libprovauth_core_la_SOURCES += \
	core/account/account.c \
	core/account/credential.c \
	core/account/accounts.c \
	core/account/import.c \
	core/account/rmw.c \
	core/account/state.c \
	core/account/lease.c
