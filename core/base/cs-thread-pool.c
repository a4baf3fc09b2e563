/* The thread pool behind the kernels. Work is cut into tasks by its shape alone and the
 * tasks are handed out dynamically, so one thread or eight compute exactly the same numbers. */

#define G_LOG_DOMAIN "cs-parallel"

#include "config.h"

#include "base/cs-thread-pool.h"
#include "base/cs-sync.h"

/* The counters below are changed under the lock, with atomic operations, so
 * that a thread may also read them without it while it spins (see spin_for). */
struct _CsThreadPool
{
  int          n_threads;    /* including the caller */
  GThread    **helpers;
  GMutex       lock;
  GCond        work_cond;
  GCond        done_cond;
  gint         generation;   /* jobs posted (wraps; only compared for change) */
  gint         quit;

  /* The job in flight */
  CsTaskFunc   fn;
  gpointer     data;
  guint        n_tasks;
  gint         next_task;    /* atomic, taken without the lock */
  gint         remaining;    /* tasks not finished */
  gint         busy;         /* helpers inside the job */
  gint         allowed;      /* helpers that may take part */
};

/*
 * Handing a job to a sleeping helper and waking the caller when it is done
 * each cost a futex wake-up, tens of microseconds on this kind of machine,
 * and a LeNet-5 training step is some thirty jobs of a hundred microseconds
 * or so. So a thread that expects news soon spins (with the CPU's pause hint)
 * for up to SPIN_USEC before it sleeps on the condition variable; the
 * decisions are still taken under the lock.
 */
#define SPIN_USEC 50

typedef gboolean (*SpinDoneFunc) (CsThreadPool *self,
                                  gint    arg);

static void
spin_for (CsThreadPool *self,
          SpinDoneFunc  done,
          gint          arg)
{
  gint64 deadline = 0;

  for (guint n = 1; !done (self, arg); n++)
    {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause ();
#endif
      if (n % 64 == 0)
        {
          gint64 now = g_get_monotonic_time ();
          if (deadline == 0)
            deadline = now + SPIN_USEC;
          else if (now > deadline)
            return;
        }
    }
}

/* For a helper: a new job came, or the pool is closing. */
static gboolean
news_for_helper (CsThreadPool *self,
                 gint          seen)
{
  return g_atomic_int_get (&self->generation) != seen || g_atomic_int_get (&self->quit);
}

/* For the caller: every task finished and no helper inside the job. */
static gboolean
job_done (CsThreadPool *self,
          gint          unused)
{
  return g_atomic_int_get (&self->remaining) == 0 && g_atomic_int_get (&self->busy) == 0;
}

static GPrivate current_pool;
static GMutex   registry_lock;
static GList   *active_pools;

static void
run_tasks (CsThreadPool *self)
{
  guint done = 0;

  for (;;)
    {
      guint t = (guint) g_atomic_int_add (&self->next_task, 1);
      if (t >= self->n_tasks)
        break;
      self->fn (self->data, t);
      done++;
    }
  if (done > 0)
    {
      cs_mutex_lock (&self->lock);
      if (g_atomic_int_add (&self->remaining, -(gint) done) == (gint) done)
        g_cond_broadcast (&self->done_cond);
      cs_mutex_unlock (&self->lock);
    }
}

typedef struct
{
  CsThreadPool *pool;
  int     index;
} HelperArgs;

static gpointer
helper_main (gpointer data)
{
  HelperArgs *args = data;
  CsThreadPool *self = args->pool;
  int index = args->index;
  gint seen = 0;

  g_free (args);
  cs_mutex_lock (&self->lock);
  for (;;)
    {
      /* Between the jobs of a training step the next one comes within
       * microseconds: wait for it awake (if this helper takes part at all). */
      if (!self->quit && self->generation == seen && index < self->allowed)
        {
          cs_mutex_unlock (&self->lock);
          spin_for (self, news_for_helper, seen);
          cs_mutex_lock (&self->lock);
        }
      while (!self->quit && (self->generation == seen || index >= self->allowed))
        {
          if (self->generation != seen && index >= self->allowed)
            seen = self->generation;   /* not our turn this time */
          else
            cs_cond_wait (&self->work_cond, &self->lock);
        }
      if (self->quit)
        break;
      seen = self->generation;
      /* A helper that wakes after the caller finished the job alone must not
       * join it: the caller has already seen busy == 0 and may be writing the
       * next job's n_tasks/fn/data, and a stale helper taking a number from the
       * next job's counter and comparing it with the old n_tasks would lose
       * that task (the caller then waits for it forever). remaining and busy
       * are read and written under the lock, so this check and the caller's
       * final one cannot both pass. */
      if (self->remaining == 0)
        continue;
      g_atomic_int_inc (&self->busy);
      cs_mutex_unlock (&self->lock);
      run_tasks (self);
      cs_mutex_lock (&self->lock);
      /* The caller returns only when no helper is inside the job any more,
       * so a late helper never touches the next job's counter. */
      if (g_atomic_int_dec_and_test (&self->busy) && self->remaining == 0)
        g_cond_broadcast (&self->done_cond);
    }
  cs_mutex_unlock (&self->lock);
  return NULL;
}

