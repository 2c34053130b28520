# core/settings: the YAML settings file (libyaml), its typed sections and the
# provider blocks. The commented sample is etc/provauth.yaml.
core_libprovauth_core_la_SOURCES += core/settings/settings.c
EXTRA_DIST += etc/provauth.yaml
