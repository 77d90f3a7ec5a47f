/* test_k8s_store.c -- the store: apply and its handlers, filtering, Replace semantics
 * (deletes for vanished keys, adds and updates for the rest, all-or-nothing on bad input),
 * references that outlive deletion, growth to 10,000 objects, handlers called without the
 * lock, and concurrent readers while a writer applies changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "k8s/store.h"

struct item {
    char fp[16];
};

static atomic_int live_items;

static void *extract(const cJSON *obj, void *ud)
{
    if (cs_json_path_str(obj, "metadata.labels.skip"))
        return NULL;
    struct item *it = calloc(1, sizeof(*it));
    const char *fp = cs_json_path_str(obj, "data.fp");
    snprintf(it->fp, sizeof(it->fp), "%s", fp ? fp : "-");
    atomic_fetch_add(&live_items, 1);
    return it;
}

static void free_item(void *item, void *ud)
{
    atomic_fetch_sub(&live_items, 1);
    free(item);
}

struct rec {
    char log[4096];
    struct k8s_store *store; /* to prove handlers run without the lock */
};

static void add_log(struct rec *r, char op, const struct k8s_obj *old, const struct k8s_obj *o)
{
    size_t l = strlen(r->log);
    const struct item *a = old ? k8s_obj_item(old) : NULL, *b = o ? k8s_obj_item(o) : NULL;
    if (old && o)
        snprintf(r->log + l, sizeof(r->log) - l, "%c%s=%s->%s ", op, k8s_obj_key(o), a->fp,
                 b->fp);
    else
        snprintf(r->log + l, sizeof(r->log) - l, "%c%s=%s ", op, k8s_obj_key(o ? o : old),
                 (a ? a : b)->fp);
}

static void on_add(const struct k8s_obj *o, void *ud)
{
    struct rec *r = ud;
    add_log(r, '+', NULL, o);
    if (r->store) { /* would deadlock if the store's lock were held */
        struct k8s_obj *x = k8s_store_get(r->store, k8s_obj_key(o));
        assert_ptr_equal(x, o);
        k8s_obj_unref(x);
    }
}

static void on_update(const struct k8s_obj *old, const struct k8s_obj *o, void *ud)
{
    struct rec *r = ud;
    add_log(r, '~', old, o);
}

static void on_delete(const struct k8s_obj *o, void *ud)
{
    struct rec *r = ud;
    add_log(r, '-', o, NULL);
    if (r->store)
        assert_null(k8s_store_get(r->store, k8s_obj_key(o)));
}

static cJSON *obj(const char *ns, const char *name, const char *rv, const char *fp)
{
    char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"%s\"%s%s%s,\"resourceVersion\":\"%s\"},\"data\":"
             "{\"fp\":\"%s\",\"tls.key\":\"SECRET\"}}",
             name, ns ? ",\"namespace\":\"" : "", ns ? ns : "", ns ? "\"" : "", rv, fp);
    cJSON *j = cJSON_Parse(buf);
    assert_non_null(j);
    return j;
}

static struct k8s_store *new_store(struct rec *r)
{
    struct k8s_store_opts o = {.extract = extract,
                               .free_item = free_item,
                               .handlers = {on_add, on_update, on_delete, r}};
    struct k8s_store *s = NULL;
    assert_int_equal(k8s_store_new(&o, &s, NULL), CS_OK);
    r->store = s;
    return s;
}

static void apply(struct k8s_store *s, enum k8s_watch_type t, const char *ns, const char *name,
                  const char *rv, const char *fp)
{
    cJSON *j = obj(ns, name, rv, fp);
    assert_int_equal(k8s_store_apply(s, t, j, NULL), CS_OK);
    cJSON_Delete(j);
}

