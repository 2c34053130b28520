# core/settings: the YAML settings file (libyaml), its typed sections and the
# provider blocks. The commented sample is etc/provauth.yaml.
#  - yaml_tree, env, message: the general YAML reader (a bounded tree of
#    nodes, ${VAR} expansion, messages naming the place in the file);
#  - values: typed reading of a key; schema, providers, file: provauth's
#    sections, its provider blocks, and the file and who may change it.
core_libprovauth_core_la_SOURCES += \
	core/settings/settings.h \
	core/settings/settings_private.h \
	core/settings/yaml_tree.h \
	core/settings/yaml_tree.c \
	core/settings/env.c \
	core/settings/message.c \
	core/settings/values.c \
	core/settings/schema.c \
	core/settings/providers.c \
	core/settings/file.c \
	core/settings/host_block.c
EXTRA_DIST += etc/provauth.yaml
