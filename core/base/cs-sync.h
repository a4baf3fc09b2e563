/*
 * Locks and hand-offs that ThreadSanitizer can see.
 *
 * GLib's GMutex and GCond are futexes on Linux: TSan does not intercept them,
 * so under -fsanitize=thread every field they guard looks like a race, and a
 * real race would hide among hundreds of false ones. These inline wrappers tell
 * TSan what the lock does (its mutex annotations), and cs_tsan_release() /
 * cs_tsan_acquire() mark a pointer handed to another thread through a
 * GMainContext, whose own lock TSan does not see either. Without TSan they
 * compile to exactly g_mutex_lock() and friends, and the hand-off marks to
 * nothing.
 */

#pragma once

#include <glib.h>

#if defined(__SANITIZE_THREAD__)
#define CS_HAVE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CS_HAVE_TSAN 1
#endif
#endif

#ifdef CS_HAVE_TSAN
#include <sanitizer/tsan_interface.h>
#endif

G_BEGIN_DECLS

static inline void
cs_mutex_init (GMutex *m)
{
  g_mutex_init (m);
#ifdef CS_HAVE_TSAN
  __tsan_mutex_create (m, 0);
#endif
}

static inline void
cs_mutex_clear (GMutex *m)
{
#ifdef CS_HAVE_TSAN
  __tsan_mutex_destroy (m, 0);
#endif
  g_mutex_clear (m);
}

static inline void
cs_mutex_lock (GMutex *m)
{
#ifdef CS_HAVE_TSAN
  __tsan_mutex_pre_lock (m, 0);
#endif
  g_mutex_lock (m);
#ifdef CS_HAVE_TSAN
  __tsan_mutex_post_lock (m, 0, 0);
#endif
}

static inline void
cs_mutex_unlock (GMutex *m)
{
#ifdef CS_HAVE_TSAN
  __tsan_mutex_pre_unlock (m, 0);
#endif
  g_mutex_unlock (m);
#ifdef CS_HAVE_TSAN
  __tsan_mutex_post_unlock (m, 0);
#endif
}

/* g_cond_wait() gives the mutex up while it sleeps and takes it back: said so. */
static inline void
cs_cond_wait (GCond  *c,
              GMutex *m)
{
#ifdef CS_HAVE_TSAN
  __tsan_mutex_pre_unlock (m, 0);
  __tsan_mutex_post_unlock (m, 0);
#endif
  g_cond_wait (c, m);
#ifdef CS_HAVE_TSAN
  __tsan_mutex_pre_lock (m, 0);
  __tsan_mutex_post_lock (m, 0, 0);
#endif
}

/* Before handing p to another thread (g_main_context_invoke_full() and the like)... */
static inline void
cs_tsan_release (gconstpointer p)
{
#ifdef CS_HAVE_TSAN
  __tsan_release ((void *) p);
#else
  (void) p;
#endif
}

/* ...and first thing in the thread that receives it. */
static inline void
cs_tsan_acquire (gconstpointer p)
{
#ifdef CS_HAVE_TSAN
  __tsan_acquire ((void *) p);
#else
  (void) p;
#endif
}

/* g_atomic_ref_count_dec() runs inside GLib, where TSan does not see its
 * atomics: every holder's unref releases, and the last one acquires before
 * the object is torn down. */
static inline gboolean
cs_ref_count_dec (gatomicrefcount *rc)
{
  cs_tsan_release (rc);
  if (!g_atomic_ref_count_dec (rc))
    return FALSE;
  cs_tsan_acquire (rc);
  return TRUE;
}

G_END_DECLS
