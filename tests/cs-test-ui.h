/* What the UI test programs share: a runs directory of their own, the main
 * loop drained, a window opened and closed, a run started in it. */
#pragma once

#include <gtk/gtk.h>

#include "cs-test-files.h"
#include "cs-test-mnist.h"
#include "cs-test-wait.h"
#include "cs-gl-probe.h"
#include "cs-theme.h"
#include "cs-window.h"

static char *runs_dir;
static char *config_dir;

static inline void
drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static inline void
finalized_cb (gpointer  data,
              GObject  *where)
{
  *(gboolean *) data = TRUE;
}

static inline CsWindow *
open_window (void)
{
  CsWindow *window = cs_window_new (NULL);

  gtk_window_present (GTK_WINDOW (window));
  drain ();
  return window;
}

static inline void
close_window (CsWindow *window)
{
  gboolean finalized = FALSE;

  g_object_weak_ref (G_OBJECT (window), finalized_cb, &finalized);
  gtk_window_close (GTK_WINDOW (window));
  drain ();
  WAIT_FOR (finalized);
}

static inline CsRun *
start (CsWindow   *window,
       const char *model,
       int         epochs,
       double      lr)
{
  g_autoptr(GError) error = NULL;
  g_auto(CsRunSettings) settings = { 0 };
  CsRun *run;

  g_assert_true (cs_run_settings_init_preset (&settings, model, NULL));
  settings.hp.epochs = epochs;
  if (lr > 0)
    settings.hp.optim.lr = lr;
  run = cs_window_start_run (window, &settings, &error);
  g_assert_no_error (error);
  return run;
}

/* The label in @root's tree that shows @text. */
static inline GtkWidget *
find_label (GtkWidget  *root,
            const char *text)
{
  if (GTK_IS_LABEL (root) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (root)), text) == 0)
    return root;
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_label (c, text);
      if (found != NULL)
        return found;
    }
  return NULL;
}

/* gtk_test_init() with a fresh runs directory and MNIST checked first. */
static inline void
cs_test_ui_init (int    *argc,
                 char ***argv)
{
  runs_dir = g_dir_make_tmp ("cs-test-ui-XXXXXX", NULL);
  g_setenv ("CONVSCOPE_RUNS_DIR", runs_dir, TRUE);
  /* What the app remembers goes to a folder of the test's own, not the user's. */
  config_dir = g_dir_make_tmp ("cs-test-config-XXXXXX", NULL);
  g_setenv ("XDG_CONFIG_HOME", config_dir, TRUE);
  gtk_test_init (argc, argv, NULL);
  cs_test_require_mnist ();
  /* The renderer the app would pick (cairo over a software GL rasteriser). */
  cs_prefer_cairo_on_software_gl ();
  /* The app's own stylesheets, as CsApplication loads them: sizes depend on them. */
  cs_theme_install ();
}

static inline int
cs_test_ui_finish (int ret)
{
  cs_test_rm_rf (runs_dir);
  g_clear_pointer (&runs_dir, g_free);
  cs_test_rm_rf (config_dir);
  g_clear_pointer (&config_dir, g_free);
  return ret;
}
