# core/: the library's lifetime (the manager ties settings, logging, HTTP,
# the store and the plugins together), process hardening and the headers the
# rooms share. Each room below core/ lists its own files in its own fragment.
core_libprovauth_core_la_SOURCES += \
	core/internal.h \
	core/manager.h \
	core/manager.c \
	core/harden.c
