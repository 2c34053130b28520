# core/plugin: finding, checking, trying and loading provider plugins, and
# the provauth_host table of services they get from the core.
core_libprovauth_core_la_SOURCES += \
	core/plugin/contract.c \
	core/plugin/loader.c \
	core/plugin/trial.c \
	core/plugin/host.c