static void test_apply(void **state)
{
    struct rec r = {0};
    struct k8s_store *s = new_store(&r);
    apply(s, K8S_WATCH_ADDED, "ns", "a", "1", "f1");
    apply(s, K8S_WATCH_MODIFIED, "ns", "a", "2", "f2");
    apply(s, K8S_WATCH_ADDED, NULL, "cluster", "3", "c1");
    apply(s, K8S_WATCH_BOOKMARK, "ns", "a", "4", "ignored");
    assert_int_equal(k8s_store_len(s), 2);

    struct k8s_obj *held = k8s_store_get_by_name(s, "ns", "a");
    assert_non_null(held);
    assert_string_equal(k8s_obj_namespace(held), "ns");
    assert_string_equal(k8s_obj_name(held), "a");
    assert_string_equal(k8s_obj_rv(held), "2");
    struct k8s_obj *c = k8s_store_get_by_name(s, NULL, "cluster");
    assert_string_equal(k8s_obj_key(c), "cluster");
    assert_string_equal(k8s_obj_namespace(c), "");
    k8s_obj_unref(c);

    apply(s, K8S_WATCH_DELETED, "ns", "a", "5", "f2");
    assert_null(k8s_store_get(s, "ns/a"));
    /* the reference taken before the delete is still good */
    assert_string_equal(((const struct item *)k8s_obj_item(held))->fp, "f2");
    k8s_obj_unref(held);

    /* a delete of an unknown key reports its last state */
    apply(s, K8S_WATCH_DELETED, "ns", "ghost", "6", "g");
    assert_string_equal(r.log, "+ns/a=f1 ~ns/a=f1->f2 +cluster=c1 -ns/a=f2 -ns/ghost=g ");

    /* no name: an error, nothing changes */
    cJSON *bad = cJSON_Parse("{\"metadata\":{\"namespace\":\"x\"}}");
    struct cs_err e;
    assert_int_equal(k8s_store_apply(s, K8S_WATCH_ADDED, bad, &e), CS_EPROTO);
    cJSON_Delete(bad);
    assert_int_equal(k8s_store_len(s), 1);
    k8s_store_free(s);
    assert_int_equal(atomic_load(&live_items), 0);
}

static void test_filter(void **state)
{
    struct rec r = {0};
    struct k8s_store *s = new_store(&r);
    apply(s, K8S_WATCH_ADDED, "ns", "a", "1", "f1");
    cJSON *j = cJSON_Parse("{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"labels\":{"
                           "\"skip\":\"y\"}}}");
    /* no longer passing the filter: it leaves the store as a delete */
    assert_int_equal(k8s_store_apply(s, K8S_WATCH_MODIFIED, j, NULL), CS_OK);
    /* filtered objects are never added */
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(j, "metadata"), "name",
                              cJSON_CreateString("b"));
    assert_int_equal(k8s_store_apply(s, K8S_WATCH_ADDED, j, NULL), CS_OK);
    assert_int_equal(k8s_store_apply(s, K8S_WATCH_DELETED, j, NULL), CS_OK);
    cJSON_Delete(j);
    assert_int_equal(k8s_store_len(s), 0);
    assert_string_equal(r.log, "+ns/a=f1 -ns/a=f1 ");
    k8s_store_free(s);
    assert_int_equal(atomic_load(&live_items), 0);
}

static cJSON *list_of(int n, const char *const *names, const char *const *fps)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, obj("ns", names[i], "9", fps[i]));
    return a;
}

static void test_replace(void **state)
{
    struct rec r = {0};
    struct k8s_store *s = new_store(&r);
    apply(s, K8S_WATCH_ADDED, "ns", "a", "1", "a1");
    apply(s, K8S_WATCH_ADDED, "ns", "b", "1", "b1");
    apply(s, K8S_WATCH_ADDED, "ns", "c", "1", "c1");
    r.log[0] = '\0';

    const char *names[] = {"d", "b", "c"};
    const char *fps[] = {"d1", "b2", "c1"};
    cJSON *items = list_of(3, names, fps);
    assert_int_equal(k8s_store_replace(s, items, NULL), CS_OK);
    cJSON_Delete(items);
    /* every listed key is added or updated (in list order), vanished keys deleted */
    assert_string_equal(r.log, "+ns/d=d1 ~ns/b=b1->b2 ~ns/c=c1->c1 -ns/a=a1 ");

    struct k8s_obj **v;
    size_t n;
    assert_int_equal(k8s_store_list(s, &v, &n, NULL), CS_OK);
    assert_int_equal(n, 3);
    assert_string_equal(k8s_obj_key(v[0]), "ns/b");
    assert_string_equal(k8s_obj_key(v[1]), "ns/c");
    assert_string_equal(k8s_obj_key(v[2]), "ns/d");
    assert_string_equal(k8s_obj_rv(v[0]), "9");
    k8s_store_list_free(v, n);

    /* a bad item: error, no change, no events */
    r.log[0] = '\0';
    cJSON *bad = list_of(1, names, fps);
    cJSON_AddItemToArray(bad, cJSON_Parse("{\"metadata\":{}}"));
    struct cs_err e;
    assert_int_equal(k8s_store_replace(s, bad, &e), CS_EPROTO);
    cJSON_Delete(bad);
    assert_string_equal(r.log, "");
    assert_int_equal(k8s_store_len(s), 3);
    cJSON *notarray = cJSON_CreateObject();
    assert_int_equal(k8s_store_replace(s, notarray, &e), CS_EPROTO);
    cJSON_Delete(notarray);

    /* after a replace, a watch-applied object survives until the next replace omits it */
    apply(s, K8S_WATCH_ADDED, "ns", "e", "10", "e1");
    r.log[0] = '\0';
    cJSON *empty = cJSON_CreateArray();
    assert_int_equal(k8s_store_replace(s, empty, NULL), CS_OK);
    cJSON_Delete(empty);
    assert_int_equal(k8s_store_len(s), 0);
    assert_non_null(strstr(r.log, "-ns/e=e1"));
    assert_non_null(strstr(r.log, "-ns/b=b2"));
    k8s_store_free(s);
    assert_int_equal(atomic_load(&live_items), 0);
}

