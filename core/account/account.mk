# core/account: provauth_account allocation, copying and field helpers.
core_libprovauth_core_la_SOURCES += core/account/account.c
