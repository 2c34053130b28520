/*
 * The pixiv plugin's provider table in a binary that also holds the
 * Pixverse plugin: both export provauth_plugin_init, so pixiv's is renamed
 * here. Its other symbols are already pixiv_-prefixed or static.
 */
#define provauth_plugin_init pa_fuzz_pixiv_plugin_init
#include "../plugins/pixiv/plugin.c"
