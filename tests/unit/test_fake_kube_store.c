/* test_fake_kube_store.c -- the store of fake-kube-apiserver: the skip list's order and
 * lookups, continue tokens (real format, malformed ones refused), list pages at one
 * resourceVersion while objects change, remainingItemCount, and the bounded history that
 * turns too old a snapshot into 410. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/json.h"
#include "common/util.h"
#include "tests/fakes/kube/fk.h"

static const struct fk_type *SECRETS = &fk_types[1];

static struct fk_obj *make(const char *ns, const char *name, const char *type, uint64_t rv)
{
    char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"labels\":{\"n\":\"%s\"}},"
             "\"type\":\"%s\"}", name, ns, name, type);
    cJSON *j = cJSON_Parse(buf);
    struct fk_obj *o = NULL;
    assert_int_equal(fk_obj_build(SECRETS, j, rv, &o, NULL), CS_OK);
    cJSON_Delete(j);
    return o;
}

static void test_skiplist(void **state)
{
    struct fk_skiplist *l = fk_skiplist_new();
    enum { N = 2000 };
    /* insert in a scrambled order */
    for (unsigned i = 0; i < N; i++) {
        unsigned k = (i * 7919u) % N;
        char name[32];
        snprintf(name, sizeof(name), "k%05u", k);
        assert_null(fk_skiplist_put(l, make("ns", name, "Opaque", i + 1)));
    }
    /* replacing returns the old version */
    struct fk_obj *old = fk_skiplist_put(l, make("ns", "k00010", "Opaque", 9999));
    assert_non_null(old);
    assert_string_equal(old->key, "ns/k00010");
    fk_obj_unref(old);
    assert_int_equal(fk_skiplist_get(l, "ns/k00010")->rv, 9999);
    /* in order */
    const char *prev = "";
    size_t n = 0;
    for (struct fk_sl_node *x = fk_skiplist_seek(l, "", true); x; x = fk_skiplist_next(x)) {
        assert_true(strcmp(prev, fk_skiplist_obj(x)->key) < 0);
        prev = fk_skiplist_obj(x)->key;
        n++;
    }
    assert_int_equal(n, N);
    assert_string_equal(fk_skiplist_obj(fk_skiplist_seek(l, "ns/k00100", true))->key, "ns/k00100");
    assert_string_equal(fk_skiplist_obj(fk_skiplist_seek(l, "ns/k00100", false))->key, "ns/k00101");
    assert_string_equal(fk_skiplist_obj(fk_skiplist_seek(l, "ns/k001000", true))->key, "ns/k00101");
    assert_null(fk_skiplist_seek(l, "ns/z", true));
    /* delete every other */
    for (unsigned i = 0; i < N; i += 2) {
        char key[32];
        snprintf(key, sizeof(key), "ns/k%05u", i);
        struct fk_obj *o = fk_skiplist_del(l, key);
        assert_non_null(o);
        fk_obj_unref(o);
    }
    assert_null(fk_skiplist_del(l, "ns/k00000"));
    assert_null(fk_skiplist_get(l, "ns/k00002"));
    assert_non_null(fk_skiplist_get(l, "ns/k00003"));
    fk_skiplist_free(l);
}

static void test_continue_tokens(void **state)
{
    char *t = fk_continue_encode(42, "ns/name-1");
    assert_non_null(t);
    assert_null(strpbrk(t, "+/=")); /* RawURLEncoding */
    int64_t rv = 0;
    char *start = NULL;
    assert_int_equal(fk_continue_decode(t, &rv, &start, NULL), CS_OK);
    assert_int_equal(rv, 42);
    assert_string_equal(start, "ns/name-1");
    free(start);
    /* the real format: base64 JSON with the key followed by \u0000 */
    char std[256];
    snprintf(std, sizeof(std), "%s", t);
    for (char *p = std; *p; p++)
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    size_t n = strlen(std);
    while (n % 4)
        std[n++] = '=';
    std[n] = '\0';
    struct cs_buf dec;
    cs_buf_init(&dec, 0);
    assert_int_equal(cs_base64_decode(std, n, &dec, NULL), CS_OK);
    assert_string_equal(cs_buf_str(&dec),
                        "{\"v\":\"meta.k8s.io/v1\",\"rv\":42,\"start\":\"ns/name-1\\u0000\"}");
    cs_buf_free(&dec);
    free(t);

    struct cs_buf enc;
    const char *bad_json[] = {"{\"v\":\"x\",\"rv\":1,\"start\":\"a\"}", "{\"v\":\"meta.k8s.io/v1\","
                              "\"start\":\"a\"}", "{\"v\":\"meta.k8s.io/v1\",\"rv\":1}",
                              "{\"v\":\"meta.k8s.io/v1\",\"rv\":1,\"start\":\"\"}",
                              "{\"v\":\"meta.k8s.io/v1\",\"rv\":1,\"start\":\"/etc\"}", "[1]",
                              "not json"};
    for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
        cs_buf_init(&enc, 0);
        cs_base64_encode(bad_json[i], strlen(bad_json[i]), &enc);
        struct cs_err err;
        start = NULL;
        if (fk_continue_decode(cs_buf_str(&enc), &rv, &start, &err) != CS_EINVAL)
            fail_msg("token %zu accepted", i);
        assert_null(start);
        assert_non_null(strstr(err.message, "continue key is not valid"));
        cs_buf_free(&enc);
    }
    const char *bad_raw[] = {"", "!!!!", "a b", "%%%"};
    for (size_t i = 0; i < sizeof(bad_raw) / sizeof(bad_raw[0]); i++)
        assert_int_equal(fk_continue_decode(bad_raw[i], &rv, &start, NULL), CS_EINVAL);
}

