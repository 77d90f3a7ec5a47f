/* api_cmd.c -- `elb-certsync api`: sends one signed request to Huawei ELB v3 or UCloud ULB and
 * prints the JSON answer, or with --print-signed prints the signed request instead of sending
 * it. Credentials come only from the credentials file, never from argv. */
#include "elb/api_cmd.h"

#include <errno.h>
#include <stdarg.h>
#include <openssl/crypto.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "elb/backend.h"
#include "elb/elb.h"

#define MAX_ITEMS 64

static const char usage[] =
    "usage: elb-certsync api [provider flags] [--print-signed] REQUEST\n"
    "\n"
    "provider flags (each also from the environment variable shown):\n"
    "  --provider huawei|ucloud   ELB_CERTSYNC_PROVIDER\n"
    "  --endpoint URL             ELB_CERTSYNC_ENDPOINT (default: the cloud's public endpoint)\n"
    "  --region REGION            ELB_CERTSYNC_REGION\n"
    "  --project-id ID            ELB_CERTSYNC_PROJECT_ID (huawei: ID or region=ID,region=ID)\n"
    "  --credentials-file FILE    ELB_CERTSYNC_CREDENTIALS_FILE (KEY=VALUE lines)\n"
    "  --ca-file FILE             ELB_CERTSYNC_CA_FILE (extra CA bundle for the endpoint)\n"
    "\n"
    "huawei:  METHOD PATH [--query K=V]... [--header 'K: V']... [--data JSON|@FILE|@-]\n"
    "         e.g. api GET /v3/PROJECT/elb/certificates --query limit=10\n"
    "ucloud:  ACTION [K=V]...\n"
    "         e.g. api DescribeSSL Limit=10\n"
    "\n"
    "--print-signed prints the request line, headers (Authorization included) or signed\n"
    "parameters, and body, instead of sending. A given X-Sdk-Date header is used as is.\n";

const char *elb_api_usage(void)
{
    return usage;
}

struct api_args {
    const char *provider, *endpoint, *region, *project_id, *credentials_file, *ca_file;
    bool print_signed;
    const char *positional[MAX_ITEMS];
    size_t n_positional;
    struct elb_query_param query[MAX_ITEMS];
    size_t n_query;
    struct cs_http_header headers[MAX_ITEMS];
    size_t n_headers;
    char *header_names[MAX_ITEMS];
    const char *data;
};

__attribute__((format(printf, 1, 2))) static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "elb-certsync api: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", usage);
    return 2;
}

/* --name VALUE or --name=VALUE; returns the value and advances *i, or NULL. */
static const char *flag_value(int argc, char **argv, int *i, const char *name, bool *matched)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    *matched = false;
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=') {
        *matched = true;
        return a + n + 1;
    }
    if (a[n] != '\0')
        return NULL;
    *matched = true;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

