/*
 * compare_crew.c — 比对's threads: a crew of helpers that run one task at a
 * time alongside the calling thread (compare_impl.h). A task is a function
 * called once per member, member 0 on the calling thread; crew_run returns
 * when every member has finished it, so what a task wrote is visible to the
 * caller afterwards (the mutex orders it). crew_begin and crew_wait split
 * crew_run for a task of the helpers alone, while the calling thread does
 * something else. Used to build the records of a batch (compare_feed.c),
 * to sort, and to make findings while the calling thread moves the ones
 * made before into the store (compare_join.c).
 */
#include <stdlib.h>

#include "run/compare_impl.h"

/* A helper: waits for each new generation, runs the task, reports done. */
static void *crew_main(void *arg)
{
    struct crew_member *me = arg;
    struct crew *k = me->crew;
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&k->mu);
        while (k->gen == seen && !k->quit)
            pthread_cond_wait(&k->go, &k->mu);
        if (k->quit) {
            pthread_mutex_unlock(&k->mu);
            return NULL;
        }
        seen = k->gen;
        pthread_mutex_unlock(&k->mu);
        k->fn(k->ctx, me->index);
        pthread_mutex_lock(&k->mu);
        if (--k->pending == 0)
            pthread_cond_signal(&k->done);
        pthread_mutex_unlock(&k->mu);
    }
}

size_t crew_start(struct crew *k, size_t want)
{
    if (k->up)
        return k->size;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->go, NULL);
    pthread_cond_init(&k->done, NULL);
    k->up = true;
    k->quit = false;
    k->size = 1;
    k->members = qloop_xcalloc(want + 1, sizeof *k->members);
    for (size_t i = 1; i < want; i++) {
        k->members[i] = (struct crew_member){.crew = k, .index = i};
        if (pthread_create(&k->members[i].thread, NULL, crew_main, &k->members[i]) != 0)
            break; /* go on with the helpers there are */
        k->size++;
    }
    return k->size;
}

void crew_begin(struct crew *k, void (*fn)(void *ctx, size_t member), void *ctx)
{
    pthread_mutex_lock(&k->mu);
    k->fn = fn;
    k->ctx = ctx;
    k->pending = k->size - 1;
    k->gen++;
    pthread_cond_broadcast(&k->go);
    pthread_mutex_unlock(&k->mu);
}

void crew_wait(struct crew *k)
{
    pthread_mutex_lock(&k->mu);
    while (k->pending)
        pthread_cond_wait(&k->done, &k->mu);
    pthread_mutex_unlock(&k->mu);
}

void crew_run(struct crew *k, void (*fn)(void *ctx, size_t member), void *ctx)
{
    if (!k->up || k->size < 2) {
        fn(ctx, 0);
        return;
    }
    crew_begin(k, fn, ctx);
    fn(ctx, 0);
    crew_wait(k);
}

void crew_stop(struct crew *k)
{
    if (!k->up)
        return;
    pthread_mutex_lock(&k->mu);
    k->quit = true;
    pthread_cond_broadcast(&k->go);
    pthread_mutex_unlock(&k->mu);
    for (size_t i = 1; i < k->size; i++)
        pthread_join(k->members[i].thread, NULL);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->go);
    pthread_cond_destroy(&k->done);
    free(k->members);
    *k = (struct crew){0};
}
