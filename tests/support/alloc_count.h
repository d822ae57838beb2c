/* support/alloc_count.h — counts heap allocations made while g_counting is set, for tests that prove a
 * decoder allocates nothing: the sanitizer allocator's hooks under ASan/TSan, else glibc's malloc
 * interposed in the including program. Include it in exactly one file of a test program. */
#ifndef MKT_ALLOC_COUNT_H
#define MKT_ALLOC_COUNT_H

#include <stdbool.h>
#include <stddef.h>

static volatile int g_counting;
static volatile size_t g_allocs;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZER_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define SANITIZER_ALLOCATOR 1
#endif
#endif

#if defined(SANITIZER_ALLOCATOR)
int __sanitizer_install_malloc_and_free_hooks(void (*on_malloc)(const volatile void *, size_t),
                                              void (*on_free)(const volatile void *));
static void count_malloc(const volatile void *p, size_t n) {
    if (g_counting) g_allocs++;
}
static void ignore_free(const volatile void *p) {}
static bool alloc_hook_install(void) {
    static bool installed;  /* installing twice would count every allocation twice */
    if (!installed) installed = __sanitizer_install_malloc_and_free_hooks(count_malloc, ignore_free) != 0;
    return installed;
}
#elif defined(__GLIBC__)
/* Interposes the allocator for the whole program; every call still lands in glibc's malloc. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
void *malloc(size_t n) {
    if (g_counting) g_allocs++;
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t size) {
    if (g_counting) g_allocs++;
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) {
    if (g_counting) g_allocs++;
    return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }
static bool alloc_hook_install(void) { return true; }
#else
static bool alloc_hook_install(void) { return false; }
#endif

#endif
