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

/* The editor numbers its lines (errors name them) and keeps the shapes in a
 * gutter of their own, so a long line scrolls instead of running under them. */
static void
test_editor_gutters (void)
{
  CsNewRunDialog *dialog = cs_new_run_dialog_new (NULL);
  GtkTextView *view;
  gboolean finalized = FALSE;
  g_autofree char *shapes = NULL;

  g_object_weak_ref (G_OBJECT (dialog), finalized_cb, &finalized);
  gtk_window_present (GTK_WINDOW (dialog));
  cs_new_run_dialog_set_spec_text (dialog, "input 1x28x28\n"
                                   "conv = nn.Conv2d(1, 4, kernel_size=5, stride=1, padding=2, dilation=1, groups=1, bias=True)\n"
                                   "flat = nn.Flatten()\nfc = nn.Linear(3136, 10)\n");
  drain ();
  view = GTK_TEXT_VIEW (gtk_widget_get_template_child (GTK_WIDGET (dialog), CS_TYPE_NEW_RUN_DIALOG, "spec_view"));
  g_assert_nonnull (gtk_text_view_get_gutter (view, GTK_TEXT_WINDOW_LEFT));
  g_assert_nonnull (gtk_text_view_get_gutter (view, GTK_TEXT_WINDOW_RIGHT));
  g_assert_cmpint (gtk_widget_get_width (gtk_text_view_get_gutter (view, GTK_TEXT_WINDOW_LEFT)), >=, 30);
  g_assert_cmpint (gtk_widget_get_width (gtk_text_view_get_gutter (view, GTK_TEXT_WINDOW_RIGHT)), >=, 150);
  shapes = cs_new_run_dialog_get_shapes (dialog);
  g_assert_cmpstr (shapes, ==, "in  1×28×28\n→ 4×28×28\n→ 3136\n→ 10\n");
  /* The long line is wider than the text area: it scrolls sideways. */
  {
    GtkAdjustment *h = gtk_scrollable_get_hadjustment (GTK_SCROLLABLE (view));
    g_assert_cmpfloat (gtk_adjustment_get_upper (h), >, gtk_adjustment_get_page_size (h));
  }
  gtk_window_destroy (GTK_WINDOW (dialog));
  WAIT_FOR (finalized);
}

/* A PyTorch class pasted in: checked as it is, shapes beside forward's lines,
 * errors at the class's own line. */
static void
test_pasted_class (void)
{
  CsNewRunDialog *dialog = cs_new_run_dialog_new (NULL);
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "classes", "tutorial_net.py", NULL);
  g_autofree char *source = NULL;
  g_autofree char *shapes = NULL;
  g_autofree char *broken = NULL;
  g_auto(GStrv) cells = NULL;
  g_autoptr(CsSpec) spec = NULL;
  gboolean finalized = FALSE;

  g_assert_true (g_file_get_contents (path, &source, NULL, NULL));
  g_object_weak_ref (G_OBJECT (dialog), finalized_cb, &finalized);
  gtk_window_present (GTK_WINDOW (dialog));
  cs_new_run_dialog_set_spec_text (dialog, source);
  drain ();
  g_assert_cmpstr (cs_new_run_dialog_get_status (dialog), ==, "✓ 1×28×28 → 10 · 44426 parameters · cross-entropy loss");
  spec = cs_new_run_dialog_get_spec (dialog);
  g_assert_nonnull (spec);
  g_assert_cmpuint (cs_spec_n_layers (spec), ==, 12);
  shapes = cs_new_run_dialog_get_shapes (dialog);
  cells = g_strsplit (shapes, "\n", -1);
  g_assert_cmpuint (g_strv_length (cells), >=, 25);
  g_assert_cmpstr (cells[18], ==, "→ 6×12×12");    /* x = self.pool(F.relu(self.conv1(x))) */
  g_assert_cmpstr (cells[19], ==, "→ 16×4×4");
  g_assert_cmpstr (cells[20], ==, "→ 256");         /* x.view(x.size(0), -1) */
  g_assert_cmpstr (cells[23], ==, "→ 10");
  g_assert_cmpstr (cells[10], ==, "");              /* __init__ computes nothing */
  {
    GtkEntry *name = GTK_ENTRY (gtk_widget_get_template_child (GTK_WIDGET (dialog), CS_TYPE_NEW_RUN_DIALOG, "name_entry"));
    g_assert_cmpstr (gtk_entry_get_placeholder_text (name), ==, "Net");   /* the run's default name */
  }

  /* Arithmetic on tensors: refused at its line, which is marked. */
  broken = g_strjoin ("", source, "", NULL);
  {
    char *at = strstr (broken, "        x = self.fc3(x)\n");
    g_assert_nonnull (at);
    memcpy (at, "        x = x * x      \n", strlen ("        x = self.fc3(x)\n"));
  }
  cs_new_run_dialog_set_spec_text (dialog, broken);
  drain ();
  g_assert_cmpint (cs_new_run_dialog_get_error_line (dialog), ==, 24);
  g_assert_nonnull (strstr (cs_new_run_dialog_get_status (dialog), "line 24: \"x * x\": arithmetic on tensors"));

  gtk_window_destroy (GTK_WINDOW (dialog));
  WAIT_FOR (finalized);
}