static int parse_args(int argc, char **argv, struct api_args *a)
{
    static const struct {
        const char *flag;
        size_t off;
    } provider_flags[] = {
        {"--provider", offsetof(struct api_args, provider)},
        {"--endpoint", offsetof(struct api_args, endpoint)},
        {"--region", offsetof(struct api_args, region)},
        {"--project-id", offsetof(struct api_args, project_id)},
        {"--credentials-file", offsetof(struct api_args, credentials_file)},
        {"--ca-file", offsetof(struct api_args, ca_file)},
    };
    bool flags_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!flags_done && strcmp(arg, "--") == 0) {
            flags_done = true;
            continue;
        }
        if (!flags_done && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)) {
            fputs(usage, stdout);
            return -1;
        }
        if (!flags_done && strcmp(arg, "--print-signed") == 0) {
            a->print_signed = true;
            continue;
        }
        if (!flags_done && strncmp(arg, "--", 2) == 0) {
            bool matched = false;
            const char *v = NULL;
            size_t k;
            for (k = 0; k < sizeof(provider_flags) / sizeof(provider_flags[0]); k++) {
                v = flag_value(argc, argv, &i, provider_flags[k].flag, &matched);
                if (matched)
                    break;
            }
            if (matched) {
                if (!v)
                    return bad_usage("%s needs a value", provider_flags[k].flag);
                *(const char **)((char *)a + provider_flags[k].off) = v;
                continue;
            }
            if ((v = flag_value(argc, argv, &i, "--query", &matched)) || matched) {
                if (!v || !strchr(v, '=') || v[0] == '=')
                    return bad_usage("--query needs K=V, got %s", v ? v : "nothing");
                if (a->n_query >= MAX_ITEMS)
                    return bad_usage("too many %s", "--query");
                char *eq = strchr(v, '=');
                char *key = strndup(v, (size_t)(eq - v));
                if (!key)
                    return bad_usage("%s", "out of memory");
                a->query[a->n_query++] = (struct elb_query_param){key, eq + 1};
                continue;
            }
            if ((v = flag_value(argc, argv, &i, "--header", &matched)) || matched) {
                const char *colon = v ? strchr(v, ':') : NULL;
                if (!colon || colon == v)
                    return bad_usage("--header needs 'Name: value', got %s", v ? v : "nothing");
                if (a->n_headers >= MAX_ITEMS)
                    return bad_usage("too many %s", "--header");
                char *name = strndup(v, (size_t)(colon - v));
                if (!name)
                    return bad_usage("%s", "out of memory");
                const char *val = colon + 1;
                while (*val == ' ' || *val == '\t')
                    val++;
                a->header_names[a->n_headers] = name;
                a->headers[a->n_headers++] = (struct cs_http_header){name, val};
                continue;
            }
            if ((v = flag_value(argc, argv, &i, "--data", &matched)) || matched) {
                if (!v)
                    return bad_usage("%s needs a value", "--data");
                if (a->data)
                    return bad_usage("%s given twice", "--data");
                a->data = v;
                continue;
            }
            return bad_usage("unknown flag %s", arg);
        }
        if (a->n_positional >= MAX_ITEMS)
            return bad_usage("too many %s", "arguments");
        a->positional[a->n_positional++] = arg;
    }
    return 0;
}

static void args_free(struct api_args *a)
{
    for (size_t i = 0; i < a->n_query; i++)
        free((char *)a->query[i].key);
    for (size_t i = 0; i < a->n_headers; i++)
        free(a->header_names[i]);
}

/* Reads --data: literal, @FILE or @- (stdin), into a secret buffer (it may hold a key). */
static int read_data(const char *spec, struct cs_buf *out)
{
    if (spec[0] != '@')
        return cs_buf_adds(out, spec) == CS_OK ? 0 : -1;
    const char *path = spec + 1;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "elb-certsync api: --data %s: %s\n", spec, strerror(errno));
        return -1;
    }
    char chunk[4096];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (cs_buf_add(out, chunk, n) != CS_OK) {
            fprintf(stderr, "elb-certsync api: --data %s: too large\n", spec);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "elb-certsync api: --data %s: read error\n", spec);
        rc = -1;
    }
    OPENSSL_cleanse(chunk, sizeof(chunk));
    if (f != stdin)
        fclose(f);
    return rc;
}

static const char *env_or(const char *v, const char *name)
{
    if (v)
        return v;
    const char *e = getenv(name);
    return e && e[0] ? e : NULL;
}

