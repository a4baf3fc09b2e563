/* A small per-run thread pool: fixed tasks, dynamic assignment, so results never depend on the thread count. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _CsThreadPool CsThreadPool;

typedef void (*CsTaskFunc) (gpointer data,
                            guint    task);

/* A pool that runs tasks on the calling thread and up to @n_threads - 1 helpers. */
CsThreadPool  *cs_thread_pool_new          (int         n_threads) G_GNUC_WARN_UNUSED_RESULT;
void     cs_thread_pool_free         (CsThreadPool     *self);
int      cs_thread_pool_get_threads  (CsThreadPool     *self);

/* Runs fn(data, 0) ... fn(data, n_tasks - 1), each exactly once, and returns
 * when all are done. Without a pool (NULL) they run in order on this thread. */
void     cs_thread_pool_run          (CsThreadPool *self,
                                      guint         n_tasks,
                                      CsTaskFunc    fn,
                                      gpointer      data);

/* fn(data, start, end) over [0, n) in fixed chunks of @grain items: the
 * chunks depend on n and grain alone, so results never depend on threads. */
typedef void (*CsRangeFunc) (gpointer data,
                             gsize    start,
                             gsize    end);
void     cs_parallel_for      (gsize       n,
                               gsize       grain,
                               CsRangeFunc fn,
                               gpointer    data);

/* The pool the kernels on this thread use (NULL: none). */
void     cs_thread_pool_set_current  (CsThreadPool     *pool);
CsThreadPool  *cs_thread_pool_get_current  (void);

/* How many threads of all pools in the process may compute at once: the
 * cores are shared evenly between the pools that are busy training. */
void     cs_thread_pool_set_active   (CsThreadPool *self,
                                      gboolean      active);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CsThreadPool, cs_thread_pool_free)

G_END_DECLS
