/* fuzz_ctl_annotations.c -- libFuzzer target: the annotation parser and the desired state
 * (controller/annotations.c, desired.c) on Ingresses built from the input: lines of
 * "key=value" annotations, and lines "tls:<secret>" for TLS entries. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "controller/annotations.h"
#include "controller/desired.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct ctl_secret *lookup(void *ud, const char *ns, const char *name)
{
    static struct ctl_secret s;
    static char type[] = CTL_SECRET_TYPE_TLS;
    (void)ud;
    if (strcmp(name, "web") != 0)
        return NULL;
    memset(&s, 0, sizeof(s));
    s.ns = (char *)ns;
    s.name = (char *)name;
    s.type = type;
    memset(s.fingerprint, 'a', 64);
    memset(s.chain_digest, 'b', 64);
    s.not_after_ms = 1790000000000LL;
    return &s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = strndup((const char *)data, size);
    if (!text)
        return 0;
    struct ctl_ingress ing = {.ns = "shop", .name = "web", .uid = "u", .created_ms = 1,
                              .class_name = "cce"};
    struct ctl_kv kv[32];
    struct ctl_tls_entry tls[8];
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "tls:", 4) == 0 && ing.n_tls < 8) {
            tls[ing.n_tls++] = (struct ctl_tls_entry){.secret_name = line + 4};
            continue;
        }
        char *eq = strchr(line, '=');
        if (!eq || ing.n_annotations >= 32)
            continue;
        *eq = '\0';
        kv[ing.n_annotations++] = (struct ctl_kv){.key = line, .value = eq + 1};
    }
    ing.annotations = kv;
    ing.tls = tls;
    for (int provider = 0; provider < 2; provider++) {
        struct ctl_settings s = {.cluster_id = "prod", .ingress_class = "cce",
                                 .default_region = "cn-north-4", .default_port = 443,
                                 .provider = (enum ctl_provider_kind)provider,
                                 .limits = {.name_max = provider ? 50 : 255,
                                            .name_extra_chars = "-_.",
                                            .description_max = provider ? 0 : 255,
                                            .max_sni = 2, .can_import = true},
                                 .now_ms = 1780272000000LL, .expiry_warn_days = 30};
        struct ctl_ingress_opts o = {0};
        struct ctl_problems pr = {0};
        enum cs_code rc = ctl_annotations_parse(&ing, &s, &o, &pr, NULL);
        if (rc == CS_OK && pr.n != 0)
            __builtin_trap();
        if (rc == CS_EINVAL && pr.n == 0)
            __builtin_trap();
        ctl_ingress_opts_cleanup(&o);
        ctl_problems_cleanup(&pr);
        struct ctl_desired *d = NULL;
        if (ctl_desired_compute(&s, &ing, 1, lookup, NULL, &d, NULL) == CS_OK) {
            for (size_t i = 0; i < d->n; i++)
                if (d->listeners[i].n_certs > 3)
                    __builtin_trap();
            ctl_desired_free(d);
        }
    }
    free(text);
    return 0;
}
