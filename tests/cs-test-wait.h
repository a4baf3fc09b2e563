/* WAIT_FOR(cond): runs the default main loop until @cond holds, or fails
 * the test after 120 s naming the condition. Shared by the run and window tests. */
#pragma once

#include <glib.h>

static inline gboolean
cs_test_wait_timeout_cb (gpointer data)
{
  g_error ("timed out waiting for %s", (const char *) data);
  return G_SOURCE_REMOVE;
}

/* Wakes the loop every 10 ms so conditions set from other threads are seen. */
static inline gboolean
cs_test_wait_tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

#define WAIT_FOR(cond)                                                                   \
  G_STMT_START {                                                                         \
    guint _t = g_timeout_add_seconds (120, cs_test_wait_timeout_cb, (gpointer) #cond);   \
    guint _tick = g_timeout_add (10, cs_test_wait_tick_cb, NULL);                        \
    while (!(cond))                                                                      \
      g_main_context_iteration (NULL, TRUE);                                             \
    g_source_remove (_t);                                                                \
    g_source_remove (_tick);                                                             \
  } G_STMT_END
