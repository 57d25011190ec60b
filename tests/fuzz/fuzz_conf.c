/* libFuzzer target: the configuration parser (file text and values). */
#include "config.h"
#include "conf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kvd_config cfg;
    conf_init(&cfg);
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    char err[512];
    conf_load_text(&cfg, text, size, "fuzz", err, sizeof err);
    long long v;
    text[size] = '\0';
    conf_parse_memory(text, &v);
    conf_free(&cfg);
    free(text);
    return 0;
}
