/* UI tests: the status bar says what the selection is and does, and shows a
 * progress bar only while a run trains. */

#include "config.h"

#include <gtk/gtk.h>
#include <string.h>

#include "cs-loaded-model.h"
#include "cs-status-bar.h"
#include "cs-test-files.h"
#include "train/cs-run.h"

/* The progress bar inside @bar (its one GtkProgressBar). */
static GtkWidget *
find_progress (GtkWidget *root)
{
  if (GTK_IS_PROGRESS_BAR (root))
    return root;
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_progress (c);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static void
test_status_texts (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("cs-test-status-XXXXXX", NULL);
  g_autoptr(GPtrArray) items = g_ptr_array_new ();
  g_auto(CsRunSettings) settings = { 0 };
  g_autoptr(CsRun) run = NULL;
  g_autoptr(CsLoadedModel) bundled = NULL;
  CsStatusBar *bar = cs_status_bar_new ();
  GtkWidget *progress;

  g_object_ref_sink (bar);
  progress = find_progress (GTK_WIDGET (bar));
  g_assert_nonnull (progress);

  /* Nothing selected: what to do first. */
  cs_status_bar_update (bar, NULL, NULL);
  g_assert_cmpstr (cs_status_bar_get_text (bar), ==, "Draw a digit: the model answers as you draw");
  g_assert_false (gtk_widget_get_visible (progress));

  /* A run not yet started: its name and state; the tooltip holds the whole line. */
  g_assert_true (cs_run_settings_init_preset (&settings, "lenet5", &error));
  run = cs_run_new (dir, &settings, &error);
  g_assert_no_error (error);
  g_ptr_array_add (items, run);
  cs_status_bar_update (bar, items, NULL);
  g_assert_cmpstr (cs_status_bar_get_text (bar), ==, "LeNet-5 · queued");
  g_assert_false (gtk_widget_get_visible (progress));

  /* A checkpoint: its name and model, and what to do to learn its accuracy. */
  bundled = cs_loaded_model_new_bundled (&error);
  g_assert_no_error (error);
  g_ptr_array_set_size (items, 0);
  g_ptr_array_add (items, bundled);
  cs_status_bar_update (bar, items, NULL);
  g_assert_nonnull (strstr (cs_status_bar_get_text (bar), "lenet5 · Evaluate it from the menu"));

  /* Several: how many. */
  g_ptr_array_add (items, run);
  cs_status_bar_update (bar, items, NULL);
  g_assert_cmpstr (cs_status_bar_get_text (bar), ==, "2 selected");

  /* A live run's progress, as cs_run_format_progress() words it, with the bar. */
  cs_status_bar_update (bar, items, G_OBJECT (run));
  g_assert_true (gtk_widget_get_visible (progress));
  g_assert_cmpstr (cs_status_bar_get_text (bar), ==, "LeNet-5 · starting…");
  g_assert_cmpfloat (gtk_progress_bar_get_fraction (GTK_PROGRESS_BAR (progress)), ==, 0.0);

  g_object_unref (bar);
  cs_test_rm_rf (dir);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ui/status-bar/texts", test_status_texts);

  return g_test_run ();
}
