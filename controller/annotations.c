/* annotations.c -- the table of honoured annotations and their parser (see annotations.h). */
#include "controller/annotations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/naming.h"

const struct ctl_annotation_spec ctl_annotation_table[] = {
    {CTL_ANN_ELB_ID, "", "0b6f6b6c-6b2e-4c57-9d4b-3a1c2f5d9e11",
     "The load balancer whose HTTPS listener serves the Ingress. Required when the Ingress has "
     "TLS entries or certificate annotations."},
    {CTL_ANN_ELB_PORT, "443", "8443",
     "The listener's port (1-65535); the default is the controller's --default-port."},
    {CTL_ANN_LISTENER_ID, "", "d5a1e5c2-7c1b-4a4e-9c39-55b0e1b0c0de",
     "The listener, by ID, instead of finding the HTTPS listener on the port."},
    {CTL_ANN_REGION, "", "cn-north-4",
     "The load balancer's region when it is not the controller's --region. Certificates are "
     "created in the listener's region: they cannot be used across regions."},
    {CTL_ANN_CERT_IDS, "", "6a4b3c2d1e0f,7b5c4d3e2f10",
     "Existing load-balancer certificates, comma-separated: the first is the default, the rest "
     "SNI. Wins over spec.tls Secrets when both are set (as on CCE). Bound, never modified or "
     "deleted."},
    {CTL_ANN_USSL_IDS, "", "ussl-abcdefgh",
     "UCloud only: certificates from UCloud's USSL service, comma-separated, imported into the "
     "load balancer and bound (first = default). Wins over spec.tls Secrets. USSL is never "
     "touched; the load balancer's copy is collected when no Ingress uses it."},
    {CTL_ANN_SCM_IDS, "", "scs1234567890",
     "Huawei only: certificates from Huawei Cloud's SSL Certificate Manager, comma-separated, "
     "as for " CTL_ANN_USSL_IDS "."},
    {CTL_ANN_ELB_CLASS, "", "performance",
     "CCE's load-balancer class, 'union' (shared) or 'performance' (dedicated); validated, "
     "informational."},
    {CTL_ANN_INGRESS_CLASS, "", "cce",
     "Legacy Ingress class; spec.ingressClassName wins when set. Only Ingresses of the "
     "controller's --ingress-class are handled."},
};
const size_t ctl_annotation_count = sizeof(ctl_annotation_table) / sizeof(ctl_annotation_table[0]);

enum cs_code ctl_annotations_markdown(struct cs_buf *out)
{
    enum cs_code rc = cs_buf_adds(out, "| Annotation | Default | Example | Meaning |\n"
                                       "|---|---|---|---|\n");
    for (size_t i = 0; rc == CS_OK && i < ctl_annotation_count; i++) {
        const struct ctl_annotation_spec *a = &ctl_annotation_table[i];
        rc = cs_buf_addf(out, "| `%s` | %s | `%s` | %s |\n", a->name,
                         a->default_value[0] ? a->default_value : "-", a->example, a->meaning);
    }
    return rc;
}

void ctl_ingress_opts_cleanup(struct ctl_ingress_opts *o)
{
    if (!o)
        return;
    free(o->lb_id);
    free(o->listener_id);
    free(o->region);
    free(o->elb_class);
    for (size_t i = 0; i < o->n_cert_ids; i++)
        free(o->cert_ids[i]);
    free(o->cert_ids);
    for (size_t i = 0; i < o->n_imported_ids; i++)
        free(o->imported_ids[i]);
    free(o->imported_ids);
    memset(o, 0, sizeof(*o));
}

const char *ctl_ingress_class(const struct ctl_ingress *ing)
{
    if (ing->class_name && *ing->class_name)
        return ing->class_name;
    return ctl_ingress_annotation(ing, CTL_ANN_INGRESS_CLASS);
}

