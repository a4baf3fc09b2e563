/* UI tests: the New Run window checks the spec as it is typed. */

#include "config.h"

#include <glib/gstdio.h>
#include <gtk/gtk.h>
#include <math.h>
#include <string.h>

#include "base/cs-alloc.h"
#include "cs-gl-probe.h"
#include "cs-new-run-dialog.h"
#include "cs-plot.h"
#include "cs-test-ui.h"
#include "formats/cs-checkpoint.h"
#include "nn/cs-presets.h"
#include "render/cs-render.h"

/* The spec is checked as you type: shapes beside each line, errors at their line. */
static void
test_new_run_dialog (void)
{
  CsNewRunDialog *dialog = cs_new_run_dialog_new (NULL);
  gboolean finalized = FALSE;
  g_autofree char *shapes = NULL;
  g_autoptr(CsSpec) spec = NULL;

  g_object_weak_ref (G_OBJECT (dialog), finalized_cb, &finalized);
  gtk_window_present (GTK_WINDOW (dialog));
  drain ();
  /* LeNet-5 by default, valid, with each layer's shape. */
  spec = cs_new_run_dialog_get_spec (dialog);
  g_assert_nonnull (spec);
  g_assert_nonnull (strstr (cs_new_run_dialog_get_status (dialog), "61706 parameters"));
  shapes = cs_new_run_dialog_get_shapes (dialog);
  g_assert_nonnull (strstr (shapes, "→ 6×28×28"));
  g_assert_nonnull (strstr (shapes, "→ 16×5×5"));
  g_assert_nonnull (strstr (shapes, "→ 10"));

  cs_new_run_dialog_set_spec_text (dialog, "input 1x28x28\nconv = nn.Conv2d(1, 4, 5)\nfc = nn.Linear(100, 10)\n");
  g_assert_cmpint (cs_new_run_dialog_get_error_line (dialog), ==, 3);
  g_assert_nonnull (strstr (cs_new_run_dialog_get_status (dialog), "line 3, fc:"));
  g_clear_pointer (&spec, cs_spec_free);
  g_assert_null (cs_new_run_dialog_get_spec (dialog));
  g_free (shapes);
  shapes = cs_new_run_dialog_get_shapes (dialog);
  /* The lines before the error still show their shapes. */
  g_assert_nonnull (strstr (shapes, "→ 4×24×24"));

  gtk_window_destroy (GTK_WINDOW (dialog));
  drain ();
  g_assert_true (finalized);
}

/* The learning rate takes what the CLI takes: 1000 is not clamped to 10, and
 * small rates are shown as numbers, not rounded to 0.00000. */
static void
test_new_run_lr (void)
{
  CsNewRunDialog *dialog = cs_new_run_dialog_new (NULL);
  GtkSpinButton *lr;
  gboolean finalized = FALSE;

  g_object_weak_ref (G_OBJECT (dialog), finalized_cb, &finalized);
  gtk_window_present (GTK_WINDOW (dialog));
  drain ();
  lr = GTK_SPIN_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (dialog), CS_TYPE_NEW_RUN_DIALOG, "lr"));
  g_assert_nonnull (lr);
  for (guint i = 0; i < 3; i++)
    {
      static const char * const typed[] = { "1000", "1e-06", "0.03" };
      static const double want[] = { 1000, 1e-6, 0.03 };
      g_auto(CsRunSettings) settings = { 0 };

      gtk_editable_set_text (GTK_EDITABLE (lr), typed[i]);
      gtk_spin_button_update (lr);
      cs_new_run_dialog_get_settings (dialog, &settings);
      g_assert_cmpfloat_with_epsilon (settings.hp.optim.lr, want[i], want[i] * 1e-9);
    }
  gtk_spin_button_set_value (lr, 0.00001);
  drain ();
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (lr)), ==, "1e-05");
  gtk_window_destroy (GTK_WINDOW (dialog));
  WAIT_FOR (finalized);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  cs_test_ui_init (&argc, &argv);
  g_test_add_func ("/ui/new-run/validates-as-you-type", test_new_run_dialog);
  g_test_add_func ("/ui/new-run/learning-rate-as-the-cli-takes-it", test_new_run_lr);

  ret = g_test_run ();
  return cs_test_ui_finish (ret);
}
