/* fuzz_k8s_kubeconfig.c -- libFuzzer target for the kubeconfig parser (libyaml document and
 * our walk over it). Relative paths resolve under a directory that does not exist, so no
 * file is read. */
#include <stddef.h>
#include <stdint.h>

#include "common/json.h"
#include "k8s/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct k8s_config *cfg = NULL;
    if (k8s_config_parse_kubeconfig((const char *)data, size, "fuzz", "/nonexistent-fuzz-dir",
                                    NULL, &cfg, NULL) == CS_OK)
        k8s_config_free(cfg);
    return 0;
}