bool ctl_ingress_is_ours(const struct ctl_ingress *ing, const struct ctl_settings *s)
{
    const char *c = ctl_ingress_class(ing);
    return c && s->ingress_class && strcmp(c, s->ingress_class) == 0;
}

/* Problems quote at most this much of a bad value (values are user text, not secrets). */
#define QUOTE_MAX 64

struct parser {
    const struct ctl_ingress *ing;
    struct ctl_problems *problems;
    bool bad;
    bool oom;
};

static void bad(struct parser *p, const char *name, const char *value, const char *why)
{
    p->bad = true;
    char q[QUOTE_MAX + 4];
    size_t n = strlen(value);
    snprintf(q, sizeof(q), "%.*s%s", QUOTE_MAX, value, n > QUOTE_MAX ? "..." : "");
    for (char *c = q; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
            *c = '?';
    if (ctl_problems_add(p->problems, CTL_PROB_BAD_ANNOTATION, p->ing->ns, p->ing->name, NULL,
                         "annotation %s=\"%s\": %s", name, q, why) != CS_OK)
        p->oom = true;
}

static bool region_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return s[0] != '-' && s[n - 1] != '-';
}

static char *dup_or_oom(struct parser *p, const char *s)
{
    char *d = strdup(s);
    if (!d)
        p->oom = true;
    return d;
}

/* A comma-separated list of provider IDs; spaces around items are allowed. */
static void parse_ids(struct parser *p, const char *name, const char *value, char ***out,
                      size_t *n_out)
{
    char **ids = NULL;
    size_t n = 0;
    const char *s = value;
    bool ok = true;
    if (!*value) {
        bad(p, name, value, "empty: give one or more certificate IDs separated by commas");
        return;
    }
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        while (len && (*s == ' ' || *s == '\t')) {
            s++;
            len--;
        }
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        char *id = strndup(s, len);
        if (!id) {
            p->oom = true;
            break;
        }
        char why[160];
        if (len == 0) {
            snprintf(why, sizeof(why), "item %zu is empty", n + 1);
        } else if (!ctl_provider_id_valid(id)) {
            snprintf(why, sizeof(why),
                     "item %zu is not a certificate ID (1-%d characters of A-Z a-z 0-9 . _ : -)",
                     n + 1, CTL_ID_MAX);
        } else {
            why[0] = '\0';
            for (size_t i = 0; i < n; i++)
                if (strcmp(ids[i], id) == 0)
                    snprintf(why, sizeof(why), "item %zu repeats item %zu", n + 1, i + 1);
        }
        if (!why[0] && n == CTL_MAX_IDS)
            snprintf(why, sizeof(why), "more than %d IDs", CTL_MAX_IDS);
        if (why[0]) {
            bad(p, name, value, why);
            free(id);
            ok = false;
            break;
        }
        char **v = realloc(ids, (n + 1) * sizeof(*v));
        if (!v) {
            free(id);
            p->oom = true;
            break;
        }
        ids = v;
        ids[n++] = id;
        if (!comma)
            break;
        s = comma + 1;
    }
    if (ok && !p->oom) {
        *out = ids;
        *n_out = n;
        return;
    }
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

enum cs_code ctl_annotations_parse(const struct ctl_ingress *ing, const struct ctl_settings *s,
                                   struct ctl_ingress_opts *out, struct ctl_problems *problems,
                                   struct cs_err *err)
{
    struct parser p = {.ing = ing, .problems = problems};
    struct ctl_ingress_opts o = {.port = s->default_port > 0 ? s->default_port : 443};
    enum cs_code rc;
    const char *v;

