/* scratch.c - per-thread scratch buffers of the kernels (see base.h): one pthread key holds a
 * thread's slots; each slot grows geometrically and is freed when the thread ends, so a thread
 * that runs the same products again allocates nothing, and threads that come and go (the
 * server's generation jobs) leave nothing behind. */
#include "base/base.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct slot {
    void *p;
    size_t bytes;
} slot;

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool key_made;

static void slots_free(void *v)
{
    slot *s = v;
    if (!s)
        return;
    for (int i = 0; i < LM_SCRATCH_SLOTS; i++)
        lm_free(s[i].p);
    free(s);
}

static void key_make(void)
{
    key_made = pthread_key_create(&key, slots_free) == 0;
}

/* The key goes with the library (a thread exiting after an unload must not call into it). */
__attribute__((destructor)) static void key_delete(void)
{
    if (key_made) {
        slots_free(pthread_getspecific(key));
        pthread_setspecific(key, NULL);
        pthread_key_delete(key);
        key_made = false;
    }
}

void *lm_thread_scratch(int which, size_t bytes)
{
    if (which < 0 || which >= LM_SCRATCH_SLOTS)
        return NULL;
    pthread_once(&once, key_make);
    if (!key_made)
        return NULL;
    slot *s = pthread_getspecific(key);
    if (!s) {
        s = calloc(LM_SCRATCH_SLOTS, sizeof *s);
        if (!s || pthread_setspecific(key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    slot *t = &s[which];
    if (bytes > t->bytes) {
        size_t want = t->bytes > bytes / 2 && t->bytes <= SIZE_MAX / 2 ? 2 * t->bytes : bytes;
        void *p = lm_alloc_floats((want + sizeof(float) - 1) / sizeof(float));
        if (!p)
            return NULL;
        lm_free(t->p);
        t->p = p;
        t->bytes = want;
    }
    return t->p;
}