int elb_api_main(int argc, char **argv)
{
    int status = 2;
    struct api_args a;
    struct cs_buf data, out;
    struct elb_provider *p = NULL;
    struct cs_err err;
    memset(&a, 0, sizeof(a));
    cs_buf_init_secret(&data, 16 * 1024 * 1024);
    cs_buf_init_secret(&out, 0);
    cs_err_clear(&err);

    int prc = parse_args(argc, argv, &a);
    if (prc < 0) {
        status = 0;
        goto out;
    }
    if (prc > 0)
        goto out;
    a.provider = env_or(a.provider, "ELB_CERTSYNC_PROVIDER");
    a.endpoint = env_or(a.endpoint, "ELB_CERTSYNC_ENDPOINT");
    a.region = env_or(a.region, "ELB_CERTSYNC_REGION");
    a.project_id = env_or(a.project_id, "ELB_CERTSYNC_PROJECT_ID");
    a.credentials_file = env_or(a.credentials_file, "ELB_CERTSYNC_CREDENTIALS_FILE");
    a.ca_file = env_or(a.ca_file, "ELB_CERTSYNC_CA_FILE");
    if (!a.provider) {
        status = bad_usage("%s", "--provider is required (huawei or ucloud)");
        goto out;
    }
    bool huawei = strcmp(a.provider, "huawei") == 0;
    if (!huawei && strcmp(a.provider, "ucloud") != 0) {
        status = bad_usage("unknown provider %s (huawei or ucloud)", a.provider);
        goto out;
    }
    if (!a.region) {
        status = bad_usage("%s", "--region is required");
        goto out;
    }
    if (!a.credentials_file) {
        status = bad_usage("%s", "--credentials-file is required");
        goto out;
    }
    struct elb_raw_request rq = {.print_only = a.print_signed};
    struct elb_query_param ucparams[MAX_ITEMS];
    if (huawei) {
        if (a.n_positional != 2) {
            status = bad_usage("%s", "huawei needs METHOD PATH");
            goto out;
        }
        if (!a.project_id) {
            status = bad_usage("%s", "--project-id is required for huawei");
            goto out;
        }
        if (a.positional[1][0] != '/') {
            status = bad_usage("PATH must start with '/', got %s", a.positional[1]);
            goto out;
        }
        if (a.data && read_data(a.data, &data) != 0) {
            status = 2;
            goto out;
        }
        rq.method = a.positional[0];
        rq.path = a.positional[1];
        rq.query = a.query;
        rq.n_query = a.n_query;
        rq.headers = a.headers;
        rq.n_headers = a.n_headers;
        rq.body = data.ptr;
        rq.body_len = data.len;
    } else {
        if (a.n_positional < 1) {
            status = bad_usage("%s", "ucloud needs ACTION [K=V]...");
            goto out;
        }
        if (a.n_query || a.n_headers || a.data) {
            status = bad_usage("%s", "ucloud takes K=V parameters, not --query/--header/--data");
            goto out;
        }
        size_t n = 0;
        for (size_t i = 1; i < a.n_positional; i++) {
            const char *kv = a.positional[i];
            const char *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                status = bad_usage("ucloud parameters are K=V, got %s", kv);
                goto out;
            }
            char *key = strndup(kv, (size_t)(eq - kv));
            if (!key) {
                status = 1;
                goto out;
            }
            /* keys are freed with the --query ones */
            a.query[a.n_query++] = (struct elb_query_param){key, eq + 1};
            ucparams[n++] = (struct elb_query_param){key, eq + 1};
        }
        rq.action = a.positional[0];
        rq.query = ucparams;
        rq.n_query = n;
    }

    bool loose = false;
    struct elb_provider_config cfg = {
        .kind = a.provider,
        .endpoint = a.endpoint,
        .region = a.region,
        .project_id = a.project_id,
        .credentials_file = a.credentials_file,
        .ca_file = a.ca_file,
        .max_retries = -1,
        .loose_permissions = &loose,
    };
    if (elb_provider_new(&cfg, &p, &err) != CS_OK) {
        fprintf(stderr, "elb-certsync api: %s\n", err.message);
        status = err.code == CS_EINVAL ? 2 : 1;
        goto out;
    }
    if (loose)
        fprintf(stderr, "elb-certsync api: warning: credentials file %s is readable by group or "
                        "others\n",
                a.credentials_file);
    long http_status = 0;
    enum cs_code rc = huawei ? elb_hw_raw(p, &rq, &out, &http_status, &err)
                             : elb_ucloud_raw(p, &rq, &out, &http_status, &err);
    if (out.len) {
        fwrite(out.ptr, 1, out.len, stdout);
        if (out.ptr[out.len - 1] != '\n')
            fputc('\n', stdout);
    }
    if (rc != CS_OK) {
        fprintf(stderr, "elb-certsync api: %s (%s)\n", err.message, cs_code_name(rc));
        status = rc == CS_EINVAL && http_status == 0 ? 2 : 1;
        goto out;
    }
    status = 0;
out:
    fflush(stdout);
    elb_provider_free(p);
    args_free(&a);
    cs_buf_free(&data);
    cs_buf_free(&out);
    return status;
}
