/* fuzz_ctl_certcheck.c -- libFuzzer target: certificate validation of a tls.crt + tls.key
 * pair (controller/certcheck.c) and the chain digest of read-back PEM. The input is split at
 * the first NUL byte: before is tls.crt, after is tls.key. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/json.h"
#include "controller/certcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t crt_len = nul ? (size_t)(nul - data) : size;
    const uint8_t *key = nul ? nul + 1 : data + size;
    size_t key_len = nul ? size - crt_len - 1 : 0;
    struct elb_limits lim = {.name_max = 255, .description_max = 255, .max_sni = 50,
                             .cert_pem_max = 65536, .key_pem_max = 8192, .chain_max = 11,
                             .rsa = true, .ecdsa = true, .rsa_min_bits = 2048,
                             .rsa_max_bits = 4096};
    struct ctl_certcheck cc;
    if (ctl_certcheck_run(data, crt_len, key, key_len, &lim, 1780272000000LL, &cc, NULL) == CS_OK) {
        if (cc.status == CTL_CERT_OK && (strlen(cc.fingerprint) != 64 || cc.chain_len == 0))
            __builtin_trap();
        if (cc.status != CTL_CERT_OK && cc.reason[0] == '\0')
            __builtin_trap();
        ctl_certcheck_cleanup(&cc);
    }
    char d[65];
    (void)ctl_chain_digest((const char *)data, crt_len, d, NULL);
    return 0;
}
