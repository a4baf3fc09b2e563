/* UI tests for the main window (run under Xvfb). */

#include "config.h"

#include <gtk/gtk.h>
#include <string.h>

#include "cs-window.h"

static void
finalized_cb (gpointer  data,
              GObject  *where)
{
  *(gboolean *) data = TRUE;
}

static void
test_window_opens (void)
{
  CsWindow *window = cs_window_new (NULL);
  gboolean finalized = FALSE;
  const char *status;

  g_object_weak_ref (G_OBJECT (window), finalized_cb, &finalized);
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), ==, "Convscope");
  gtk_window_present (GTK_WINDOW (window));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (window)));

  /* The window says where the data is (or how to get it). */
  status = cs_window_get_status_text (window);
  g_assert_nonnull (status);
  g_assert_cmpuint (strlen (status), >, 0);
  g_assert_true (g_str_has_prefix (status, "MNIST data: ") || strstr (status, "no mnist data found") != NULL);

  gtk_window_destroy (GTK_WINDOW (window));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_true (finalized);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ui/window/opens", test_window_opens);

  return g_test_run ();
}