static void test_many(void **state)
{
    struct k8s_store_opts o = {.extract = extract, .free_item = free_item};
    struct k8s_store *s = NULL;
    assert_int_equal(k8s_store_new(&o, &s, NULL), CS_OK);
    cJSON *items = cJSON_CreateArray();
    char name[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof(name), "s%05d", i);
        cJSON_AddItemToArray(items, obj("ns", name, "1", "x"));
    }
    assert_int_equal(k8s_store_replace(s, items, NULL), CS_OK);
    cJSON_Delete(items);
    assert_int_equal(k8s_store_len(s), 10000);
    for (int i = 0; i < 10000; i += 7) {
        snprintf(name, sizeof(name), "s%05d", i);
        struct k8s_obj *x = k8s_store_get_by_name(s, "ns", name);
        assert_non_null(x);
        assert_string_equal(k8s_obj_name(x), name);
        k8s_obj_unref(x);
    }
    assert_int_equal(atomic_load(&live_items), 10000);
    k8s_store_free(s);
    assert_int_equal(atomic_load(&live_items), 0);

    struct k8s_store_opts none = {0};
    struct cs_err e;
    assert_int_equal(k8s_store_new(&none, &s, &e), CS_EINVAL);
    k8s_store_free(NULL);
    k8s_obj_unref(NULL);
}

struct reader_arg {
    struct k8s_store *s;
    atomic_bool *stop;
    atomic_long reads;
};

static void *reader(void *p)
{
    struct reader_arg *a = p;
    while (!atomic_load(a->stop)) {
        struct k8s_obj *o = k8s_store_get(a->s, "ns/hot");
        if (o) {
            /* the item is immutable while referenced */
            assert_true(strncmp(((const struct item *)k8s_obj_item(o))->fp, "v", 1) == 0);
            k8s_obj_unref(o);
        }
        struct k8s_obj **v;
        size_t n;
        if (k8s_store_list(a->s, &v, &n, NULL) == CS_OK)
            k8s_store_list_free(v, n);
        atomic_fetch_add(&a->reads, 1);
    }
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    struct k8s_store_opts o = {.extract = extract, .free_item = free_item};
    struct k8s_store *s = NULL;
    assert_int_equal(k8s_store_new(&o, &s, NULL), CS_OK);
    atomic_bool stop = false;
    pthread_t th[3];
    struct reader_arg args[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (struct reader_arg){.s = s, .stop = &stop};
        pthread_create(&th[i], NULL, reader, &args[i]);
    }
    char fp[16], name[16];
    for (int i = 0; i < 2000; i++) {
        snprintf(fp, sizeof(fp), "v%d", i);
        snprintf(name, sizeof(name), "o%d", i % 50);
        apply(s, K8S_WATCH_MODIFIED, "ns", "hot", "1", fp);
        apply(s, i % 3 ? K8S_WATCH_ADDED : K8S_WATCH_DELETED, "ns", name, "1", fp);
    }
    /* let every reader run at least once (valgrind serialises threads) */
    for (int i = 0; i < 3; i++)
        for (int w = 0; w < 10000 && atomic_load(&args[i].reads) == 0; w++)
            usleep(1000);
    atomic_store(&stop, true);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_true(args[i].reads > 0);
    }
    k8s_store_free(s);
    assert_int_equal(atomic_load(&live_items), 0);
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_concurrent_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