static void commit(struct fk_store *s, enum fk_event_type type, const char *ns, const char *name,
                   const char *secret_type)
{
    struct fk_obj *o = make(ns, name, secret_type, s->rv + 1);
    assert_int_equal(fk_store_commit(s, type, o), CS_OK);
}

static char *names(const struct fk_list_page *p)
{
    static char buf[4096];
    buf[0] = '\0';
    for (size_t i = 0; i < p->n; i++) {
        strcat(buf, p->items[i]->name);
        strcat(buf, i + 1 < p->n ? "," : "");
    }
    return buf;
}

static void test_paged_snapshot(void **state)
{
    struct fk_store s;
    assert_int_equal(fk_store_init(&s, 100), CS_OK);
    commit(&s, FK_EV_ADDED, "a", "s1", "Opaque");
    commit(&s, FK_EV_ADDED, "a", "s2", "kubernetes.io/tls");
    commit(&s, FK_EV_ADDED, "a", "s3", "Opaque");
    commit(&s, FK_EV_ADDED, "a", "s4", "kubernetes.io/tls");
    commit(&s, FK_EV_ADDED, "b", "s0", "Opaque");
    assert_int_equal(s.rv, 5);

    struct fk_list_query q = {.type = SECRETS, .ns = "a", .limit = 2};
    struct fk_list_page p1, p2, p3;
    assert_int_equal(fk_store_list(&s, &q, &p1, NULL), CS_OK);
    assert_string_equal(names(&p1), "s1,s2");
    assert_true(p1.more);
    assert_int_equal(p1.remaining, 2);
    assert_int_equal(p1.rv, 5);
    assert_string_equal(p1.last_key, "a/s2");

    /* changes after the first page: a new key inside the range, a deletion, an update */
    commit(&s, FK_EV_ADDED, "a", "s25", "Opaque");
    commit(&s, FK_EV_DELETED, "a", "s3", "Opaque");
    commit(&s, FK_EV_MODIFIED, "a", "s4", "Opaque");

    q.start_after = p1.last_key;
    q.snapshot_rv = p1.rv;
    q.limit = 10;
    assert_int_equal(fk_store_list(&s, &q, &p2, NULL), CS_OK);
    assert_string_equal(names(&p2), "s3,s4"); /* as they were at RV 5 */
    assert_int_equal(p2.rv, 5);
    assert_false(p2.more);
    assert_string_equal(p2.items[1]->extra, "type"); /* packed: "type\0kubernetes.io/tls" */
    assert_string_equal(p2.items[1]->extra + 5, "kubernetes.io/tls");
    fk_list_page_cleanup(&p2);

    /* the current state */
    q.snapshot_rv = 0;
    assert_int_equal(fk_store_list(&s, &q, &p2, NULL), CS_OK);
    assert_string_equal(names(&p2), "s25,s4");
    assert_int_equal(p2.rv, 8);
    fk_list_page_cleanup(&p2);

    /* all namespaces, field selected: no remainingItemCount */
    struct fk_field_selector *fs;
    assert_int_equal(fk_field_selector_parse("type=Opaque", FK_FIELDS_SECRET, &fs, NULL), CS_OK);
    struct fk_list_query q2 = {.type = SECRETS, .fields = fs, .limit = 2};
    assert_int_equal(fk_store_list(&s, &q2, &p3, NULL), CS_OK);
    assert_string_equal(names(&p3), "s1,s25");
    assert_true(p3.more);
    assert_int_equal(p3.remaining, -1);
    fk_list_page_cleanup(&p3);
    fk_field_selector_free(fs);

    /* compaction: the first page's snapshot is gone */
    fk_store_compact(&s);
    q.snapshot_rv = p1.rv;
    struct cs_err err;
    assert_int_equal(fk_store_list(&s, &q, &p2, &err), CS_EGONE);
    fk_list_page_cleanup(&p1);
    fk_store_cleanup(&s);
}

static void test_history_bound(void **state)
{
    struct fk_store s;
    assert_int_equal(fk_store_init(&s, 3), CS_OK);
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof(name), "x%d", i);
        commit(&s, FK_EV_ADDED, "a", name, "Opaque");
    }
    /* 3 events kept after the anchor: a watch may start from RV 7 (events 8, 9, 10) */
    assert_int_equal(s.min_watch_rv, 7);
    assert_int_equal(s.head->rv, 7);
    size_t n = 0;
    for (struct fk_event *e = s.head; e; e = e->next)
        n++;
    assert_int_equal(n, 4);
    struct fk_list_query q = {.type = SECRETS, .snapshot_rv = 6};
    struct fk_list_page p;
    assert_int_equal(fk_store_list(&s, &q, &p, NULL), CS_EGONE);
    q.snapshot_rv = 7;
    assert_int_equal(fk_store_list(&s, &q, &p, NULL), CS_OK);
    assert_int_equal(p.n, 7);
    fk_list_page_cleanup(&p);
    /* a watcher's cursor keeps its events alive after they leave the history */
    struct fk_event *cursor = s.head;
    fk_event_ref(cursor);
    commit(&s, FK_EV_ADDED, "a", "y", "Opaque");
    commit(&s, FK_EV_ADDED, "a", "z", "Opaque");
    assert_int_equal(cursor->rv, 7);
    assert_non_null(cursor->next);
    assert_int_equal(cursor->next->rv, 8);
    fk_event_unref(cursor);
    fk_store_cleanup(&s);
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skiplist),
        cmocka_unit_test(test_continue_tokens),
        cmocka_unit_test(test_paged_snapshot),
        cmocka_unit_test(test_history_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