CsThreadPool *
cs_thread_pool_new (int n_threads)
{
  CsThreadPool *self = g_new0 (CsThreadPool, 1);

  self->n_threads = CLAMP (n_threads, 1, 256);
  cs_mutex_init (&self->lock);
  g_cond_init (&self->work_cond);
  g_cond_init (&self->done_cond);
  self->allowed = self->n_threads - 1;
  self->helpers = g_new0 (GThread *, self->n_threads);
  for (int i = 0; i < self->n_threads - 1; i++)
    {
      HelperArgs *args = g_new (HelperArgs, 1);
      args->pool = self;
      args->index = i;
      self->helpers[i] = g_thread_new ("cs-pool", helper_main, args);
    }
  return self;
}

void
cs_thread_pool_free (CsThreadPool *self)
{
  if (self == NULL)
    return;
  cs_thread_pool_set_active (self, FALSE);
  cs_mutex_lock (&self->lock);
  g_atomic_int_set (&self->quit, TRUE);
  g_cond_broadcast (&self->work_cond);
  cs_mutex_unlock (&self->lock);
  for (int i = 0; i < self->n_threads - 1; i++)
    g_thread_join (self->helpers[i]);
  g_free (self->helpers);
  cs_mutex_clear (&self->lock);
  g_cond_clear (&self->work_cond);
  g_cond_clear (&self->done_cond);
  g_free (self);
}

int
cs_thread_pool_get_threads (CsThreadPool *self)
{
  return self ? self->n_threads : 1;
}

void
cs_thread_pool_run (CsThreadPool *self,
                    guint         n_tasks,
                    CsTaskFunc    fn,
                    gpointer      data)
{
  if (n_tasks == 0)
    return;
  if (self == NULL || self->n_threads == 1 || n_tasks == 1)
    {
      for (guint t = 0; t < n_tasks; t++)
        fn (data, t);
      return;
    }

  cs_mutex_lock (&self->lock);
  self->fn = fn;
  self->data = data;
  self->n_tasks = n_tasks;
  g_atomic_int_set (&self->remaining, (gint) n_tasks);
  g_atomic_int_set (&self->next_task, 0);
  g_atomic_int_inc (&self->generation);
  if (self->allowed > 0)
    g_cond_broadcast (&self->work_cond);
  cs_mutex_unlock (&self->lock);

  run_tasks (self);

  if (!job_done (self, 0))
    spin_for (self, job_done, 0);
  cs_mutex_lock (&self->lock);
  while (self->remaining > 0 || self->busy > 0)
    cs_cond_wait (&self->done_cond, &self->lock);
  self->fn = NULL;
  self->data = NULL;
  cs_mutex_unlock (&self->lock);
}

void
cs_thread_pool_set_current (CsThreadPool *pool)
{
  g_private_set (&current_pool, pool);
}

CsThreadPool *
cs_thread_pool_get_current (void)
{
  return g_private_get (&current_pool);
}

static void
rebalance_locked (void)
{
  int cores = MAX (1, (int) g_get_num_processors ());
  int n = (int) g_list_length (active_pools);

  for (GList *l = active_pools; l; l = l->next)
    {
      CsThreadPool *p = l->data;
      int share = n > 0 ? MAX (1, cores / n) : cores;

      cs_mutex_lock (&p->lock);
      g_atomic_int_set (&p->allowed, MIN (p->n_threads, share) - 1);
      cs_mutex_unlock (&p->lock);
    }
}

void
cs_thread_pool_set_active (CsThreadPool *self,
                           gboolean      active)
{
  gboolean listed;

  if (self == NULL)
    return;
  cs_mutex_lock (&registry_lock);
  listed = g_list_find (active_pools, self) != NULL;
  if (active && !listed)
    active_pools = g_list_prepend (active_pools, self);
  else if (!active && listed)
    active_pools = g_list_remove (active_pools, self);
  if (!active)
    {
      cs_mutex_lock (&self->lock);
      g_atomic_int_set (&self->allowed, self->n_threads - 1);
      cs_mutex_unlock (&self->lock);
    }
  rebalance_locked ();
  cs_mutex_unlock (&registry_lock);
}

typedef struct
{
  gsize       n;
  gsize       grain;
  CsRangeFunc fn;
  gpointer    data;
} RangeJob;

static void
range_task (gpointer data,
            guint    task)
{
  RangeJob *j = data;
  gsize start = (gsize) task * j->grain;

  j->fn (j->data, start, MIN (start + j->grain, j->n));
}

void
cs_parallel_for (gsize       n,
                 gsize       grain,
                 CsRangeFunc fn,
                 gpointer    data)
{
  RangeJob j = { n, MAX (grain, 1), fn, data };
  gsize n_tasks = (n + j.grain - 1) / j.grain;

  if (n == 0)
    return;
  if (n_tasks == 1)
    {
      fn (data, 0, n);
      return;
    }
  cs_thread_pool_run (cs_thread_pool_get_current (), (guint) n_tasks, range_task, &j);
}