/* A New Run starts with the settings of the last run started. */
static void
test_remembers_settings (void)
{
  CsNewRunDialog *dialog = cs_new_run_dialog_new (NULL);
  GtkSpinButton *lr, *epochs;
  gboolean finalized = FALSE;

  lr = GTK_SPIN_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (dialog), CS_TYPE_NEW_RUN_DIALOG, "lr"));
  epochs = GTK_SPIN_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (dialog), CS_TYPE_NEW_RUN_DIALOG, "epochs"));
  cs_new_run_dialog_set_preset (dialog, "cnn");
  gtk_spin_button_set_value (lr, 0.02);
  gtk_spin_button_set_value (epochs, 3);
  cs_new_run_dialog_remember (dialog);
  gtk_window_destroy (GTK_WINDOW (dialog));

  dialog = cs_new_run_dialog_new (NULL);
  g_object_weak_ref (G_OBJECT (dialog), finalized_cb, &finalized);
  lr = GTK_SPIN_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (dialog), CS_TYPE_NEW_RUN_DIALOG, "lr"));
  epochs = GTK_SPIN_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (dialog), CS_TYPE_NEW_RUN_DIALOG, "epochs"));
  {
    g_auto(CsRunSettings) settings = { 0 };
    cs_new_run_dialog_get_settings (dialog, &settings);
    g_assert_cmpstr (settings.model, ==, "cnn");
  }
  g_assert_cmpfloat_with_epsilon (gtk_spin_button_get_value (lr), 0.02, 1e-9);
  g_assert_cmpint (gtk_spin_button_get_value_as_int (epochs), ==, 3);
  gtk_window_destroy (GTK_WINDOW (dialog));
  WAIT_FOR (finalized);
}

/* WCAG's contrast ratio of two colours. */
static double
luminance (double r, double g, double b)
{
  double c[3] = { r, g, b };
  for (int i = 0; i < 3; i++)
    c[i] = c[i] <= 0.03928 ? c[i] / 12.92 : pow ((c[i] + 0.055) / 1.055, 2.4);
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}

static double
contrast (const GdkRGBA *fg,
          double         bg_grey)
{
  double a = luminance (fg->red, fg->green, fg->blue), b = luminance (bg_grey, bg_grey, bg_grey);
  return (MAX (a, b) + 0.05) / (MIN (a, b) + 0.05);
}

/* A spec error reads at 4.5:1 or better on the dark theme's grey (#353535),
 * not in the light theme's dark red (2.1:1). */
static void
test_error_readable_in_dark (void)
{
  CsNewRunDialog *dialog = cs_new_run_dialog_new (NULL);
  GtkSettings *settings = gtk_settings_get_default ();
  GtkWidget *status;
  gboolean finalized = FALSE;
  GdkRGBA color;

  g_object_weak_ref (G_OBJECT (dialog), finalized_cb, &finalized);
  gtk_window_present (GTK_WINDOW (dialog));
  cs_new_run_dialog_set_spec_text (dialog, "input 1x28x28\nfc = nn.Linear(100, 10)\n");
  drain ();
  status = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (dialog), CS_TYPE_NEW_RUN_DIALOG, "status"));
  g_assert_true (gtk_widget_has_css_class (status, "error"));

  g_object_set (settings, "gtk-application-prefer-dark-theme", TRUE, NULL);
  drain ();
  g_assert_true (cs_theme_is_dark ());
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (status), &color);
  G_GNUC_END_IGNORE_DEPRECATIONS
  g_test_message ("error text on the dark theme: contrast %.1f:1", contrast (&color, 0x35 / 255.0));
  g_assert_cmpfloat (contrast (&color, 0x35 / 255.0), >=, 4.5);

  g_object_set (settings, "gtk-application-prefer-dark-theme", FALSE, NULL);
  drain ();
  g_assert_false (cs_theme_is_dark ());
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (status), &color);
  G_GNUC_END_IGNORE_DEPRECATIONS
  g_assert_cmpfloat (contrast (&color, 1.0), >=, 4.5);   /* and on the light theme's white */
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
  g_test_add_func ("/ui/new-run/error-readable-in-dark", test_error_readable_in_dark);
  g_test_add_func ("/ui/new-run/line-numbers-and-shapes", test_editor_gutters);
  g_test_add_func ("/ui/new-run/remembers-settings", test_remembers_settings);
  g_test_add_func ("/ui/new-run/pasted-pytorch-class", test_pasted_class);

  ret = g_test_run ();
  return cs_test_ui_finish (ret);
}
