/* unit/core/test_bufpool.c — the small-block pool: small requests reuse pool blocks, large ones fall
 * back to malloc behind the same free call, idle blocks are capped, blocks outlive the pool's close,
 * and two threads allocating and freeing across each other lose nothing (ASan/LSan watch the rest). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/bufpool.h"

#include <pthread.h>
#include <string.h>

static void small_blocks_are_reused_and_large_ones_are_malloced(void **state) {
    (void)state;
    mk_bufpool_t *p = mk_bufpool_new(64, 4);
    assert_non_null(p);
    void *a = mk_bufpool_alloc(p, 64);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a % 16, 0);
    memset(a, 0xab, 64);
    assert_int_equal(mk_bufpool_outstanding(p), 1);
    mk_bufpool_free(a);
    assert_int_equal(mk_bufpool_outstanding(p), 0);
    void *b = mk_bufpool_alloc(p, 10);
    assert_ptr_equal(a, b);  /* the idle block came back */
    void *big = mk_bufpool_alloc(p, 65);
    assert_non_null(big);
    memset(big, 0xcd, 65);
    assert_int_equal(mk_bufpool_outstanding(p), 1);  /* not a pool block */
    mk_bufpool_free(big);
    mk_bufpool_free(b);
    void *plain = mk_bufpool_alloc(NULL, 5);
    assert_non_null(plain);
    mk_bufpool_free(plain);
    mk_bufpool_free(NULL);
    mk_bufpool_close(p);
}

static void idle_blocks_are_capped(void **state) {
    (void)state;
    mk_bufpool_t *p = mk_bufpool_new(32, 2);
    void *v[5];
    for (int i = 0; i < 5; i++) v[i] = mk_bufpool_alloc(p, 32);
    for (int i = 0; i < 5; i++) mk_bufpool_free(v[i]);  /* the first two stay idle, three go back to malloc */
    void *x = mk_bufpool_alloc(p, 1), *y = mk_bufpool_alloc(p, 1);
    assert_true(x == v[0] || x == v[1]);
    assert_true(y == v[0] || y == v[1]);
    assert_ptr_not_equal(x, y);
    mk_bufpool_free(x);
    mk_bufpool_free(y);
    mk_bufpool_close(p);
}

static void blocks_and_holders_outlive_the_close(void **state) {
    (void)state;
    mk_bufpool_t *p = mk_bufpool_new(16, 8);
    mk_bufpool_t *holder = mk_bufpool_retain(p);
    void *a = mk_bufpool_alloc(p, 16);
    mk_bufpool_close(p);
    void *b = mk_bufpool_alloc(holder, 16);  /* still works for a holder after the close */
    assert_non_null(b);
    mk_bufpool_free(a);
    mk_bufpool_release(holder);
    mk_bufpool_free(b);  /* the last one frees the pool */
}

static mk_bufpool_t *shared;
static void *churn(void *arg) {
    void **mine = arg;
    for (int round = 0; round < 2000; round++) {
        for (int i = 0; i < 50; i++) {
            mine[i] = mk_bufpool_alloc(shared, (size_t)(i * 7) % 80);
            memset(mine[i], i, (size_t)(i * 7) % 80);
        }
        for (int i = 0; i < 50; i++) mk_bufpool_free(mine[i]);
    }
    return NULL;
}

static void two_threads_share_a_pool(void **state) {
    (void)state;
    shared = mk_bufpool_new(64, 64);
    void *a[50], *b[50];
    pthread_t t1, t2;
    pthread_create(&t1, NULL, churn, a);
    pthread_create(&t2, NULL, churn, b);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_int_equal(mk_bufpool_outstanding(shared), 0);
    mk_bufpool_close(shared);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_blocks_are_reused_and_large_ones_are_malloced),
        cmocka_unit_test(idle_blocks_are_capped),
        cmocka_unit_test(blocks_and_holders_outlive_the_close),
        cmocka_unit_test(two_threads_share_a_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
