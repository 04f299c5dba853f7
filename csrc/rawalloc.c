/* The static build's allocator for CPython's raw memory domain (PyMem_RawMalloc: what pymalloc
 * does not take, blocks over 512 bytes, and the interpreter's own tables).
 *
 * musl's malloc hands medium and large blocks back to the kernel as soon as they are free: a
 * start of `railcar run` made ~150 mmap and ~70 munmap calls, each new mapping paid in page
 * faults and each unmapping in a TLB flush, ~1.5 ms that glibc's heap (the dynamic build's)
 * does not spend.  This keeps freed blocks for reuse instead: power-of-two classes from 32 bytes
 * to 64 KiB, carved from 1 MiB chunks, a free list per class; larger blocks go to musl.  A
 * railcar process lives milliseconds (or, for `events`, reuses the same few sizes), so keeping
 * what it freed costs little.  Raw allocations may happen without the GIL: one mutex.  The dynamic
 * build keeps glibc's malloc. */
#include <Python.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include "rawalloc.h"

#define MIN_SHIFT 5                      /* 32 bytes, header included */
#define MAX_SHIFT 16                     /* 64 KiB */
#define NCLASS (MAX_SHIFT - MIN_SHIFT + 1)
#define CHUNK (1u << 20)
#define LARGE 0xffu                      /* header class of a block musl owns */

/* Each block starts with a header of 16 bytes (the alignment malloc gives): its class. */
struct header {
    size_t cls;
    size_t pad;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *free_list[NCLASS];
static char *bump, *bump_end;

static int class_of(size_t n)
{
    int c = MIN_SHIFT;
    n += sizeof(struct header);
    while (c <= MAX_SHIFT && ((size_t)1 << c) < n)
        c++;
    return c <= MAX_SHIFT ? c - MIN_SHIFT : -1;
}

static void *take(int c)
{
    size_t size = (size_t)1 << (c + MIN_SHIFT);
    struct header *h;
    pthread_mutex_lock(&lock);
    if (free_list[c]) {
        h = free_list[c];
        free_list[c] = *(void **)(h + 1);
    } else {
        if ((size_t)(bump_end - bump) < size) {
            /* a new chunk; what is left of the old one is dropped (less than a block of this
             * class: at most 64 KiB of 1 MiB) */
            char *m = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED) {
                pthread_mutex_unlock(&lock);
                return NULL;
            }
            bump = m;
            bump_end = m + CHUNK;
        }
        h = (struct header *)bump;
        bump += size;
    }
    pthread_mutex_unlock(&lock);
    h->cls = (size_t)c;
    return h + 1;
}

static void *raw_malloc(void *ctx, size_t n)
{
    int c = class_of(n);
    struct header *h;
    (void)ctx;
    if (c >= 0)
        return take(c);
    if (n > SIZE_MAX - sizeof *h || !(h = malloc(n + sizeof *h)))
        return NULL;
    h->cls = LARGE;
    return h + 1;
}

static void *raw_calloc(void *ctx, size_t nelem, size_t elsize)
{
    void *p;
    if (elsize && nelem > SIZE_MAX / elsize)
        return NULL;
    p = raw_malloc(ctx, nelem * elsize);
    if (p)
        memset(p, 0, nelem * elsize);   /* a reused block is not zero */
    return p;
}

static void raw_free(void *ctx, void *p)
{
    struct header *h;
    (void)ctx;
    if (!p)
        return;
    h = (struct header *)p - 1;
    if (h->cls == LARGE) {
        free(h);
        return;
    }
    pthread_mutex_lock(&lock);
    *(void **)p = free_list[h->cls];
    free_list[h->cls] = h;
    pthread_mutex_unlock(&lock);
}

static void *raw_realloc(void *ctx, void *p, size_t n)
{
    struct header *h;
    size_t have;
    void *q;
    if (!p)
        return raw_malloc(ctx, n);
    h = (struct header *)p - 1;
    if (h->cls == LARGE) {
        if (class_of(n) < 0) {        /* large stays large: musl's realloc can grow in place */
            if (n > SIZE_MAX - sizeof *h || !(h = realloc(h, n + sizeof *h)))
                return NULL;
            return h + 1;
        }
        have = n;                     /* shrinking to a class: copy what the new block holds */
    } else {
        have = ((size_t)1 << (h->cls + MIN_SHIFT)) - sizeof *h;
        if (n <= have && class_of(n) == (int)h->cls)
            return p;
    }
    q = raw_malloc(ctx, n);
    if (!q)
        return NULL;
    memcpy(q, p, have < n ? have : n);
    raw_free(ctx, p);
    return q;
}

void rc_rawalloc_install(void)
{
    PyMemAllocatorEx a = { NULL, raw_malloc, raw_calloc, raw_realloc, raw_free };
    PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &a);
}