    if ((v = ctl_ingress_annotation(ing, CTL_ANN_ELB_ID))) {
        if (!ctl_provider_id_valid(v))
            bad(&p, CTL_ANN_ELB_ID, v, "not a load balancer ID (1-128 characters of A-Z a-z 0-9 . _ : -)");
        else
            o.lb_id = dup_or_oom(&p, v);
    }
    if ((v = ctl_ingress_annotation(ing, CTL_ANN_ELB_PORT))) {
        long port = 0;
        bool digits = *v && strlen(v) <= 5 && v[0] != '0';
        for (const char *c = v; digits && *c; c++)
            digits = *c >= '0' && *c <= '9';
        if (digits)
            port = strtol(v, NULL, 10);
        if (!digits || port < 1 || port > 65535)
            bad(&p, CTL_ANN_ELB_PORT, v, "not a port number (1-65535, decimal)");
        else
            o.port = (int)port;
    }
    if ((v = ctl_ingress_annotation(ing, CTL_ANN_LISTENER_ID))) {
        if (!ctl_provider_id_valid(v))
            bad(&p, CTL_ANN_LISTENER_ID, v, "not a listener ID (1-128 characters of A-Z a-z 0-9 . _ : -)");
        else
            o.listener_id = dup_or_oom(&p, v);
    }
    if ((v = ctl_ingress_annotation(ing, CTL_ANN_REGION))) {
        if (!region_valid(v))
            bad(&p, CTL_ANN_REGION, v, "not a region name (1-64 characters of a-z 0-9 -)");
        else
            o.region = dup_or_oom(&p, v);
    } else if (s->default_region) {
        o.region = dup_or_oom(&p, s->default_region);
    }
    if ((v = ctl_ingress_annotation(ing, CTL_ANN_ELB_CLASS))) {
        if (strcmp(v, "union") != 0 && strcmp(v, "performance") != 0)
            bad(&p, CTL_ANN_ELB_CLASS, v, "must be 'union' or 'performance'");
        else
            o.elb_class = dup_or_oom(&p, v);
    }
    if ((v = ctl_ingress_annotation(ing, CTL_ANN_CERT_IDS)))
        parse_ids(&p, CTL_ANN_CERT_IDS, v, &o.cert_ids, &o.n_cert_ids);
    const char *ussl = ctl_ingress_annotation(ing, CTL_ANN_USSL_IDS);
    const char *scm = ctl_ingress_annotation(ing, CTL_ANN_SCM_IDS);
    if (ussl && s->provider != CTL_PROVIDER_UCLOUD)
        bad(&p, CTL_ANN_USSL_IDS, ussl, "USSL certificates exist only on UCloud; this controller manages Huawei Cloud");
    if (scm && s->provider != CTL_PROVIDER_HUAWEI)
        bad(&p, CTL_ANN_SCM_IDS, scm, "SCM certificates exist only on Huawei Cloud; this controller manages UCloud");
    const char *imp = s->provider == CTL_PROVIDER_UCLOUD ? ussl : scm;
    const char *imp_name = s->provider == CTL_PROVIDER_UCLOUD ? CTL_ANN_USSL_IDS : CTL_ANN_SCM_IDS;
    if (imp && !s->limits.can_import)
        bad(&p, imp_name, imp, "the provider cannot import certificates");
    else if (imp)
        parse_ids(&p, imp_name, imp, &o.imported_ids, &o.n_imported_ids);
    bool needs_lb = ing->n_tls > 0 || o.n_cert_ids > 0 || o.n_imported_ids > 0;
    if (!o.lb_id && needs_lb && !ctl_ingress_annotation(ing, CTL_ANN_ELB_ID))
        bad(&p, CTL_ANN_ELB_ID, "", "required: the Ingress has TLS certificates but names no load balancer");
    if (!o.region && !p.bad)
        bad(&p, CTL_ANN_REGION, "", "no region: set the annotation or the controller's default region");

    if (p.oom) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    if (p.bad) {
        rc = cs_err_set(err, CS_EINVAL, 0, "Ingress %s/%s has invalid annotations", ing->ns,
                        ing->name);
        goto out;
    }
    *out = o;
    memset(&o, 0, sizeof(o));
    rc = CS_OK;
out:
    ctl_ingress_opts_cleanup(&o);
    return rc;
}
